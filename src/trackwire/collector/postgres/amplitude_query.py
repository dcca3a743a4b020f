"""The :class:`~trackwire.collector.query.reader.QueryReader` methods of the PostgreSQL store.

The shared work is :class:`~trackwire.collector.query_reads.QueryReads`; this names PostgreSQL's
two query modules and prepares a query connection. Query statements run in a transaction with
``statement_timeout`` and ``work_mem`` set for it alone (``set_config(..., true)``, SQL's
``SET LOCAL``): the server cancels a statement past the limit, and the pooled connection goes
back with its own settings untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import psycopg

from trackwire.collector.postgres import amplitude_reads, amplitude_segmentation
from trackwire.collector.postgres.ingest import Conn
from trackwire.collector.query.limits import QueryTimeoutError
from trackwire.collector.query_reads import QueryReads, ReadsSQL, SegmentationSQL

__all__ = ["PostgresQueryReads"]


class PostgresQueryReads(QueryReads):
    """Amplitude query reads for a store that lends connections through ``_reading()``."""

    _reads: ClassVar[ReadsSQL] = amplitude_reads
    _segmentation: ClassVar[SegmentationSQL] = amplitude_segmentation
    #: Events an export reads per page (per short statement).
    export_page_size: int = amplitude_reads.EXPORT_PAGE
    #: The memory each sort or hash of a query may use (SQL's ``SET LOCAL work_mem``).
    query_work_mem: str = "64MB"

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
                    # Sorting a month's users per period (count DISTINCT) in memory, not in
                    # temporary files: the server's default of 4 MB spills at ~100k events.
                    conn.execute("SELECT set_config('work_mem', %s, true)", (self.query_work_mem,))
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
