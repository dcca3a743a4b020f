"""The :class:`~trackwire.collector.query.reader.QueryReader` methods of the PostgreSQL store.

The store provides ``_reading()``, lending one pooled connection; each method runs the matching
function of :mod:`.amplitude_reads` or :mod:`.amplitude_segmentation` on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager

from trackwire.collector.postgres import amplitude_reads, amplitude_segmentation
from trackwire.collector.postgres.ingest import Conn
from trackwire.collector.query.reader import ExportRow, Source
from trackwire.collector.query.segmentation import Aggregate, Plan
from trackwire.collector.query.users import FoundUser, UserSummary

__all__ = ["PostgresQueryReads"]


class PostgresQueryReads:
    """Amplitude query reads for a store that lends connections through ``_reading()``."""

    #: Lends one connection; the store this is mixed into provides it.
    _reading: Callable[[], AbstractContextManager[Conn]]

    def project_sources(self, name: str) -> list[Source]:
        """See :meth:`QueryReader.project_sources`."""
        with self._reading() as conn:
            return amplitude_reads.project_sources(conn, name)

    def export_has_rows(self, sources: Sequence[Source], start_ms: int, end_ms: int) -> bool:
        """See :meth:`QueryReader.export_has_rows`."""
        with self._reading() as conn:
            return amplitude_reads.export_has_rows(conn, sources, start_ms, end_ms)

    def export_rows(
        self, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> Iterator[ExportRow]:
        """See :meth:`QueryReader.export_rows`; one read transaction for the whole export."""
        with self._reading() as conn, conn.transaction():
            # One snapshot for every cursor of the export, as SQLite's read transaction.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield from amplitude_reads.export_rows(conn, sources, start_ms, end_ms)

    def search_users(self, sources: Sequence[Source], text: str) -> tuple[str, list[FoundUser]]:
        """See :meth:`QueryReader.search_users`."""
        with self._reading() as conn:
            return amplitude_reads.search_users(conn, sources, text)

    def user_summary(self, sources: Sequence[Source], amplitude_id: int) -> UserSummary | None:
        """See :meth:`QueryReader.user_summary`."""
        with self._reading() as conn:
            return amplitude_reads.user_summary(conn, sources, amplitude_id)

    def user_events(
        self, source: Source, amplitude_id: int, *, offset: int, limit: int, latest: bool
    ) -> list[ExportRow]:
        """See :meth:`QueryReader.user_events`."""
        with self._reading() as conn:
            return amplitude_reads.user_events(
                conn, source, amplitude_id, offset=offset, limit=limit, latest=latest
            )

    def event_exists(self, sources: Sequence[Source], event_type: str) -> bool:
        """See :meth:`QueryReader.event_exists`."""
        with self._reading() as conn:
            return amplitude_segmentation.event_exists(conn, sources, event_type)

    def segmentation(
        self, sources: Sequence[Source], plan: Plan
    ) -> tuple[list[Aggregate], dict[int | None, int] | None]:
        """See :meth:`QueryReader.segmentation`."""
        with self._reading() as conn:
            rows = amplitude_segmentation.segmentation_rows(conn, sources, plan)
            active = None
            if plan.params.metric == "pct_dau":
                active = amplitude_segmentation.active_users(conn, sources, plan)
        return rows, active
