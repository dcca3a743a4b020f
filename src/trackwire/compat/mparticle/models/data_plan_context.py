"""The data plan (id, version) a batch follows."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["DataPlanContext"]


class DataPlanContext(Model):
    """The data plan (id, version) a batch follows."""

    plan_id: str | None
    plan_version: int | None

    swagger_types: ClassVar[dict[str, str]] = {
        "plan_id": "str",
        "plan_version": "int",
    }
