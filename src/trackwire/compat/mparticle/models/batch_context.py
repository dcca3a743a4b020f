"""Batch-wide context: the data plan the batch follows."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from trackwire.compat.mparticle.models._model import Model

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.data_plan_context import DataPlanContext

__all__ = ["BatchContext"]


class BatchContext(Model):
    """Batch-wide context: the data plan the batch follows."""

    data_plan: DataPlanContext | None

    swagger_types: ClassVar[dict[str, str]] = {
        "data_plan": "DataPlanContext",
    }
