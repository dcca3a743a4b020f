"""The user's GDPR consents by purpose and CCPA consent."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["ConsentState"]


class ConsentState(Model):
    """The user's GDPR consents by purpose and CCPA consent."""

    ccpa: dict[str, Any]
    gdpr: dict[str, Any]

    swagger_types: ClassVar[dict[str, str]] = {
        "ccpa": "dict",
        "gdpr": "dict",
    }

    def __init__(self) -> None:
        super().__init__(ccpa={}, gdpr={})
