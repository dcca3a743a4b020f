"""The collector's routes, one module per API, and the registry that composes them.

Each module has ``routes(collector) -> list[Route]`` and answers through the shared handler
(:func:`trackwire.collector._handler.handle`). To add an API (the Amplitude query endpoints go
in ``routes/amplitude_query.py``), write its module and add it to :data:`REGISTRY`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from trackwire.collector.routes import (
    admin,
    amplitude,
    amplitude_query,
    mparticle,
    segment,
    testing,
    viewer,
)

if TYPE_CHECKING:
    from starlette.routing import Route

    from trackwire.collector.app import Collector

__all__ = ["REGISTRY", "build"]

#: Every route module, in matching order; each has ``routes(collector) -> list[Route]``.
REGISTRY: Final = (segment, amplitude, mparticle, amplitude_query, admin, testing, viewer)


def build(collector: Collector) -> list[Route]:
    """Every route of every registered module, for ``collector``."""
    return [route for module in REGISTRY for route in module.routes(collector)]
