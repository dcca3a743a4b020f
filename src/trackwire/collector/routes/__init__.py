"""The collector's routes, one module per API, and the registry that composes them.

The vendors' ingestion APIs are listed in :data:`trackwire.collector.vendors.VENDOR_APIS`: each
gets an :class:`~trackwire.collector.vendors.Ingestion` bound to its vendor, not the whole
collector. The other modules here have ``routes(collector) -> list[Route]`` and answer through
the shared handler (:func:`trackwire.collector._handler.handle`); to add one, write its module
and add it to :data:`REGISTRY`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from trackwire.collector.routes import admin, amplitude_query, testing, viewer
from trackwire.collector.vendors import VENDOR_APIS

if TYPE_CHECKING:
    from starlette.routing import Route

    from trackwire.collector.app import Collector

__all__ = ["REGISTRY", "build"]

#: The collector's other route modules, after the vendors' ingestion APIs, in matching order;
#: each has ``routes(collector) -> list[Route]``.
REGISTRY: Final = (amplitude_query, admin, testing, viewer)


def build(collector: Collector) -> list[Route]:
    """Every route: each vendor ingestion API's, then each registered module's."""
    found = [route for api in VENDOR_APIS for route in api.routes(collector.ingestion(api.vendor))]
    return found + [route for module in REGISTRY for route in module.routes(collector)]
