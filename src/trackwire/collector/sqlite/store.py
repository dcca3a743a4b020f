"""The SQLite store: :class:`SQLiteStore`, one file in WAL mode (connections, transactions)."""

from __future__ import annotations

import logging
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from trackwire.collector._values import now_ms
from trackwire.collector.known_users import KnownUsers
from trackwire.collector.sqlite import queries, schema
from trackwire.collector.sqlite.amplitude_query import SQLiteQueryReads
from trackwire.collector.sqlite.amplitude_rollups import ActiveDays
from trackwire.collector.sqlite.dedup import DedupKeys
from trackwire.collector.sqlite.event_index import EventKeys
from trackwire.collector.sqlite.ingest import SQLiteIngestSQL, claim_sources
from trackwire.collector.sqlite.user_index import UserEvents
from trackwire.collector.store import (
    EventRecord,
    IngestResult,
    StorageLimitError,
    StoreClosedError,
    StoreOpenError,
)
from trackwire.collector.store_ingest import (
    Encoded,
    Ingest,
    Scope,
    attempt,
    encode_records,
    request_scope,
)
from trackwire.collector.store_reads import ReadQueries, StoreReads

__all__ = ["BUSY_TIMEOUT_S", "MIN_SQLITE_VERSION", "PAGE_SIZE", "SQLiteStore"]

logger = logging.getLogger("trackwire.collector")

BUSY_TIMEOUT_S: Final = 5.0
#: The oldest SQLite the store's SQL runs on: ``->>`` (3.38), ``UPDATE ... FROM`` (3.33).
MIN_SQLITE_VERSION: Final = (3, 38, 0)
#: Idle read connections kept open for reuse; more are opened while threads need them.
_MAX_IDLE_READERS: Final = 8
#: Bytes per page of a file the store creates (a file keeps the size it was created with).
#: 16 KiB, not SQLite's 4: the collector's writes are mostly appends (events, merged keys), and
#: every page a commit changes is one WAL frame -- two ``write()`` calls, then a copy at the
#: checkpoint -- so larger pages mean fewer system calls per event (0.35 write calls instead
#: of 0.92) and a few per cent more events per CPU-second; 8 KiB gained less, 32 KiB no more,
#: 64 KiB lost (bench/RESULTS.md, "eighth round").
PAGE_SIZE: Final = 16_384
#: The WAL size (bytes) past which the writer checkpoints itself at commit. A file store
#: checkpoints in a background thread (see _checkpoint_loop); the writer only does it itself
#: if that thread falls far behind, or when commits never pause long enough for a passive pass
#: to reach the WAL's end (continuous ingest), which is what lets the WAL start over.
_WAL_AUTOCHECKPOINT_BYTES: Final = 256 * 1024 * 1024
#: Seconds between two attempts to switch a new file to WAL (see _use_wal).
_WAL_SWITCH_RETRY_S: Final = 0.01
_WRITER_PRAGMAS: Final = (
    "PRAGMA cache_size = -65536",  # KiB: 64 MiB
    "PRAGMA journal_size_limit = 67108864",  # bytes: truncate the WAL back after that
)
#: Most events one group commit writes: past a few thousand, a transaction's dirty pages no
#: longer fit the page cache and spill to the WAL before the commit.
_GROUP_MAX_EVENTS: Final = 3_000
#: Least seconds between two background checkpoints, so one pass covers several requests. A
#: checkpoint copies each page once however many commits rewrote it (the right edges of the
#: append-ordered tables are rewritten by every commit): at 1 s the checkpoint thread cost ~1 µs
#: of CPU per event at full ingest, at 3 s ~0.3 µs. (Under continuous ingest the WAL grows to
#: ``wal_autocheckpoint`` either way: a passive pass cannot restart it while commits go on.)
_CHECKPOINT_INTERVAL_S: Final = 3.0


#: An encoded record's payload and groups texts (see :data:`Encoded`).
_PAYLOAD: Final = operator.itemgetter(0)
_GROUPS: Final = operator.itemgetter(1)
#: A record's vendor and source key.
_VENDOR: Final = operator.attrgetter("vendor")
_SOURCE: Final = operator.attrgetter("source")


class SQLiteStore(StoreReads, SQLiteQueryReads):
    """The collector's embedded store: one SQLite file (or ``":memory:"``).

    Writes go through one connection guarded by a lock, one ``BEGIN IMMEDIATE`` transaction per
    request, so a request is stored whole or not at all even when another process shares the
    file. Reads of a file use a small pool of extra connections, which WAL mode lets run beside
    the writer; an in-memory store reads through the writer, under the same lock.

    Args:
        path: the database file (its directory is created) or ``":memory:"``.

    Raises:
        schema.SchemaTooNewError: the file was written by a newer trackwire.
        StoreOpenError: the path cannot be opened as a SQLite database.
    """

    # The read side (EventReader) is StoreReads' over the SQL in sqlite/queries.py.
    _queries: ClassVar[ReadQueries] = queries

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._open(path)
        except (sqlite3.Error, OSError) as exc:
            # One line for the CLI: "file is not a database", "unable to open database file".
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StoreOpenError(
                f"cannot open {os.fspath(path)!s} as a collector database ({reason}); "
                "pass --db a SQLite file path (it is created if missing)"
            ) from exc

    def _open(self, path: str | os.PathLike[str]) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            wanted = ".".join(map(str, MIN_SQLITE_VERSION))
            raise StoreOpenError(
                f"the collector's SQLite store needs SQLite {wanted} or newer (its JSON "
                f"operators, UPDATE ... FROM); this Python's sqlite3 module has "
                f"{sqlite3.sqlite_version}: use a Python built with a newer SQLite, or "
                "--db postgresql://..."
            )
        self._path = os.fspath(path)
        self._memory = self._path in ("", ":memory:")
        if not self._memory:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        #: Requests waiting for the write lock (see ingest); guarded by _pending_lock.
        self._pending: list[_Request] = []
        self._pending_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        # Guarded by _lock; valid while no other connection writes (see _check_known).
        self._known = KnownUsers()
        #: Guarded by _lock, like _known: the recent de-duplication keys (see sqlite/dedup.py).
        self._dedup = DedupKeys()
        #: Guarded by _lock: the row counts of the user key tables (see sqlite/user_index.py).
        self._user_events = UserEvents()
        #: Guarded by _lock: merges the events' query keys (see sqlite/event_index.py).
        self._event_keys = EventKeys()
        #: Guarded by _lock, like _known: the active days this writer wrote (amplitude_rollups).
        self._active_days = ActiveDays()
        #: Guarded by _lock, like _known: the source ids claimed so far, so a request of known
        #: sources runs no statement for them. Forgotten with any rollback (a source claimed
        #: in it may be gone) and when another connection commits (a reset elsewhere).
        self._sources: dict[Scope, int] = {}
        self._data_version: int | None = None
        self._writer = self._connect()
        try:
            # WAL lets readers run while a request is being written. NORMAL syncs at
            # checkpoints only and cannot corrupt the file (a power cut may lose the last
            # commits). A large cache and rarer checkpoints keep index pages hot between
            # requests: each checkpoint copies every page the WAL holds and syncs the file.
            # Before journal_mode: a new file's header is written with the size set then.
            self._writer.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            _use_wal(self._writer)
            for pragma in _WRITER_PRAGMAS:
                self._writer.execute(pragma)
            # In pages of the file's own size (an older file keeps 4 KiB pages).
            page_size: int = self._writer.execute("PRAGMA page_size").fetchone()[0]
            autocheckpoint = _WAL_AUTOCHECKPOINT_BYTES // page_size
            self._writer.execute(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
            # The writer computes every source_id and amplitude_id it stores, in the same
            # transaction as the rows they name, and nothing is ever deleted; checking the two
            # foreign keys of each event would cost two index probes per insert for nothing.
            self._writer.execute("PRAGMA foreign_keys = OFF")
            self._version = schema.migrate(self._writer)
            # Each request's savepoint keeps the pages it changes as they were, to roll back
            # to: ~40 pages a request. In a temporary file (the default past 64 KiB) that was
            # 80 write calls a request, a third of the writer's; in memory it is a copy,
            # bounded by the request's size. (The bulk merges keep no such copy: see
            # bulk.WHOLE_TRANSACTION.) After the migrations: their one-off sorts of whole
            # tables may still spill to temporary files.
            self._writer.execute("PRAGMA temp_store = MEMORY")
        except BaseException:
            self._writer.close()
            raise
        # A checkpoint copies the WAL's pages into the database file and syncs it; done by the
        # writer, it stalled the request that crossed the threshold for hundreds of ms. A
        # PASSIVE checkpoint from another connection never blocks the writer or the readers,
        # and SQLite releases the GIL while it runs.
        self._commits = threading.Event()
        self._stopping = threading.Event()
        self._checkpointed = threading.Condition()
        self._checkpoints = 0
        self._checkpointer: threading.Thread | None = None
        if not self._memory:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="trackwire-store-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """Checkpoint the WAL after commits, at most every ``_CHECKPOINT_INTERVAL_S``."""
        conn = self._connect()
        try:
            while not self._stopping.is_set():
                if not self._commits.wait(1.0):
                    continue
                self._commits.clear()
                if self._stopping.is_set():
                    break
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    # The writer's own checkpoint (wal_autocheckpoint) is the fallback.
                    logger.exception("background WAL checkpoint failed")
                with self._checkpointed:
                    self._checkpoints += 1
                    self._checkpointed.notify_all()
                self._stopping.wait(_CHECKPOINT_INTERVAL_S)
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly one
        # request. check_same_thread=False: the lock (writer) or the pool (readers) ensures one
        # thread at a time uses a connection.
        conn = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (the number of migrations applied)."""
        return self._version

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    def _check_known(self, conn: sqlite3.Connection) -> None:
        """Forget the known users when another connection has committed since our last look.

        ``data_version`` changes only with other connections' commits (another store or
        process on the same file), which may have moved devices or changed users.
        """
        version: int = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._known.clear()
            self._sources.clear()
            self._dedup.others_committed()
            self._active_days.forget()
            # The user keys' row counts only pace this writer's merges: another writer's keys
            # are merged by that writer, and counting again after each of its commits would
            # cost a count of the sorted runs per request.
            self._data_version = version

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if self._memory:
            with self._lock:
                self._check_open()
                yield self._writer
            return
        with self._pool_lock:
            self._check_open()
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
        try:
            yield conn
        finally:
            with self._pool_lock:
                if self._closed or len(self._idle) >= _MAX_IDLE_READERS:
                    conn.close()
                else:
                    self._idle.append(conn)

    def ingest(
        self,
        records: Sequence[EventRecord],
        *,
        request_key: str | None = None,
        received_time_ms: int | None = None,
        max_bytes: int | None = None,
    ) -> IngestResult:
        """Store one request's records atomically; see :meth:`EventWriter.ingest`.

        User and group properties change in record order. A record's time for first/last seen
        is its client time, else the receipt time. Duplicates change nothing, and operations
        on a record with neither ``user_id`` nor ``device_id`` (and no group) have no target
        and are ignored.
        """
        received = now_ms() if received_time_ms is None else received_time_ms
        if not records:
            return IngestResult(0, 0)
        scope = None if request_key is None else request_scope(records)
        # Encode before taking the lock: a bad payload fails the call with nothing written, and
        # other threads' requests are not held up by this one's JSON work.
        contexts: dict[int, str] = {}
        encoded = encode_records(records, contexts)
        if max_bytes is not None:
            size = sum(len(text) for text in contexts.values())
            # Payloads and groups (those not None) measured in C: this runs for every event.
            size += sum(map(len, map(_PAYLOAD, encoded)))
            size += sum(map(len, filter(None, map(_GROUPS, encoded))))
            if size > max_bytes:
                raise StorageLimitError(
                    "request",
                    f"it would store {size} bytes; the collector stores at most {max_bytes} "
                    "bytes per request: send fewer events per request",
                )
        job = _Request(records, scope, request_key, received, encoded)
        with self._pending_lock:
            self._pending.append(job)
        with self._lock:
            # Group commit: whoever holds the write lock writes every request waiting for it
            # in one transaction (each in its own savepoint), so a commit's pages -- the table's
            # last pages, the index pages several requests share -- reach the WAL once for
            # several requests. A request is answered only after the commit that stored it.
            while not job.done:
                with self._pending_lock:
                    group = _take_group(self._pending)
                self._write_group(group)
        if job.error is not None:
            raise job.error
        assert job.result is not None  # set with done, unless error is
        return job.result

    def _write_group(self, group: list[_Request]) -> None:
        """Store the requests in one committed transaction; the caller holds the write lock.

        A request that fails (a bad operation, a value the database refuses) is rolled back
        to its savepoint alone and gets its error; the others are stored. If the transaction
        itself fails, every request of the group gets that error and nothing is stored.
        """
        conn = self._writer
        try:
            self._check_open()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_known(conn)
                for job in group:
                    conn.execute("SAVEPOINT request")
                    self._dedup.savepoint()
                    self._active_days.savepoint()
                    try:
                        job.result, work = self._ingest(job)
                    except Exception as exc:
                        conn.execute("ROLLBACK TO request")
                        self._sources.clear()  # a source it claimed is gone
                        self._dedup.rolled_back()  # the keys of the rolled-back request
                        self._active_days.rolled_back()
                        # (The user keys' row counts only pace the merges: a few too many
                        # counted merge a little early, so they are not read again here.)
                        job.error = exc
                    else:
                        if work is not None:
                            # The next request of the group resolves its users from the
                            # cache: teach it now, and forget it all if the commit fails.
                            work.learn()
                    conn.execute("RELEASE request")
                self._dedup.merge_if_due(conn)
                self._user_events.merge_if_due(conn)
                self._event_keys.merge_if_due(conn)
                conn.execute("COMMIT")
            except BaseException:
                self._forget_writes()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except BaseException as exc:
            for job in group:
                job.result, job.error = None, exc
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like end the writing thread too
        finally:
            for job in group:
                job.done = True
        self._commits.set()

    def _ingest(self, job: _Request) -> tuple[IngestResult, Ingest | None]:
        """One request of a group, inside the group's transaction.

        Returns:
            The result, and the work that was done (``None`` for a repeated request).
        """
        conn = self._writer
        records, scope, received = job.records, job.scope, job.received
        vendors, keys = set(map(_VENDOR, records)), set(map(_SOURCE, records))
        if len(vendors) == 1 and len(keys) == 1:
            pairs = {(vendors.pop(), keys.pop())}  # one source: no pair built per record
        else:
            pairs = {(r.vendor, r.source) for r in records}
        known = self._sources
        if known.keys() >= pairs:
            sources = {pair: known[pair] for pair in pairs}
        else:
            sources = claim_sources(conn, pairs)
            known.update(sources)
        if scope is not None:
            claimed = conn.execute(
                "INSERT INTO requests (source_id, request_key, received_time_ms) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (sources[scope], job.request_key, received),
            ).rowcount
            if not claimed:
                return IngestResult(0, len(records)), None
        if len(sources) == 1:
            source_ids: Sequence[int] = [*sources.values()] * len(records)
        else:
            source_ids = [sources[(r.vendor, r.source)] for r in records]
        sql = SQLiteIngestSQL(conn, self._dedup, self._user_events, self._active_days)
        # One probe of the stored hashes per message id (see sqlite/dedup.py): no unique index
        # refuses a repeated id, so the check comes before anything is written.
        keep = sql.fresh_indexes(records, source_ids)
        work, inserted = attempt(
            sql, received, self._known, records, source_ids, job.encoded, keep, sql.scopes
        )
        if inserted != len(keep):
            # Cannot happen while we hold the write lock; refuse rather than miscount.
            raise sqlite3.IntegrityError(f"expected {len(keep)} events, got {inserted}")
        return IngestResult(len(keep), len(records) - len(keep)), work

    # --- the test endpoints (routes/testing.py) ---------------------------------------------

    def reset(self) -> None:
        """Delete every stored row (events, users, devices, groups, links, request keys).

        The schema and its version stay; Amplitude ids start again from 1.
        """
        with self._lock:
            self._check_open()
            conn = self._writer
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT IN ('schema_migrations') AND name NOT LIKE 'sqlite_%'"
                )
            ]
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in tables:
                    # Table names come from the schema itself, never from a request.
                    conn.execute(f'DELETE FROM "{table}"')
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._forget_writes()
        self._commits.set()

    def _forget_writes(self) -> None:
        """Drop every cache of what this writer wrote (users, sources, de-duplication keys,
        active days, user-key counts): after a transaction that did not commit, or a reset,
        each is read from the file again when next needed. Call under ``_lock``."""
        self._known.clear()
        self._sources.clear()
        self._dedup.forget()
        self._active_days.forget()
        self._user_events.forget()

    def close(self) -> None:
        """Close every connection; idempotent. Later calls raise :class:`StoreClosedError`."""
        with self._lock, self._pool_lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._stopping.set()
            self._commits.set()
            if self._checkpointer is not None:
                self._checkpointer.join(BUSY_TIMEOUT_S)
            # Closing the last connection checkpoints what is left and removes the WAL.
            self._writer.close()
        for conn in idle:
            conn.close()


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, retrying while it is locked until :data:`BUSY_TIMEOUT_S` has
    passed (an attempt may itself first wait out the connection's busy timeout).

    Several processes opening one new file at once each switch it to WAL. The switch first
    reads the file, then needs it alone; SQLite does not wait when another process holds it
    meanwhile (waiting there could deadlock), so about one open in five failed at once with
    "database is locked". Once the statement has failed, this connection holds no lock, and
    the switch is tried again.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(_WAL_SWITCH_RETRY_S)


@dataclass(slots=True, eq=False)
class _Request:
    """One ``ingest`` call waiting for, or done by, a group commit.

    ``done`` is set (under the write lock) once the group that held the request has committed
    or failed; then ``result`` or ``error`` says how it went.
    """

    records: Sequence[EventRecord]
    scope: Scope | None
    request_key: str | None
    received: int
    encoded: Sequence[Encoded]
    done: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None


def _take_group(pending: list[_Request]) -> list[_Request]:
    """Remove and return the oldest waiting requests, up to :data:`_GROUP_MAX_EVENTS` events
    (at least one request)."""
    events = 0
    count = 0
    for job in pending:
        if count and events + len(job.records) > _GROUP_MAX_EVENTS:
            break
        events += len(job.records)
        count += 1
    group = pending[:count]
    del pending[:count]
    return group
