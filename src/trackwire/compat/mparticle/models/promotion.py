"""An internal promotion."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["Promotion"]


class Promotion(Model):
    """An internal promotion."""

    id: str | None
    name: str | None
    creative: str | None
    position: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "id": "str",
        "name": "str",
        "creative": "str",
        "position": "str",
    }
