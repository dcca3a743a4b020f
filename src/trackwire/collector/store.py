"""Where the collector keeps what it receives: the store protocols and the values they take.

Two sides, so a backend can be written (and tested) one side at a time:

- :class:`EventWriter` (also named :data:`IngestStore`): ``ingest``, one call per accepted
  request: events, de-duplication, user and group state, identity links.
- :class:`EventReader` (also named :data:`QueryStore`): ``events``, ``stats``, ``user``,
  ``group``, ``links`` and the Amplitude query side (export, user search, user activity,
  segmentation) of :class:`~trackwire.collector.query.reader.QueryReader`.
- :class:`Store` is both, plus ``close``: what the collector is given, by
  :func:`trackwire.collector.store_factory.open_store`.

The collector's HTTP handlers turn each accepted request into :class:`EventRecord` values and
hand them to the writer in one call. The store makes that call atomic (all of a request's
events or none), drops duplicates by message id and by request id, resolves each event to a user
with a stable ``amplitude_id``, and applies user- and group-property operations in arrival
order. The query side (``/events``, stats, and later Amplitude's export, user search, user
activity and segmentation) reads through the same protocol: the SQLite store
(:mod:`trackwire.collector.sqlite`) and the PostgreSQL store (:mod:`trackwire.collector.postgres`)
answer the same, and nothing outside those two packages names a dialect.

Which user an event belongs to, and how operations change properties, is decided by the pure
rules in :mod:`trackwire.collector.userprops`, shared by every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, get_args

from trackwire.collector.query.reader import QueryReader
from trackwire.collector.userprops import UserOp
from trackwire.errors import TrackwireError, ValidationError

__all__ = [
    "VENDORS",
    "EventReader",
    "EventRecord",
    "EventWriter",
    "IdentityLink",
    "IngestResult",
    "IngestStore",
    "QueryStore",
    "SharedContext",
    "StorageLimitError",
    "Store",
    "StoreClosedError",
    "StoreOpenError",
    "StoreUnavailableError",
    "StoredEvent",
    "UserState",
    "Vendor",
    "expand",
]

#: The vendors the collector speaks for: a record's ``vendor``, a source's, a counter's.
Vendor = Literal["segment", "amplitude", "mparticle"]
#: :data:`Vendor`'s values, in documentation order.
VENDORS: Final[tuple[Vendor, ...]] = get_args(Vendor)


class StoreClosedError(TrackwireError, RuntimeError):
    """The store was closed; open a new one to keep reading or writing."""


class StoreUnavailableError(StoreClosedError):
    """The database server cannot be reached now; the request stored nothing (try again).

    A :class:`StoreClosedError`, so the routes answer 503, which every SDK retries.
    """


class StorageLimitError(ValidationError):
    """A request would store more bytes than the store allows for one request."""


class StoreOpenError(TrackwireError, RuntimeError):
    """The store cannot be opened (not a database, no permission, a directory)."""


@dataclass(frozen=True, slots=True, eq=False)
class SharedContext:
    """Data that several records of one request share, stored once for all of them.

    Without it a request that repeats a large part per event (an mParticle batch's context, a
    Segment batch envelope's ``context``) would be stored once per event: a 760-byte gzipped
    request once wrote 180 MB. A record then keeps only its own part in ``payload``; readers
    rebuild the full message with :func:`expand`.

    Attributes:
        kind: how a record's payload is rebuilt (``"mparticle_batch"``: the batch with this
            event alone in ``events``; ``"segment_envelope"``: the envelope's ``context`` and
            ``integrations`` under the message's own keys).
        data: the shared data.
    """

    kind: str
    data: Mapping[str, Any]


def expand(kind: str, context: Mapping[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The full message of a record stored with a :class:`SharedContext` of ``kind``.

    Raises:
        ValueError: ``kind`` is unknown.
    """
    if kind == "mparticle_batch":
        return {**context, "events": [payload]}
    if kind == "segment_envelope":
        # Segment merges the envelope into each message; the message's own keys win.
        merged = dict(payload)
        for key, shared in context.items():
            own = payload.get(key)
            if isinstance(own, dict) and isinstance(shared, dict):
                merged[key] = {**shared, **own}
            elif own is None:
                merged[key] = shared
        return merged
    raise ValueError(f"unknown shared context kind {kind!r}")


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
        context: data this record shares with others of its request, stored once; ``payload``
            is then the record's own part (see :func:`expand`).
        dedup_scope: where ``dedup_key`` is unique: None is the record's source; ``"*"`` every
            source of its vendor (Segment's ``messageId``); any other text a part of its source
            (Amplitude HTTP V2: ``"device:<device_id>"``).
        more_groups: further ``(group_type, group_value)`` pairs ``user_ops`` apply to, after
            ``group_type``/``group_value`` (an Amplitude ``$groupidentify`` listing several).
        ops_once: ``user_ops`` is one object shared by several records of a request (an
            mParticle batch's user attribute changes): it is applied once, by the first of
            those records that is stored, whichever of them are duplicates.
        alias_of: for an alias (Segment ``previousId``): the earlier id, anonymous or not, that
            ``user_id`` now stands for; its user's history and properties join ``user_id``'s.
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
    context: SharedContext | None = None
    dedup_scope: str | None = None
    more_groups: Sequence[tuple[str, str]] = ()
    ops_once: bool = False
    alias_of: str | None = None


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


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """An alias: an earlier id that a user id now stands for (Segment ``alias``).

    Attributes:
        previous_id: the earlier id (an anonymous id, or an earlier user id).
        user_id: the user id it stands for.
        amplitude_id: the store's id of that user; the earlier id's events were moved to it.
        linked_ms: when the alias was received, epoch ms.
    """

    previous_id: str
    user_id: str | None
    amplitude_id: int
    linked_ms: int


class EventWriter(Protocol):
    """The write side of a store; safe to call from several threads."""

    def ingest(
        self,
        records: Sequence[EventRecord],
        *,
        request_key: str | None = None,
        received_time_ms: int | None = None,
        max_bytes: int | None = None,
    ) -> IngestResult:
        """Store one request's records atomically: all that are not duplicates, or none.

        Args:
            records: the request's messages in arrival order.
            request_key: a request id (mParticle ``source_request_id``) scoped by the records'
                vendor and source; a request whose key was stored before stores nothing and
                counts every record as a duplicate.
            received_time_ms: receipt time in epoch ms; defaults to now.
            max_bytes: the most bytes the request may store (payloads, shared contexts and
                groups as JSON); more raises :class:`StorageLimitError` and stores nothing.

        Returns:
            How many records were stored and how many were duplicates.

        Raises:
            ValidationError: a payload, ``groups`` or user operation cannot be stored.
            StorageLimitError: the request would store more than ``max_bytes``.
            ValueError: ``request_key`` was given for records of several vendors or sources.
            StoreClosedError: the store was closed.
        """
        ...


class EventReader(QueryReader, Protocol):
    """The read side of a store; every method is safe to call from several threads.

    It includes :class:`~trackwire.collector.query.reader.QueryReader`: the reads behind
    Amplitude's query endpoints (export, user search, user activity, segmentation), implemented
    by each store package (``amplitude_query``, ``amplitude_reads``, ``amplitude_segmentation``);
    their routes are in
    ``routes/amplitude_query.py``, listed in :data:`trackwire.collector.routes.REGISTRY`.
    """

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

    def links(self, vendor: str, source: str, *, user_id: str | None = None) -> list[IdentityLink]:
        """The aliases of one source, oldest first; only those of ``user_id`` when given.

        An alias's earlier id leads to its user from then on (later events with that anonymous
        id resolve to the user), and the events stored under it before were moved to the user,
        so user activity and uniques already count them; the links say which ids were joined.
        """
        ...


class Store(EventWriter, EventReader, Protocol):
    """Storage behind the collector: both sides, and ``close``."""

    def close(self) -> None:
        """Release the store's connections; later calls raise :class:`StoreClosedError`."""
        ...


#: The ingest side of a store (the name the store seam uses): :class:`EventWriter`.
IngestStore = EventWriter
#: The query side of a store (the name the store seam uses): :class:`EventReader`.
QueryStore = EventReader
