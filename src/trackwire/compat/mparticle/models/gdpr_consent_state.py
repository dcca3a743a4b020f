"""A GDPR consent state for one purpose."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["GDPRConsentState"]


class GDPRConsentState(Model):
    """A GDPR consent state for one purpose."""

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
