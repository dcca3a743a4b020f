"""The :class:`~trackwire.collector.query.reader.QueryReader` methods of the PostgreSQL store.

The store provides ``_reading()``, lending one pooled connection; each method runs the matching
function of :mod:`.amplitude_reads` or :mod:`.amplitude_segmentation` on it. Query statements
run in a transaction with ``statement_timeout`` set for it alone (``set_config(..., true)``,
SQL's ``SET LOCAL``): the server cancels a statement past the limit, and the pooled connection
goes back with its own setting untouched.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

import psycopg

from trackwire.collector.postgres import amplitude_reads, amplitude_segmentation
from trackwire.collector.postgres.ingest import Conn
from trackwire.collector.query.limits import DEFAULT_TIME_LIMIT_S, QueryTimeoutError
from trackwire.collector.query.reader import ExportRow, Hit, Source
from trackwire.collector.query.segmentation import Aggregate, Plan
from trackwire.collector.query.users import FoundUser, UserSummary

__all__ = ["PostgresQueryReads"]


class PostgresQueryReads:
    """Amplitude query reads for a store that lends connections through ``_reading()``."""

    #: Lends one connection; the store this is mixed into provides it.
    _reading: Callable[[], AbstractContextManager[Conn]]
    #: Seconds one query statement may run before the server cancels it (None: no limit).
    query_time_limit_s: float | None = DEFAULT_TIME_LIMIT_S
    #: Whether segmentation reads the rollups kept at ingest where they answer the same.
    use_rollups: bool = True
    #: Events an export reads per page (per short statement).
    export_page_size: int = amplitude_reads.EXPORT_PAGE

    @contextmanager
    def _querying(self) -> Iterator[Conn]:
        """A connection in a transaction whose statements stop after the time limit.

        Raises:
            QueryTimeoutError: a statement ran past the limit (the server cancelled it).
        """
        limit = self.query_time_limit_s
        with self._reading() as conn:
            try:
                with conn.transaction():
                    if limit is not None:
                        conn.execute(
                            "SELECT set_config('statement_timeout', %s, true)",
                            (f"{max(1, round(limit * 1000))}ms",),
                        )
                    yield conn
            # QueryCanceled is an OperationalError: caught here, before the store's
            # connection guard would call it the database being unavailable.
            except psycopg.errors.QueryCanceled:
                assert limit is not None
                raise QueryTimeoutError(limit) from None

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
        """See :meth:`QueryReader.export_rows`: one reader per source, merged in receipt
        order; each reads keyset pages, one short statement per page, and holds no pooled
        connection between pages."""

        def rows(source: Source) -> Iterator[ExportRow]:
            after: tuple[int, int] | None = None
            while True:
                with self._reading() as conn:
                    page = amplitude_reads.export_page(
                        conn, source, after, end_ms, start_ms, self.export_page_size
                    )
                yield from page
                if len(page) < self.export_page_size:
                    return
                after = (page[-1].received_time_ms, page[-1].id)

        if len(sources) == 1:
            yield from rows(sources[0])
            return
        yield from heapq.merge(
            *(rows(s) for s in sources), key=lambda row: (row.received_time_ms, row.id)
        )

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
        with self._querying() as conn:
            return amplitude_segmentation.event_exists(conn, sources, event_type)

    def segmentation(
        self, sources: Sequence[Source], plan: Plan
    ) -> tuple[list[Aggregate], dict[int | None, int] | None]:
        """See :meth:`QueryReader.segmentation`."""
        with self._querying() as conn:
            rollups = self.use_rollups
            rows = amplitude_segmentation.segmentation_rows(conn, sources, plan, rollups=rollups)
            active = None
            if plan.params.metric == "pct_dau":
                active = amplitude_segmentation.active_users(conn, sources, plan, rollups=rollups)
        return rows, active

    def event_hits(
        self,
        sources: Sequence[Source],
        plan: Plan,
        *,
        first_seen: bool = False,
        paying: bool = False,
    ) -> list[Hit]:
        """See :meth:`QueryReader.event_hits`."""
        with self._querying() as conn:
            return amplitude_segmentation.event_hits(
                conn, sources, plan, first_seen=first_seen, paying=paying
            )
