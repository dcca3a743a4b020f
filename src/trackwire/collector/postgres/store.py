"""The PostgreSQL store: :class:`PostgresStore`, a connection pool over one database.

Several collector processes may share the database. What keeps them from losing or doubling
anything is the database, never a lock in one process:

- one transaction per request, so a request is stored whole or not at all;
- a transaction-level advisory lock per source the request writes, taken before any read:
  the user, device and group state of a source changes one request at a time across every
  collector, so operations apply in arrival order (no ``$add`` lost, no half-applied
  ``$unset``) and alias merges cannot interleave;
- the unique indexes on message ids (``events_dedup``) and request ids (``requests_key``):
  a message id racing in from two sources' collectors is stored once, the loser sees it as a
  duplicate;
- ``amplitude_ids`` and identity columns: ids from sequences.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import ClassVar, Final

import psycopg
import psycopg_pool

from trackwire.collector._values import now_ms
from trackwire.collector.known_users import KnownUsers
from trackwire.collector.postgres import queries, schema, text
from trackwire.collector.postgres.amplitude_query import PostgresQueryReads
from trackwire.collector.postgres.ingest import Conn, PostgresIngestSQL
from trackwire.collector.store import (
    EventRecord,
    IngestResult,
    StorageLimitError,
    StoreClosedError,
    StoreOpenError,
    StoreUnavailableError,
)
from trackwire.collector.store_ingest import (
    Encoded,
    Scope,
    attempt,
    encode_record,
    fresh_indexes,
    request_scope,
)
from trackwire.collector.store_reads import ReadQueries, StoreReads

__all__ = ["PostgresStore"]

logger = logging.getLogger("trackwire.collector")

#: Connections per collector process: requests run in a thread pool of about this size.
_POOL_SIZE: Final = 8
#: Seconds to wait for a connection, at start and per request.
_CONNECT_TIMEOUT_S: Final = 10.0
#: Advisory lock keys of sources: this plus the source id (far from the migration lock).
_SOURCE_LOCK_BASE: Final = 1 << 40
#: Attempts at a request whose message ids another collector stores at the same moment.
_ATTEMPTS: Final = 5


class _Again(Exception):
    """Some message id was stored by another transaction meanwhile: plan the request again."""


class PostgresStore(StoreReads, PostgresQueryReads):
    """The collector's store on a PostgreSQL server (15 or later).

    Args:
        url: a libpq URL, ``postgresql://user[:password]@host[:port]/database[?options]``.
        pool_size: the most connections this store opens.

    Raises:
        StoreOpenError: the server cannot be reached or the database opened.
        schema.SchemaTooNewError: the database was written by a newer trackwire.
    """

    # The read side (EventReader) is StoreReads' over the SQL in postgres/queries.py.
    _queries: ClassVar[ReadQueries] = queries

    def __init__(self, url: str, *, pool_size: int = _POOL_SIZE) -> None:
        self._closed = False
        self._pool: psycopg_pool.ConnectionPool[Conn] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=text.configure,
            open=False,
            timeout=_CONNECT_TIMEOUT_S,
            name="trackwire-store",
        )
        try:
            # One plain connection first: an unreachable server fails at once, with libpq's
            # reason, rather than after the pool's retries.
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                text.configure(conn)
                self._version = schema.migrate(conn)
            self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._pool.close()
            raise StoreOpenError(
                f"cannot open the PostgreSQL database ({_reason(exc)}); pass --db "
                "postgresql://USER@HOST:PORT/DATABASE of a running server"
            ) from exc
        except BaseException:
            self._pool.close()
            raise

    @property
    def schema_version(self) -> int:
        """The schema version of the database (the number of migrations applied)."""
        return self._version

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        """Lend one pooled connection; database trouble becomes StoreUnavailableError."""
        if self._closed:
            raise StoreClosedError("the store is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolClosed as exc:
            raise StoreClosedError("the store is closed") from exc
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailableError(f"the database is unavailable ({_reason(exc)})") from exc

    _reading = _connection

    # --- the write side ---------------------------------------------------------------------

    def ingest(
        self,
        records: Sequence[EventRecord],
        *,
        request_key: str | None = None,
        received_time_ms: int | None = None,
        max_bytes: int | None = None,
    ) -> IngestResult:
        """Store one request's records atomically; see :meth:`EventWriter.ingest`."""
        received = now_ms() if received_time_ms is None else received_time_ms
        if not records:
            return IngestResult(0, 0)
        scope = None if request_key is None else request_scope(records)
        contexts: dict[int, str] = {}
        encoded = [encode_record(i, record, contexts) for i, record in enumerate(records)]
        if max_bytes is not None:
            size = sum(len(text) for text in contexts.values())
            size += sum(len(payload) + len(groups or "") for payload, groups, _, _ in encoded)
            if size > max_bytes:
                raise StorageLimitError(
                    "request",
                    f"it would store {size} bytes; the collector stores at most {max_bytes} "
                    "bytes per request: send fewer events per request",
                )
        with self._connection() as conn:
            sources = self._source_ids(conn, {(r.vendor, r.source) for r in records})
            source_ids = [sources[(r.vendor, r.source)] for r in records]
            with conn.transaction():
                for source_id in sorted(set(source_ids)):
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s)", (_SOURCE_LOCK_BASE + source_id,)
                    )
                if scope is not None:
                    claimed = conn.execute(
                        "INSERT INTO requests (source_id, request_key, received_time_ms) "
                        "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                        (sources[scope], request_key, received),
                    ).rowcount
                    if not claimed:
                        return IngestResult(0, len(records))
                vendors = {source_id: vendor for (vendor, _), source_id in sources.items()}
                kept = self._attempts(conn, records, source_ids, encoded, received, vendors)
        return IngestResult(kept, len(records) - kept)

    def _attempts(
        self,
        conn: Conn,
        records: Sequence[EventRecord],
        source_ids: Sequence[int],
        encoded: Sequence[Encoded],
        received: int,
        vendors: Mapping[int, str],
    ) -> int:
        """Plan and write the request in a savepoint, again while another collector stores
        one of its message ids at the same moment; how many records were stored.

        Stored message ids are looked up first (SQLite instead lets the INSERT find them): an
        attempt rolled back here would still have spent sequence values, leaving gaps in the
        ids of users and events.
        """
        for _ in range(_ATTEMPTS):
            sql = PostgresIngestSQL(conn, vendors)
            keep = fresh_indexes(sql, records, source_ids, check_stored=True)
            try:
                with conn.transaction():
                    # Other collectors change users too: nothing cached survives a request.
                    _, inserted = attempt(
                        sql, received, KnownUsers(), records, source_ids, encoded, keep
                    )
                    if inserted != len(keep):
                        raise _Again
            except _Again:
                continue
            return len(keep)
        raise StoreUnavailableError(
            f"message ids kept being stored by other collectors over {_ATTEMPTS} attempts"
        )

    def _source_ids(self, conn: Conn, scopes: set[Scope]) -> dict[Scope, int]:
        """Source ids, creating missing rows in their own short transaction: a source row is
        never deleted while events refer to it, so it need not wait for the request. (Not
        cached: another collector's ``reset`` may renumber them.)"""
        found = self._find_sources(conn, scopes)
        missing = sorted(scopes.difference(found))
        if missing:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO sources (vendor, source) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    missing,
                )
            found.update(self._find_sources(conn, set(missing)))
        return found

    @staticmethod
    def _find_sources(conn: Conn, scopes: set[Scope]) -> dict[Scope, int]:
        found: dict[Scope, int] = {}
        for vendor, source in scopes:
            row = conn.execute(
                "SELECT source_id FROM sources WHERE vendor = %s AND md5(source) = md5(%s) "
                "AND source = %s",
                (vendor, source, source),
            ).fetchone()
            if row is not None:
                found[(vendor, source)] = int(row[0])
        return found

    # --- the test endpoints (routes/testing.py) ---------------------------------------------

    def reset(self) -> None:
        """Delete every stored row (events, users, devices, groups, links, request keys).

        The schema and its version stay; ids start again from 1. Every collector sharing the
        database sees the empty store.
        """
        with self._connection() as conn, conn.transaction():
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'schema_migrations'"
                )
            ]
            # Table names come from the catalog, never from a request.
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
            conn.execute("ALTER SEQUENCE amplitude_ids RESTART")

    def close(self) -> None:
        """Close the pool; idempotent. Later calls raise :class:`StoreClosedError`."""
        if self._closed:
            return
        self._closed = True
        self._pool.close()


def _reason(exc: BaseException) -> str:
    """The first line of a driver error, without the connection string."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
