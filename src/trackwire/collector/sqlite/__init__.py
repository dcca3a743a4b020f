"""The collector's embedded SQLite store; every SQLite-specific statement lives in this package.

:class:`SQLiteStore` implements both sides of :class:`~trackwire.collector.store.Store`:
:mod:`.ingest` is the write side's per-request work, :mod:`.queries` the read side's SQL, and
:mod:`.schema` the migrations. A PostgreSQL store would be a sibling package with the same
protocol.
"""

from trackwire.collector.sqlite.store import BUSY_TIMEOUT_S, SQLiteStore

__all__ = ["BUSY_TIMEOUT_S", "SQLiteStore"]
