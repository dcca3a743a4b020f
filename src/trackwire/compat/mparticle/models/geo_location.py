"""Where an event happened."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["GeoLocation"]


class GeoLocation(Model):
    """Where an event happened."""

    latitude: float | None
    longitude: float | None
    accuracy: float | None

    swagger_types: ClassVar[dict[str, str]] = {
        "latitude": "float",
        "longitude": "float",
        "accuracy": "float",
    }
