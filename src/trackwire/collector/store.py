"""Where the collector keeps what it receives: the ``Store`` protocol and its SQLite backend.

The collector's HTTP handlers turn each accepted request into :class:`EventRecord` values and
hand them to a :class:`Store` in one call. The store makes that call atomic (all of a request's
events or none), drops duplicates by message id and by request id, resolves each event to a user
with a stable ``amplitude_id``, and applies user- and group-property operations in arrival
order. The query side (``/events``, stats, and later Amplitude's export, user search, user
activity and segmentation) reads through the same protocol, so a PostgreSQL backend can replace
SQLite without touching the handlers.

Which user an event belongs to, and how operations change properties, is decided by the pure
rules in :mod:`trackwire.collector.userprops`, shared by every backend.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import orjson

from trackwire.collector import schema
from trackwire.collector.userprops import (
    IdentityResolver,
    KnownUsers,
    Row,
    UserOp,
    UserRow,
    dumps,
)
from trackwire.errors import TrackwireError, ValidationError

__all__ = [
    "EventRecord",
    "IngestResult",
    "SQLiteStore",
    "Store",
    "StoreClosedError",
    "StoredEvent",
    "UserState",
]

#: How long a writer waits for another process's write lock before failing, in seconds.
BUSY_TIMEOUT_S: Final = 5.0
#: Idle read connections kept open for reuse; more are opened while threads need them.
_MAX_IDLE_READERS: Final = 8
_WRITER_PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA cache_size = -65536",  # KiB: 64 MiB
    "PRAGMA wal_autocheckpoint = 16384",  # pages: checkpoint at about 64 MiB of WAL
    "PRAGMA journal_size_limit = 67108864",  # bytes: truncate the WAL back after that
)


class StoreClosedError(TrackwireError, RuntimeError):
    """The store was closed; open a new one to keep reading or writing."""


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which
# made building records a third of the collector's per-event cost. Records are built once by
# ingest code and only read afterwards.
@dataclass(slots=True)
class EventRecord:
    """One accepted message, as the collector's ingest code hands it to a store.

    Attributes:
        vendor: ``"segment"``, ``"amplitude"`` or ``"mparticle"``.
        source: the source key the request authenticated with.
        type: the message type (Segment call, Amplitude ``event``/``identify``/``groupidentify``,
            mParticle event type or ``"batch"``).
        event_name: the event or screen/page name, when the message has one.
        user_id: the known user id.
        device_id: the anonymous or device id (Segment ``anonymousId``).
        client_time_ms: the client's event time in epoch milliseconds.
        dedup_key: message id for de-duplication; ``None`` is never de-duplicated.
        payload: the message exactly as received (decoded JSON).
        user_ops: user-property operations, applied in order (see
            :func:`~trackwire.collector.userprops.apply_operations`).
        group_type: with ``group_value``, makes ``user_ops`` apply to that group instead.
        group_value: the group's value.
        groups: Amplitude's event ``groups``, kept for queries.
        session_id: Amplitude session id (start time in ms).
        revenue: revenue carried by the event.
        payload_json: ``payload`` already encoded as compact JSON (``orjson.dumps``), when the
            caller has it (the collector measures Segment messages by their encoding); the
            store then keeps these bytes instead of encoding the payload a second time.
    """

    vendor: str
    source: str
    type: str
    event_name: str | None
    user_id: str | None
    device_id: str | None
    client_time_ms: int | None
    dedup_key: str | None
    payload: Mapping[str, Any]
    user_ops: Sequence[UserOp] = ()
    group_type: str | None = None
    group_value: str | None = None
    groups: Mapping[str, Any] | None = None
    session_id: int | None = None
    revenue: float | None = None
    payload_json: bytes | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What :meth:`Store.ingest` did with a request.

    Attributes:
        stored: records inserted.
        duplicates: records skipped because their ``(vendor, source, dedup_key)`` was already
            stored or repeated earlier in the same call, or because the whole request was.
    """

    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event, as listed by :meth:`Store.events`.

    Attributes mirror :class:`EventRecord`, plus the store's ``id`` (increasing in arrival
    order), the resolved ``amplitude_id`` and ``received_time_ms`` (epoch milliseconds).
    """

    id: int
    vendor: str
    source: str
    type: str
    event_name: str | None
    user_id: str | None
    device_id: str | None
    amplitude_id: int | None
    client_time_ms: int | None
    received_time_ms: int
    dedup_key: str | None
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dictionary (the ``/events`` endpoint's item)."""
        return {
            "id": self.id,
            "vendor": self.vendor,
            "source": self.source,
            "type": self.type,
            "event_name": self.event_name,
            "user_id": self.user_id,
            "device_id": self.device_id,
            "amplitude_id": self.amplitude_id,
            "client_time_ms": self.client_time_ms,
            "received_time_ms": self.received_time_ms,
            "dedup_key": self.dedup_key,
            "payload": self.payload,
        }


@dataclass(frozen=True, slots=True)
class UserState:
    """A user as the store knows it.

    Attributes:
        amplitude_id: the store's stable id for the user.
        vendor: the vendor the user belongs to.
        source: the source the user belongs to.
        user_id: the known user id, if any.
        device_id: the device the user was last seen on.
        properties: the user properties after every operation so far.
        first_seen_ms: earliest event time seen (client time, else receipt time), epoch ms.
        last_seen_ms: latest event time seen, epoch ms.
    """

    amplitude_id: int
    vendor: str
    source: str
    user_id: str | None
    device_id: str | None
    properties: dict[str, Any]
    first_seen_ms: int
    last_seen_ms: int


class Store(Protocol):
    """Storage behind the collector; every method is safe to call from several threads."""

    def ingest(
        self,
        records: Sequence[EventRecord],
        *,
        request_key: str | None = None,
        received_time_ms: int | None = None,
    ) -> IngestResult:
        """Store one request's records atomically: all that are not duplicates, or none.

        Args:
            records: the request's messages in arrival order.
            request_key: a request id (mParticle ``source_request_id``) scoped by the records'
                vendor and source; a request whose key was stored before stores nothing and
                counts every record as a duplicate.
            received_time_ms: receipt time in epoch ms; defaults to now.

        Returns:
            How many records were stored and how many were duplicates.

        Raises:
            ValidationError: a payload, ``groups`` or user operation cannot be stored.
            ValueError: ``request_key`` was given for records of several vendors or sources.
            StoreClosedError: the store was closed.
        """
        ...

    def events(
        self,
        *,
        vendor: str | None = None,
        source: str | None = None,
        type: str | None = None,
        user_id: str | None = None,
        event_name: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[StoredEvent]:
        """Stored events, newest first, matching every given filter.

        Args:
            vendor: only this vendor.
            source: only this source.
            type: only this message type.
            user_id: events whose ``user_id`` or ``device_id`` equals it.
            event_name: only this event name.
            since_ms: received at or after this time (epoch ms).
            until_ms: received before this time (epoch ms).
            limit: at most this many events.
            before_id: only events with an id below it (the next page after a listing whose
                last id this is).
        """
        ...

    def stats(self) -> dict[str, Any]:
        """Counts: ``{"total": n, "by_source": [{"vendor", "source", "type", "count"}, ...]}``."""
        ...

    def user(
        self,
        vendor: str,
        source: str,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        amplitude_id: int | None = None,
    ) -> UserState | None:
        """One user, found by ``amplitude_id``, else ``user_id``, else the device's last user.

        Raises:
            ValueError: none of the three ids was given.
        """
        ...

    def group(
        self, vendor: str, source: str, group_type: str, group_value: str
    ) -> dict[str, Any] | None:
        """A group's properties, or ``None`` for a group never identified."""
        ...

    def close(self) -> None:
        """Release the store's connections; later calls raise :class:`StoreClosedError`."""
        ...


def _encode(index: int, record: EventRecord) -> tuple[str, str | None]:
    """The record's payload and groups as JSON text; refuses what cannot be stored."""
    if (record.group_type is None) != (record.group_value is None):
        raise ValidationError(
            f"records[{index}].group_value", "group_type and group_value go together"
        )
    for name, value in (
        ("client_time_ms", record.client_time_ms),
        ("session_id", record.session_id),
        ("revenue", record.revenue),
    ):
        # JSON integers are unbounded; SQLite's are 64-bit and would fail mid-transaction.
        if isinstance(value, int) and value not in _INT64:
            raise ValidationError(f"records[{index}].{name}", f"{value} does not fit in 64 bits")
    if record.payload_json is not None:
        # Text, not the bytes: bytes would be stored as a BLOB, which SQLite's JSON functions
        # read as its binary JSONB format rather than as JSON text.
        payload = record.payload_json.decode()
    else:
        try:
            payload = dumps(record.payload)
        except orjson.JSONEncodeError as exc:
            raise ValidationError(
                f"records[{index}].payload", f"cannot be stored as JSON: {exc}"
            ) from exc
    try:
        groups = None if record.groups is None else dumps(record.groups)
    except orjson.JSONEncodeError as exc:
        raise ValidationError(
            f"records[{index}].groups", f"cannot be stored as JSON: {exc}"
        ) from exc
    return payload, groups


_Scope = tuple[str, str]
_INT64: Final = range(-(2**63), 2**63)
_GroupKey = tuple[int, str, str]
_USER_COLUMNS: Final = (
    "u.amplitude_id, u.source_id, u.user_id, u.device_id, u.properties, u.first_seen_ms, "
    "u.last_seen_ms"
)
_EVENT_COLUMNS: Final = (
    "e.id, s.vendor, s.source, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
    "e.client_time_ms, e.received_time_ms, e.dedup_key, e.payload"
)
_INSERT_EVENT: Final = (
    "INSERT INTO events (source_id, type, event_name, user_id, device_id, amplitude_id, "
    "session_id, client_time_ms, received_time_ms, dedup_key, revenue, groups, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def _fresh(
    conn: sqlite3.Connection,
    records: Sequence[EventRecord],
    source_ids: Sequence[int],
    *,
    check_stored: bool,
) -> list[int]:
    """Indexes of the records whose message id is not repeated earlier in the call and, with
    ``check_stored``, not stored by an earlier request either."""
    taken: set[tuple[int, str]] = set()
    if check_stored:
        wanted: dict[int, list[str]] = {}
        for record, source_id in zip(records, source_ids, strict=True):
            if record.dedup_key is not None:
                wanted.setdefault(source_id, []).append(record.dedup_key)
        for source_id, keys in wanted.items():
            # One statement for any number of keys: the list travels as one JSON parameter.
            rows = conn.execute(
                "SELECT dedup_key FROM events WHERE source_id = ? "
                "AND dedup_key IN (SELECT value FROM json_each(?))",
                (source_id, dumps(keys)),
            )
            taken.update((source_id, key) for (key,) in rows)
    keep: list[int] = []
    for index, record in enumerate(records):
        if record.dedup_key is not None:
            full = (source_ids[index], record.dedup_key)
            if full in taken:
                continue
            taken.add(full)
        keep.append(index)
    return keep


class _Ingest:
    """One request inside the write transaction: resolve, apply, then write in bulk.

    Everything is decided in memory first, so a request costs a fixed handful of statements
    however many events and users it carries. Events of users the store already knows
    (:class:`KnownUsers`) that change nothing but the user's seen span take a short path: no
    query, no row object, at most one ``min``/``max`` update per user. The others are resolved
    by an :class:`IdentityResolver` over the users their ids can reach, preloaded with one
    query per id kind.
    """

    def __init__(self, conn: sqlite3.Connection, received_ms: int, known: KnownUsers) -> None:
        self._conn = conn
        self._received = received_ms
        self._known = known
        self._next_id = 0
        self.users = IdentityResolver(self._allocate_id)
        self._groups: dict[_GroupKey, Row] = {}
        self._events: list[tuple[Any, ...]] = []
        #: Known users whose span this request widened on the short path: id -> [first, last].
        self.spans: dict[int, list[int]] = {}

    def _allocate_id(self) -> int:
        if not self._next_id:
            # Safe under BEGIN IMMEDIATE: no other writer can take an id until we commit.
            row = self._conn.execute("SELECT coalesce(max(amplitude_id), 0) FROM users").fetchone()
            self._next_id = int(row[0]) + 1
        self._next_id += 1
        return self._next_id - 1

    def run(
        self,
        records: Sequence[EventRecord],
        source_ids: Sequence[int],
        encoded: Sequence[tuple[str, str | None]],
    ) -> None:
        """Resolve every record in order and queue its event row."""
        lookup = self._known.lookup
        hits: list[tuple[int, int, int] | None] = []
        for record, source_id in zip(records, source_ids, strict=True):
            hit = None
            if not record.user_ops and record.group_type is None:
                hit = lookup(source_id, record.user_id, record.device_id)
            hits.append(hit)
        self._preload(
            [r for r, hit in zip(records, hits, strict=True) if hit is None],
            [s for s, hit in zip(source_ids, hits, strict=True) if hit is None],
        )
        # A known user that the full resolution reaches too (through an id of another event)
        # may change under it, so the short path would miss the order of events; such events
        # are resolved in full. Their ids all lead to that user, already preloaded.
        resolver = self.users
        for index, hit in enumerate(hits):
            if hit is not None:
                reached = resolver.get(hit[0])
                if reached is not None:
                    hits[index] = None
                    resolver.remember(reached, device_id=records[index].device_id)
        received = self._received
        spans = self.spans
        append = self._events.append
        for record, source_id, hit, (payload, groups) in zip(
            records, source_ids, hits, encoded, strict=True
        ):
            if hit is None:
                amplitude_id = self._resolve(record, source_id)
            else:
                amplitude_id, first_seen_ms, last_seen_ms = hit
                when = received if record.client_time_ms is None else record.client_time_ms
                if not first_seen_ms <= when <= last_seen_ms:
                    span = spans.get(amplitude_id)
                    if span is None:
                        span = spans[amplitude_id] = [first_seen_ms, last_seen_ms]
                    span[0] = min(span[0], when)
                    span[1] = max(span[1], when)
            append(
                (source_id, record.type, record.event_name, record.user_id, record.device_id,
                 amplitude_id, record.session_id, record.client_time_ms, received,
                 record.dedup_key, record.revenue, groups, payload)
            )  # fmt: skip

    def _preload(self, records: Sequence[EventRecord], source_ids: Sequence[int]) -> None:
        """Load every stored user the records' user ids and device ids can reach."""
        ids: dict[int, tuple[set[str], set[str]]] = {}
        for record, source_id in zip(records, source_ids, strict=True):
            user_ids, device_ids = ids.setdefault(source_id, (set(), set()))
            if record.user_id is not None:
                user_ids.add(record.user_id)
            if record.device_id is not None:
                device_ids.add(record.device_id)
        for source_id, (user_ids, device_ids) in ids.items():
            found: dict[int, UserRow] = {}
            if user_ids:
                for row in self._conn.execute(
                    f"SELECT {_USER_COLUMNS} FROM users u WHERE u.source_id = ? "
                    "AND u.user_id IN (SELECT value FROM json_each(?))",
                    (source_id, dumps(list(user_ids))),
                ):
                    found[row[0]] = UserRow(*row)
            devices: list[tuple[str, int]] = []
            if device_ids:
                devices = self._conn.execute(
                    "SELECT device_id, amplitude_id FROM devices WHERE source_id = ? "
                    "AND device_id IN (SELECT value FROM json_each(?))",
                    (source_id, dumps(list(device_ids))),
                ).fetchall()
            # Devices usually belong to users already found by user id; read only the others.
            others = list({amplitude_id for _, amplitude_id in devices}.difference(found))
            if others:
                for row in self._conn.execute(
                    f"SELECT {_USER_COLUMNS} FROM users u "
                    "WHERE u.amplitude_id IN (SELECT value FROM json_each(?))",
                    (dumps(others),),
                ):
                    found[row[0]] = UserRow(*row)
            for user in found.values():
                self.users.remember(user)
            for device_id, amplitude_id in devices:
                self.users.remember(found[amplitude_id], device_id=device_id)

    def _group(self, key: _GroupKey, when_ms: int) -> Row:
        group = self._groups.get(key)
        if group is None:
            row = self._conn.execute(
                "SELECT properties, first_seen_ms, last_seen_ms FROM groups "
                "WHERE source_id = ? AND group_type = ? AND group_value = ?",
                key,
            ).fetchone()
            group = Row("{}", when_ms, when_ms, is_new=True) if row is None else Row(*row)
            self._groups[key] = group
        group.seen(when_ms)
        return group

    def _resolve(self, record: EventRecord, source_id: int) -> int | None:
        """Resolve the record's user in full and apply its operations; its ``amplitude_id``."""
        when = self._received if record.client_time_ms is None else record.client_time_ms
        user = self.users.resolve(source_id, record.user_id, record.device_id, when)
        target: Row | None = user
        if record.group_type is not None and record.group_value is not None:
            target = self._group((source_id, record.group_type, record.group_value), when)
        if record.user_ops and target is not None:
            target.apply(record.user_ops)
        return None if user is None else user.amplitude_id

    def write(self) -> int:
        """Write users, devices and groups, then the events that reference them.

        Returns:
            How many events were inserted: fewer than were added when some of their message
            ids were already stored.
        """
        conn = self._conn
        users = self.users.changed_users()
        conn.executemany(
            "INSERT INTO users (user_id, source_id, device_id, properties, first_seen_ms, "
            "last_seen_ms, amplitude_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(u.user_id, u.source_id, *_user_state(u)) for u in users if u.is_new],
        )
        # Leaving user_id out of the common UPDATE spares its unique index the rewrite.
        conn.executemany(
            "UPDATE users SET user_id = ? WHERE amplitude_id = ?",
            [(u.user_id, u.amplitude_id) for u in users if u.claimed and not u.is_new],
        )
        conn.executemany(
            "UPDATE users SET device_id = ?, properties = ?, first_seen_ms = ?, "
            "last_seen_ms = ? WHERE amplitude_id = ?",
            [_user_state(u) for u in users if not u.is_new],
        )
        # min/max rather than the values: the spans came from the cache, not from the rows.
        conn.executemany(
            "UPDATE users SET first_seen_ms = min(first_seen_ms, ?), "
            "last_seen_ms = max(last_seen_ms, ?) WHERE amplitude_id = ?",
            [(first, last, amplitude_id) for amplitude_id, (first, last) in self.spans.items()],
        )
        conn.executemany(
            "INSERT INTO devices (source_id, device_id, amplitude_id) VALUES (?, ?, ?) "
            "ON CONFLICT (source_id, device_id) DO UPDATE SET amplitude_id = excluded.amplitude_id",
            list(self.users.moved_devices()),
        )
        conn.executemany(
            "INSERT INTO groups (source_id, group_type, group_value, properties, first_seen_ms, "
            "last_seen_ms) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source_id, group_type, group_value) DO UPDATE SET "
            "properties = excluded.properties, first_seen_ms = excluded.first_seen_ms, "
            "last_seen_ms = excluded.last_seen_ms",
            [
                (*k, g.properties_text(), g.first_seen_ms, g.last_seen_ms)
                for k, g in self._groups.items()
            ],
        )
        inserted: int = conn.executemany(_INSERT_EVENT, self._events).rowcount
        return inserted

    def learn(self) -> None:
        """Teach the store's :class:`KnownUsers` what this request committed."""
        spans = {amplitude_id: (first, last) for amplitude_id, (first, last) in self.spans.items()}
        self._known.learn(self.users.users(), self.users.devices(), spans)


def _attempt(
    conn: sqlite3.Connection,
    received_ms: int,
    known: KnownUsers,
    records: Sequence[EventRecord],
    source_ids: Sequence[int],
    encoded: Sequence[tuple[str, str | None]],
    keep: Sequence[int],
) -> tuple[_Ingest, int]:
    """Store the ``keep`` records; the work done and how many events the INSERT stored."""
    work = _Ingest(conn, received_ms, known)
    work.run([records[i] for i in keep], [source_ids[i] for i in keep], [encoded[i] for i in keep])
    return work, work.write()


def _user_state(user: UserRow) -> tuple[str | None, str, int, int, int]:
    """The user's columns in the order the user INSERT (after its first two) and UPDATE use."""
    return (
        user.device_id,
        user.properties_text(),
        user.first_seen_ms,
        user.last_seen_ms,
        user.amplitude_id,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _claim_sources(conn: sqlite3.Connection, scopes: set[_Scope]) -> dict[_Scope, int]:
    """Source ids for the scopes, creating the missing rows in the caller's transaction."""
    conn.executemany(
        "INSERT INTO sources (vendor, source) VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(scopes)
    )
    select = "SELECT source_id FROM sources WHERE vendor = ? AND source = ?"
    return {scope: conn.execute(select, scope).fetchone()[0] for scope in scopes}


def _request_scope(records: Sequence[EventRecord]) -> _Scope:
    scopes = {(record.vendor, record.source) for record in records}
    if len(scopes) != 1:
        raise ValueError("request_key needs every record to have the same vendor and source")
    return scopes.pop()


class SQLiteStore:
    """The collector's embedded store: one SQLite file (or ``":memory:"``).

    Writes go through one connection guarded by a lock, one ``BEGIN IMMEDIATE`` transaction per
    request, so a request is stored whole or not at all even when another process shares the
    file. Reads of a file use a small pool of extra connections, which WAL mode lets run beside
    the writer; an in-memory store reads through the writer, under the same lock.

    Args:
        path: the database file (its directory is created) or ``":memory:"``.

    Raises:
        schema.SchemaTooNewError: the file was written by a newer trackwire.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._memory = self._path in ("", ":memory:")
        if not self._memory:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        # Guarded by _lock; valid while no other connection writes (see _check_known).
        self._known = KnownUsers()
        self._data_version: int | None = None
        self._writer = self._connect()
        try:
            # WAL lets readers run while a request is being written. NORMAL syncs at
            # checkpoints only and cannot corrupt the file (a power cut may lose the last
            # commits). A large cache and rarer checkpoints keep index pages hot between
            # requests: each checkpoint copies every page the WAL holds and syncs the file.
            for pragma in _WRITER_PRAGMAS:
                self._writer.execute(pragma)
            # The writer computes every source_id and amplitude_id it stores, in the same
            # transaction as the rows they name, and nothing is ever deleted; checking the two
            # foreign keys of each event would cost two index probes per insert for nothing.
            self._writer.execute("PRAGMA foreign_keys = OFF")
            self._version = schema.migrate(self._writer)
        except BaseException:
            self._writer.close()
            raise

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
    ) -> IngestResult:
        """Store one request's records atomically; see :meth:`Store.ingest`.

        User and group properties change in record order. A record's time for first/last seen
        is its client time, else the receipt time. Duplicates change nothing, and operations
        on a record with neither ``user_id`` nor ``device_id`` (and no group) have no target
        and are ignored.
        """
        received = _now_ms() if received_time_ms is None else received_time_ms
        if not records:
            return IngestResult(0, 0)
        scope = None if request_key is None else _request_scope(records)
        # Encode before taking the lock: a bad payload fails the call with nothing written, and
        # other threads' requests are not held up by this one's JSON work.
        encoded = [_encode(index, record) for index, record in enumerate(records)]
        with self._lock:
            result, work = self._ingest(records, scope, request_key, received, encoded)
            if work is not None:
                # Only now: what a rolled-back request resolved was never stored.
                work.learn()
        return result

    def _ingest(
        self,
        records: Sequence[EventRecord],
        scope: _Scope | None,
        request_key: str | None,
        received: int,
        encoded: Sequence[tuple[str, str | None]],
    ) -> tuple[IngestResult, _Ingest | None]:
        """:meth:`ingest` as one committed transaction; the caller holds the write lock.

        Returns:
            The result, and the work that was committed (``None`` for a repeated request).
        """
        self._check_open()
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._check_known(conn)
            sources = _claim_sources(conn, {(r.vendor, r.source) for r in records})
            if scope is not None:
                claimed = conn.execute(
                    "INSERT INTO requests (source_id, request_key, received_time_ms) "
                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (sources[scope], request_key, received),
                ).rowcount
                if not claimed:
                    conn.execute("COMMIT")
                    return IngestResult(0, len(records)), None
            if len(sources) == 1:
                source_ids: Sequence[int] = [*sources.values()] * len(records)
            else:
                source_ids = [sources[(r.vendor, r.source)] for r in records]
            keep = _fresh(conn, records, source_ids, check_stored=False)
            # Retries are rare: assume no message id was stored by an earlier request and let
            # the events INSERT find out, since it probes the unique index anyway. If some
            # were, undo the attempt (their operations must not apply) and plan again.
            conn.execute("SAVEPOINT attempt")
            known = self._known
            work, inserted = _attempt(conn, received, known, records, source_ids, encoded, keep)
            if inserted != len(keep):
                conn.execute("ROLLBACK TO attempt")
                keep = _fresh(conn, records, source_ids, check_stored=True)
                work, inserted = _attempt(conn, received, known, records, source_ids, encoded, keep)
                if inserted != len(keep):
                    # Cannot happen while we hold the write lock; refuse rather than miscount.
                    raise sqlite3.IntegrityError(f"expected {len(keep)} events, got {inserted}")
            conn.execute("RELEASE attempt")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return IngestResult(len(keep), len(records) - len(keep)), work

    def events(
        self,
        *,
        vendor: str | None = None,
        source: str | None = None,
        type: str | None = None,
        user_id: str | None = None,
        event_name: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[StoredEvent]:
        """Stored events, newest first; see :meth:`Store.events`.

        Source, type and event-name filters use indexes. The user filter has none (each index
        slows every insert): it is checked row by row, newest first, until ``limit`` match.

        Raises:
            ValueError: ``limit`` is negative.
        """
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, got {limit}")
        # Only these fixed clauses enter the SQL text; every value is a placeholder.
        filters: list[tuple[str, Any]] = [
            ("type = ?", type),
            ("event_name = ?", event_name),
            ("received_time_ms >= ?", since_ms),
            ("received_time_ms < ?", until_ms),
            ("id < ?", before_id),
        ]
        clauses = [clause for clause, value in filters if value is not None]
        params = [value for _, value in filters if value is not None]
        if user_id is not None:
            clauses.append("(user_id = ? OR device_id = ?)")
            params += [user_id, user_id]
        with self._reading() as conn:
            if vendor is not None or source is not None:
                # A filter left out matches every source: coalesce(x = NULL, true).
                ids = [
                    source_id
                    for (source_id,) in conn.execute(
                        "SELECT source_id FROM sources "
                        "WHERE coalesce(vendor = ?, true) AND coalesce(source = ?, true)",
                        (vendor, source),
                    )
                ]
                if not ids:
                    return []
                # With a type or event filter the (source_id, type|event_name) indexes find the
                # rows (in id order for one source); with the source alone a newest-first scan
                # stops after `limit` rows, whereas an index would visit every event of the
                # source ("+" keeps it out of the plan).
                indexed = type is not None or event_name is not None
                clauses.append(
                    f"{'' if indexed else '+'}source_id IN ({', '.join('?' * len(ids))})"
                )
                params += ids
            where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
            # The inner query picks ids from the indexes alone; only `limit` rows are read.
            sql = (
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN sources s USING (source_id) "
                f"WHERE e.id IN (SELECT id FROM events {where}ORDER BY id DESC LIMIT ?) "
                "ORDER BY e.id DESC"
            )
            rows = conn.execute(sql, (*params, limit)).fetchall()
        return [
            StoredEvent(
                id=row[0],
                vendor=row[1],
                source=row[2],
                type=row[3],
                event_name=row[4],
                user_id=row[5],
                device_id=row[6],
                amplitude_id=row[7],
                client_time_ms=row[8],
                received_time_ms=row[9],
                dedup_key=row[10],
                payload=orjson.loads(row[11]),
            )
            for row in rows
        ]

    def stats(self) -> dict[str, Any]:
        """Event counts in total and per vendor, source and type; see :meth:`Store.stats`."""
        with self._reading() as conn:
            counts = conn.execute(
                "SELECT s.vendor, s.source, c.type, c.n FROM (SELECT source_id, type, "
                "count(*) AS n FROM events GROUP BY source_id, type) AS c "
                "JOIN sources s USING (source_id) ORDER BY s.vendor, s.source, c.type"
            ).fetchall()
        return {
            "total": sum(count for *_, count in counts),
            "by_source": [
                {"vendor": vendor, "source": source, "type": kind, "count": count}
                for vendor, source, kind, count in counts
            ],
        }

    def user(
        self,
        vendor: str,
        source: str,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        amplitude_id: int | None = None,
    ) -> UserState | None:
        """One user; see :meth:`Store.user`."""
        select = f"SELECT {_USER_COLUMNS} FROM users u JOIN sources s ON s.source_id = u.source_id"
        if amplitude_id is not None:
            sql = f"{select} WHERE s.vendor = ? AND s.source = ? AND u.amplitude_id = ?"
            key: Any = amplitude_id
        elif user_id is not None:
            sql = f"{select} WHERE s.vendor = ? AND s.source = ? AND u.user_id = ?"
            key = user_id
        elif device_id is not None:
            sql = (
                f"{select} JOIN devices d ON d.amplitude_id = u.amplitude_id "
                "WHERE s.vendor = ? AND s.source = ? AND d.device_id = ?"
            )
            key = device_id
        else:
            raise ValueError("user() needs one of user_id, device_id or amplitude_id")
        with self._reading() as conn:
            row = conn.execute(sql, (vendor, source, key)).fetchone()
        if row is None:
            return None
        found, _, uid, device, props, first, last = row
        return UserState(found, vendor, source, uid, device, orjson.loads(props), first, last)

    def group(
        self, vendor: str, source: str, group_type: str, group_value: str
    ) -> dict[str, Any] | None:
        """A group's properties; see :meth:`Store.group`."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT g.properties FROM groups g JOIN sources s USING (source_id) "
                "WHERE s.vendor = ? AND s.source = ? AND g.group_type = ? AND g.group_value = ?",
                (vendor, source, group_type, group_value),
            ).fetchone()
        if row is None:
            return None
        properties: dict[str, Any] = orjson.loads(row[0])
        return properties

    def close(self) -> None:
        """Close every connection; idempotent. Later calls raise :class:`StoreClosedError`."""
        with self._lock, self._pool_lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._writer.close()
        for conn in idle:
            conn.close()
