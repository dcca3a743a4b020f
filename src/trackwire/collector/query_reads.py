"""The query side both stores share: :class:`QueryReads`, the :class:`QueryReader` methods.

Each store keeps its query SQL in two modules of its own (``amplitude_reads`` for export, user
search and user activity; ``amplitude_segmentation`` for the charts), whose functions take a
borrowed connection. What is the same in both stores is the work around them: borrow the
connection, page an export by keyset and merge its sources, ask for the ``pct_dau``
denominators. A store's mixin inherits :class:`QueryReads`, names its two modules and says how a
query connection is prepared (:meth:`QueryReads._querying`: SQLite's progress handler,
PostgreSQL's ``statement_timeout``).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from operator import itemgetter
from typing import Any, ClassVar, Protocol

import orjson

from trackwire.collector.query.limits import DEFAULT_TIME_LIMIT_S
from trackwire.collector.query.reader import (
    ID_AT,
    RECEIVED_AT,
    ExportPage,
    ExportRow,
    Hit,
    Source,
    export_row,
)
from trackwire.collector.query.segmentation import Aggregate, Plan
from trackwire.collector.query.users import FoundUser, UserSummary

__all__ = ["QueryReads", "ReadsSQL", "SegmentationSQL"]


class ReadsSQL(Protocol):
    """A dialect's ``amplitude_reads`` module."""

    def project_sources(self, conn: Any, name: str) -> list[Source]:
        """The sources stored under one project name."""
        ...

    def export_has_rows(
        self, conn: Any, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> bool:
        """Whether any event was received in the range."""
        ...

    def export_page(
        self,
        conn: Any,
        source: Source,
        after: tuple[int, int] | None,
        end_ms: int,
        start_ms: int,
        limit: int = ...,
    ) -> list[bytes]:
        """One keyset page of a source's export, in receipt order (rows as in
        :class:`~trackwire.collector.query.reader.ExportPage`)."""
        ...

    def search_users(
        self, conn: Any, sources: Sequence[Source], text: str
    ) -> tuple[str, list[FoundUser]]:
        """Amplitude's user search."""
        ...

    def user_summary(
        self, conn: Any, sources: Sequence[Source], amplitude_id: int
    ) -> UserSummary | None:
        """One user's state and aggregates."""
        ...

    def user_events(
        self, conn: Any, source: Source, amplitude_id: int, *, offset: int, limit: int, latest: bool
    ) -> list[ExportRow]:
        """One user's events, a page at a time."""
        ...


class SegmentationSQL(Protocol):
    """A dialect's ``amplitude_segmentation`` module."""

    def event_exists(self, conn: Any, sources: Sequence[Source], event_type: str) -> bool:
        """Whether any source ever stored the event type."""
        ...

    def segmentation_rows(
        self, conn: Any, sources: Sequence[Source], query: Plan, *, rollups: bool = ...
    ) -> list[Aggregate]:
        """The plan's aggregates."""
        ...

    def active_users(
        self, conn: Any, sources: Sequence[Source], query: Plan, *, rollups: bool = ...
    ) -> dict[int | None, int]:
        """Distinct active users per period, for ``pct_dau``."""
        ...

    def event_hits(
        self,
        conn: Any,
        sources: Sequence[Source],
        query: Plan,
        *,
        first_seen: bool = ...,
        paying: bool = ...,
    ) -> list[Hit]:
        """Every event the plan selects, in time order."""
        ...


class QueryReads:
    """The :class:`~trackwire.collector.query.reader.QueryReader` methods of a store that names
    its two query modules, lends connections through ``_reading()`` and prepares query
    connections in ``_querying()``."""

    _reads: ClassVar[ReadsSQL]
    _segmentation: ClassVar[SegmentationSQL]
    #: Lends one connection; the store this is mixed into provides it.
    _reading: Callable[[], AbstractContextManager[Any]]
    #: Lends a connection prepared for a query statement (the dialect's functions and the
    #: time limit in force); each store's mixin provides it.
    _querying: Callable[[], AbstractContextManager[Any]]
    #: Seconds one query statement may run before it is cancelled (None: no limit).
    query_time_limit_s: float | None = DEFAULT_TIME_LIMIT_S
    #: Whether segmentation reads the rollups kept at ingest where they answer the same.
    use_rollups: bool = True
    #: Events an export reads per page (per short read).
    export_page_size: int = 5000

    def project_sources(self, name: str) -> list[Source]:
        """See :meth:`QueryReader.project_sources`."""
        with self._reading() as conn:
            return self._reads.project_sources(conn, name)

    def export_has_rows(self, sources: Sequence[Source], start_ms: int, end_ms: int) -> bool:
        """See :meth:`QueryReader.export_has_rows`."""
        with self._reading() as conn:
            return self._reads.export_has_rows(conn, sources, start_ms, end_ms)

    def export_rows(
        self, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> Iterator[ExportRow]:
        """See :meth:`QueryReader.export_rows` (the rows of :meth:`export_pages`)."""
        for source, rows in self.export_pages(sources, start_ms, end_ms):
            for row in rows:
                yield export_row(source, orjson.loads(row))

    def export_pages(
        self, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> Iterator[ExportPage]:
        """See :meth:`QueryReader.export_pages`: one reader per source, merged in receipt
        order; each reads keyset pages, one short read per page, and holds no connection
        between pages (a long export neither blocks checkpoints nor holds a pooled one).

        The pages are read one ahead on a worker thread (:func:`_read_ahead`): a store reads
        a page in one statement that runs without the GIL, on another core while the caller
        writes the page before it.
        """
        size = self.export_page_size

        def pages(source: Source) -> Iterator[ExportPage]:
            after: tuple[int, int] | None = None
            while True:
                with self._reading() as conn:
                    rows = self._reads.export_page(conn, source, after, end_ms, start_ms, size)
                if rows:
                    yield ExportPage(source, rows)
                if len(rows) < size:
                    return
                last = orjson.loads(rows[-1])
                after = (last[RECEIVED_AT], last[ID_AT])

        if len(sources) == 1:
            yield from _read_ahead(pages(sources[0]))
            return
        yield from _merged([_read_ahead(pages(s)) for s in sources], size)

    def search_users(self, sources: Sequence[Source], text: str) -> tuple[str, list[FoundUser]]:
        """See :meth:`QueryReader.search_users`."""
        with self._reading() as conn:
            return self._reads.search_users(conn, sources, text)

    def user_summary(self, sources: Sequence[Source], amplitude_id: int) -> UserSummary | None:
        """See :meth:`QueryReader.user_summary`."""
        with self._reading() as conn:
            return self._reads.user_summary(conn, sources, amplitude_id)

    def user_events(
        self, source: Source, amplitude_id: int, *, offset: int, limit: int, latest: bool
    ) -> list[ExportRow]:
        """See :meth:`QueryReader.user_events`."""
        with self._reading() as conn:
            return self._reads.user_events(
                conn, source, amplitude_id, offset=offset, limit=limit, latest=latest
            )

    def event_exists(self, sources: Sequence[Source], event_type: str) -> bool:
        """See :meth:`QueryReader.event_exists`."""
        with self._querying() as conn:
            return self._segmentation.event_exists(conn, sources, event_type)

    def segmentation(
        self, sources: Sequence[Source], plan: Plan
    ) -> tuple[list[Aggregate], dict[int | None, int] | None]:
        """See :meth:`QueryReader.segmentation`."""
        sql = self._segmentation
        with self._querying() as conn:
            rows = sql.segmentation_rows(conn, sources, plan, rollups=self.use_rollups)
            active = None
            if plan.params.metric == "pct_dau":
                active = sql.active_users(conn, sources, plan, rollups=self.use_rollups)
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
            return self._segmentation.event_hits(
                conn, sources, plan, first_seen=first_seen, paying=paying
            )


def _merged(streams: Sequence[Iterator[ExportPage]], size: int) -> Iterator[ExportPage]:
    """The pages of several sources' streams as pages in receipt order across them: each run
    of one source's rows a page of at most ``size`` rows."""

    def keyed(stream: Iterator[ExportPage]) -> Iterator[tuple[tuple[int, int], Source, bytes]]:
        for source, rows in stream:
            for row in rows:
                values = orjson.loads(row)
                yield (values[RECEIVED_AT], values[ID_AT]), source, row

    source: Source | None = None
    run: list[bytes] = []
    try:
        for _, here, row in heapq.merge(*map(keyed, streams), key=itemgetter(0)):
            if here is not source or len(run) >= size:
                if source is not None and run:
                    yield ExportPage(source, run)
                    run = []
                source = here
            run.append(row)
        if source is not None and run:
            yield ExportPage(source, run)
    finally:
        for stream in streams:  # each stops its page reader
            close = getattr(stream, "close", None)
            if close is not None:
                close()


def _read_ahead(pages: Iterator[ExportPage]) -> Iterator[ExportPage]:
    """``pages``, each next one read on a worker thread while the caller handles the last.

    At most one page is read ahead: memory stays flat. Closing this generator stops the
    worker and waits for it (it holds a connection only while it reads a page); an error
    reading a page is raised here, to the caller.
    """
    handoff = _Handoff()
    worker = threading.Thread(
        target=handoff.fill, args=(pages,), name="trackwire-export-read", daemon=True
    )
    worker.start()
    try:
        while (page := handoff.take()) is not None:
            yield page
    finally:
        handoff.stop()
        worker.join()


class _Handoff:
    """One slot between the thread reading pages and the one writing them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._page: ExportPage | None = None
        self._ended = False
        self._stopped = False
        self._error: BaseException | None = None

    def fill(self, pages: Iterator[ExportPage]) -> None:
        """Read every page into the slot, one at a time (the worker thread's loop)."""
        try:
            while True:
                # The next page is read once the last one is taken, not before: one page
                # ahead of the reader, so a paused export holds one and reads what is
                # stored meanwhile after it.
                with self._changed:
                    while self._page is not None and not self._stopped:
                        self._changed.wait()
                    if self._stopped:
                        return
                page = next(pages, None)
                if page is None:
                    return
                with self._changed:
                    self._page = page
                    self._changed.notify_all()
        except BaseException as exc:  # handed to the reader, who raises it
            with self._changed:
                self._error = exc
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def take(self) -> ExportPage | None:
        """The next page (None: no more); raises what reading it raised."""
        with self._changed:
            while self._page is None and not self._ended:
                self._changed.wait()
            page, self._page = self._page, None
            self._changed.notify_all()
            if page is None and self._error is not None:
                raise self._error
            return page

    def stop(self) -> None:
        """Let the worker end (the reader went away or is done)."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
