"""What the query routes need from a store: the :class:`QueryReader` protocol."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from trackwire.collector.query.export import ExportRow
from trackwire.collector.query.segmentation import Aggregate, Plan
from trackwire.collector.query.sqlite_segmentation import Source
from trackwire.collector.query.users import FoundUser, UserSummary

__all__ = ["QueryReader", "Source"]


class QueryReader(Protocol):
    """Reads behind Amplitude's query API; every method is safe to call from several threads.

    A *project* is every stored source (any vendor) with one name: a keys-file source name, or
    the key itself in development mode.
    """

    def project_sources(self, name: str) -> list[Source]:
        """The stored sources named ``name`` (empty when nothing was stored under it)."""
        ...

    def export_has_rows(self, sources: Sequence[Source], start_ms: int, end_ms: int) -> bool:
        """Whether any event was received in ``[start_ms, end_ms)``."""
        ...

    def export_rows(
        self, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> Iterator[ExportRow]:
        """Events received in ``[start_ms, end_ms)`` in receipt order, read lazily; the
        iterator holds a read connection until it is exhausted or closed."""
        ...

    def search_users(self, sources: Sequence[Source], text: str) -> tuple[str, list[FoundUser]]:
        """Amplitude's user search: the match type and the users."""
        ...

    def user_summary(self, sources: Sequence[Source], amplitude_id: int) -> UserSummary | None:
        """One user's state and event aggregates; None when no covered source has the id."""
        ...

    def user_events(
        self, source: Source, amplitude_id: int, *, offset: int, limit: int, latest: bool
    ) -> list[ExportRow]:
        """A page of one user's events, most recent first (``latest``) or earliest first."""
        ...

    def event_exists(self, sources: Sequence[Source], event_type: str) -> bool:
        """Whether the event type was ever stored (``_all``/``_active`` always exist)."""
        ...

    def segmentation(
        self, sources: Sequence[Source], plan: Plan
    ) -> tuple[list[Aggregate], dict[int | None, int] | None]:
        """The plan's aggregates and, for ``pct_dau``, active users per period."""
        ...
