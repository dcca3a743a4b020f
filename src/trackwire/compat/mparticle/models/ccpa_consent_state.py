"""A CCPA consent (``data_sale_opt_out``) state."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["CCPAConsentState"]


class CCPAConsentState(Model):
    """A CCPA consent (``data_sale_opt_out``) state."""

    document: str | None
    consented: bool | None
    timestamp_unixtime_ms: int | None
    location: str | None
    hardware_id: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "document": "str",
        "consented": "bool",
        "timestamp_unixtime_ms": "int",
        "location": "str",
        "hardware_id": "str",
    }
