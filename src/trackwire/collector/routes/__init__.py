"""The collector's routes, one module per API, and the registry that composes them.

Every route module gets a narrow view of the collector, not the whole
:class:`~trackwire.collector.app.Collector`, so what it depends on is in its signature and a
test can build it from that view alone:

- the vendors' ingestion APIs (:data:`trackwire.collector.vendors.VENDOR_APIS`) each get an
  :class:`~trackwire.collector.vendors.Ingestion` bound to their vendor;
- the other modules here have ``routes(view) -> list[Route]`` over their own frozen view
  (:class:`~.amplitude_query.QueryView`, :class:`~.admin.AdminView`,
  :class:`~.testing.DoubleView`, :class:`~.viewer.PageView`), which the collector builds.

To add a module: write it with its view and ``routes(view)``, give the collector a method that
builds the view, and add both to :data:`REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from trackwire.collector.routes import admin, amplitude_query, testing, viewer
from trackwire.collector.vendors import VENDOR_APIS

if TYPE_CHECKING:
    from starlette.routing import Route

    from trackwire.collector.app import Collector

__all__ = ["REGISTRY", "build"]

#: The collector's other route modules, after the vendors' ingestion APIs, in matching order:
#: each builds its routes from the view of the collector it needs.
REGISTRY: Final[tuple[Callable[[Collector], list[Route]], ...]] = (
    lambda collector: amplitude_query.routes(collector.query_view()),
    lambda collector: admin.routes(collector.admin_view()),
    lambda collector: testing.routes(collector.double_view()),
    lambda collector: viewer.routes(collector.page_view()),
)


def build(collector: Collector) -> list[Route]:
    """Every route: each vendor ingestion API's, then each registered module's."""
    found = [route for api in VENDOR_APIS for route in api.routes(collector.ingestion(api.vendor))]
    return found + [route for module in REGISTRY for route in module(collector)]
