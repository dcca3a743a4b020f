"""The :class:`~trackwire.collector.query.reader.QueryReader` methods of the SQLite store.

The shared work is :class:`~trackwire.collector.query_reads.QueryReads`; this names SQLite's two
query modules and prepares a query connection: the values' SQL functions registered and a
progress handler that cancels a statement past the time limit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from trackwire.collector.query_reads import QueryReads, ReadsSQL, SegmentationSQL
from trackwire.collector.sqlite import amplitude_reads, amplitude_segmentation
from trackwire.collector.sqlite.amplitude_functions import STEPS, prepared

__all__ = ["SQLiteQueryReads"]


class SQLiteQueryReads(QueryReads):
    """Amplitude query reads for a store that lends read connections through ``_reading()``."""

    _reads: ClassVar[ReadsSQL] = amplitude_reads
    _segmentation: ClassVar[SegmentationSQL] = amplitude_segmentation
    #: Virtual-machine steps between two checks of the time limit.
    query_progress_steps: int = STEPS
    #: Events an export reads per page (per short read transaction).
    export_page_size: int = amplitude_reads.EXPORT_PAGE

    @contextmanager
    def _querying(self) -> Iterator[sqlite3.Connection]:
        """A read connection with the query functions and the time limit in force."""
        with (
            self._reading() as conn,
            prepared(conn, self.query_time_limit_s, self.query_progress_steps) as ready,
        ):
            yield ready
