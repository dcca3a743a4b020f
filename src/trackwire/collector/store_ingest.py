"""One request's write, decided in memory and free of any SQL dialect: shared by every store.

A store opens the transaction and hands this module an :class:`IngestSQL`, the handful of reads
and the bulk write the work needs in its own dialect (:mod:`trackwire.collector.sqlite.ingest`,
:mod:`trackwire.collector.postgres.ingest`). Everything else — which records are duplicates,
which user each event belongs to, how operations change user and group properties, what an
alias merges — is decided here, once, so the stores cannot disagree about it.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from trackwire.collector.known_users import KnownUser, KnownUsers
from trackwire.collector.store import EventRecord
from trackwire.collector.store_encoding import Encoded, encode_record, encode_records
from trackwire.collector.userprops import IdentityResolver, Row, UserRow

__all__ = [
    "Encoded",
    "GroupKey",
    "Ingest",
    "IngestSQL",
    "Scope",
    "Writes",
    "attempt",
    "dedup_scope",
    "dedup_scopes",
    "encode_record",
    "encode_records",
    "fresh_indexes",
    "request_scope",
]

#: A ``(vendor, source)`` pair.
Scope = tuple[str, str]
#: A group: ``(source_id, group_type, group_value)``.
GroupKey = tuple[int, str, str]


#: A record's fields the common request is recognised by (see :meth:`Ingest.run`).
_USER_OPS: Final = operator.attrgetter("user_ops")
_GROUP_TYPE: Final = operator.attrgetter("group_type")
_ALIAS_OF: Final = operator.attrgetter("alias_of")
_USER_ID: Final = operator.attrgetter("user_id")
_DEVICE_ID: Final = operator.attrgetter("device_id")
_AMPLITUDE_ID: Final = operator.attrgetter("amplitude_id")
#: An encoded record's shared-context text (see :data:`Encoded`).
_SHARED: Final = operator.itemgetter(2)


def dedup_scope(record: EventRecord, source_id: int) -> str:
    """The scope the record's ``dedup_key`` is unique in (see :attr:`EventRecord.dedup_scope`):
    its source (``"12"``), its vendor (``"segment:*"``) or a part of its source
    (``"12:device:D"``)."""
    scope = record.dedup_scope
    if scope is None:
        return str(source_id)
    if scope == "*":
        return f"{record.vendor}:*"
    return f"{source_id}:{scope}"


def dedup_scopes(records: Sequence[EventRecord], source_ids: Sequence[int]) -> list[str | None]:
    """Each record's :func:`dedup_scope`, or None for a record without a ``dedup_key``: computed
    once per request for the duplicate check and the event rows both."""
    return [
        None if record.dedup_key is None else dedup_scope(record, source_id)
        for record, source_id in zip(records, source_ids, strict=True)
    ]


def request_scope(records: Sequence[EventRecord]) -> Scope:
    """The one ``(vendor, source)`` of a request that carries a request key.

    Raises:
        ValueError: the records belong to several.
    """
    scopes = {(record.vendor, record.source) for record in records}
    if len(scopes) != 1:
        raise ValueError("request_key needs every record to have the same vendor and source")
    return scopes.pop()


@dataclass(slots=True)
class Writes:
    """Everything one request writes, in the order a store must write it.

    Attributes:
        new_users: users to insert.
        claimed_users: stored users that took a ``user_id``: ``(user_id, amplitude_id)``.
        changed_users: stored users to rewrite: ``(device_id, properties, first_seen_ms,
            last_seen_ms, amplitude_id)``.
        spans: known users whose seen span widens: ``(first, last, amplitude_id)``; written as
            a min/max, since the values came from a cache, not from the rows (empty unless
            the store :attr:`~IngestSQL.tracks_spans`).
        devices: ``(source_id, device_id, amplitude_id)`` upserts.
        groups: ``(source_id, group_type, group_value, properties, first, last)`` upserts.
        events: event rows, in the column order of the store's events INSERT.
        merges: ``(user, merged-away user)`` amplitude ids: the second's events and devices
            move to the first, after the events are written.
        links: ``identity_links`` upserts: ``(source_id, previous_id, user_id, amplitude_id,
            linked_ms)``.
    """

    new_users: list[UserRow] = field(default_factory=list)
    claimed_users: list[tuple[str | None, int]] = field(default_factory=list)
    changed_users: list[tuple[str | None, str, int, int, int]] = field(default_factory=list)
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    devices: list[tuple[int, str, int]] = field(default_factory=list)
    groups: list[tuple[int, str, str, str, int, int]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    merges: list[tuple[int, int]] = field(default_factory=list)
    links: list[tuple[int, str, str | None, int, int]] = field(default_factory=list)


class IngestSQL(Protocol):
    """The reads and the write one request needs, in a store's own dialect, inside the
    transaction the store opened for the request."""

    #: Whether :meth:`write` writes :attr:`Writes.spans`, the seen spans known users' events
    #: widen. A store that derives them otherwise (SQLite reads its recent user keys) says
    #: False, and the short path then spends nothing on them.
    tracks_spans: bool

    def next_amplitude_id(self) -> int:
        """A fresh ``amplitude_id``, never handed out before."""
        ...

    def stored_keys(self, scope: str, keys: Sequence[str]) -> Iterable[str]:
        """The ``keys`` already stored with ``dedup_scope = scope``."""
        ...

    def users_by_user_id(self, source_id: int, user_ids: Sequence[str]) -> Iterable[UserRow]:
        """The stored users of the source with one of these user ids."""
        ...

    def devices(self, source_id: int, device_ids: Sequence[str]) -> list[tuple[str, int]]:
        """``(device_id, amplitude_id)`` of the stored devices of the source among these."""
        ...

    def users_by_amplitude_id(self, amplitude_ids: Sequence[int]) -> Iterable[UserRow]:
        """The stored users with these amplitude ids."""
        ...

    def linked(self, source_id: int, previous_ids: Sequence[str]) -> list[tuple[str, int]]:
        """``(previous_id, amplitude_id)`` of the source's aliases among these earlier ids."""
        ...

    def group(self, key: GroupKey) -> tuple[str, int, int] | None:
        """A stored group's ``(properties, first_seen_ms, last_seen_ms)``, or None."""
        ...

    def insert_context(self, source_id: int, kind: str, body: str) -> int:
        """Store a shared request context; its id."""
        ...

    def write(self, writes: Writes) -> int:
        """Write everything in :class:`Writes` order; how many events were inserted (fewer
        than given when some message ids were already stored)."""
        ...


def fresh_indexes(
    sql: IngestSQL,
    records: Sequence[EventRecord],
    source_ids: Sequence[int],
    *,
    check_stored: bool,
) -> list[int]:
    """Indexes of the records whose message id is not repeated earlier in the call and, with
    ``check_stored``, not stored by an earlier request either (each in its scope)."""
    taken: set[tuple[str, str]] = set()
    scopes = dedup_scopes(records, source_ids)
    if check_stored:
        wanted: dict[str, list[str]] = {}
        for record, scope in zip(records, scopes, strict=True):
            if scope is not None and record.dedup_key is not None:
                wanted.setdefault(scope, []).append(record.dedup_key)
        for scope, keys in wanted.items():
            taken.update((scope, key) for key in sql.stored_keys(scope, keys))
    keep: list[int] = []
    for index, (record, scope) in enumerate(zip(records, scopes, strict=True)):
        if scope is not None and record.dedup_key is not None:
            full = (scope, record.dedup_key)
            if full in taken:
                continue
            taken.add(full)
        keep.append(index)
    return keep


class Ingest:
    """One request inside the write transaction: resolve, apply, then write in bulk.

    Everything is decided in memory first, so a request costs a fixed handful of statements
    however many events and users it carries. Events of users the store already knows
    (:class:`KnownUsers`) that change nothing but the user's seen span take a short path: no
    query, no row object, at most one ``min``/``max`` update per user. The others are resolved
    by an :class:`IdentityResolver` over the users their ids can reach, preloaded with one
    query per id kind.
    """

    def __init__(self, sql: IngestSQL, received_ms: int, known: KnownUsers) -> None:
        self._sql = sql
        self._received = received_ms
        self._known = known
        self.users = IdentityResolver(sql.next_amplitude_id)
        self._groups: dict[GroupKey, Row] = {}
        self._events: list[tuple[Any, ...]] = []
        #: Known users whose span this request widened on the short path: id -> [first, last].
        self.spans: dict[int, list[int]] = {}
        #: (user, merged-away user) amplitude ids from aliases: the second's events move.
        self.merges: list[tuple[int, int]] = []
        #: identity_links rows: (source_id, previous_id, user_id, amplitude_id, linked_ms).
        self.links: list[tuple[int, str, str | None, int, int]] = []

    def run(
        self,
        records: Sequence[EventRecord],
        source_ids: Sequence[int],
        encoded: Sequence[Encoded],
        insert: Sequence[bool] | None = None,
        scopes: Sequence[str | None] | None = None,
    ) -> None:
        """Resolve every record in order and queue its event row (unless ``insert`` says the
        record only applies its operations). ``scopes`` are the records' :func:`dedup_scopes`
        when the caller has them already."""
        hits: list[KnownUser | None]
        with_ops: list[bool]
        count = len(records)
        if (
            insert is None
            and count
            and source_ids.count(source_ids[0]) == count
            and not any(map(_USER_OPS, records))
            and [*map(_GROUP_TYPE, records)].count(None) == count
            and [*map(_ALIAS_OF, records)].count(None) == count
        ):
            # The common request: one source, no operations, groups or aliases. Every event
            # may take the short path: look them all up at once.
            hits = self._known.lookup_all(
                source_ids[0], [*map(_USER_ID, records)], [*map(_DEVICE_ID, records)]
            )
            with_ops = [False] * count
        else:
            hits, with_ops = self._lookup(records, source_ids, insert)
        received = self._received
        if scopes is None:
            scopes = dedup_scopes(records, source_ids)
        # all(), not "None in hits": a known user is always true, and all() tests that without
        # the comparison "in" makes of every user with None.
        missed = not all(hits)
        if missed:
            self._preload(
                [record for record, hit in zip(records, hits, strict=True) if hit is None],
                [source_id for source_id, hit in zip(source_ids, hits, strict=True) if hit is None],
            )
            # A known user that the full resolution reaches too (through an id of another
            # event) may change under it, so the short path would miss the order of events;
            # such events are resolved in full. Their ids all lead to that user, preloaded.
            if not self.users.amplitude_ids().isdisjoint(map(_AMPLITUDE_ID, filter(None, hits))):
                for index, hit in enumerate(hits):
                    if hit is not None:
                        reached = self.users.get(hit.amplitude_id)
                        if reached is not None:
                            hits[index] = None
                            self.users.remember(reached, device_id=records[index].device_id)
        amplitude_ids: list[int | None] = (
            [None if hit is None else hit.amplitude_id for hit in hits]
            if missed
            else [*map(_AMPLITUDE_ID, hits)]
        )
        if self._sql.tracks_spans:
            self._widen_spans(records, hits)
        if missed:
            self._resolve_missed(records, source_ids, hits, with_ops, amplitude_ids)
        context_ids: Sequence[int | None] = [None] * count
        if any(map(_SHARED, encoded)):
            context_ids = self._context_ids(records, source_ids, encoded, insert)
        # The rows at once: the per-event work left is building each tuple.
        rows: Iterable[tuple[Any, ...]] = zip(
            records, source_ids, amplitude_ids, encoded, scopes, context_ids, strict=True
        )
        if insert is not None:
            rows = itertools.compress(rows, insert)
        self._events += [
            (source_id, record.type, record.event_name, record.user_id, record.device_id,
             amplitude_id, record.session_id, record.client_time_ms, received,
             record.dedup_key, record.revenue, groups, payload, context_id, scope, props)
            for record, source_id, amplitude_id, (payload, groups, _, props), scope, context_id
            in rows
        ]  # fmt: skip

    def _resolve_missed(
        self,
        records: Sequence[EventRecord],
        source_ids: Sequence[int],
        hits: Sequence[KnownUser | None],
        with_ops: Sequence[bool],
        amplitude_ids: list[int | None],
    ) -> None:
        """Resolve the records without a known user in full, in order; their ids into
        ``amplitude_ids``."""
        received = self._received
        # The last event resolved in full that only had its user found (no operation, group
        # or alias): the next event with the same ids has the same user.
        last: tuple[int, str | None, str | None] | None = None
        last_user: UserRow | None = None
        for index, hit in enumerate(hits):
            if hit is not None:
                continue
            record, source_id, ops = records[index], source_ids[index], with_ops[index]
            plain = not ops and record.group_type is None and record.alias_of is None
            if (
                plain
                and last_user is not None
                and last == (source_id, record.user_id, record.device_id)
            ):
                # What resolve would do for a user this request already resolved by the same
                # ids: nothing but widen its seen span.
                last_user.seen(received if record.client_time_ms is None else record.client_time_ms)
                user: UserRow | None = last_user
            else:
                user = self._resolve(record, source_id, apply_ops=ops)
                if plain and user is not None:
                    last, last_user = (source_id, record.user_id, record.device_id), user
                else:
                    last = last_user = None
            amplitude_ids[index] = None if user is None else user.amplitude_id

    def _widen_spans(
        self, records: Sequence[EventRecord], hits: Sequence[KnownUser | None]
    ) -> None:
        """Widen :attr:`spans` by the short-path events' times (stores that track spans)."""
        received = self._received
        spans = self.spans
        for record, hit in zip(records, hits, strict=True):
            if hit is None:
                continue
            when = received if record.client_time_ms is None else record.client_time_ms
            if not hit.first_seen_ms <= when <= hit.last_seen_ms:
                span = spans.get(hit.amplitude_id)
                if span is None:
                    span = spans[hit.amplitude_id] = [hit.first_seen_ms, hit.last_seen_ms]
                if when < span[0]:
                    span[0] = when
                elif when > span[1]:
                    span[1] = when

    def _context_ids(
        self,
        records: Sequence[EventRecord],
        source_ids: Sequence[int],
        encoded: Sequence[Encoded],
        insert: Sequence[bool] | None,
    ) -> list[int | None]:
        """Each record's shared context id, each context stored once, when a record that is
        inserted first carries it."""
        texts = [*map(_SHARED, encoded)]
        # all(): a context's JSON text is never empty, so only None is false (and all() tests
        # that without comparing every text with None, as "in" would).
        if insert is None and all(texts):
            # Every record inserted with a context (an mParticle request: one per batch): each
            # text stored once, in the order the contexts first appear, found by identity.
            keys = [*map(id, texts)]
            # A context's first record: the last index each key gets, walking backwards.
            firsts = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
            stored: dict[int, int] = {}
            for index in sorted(firsts.values()):
                context = records[index].context
                assert context is not None  # a shared text is only encoded from a context
                stored[keys[index]] = self._sql.insert_context(
                    source_ids[index], context.kind, texts[index]
                )
            return [*map(stored.__getitem__, keys)]
        contexts: dict[int, int] = {}
        found: list[int | None] = []
        for index, (record, source_id, (_, _, shared, _)) in enumerate(
            zip(records, source_ids, encoded, strict=True)
        ):
            context_id = None
            if (
                shared is not None
                and record.context is not None
                and (insert is None or insert[index])
            ):
                context_id = contexts.get(id(shared))
                if context_id is None:
                    context_id = self._sql.insert_context(source_id, record.context.kind, shared)
                    contexts[id(shared)] = context_id
            found.append(context_id)
        return found

    def _lookup(
        self,
        records: Sequence[EventRecord],
        source_ids: Sequence[int],
        insert: Sequence[bool] | None,
    ) -> tuple[list[KnownUser | None], list[bool]]:
        """Each record's known user (None where it needs the full resolution) and whether it
        applies its operations, record by record."""
        lookup = self._known.lookup
        hits: list[KnownUser | None] = []
        # Operations shared by several records (ops_once) apply with the first stored one.
        claimed: set[int] = set()
        with_ops: list[bool] = []
        for record, source_id in zip(records, source_ids, strict=True):
            hit = None
            ops = False
            if record.user_ops:
                ops = True
                if record.ops_once:
                    ops = id(record.user_ops) not in claimed
                    claimed.add(id(record.user_ops))
            if (
                not ops
                and record.group_type is None
                and record.alias_of is None
                and (insert is None or insert[len(hits)])
            ):
                hit = lookup(source_id, record.user_id, record.device_id)
            # Records that only apply their operations (insert false) are resolved in full.
            with_ops.append(ops)
            hits.append(hit)
        return hits, with_ops

    def _preload(self, records: Sequence[EventRecord], source_ids: Sequence[int]) -> None:
        """Load every stored user the records' user ids and device ids can reach."""
        ids: dict[int, tuple[set[str], set[str]]] = {}
        for record, source_id in zip(records, source_ids, strict=True):
            user_ids, device_ids = ids.setdefault(source_id, (set(), set()))
            if record.user_id is not None:
                user_ids.add(record.user_id)
            if record.device_id is not None:
                device_ids.add(record.device_id)
            if record.alias_of is not None:
                # An alias's earlier id may be a user id or a device (anonymous) id.
                user_ids.add(record.alias_of)
                device_ids.add(record.alias_of)
        sql = self._sql
        for source_id, (user_ids, device_ids) in ids.items():
            found: dict[int, UserRow] = {}
            if user_ids:
                for user in sql.users_by_user_id(source_id, list(user_ids)):
                    found[user.amplitude_id] = user
            devices = sql.devices(source_id, list(device_ids)) if device_ids else []
            # User ids an alias replaced: their events now go to the linked user.
            links = sql.linked(source_id, list(user_ids)) if user_ids else []
            # Devices usually belong to users already found by user id; read only the others.
            reached = {amplitude_id for _, amplitude_id in devices}
            others = list(reached.union(a for _, a in links).difference(found))
            if others:
                for user in sql.users_by_amplitude_id(others):
                    found[user.amplitude_id] = user
            for user in found.values():
                self.users.remember(user)
            for device_id, amplitude_id in devices:
                self.users.remember(found[amplitude_id], device_id=device_id)
            for previous_id, amplitude_id in links:
                if amplitude_id in found:
                    self.users.remember(found[amplitude_id], linked_id=previous_id)

    def _group(self, key: GroupKey, when_ms: int) -> Row:
        group = self._groups.get(key)
        if group is None:
            row = self._sql.group(key)
            group = Row("{}", when_ms, when_ms, is_new=True) if row is None else Row(*row)
            self._groups[key] = group
        group.seen(when_ms)
        return group

    def _resolve(
        self, record: EventRecord, source_id: int, *, apply_ops: bool = True
    ) -> UserRow | None:
        """Resolve the record's user in full and apply its operations; the user (None for an
        event with neither id)."""
        when = self._received if record.client_time_ms is None else record.client_time_ms
        user = self.users.resolve(source_id, record.user_id, record.device_id, when)
        if record.alias_of is not None and user is not None:
            previous = self.users.link(source_id, user, record.alias_of)
            if previous is not None:
                self.merges.append((user.amplitude_id, previous.amplitude_id))
            self.links.append(
                (source_id, record.alias_of, record.user_id, user.amplitude_id, self._received)
            )
        if record.group_type is not None and record.group_value is not None:
            pairs = [(record.group_type, record.group_value), *record.more_groups]
            targets = [self._group((source_id, kind, value), when) for kind, value in pairs]
            if record.user_ops and apply_ops:
                for target in targets:
                    target.apply(record.user_ops)
        elif user is not None and record.user_ops and apply_ops:
            user.apply(record.user_ops)
        return user

    def write(self) -> int:
        """Write users, devices and groups, then the events that reference them.

        Returns:
            How many events were inserted: fewer than were added when some of their message
            ids were already stored.
        """
        users = self.users.changed_users()
        return self._sql.write(
            Writes(
                new_users=[u for u in users if u.is_new],
                claimed_users=[
                    (u.user_id, u.amplitude_id) for u in users if u.claimed and not u.is_new
                ],
                changed_users=[_user_state(u) for u in users if not u.is_new],
                spans=[(first, last, uid) for uid, (first, last) in self.spans.items()],
                devices=list(self.users.moved_devices()),
                groups=[
                    (*k, g.properties_text(), g.first_seen_ms, g.last_seen_ms)
                    for k, g in self._groups.items()
                ],
                events=self._events,
                merges=self.merges,
                links=self.links,
            )
        )

    def learn(self) -> None:
        """Teach the store's :class:`KnownUsers` what this request committed."""
        if self.merges:
            # Users merged by an alias: cached device and user entries may point at either.
            self._known.clear()
            return
        self._known.learn(self.users.users(), self.users.devices(), self.spans)


def attempt(
    sql: IngestSQL,
    received_ms: int,
    known: KnownUsers,
    records: Sequence[EventRecord],
    source_ids: Sequence[int],
    encoded: Sequence[Encoded],
    keep: Sequence[int],
    scopes: Sequence[str | None] | None = None,
) -> tuple[Ingest, int]:
    """Store the ``keep`` records; the work done and how many events the INSERT stored.
    ``scopes`` are the records' :func:`dedup_scopes` when the caller has them already.

    A batch's shared operations (``ops_once``) whose records are all duplicates are still
    applied, once, in their place: a new batch's user changes count whichever of its events
    were already stored.
    """
    work = Ingest(sql, received_ms, known)
    extra: dict[int, int] = {}
    shared = [index for index, record in enumerate(records) if record.ops_once and record.user_ops]
    if shared:
        carried = {id(records[i].user_ops) for i in keep if records[i].ops_once}
        for index in shared:
            if id(records[index].user_ops) not in carried:
                extra.setdefault(id(records[index].user_ops), index)
    if not extra and len(keep) == len(records):
        work.run(records, source_ids, encoded, scopes=scopes)  # the common case: all new
        return work, work.write()
    kept = set(keep)
    chosen = sorted(kept.union(extra.values())) if extra else list(keep)
    work.run(
        [records[i] for i in chosen],
        [source_ids[i] for i in chosen],
        [encoded[i] for i in chosen],
        [i in kept for i in chosen] if extra else None,
        None if scopes is None else [scopes[i] for i in chosen],
    )
    return work, work.write()


def _user_state(user: UserRow) -> tuple[str | None, str, int, int, int]:
    """The user's columns in the order the user UPDATE takes them."""
    return (
        user.device_id,
        user.properties_text(),
        user.first_seen_ms,
        user.last_seen_ms,
        user.amplitude_id,
    )
