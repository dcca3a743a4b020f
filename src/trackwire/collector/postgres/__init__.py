"""The collector's PostgreSQL store (extra ``trackwire[postgres]``); every PostgreSQL-specific
statement lives in this package.

:class:`PostgresStore` implements both sides of :class:`~trackwire.collector.store.Store`:
:mod:`.ingest` is the write side's SQL (the work itself is the dialect-free
:mod:`trackwire.collector.store_ingest`), :mod:`.queries` and :mod:`.amplitude_reads` the read
side's, and :mod:`.schema` the migrations.
"""

from trackwire.collector.store import StoreOpenError

try:
    import psycopg  # noqa: F401  (checked here so the error names the extra)
    import psycopg_pool  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise StoreOpenError(
        "the PostgreSQL store needs psycopg 3 and psycopg_pool: pip install 'trackwire[postgres]'"
    ) from exc

from trackwire.collector.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
