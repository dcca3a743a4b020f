"""Who an install is attributed to (provider, publisher, campaign)."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["AttributionInfo"]


class AttributionInfo(Model):
    """Who an install is attributed to (provider, publisher, campaign)."""

    service_provider: str | None
    publisher: str | None
    campaign: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "service_provider": "str",
        "publisher": "str",
        "campaign": "str",
    }
