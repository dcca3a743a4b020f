"""The committed users a store recognises without a query: :class:`KnownUsers`.

Most events belong to a user seen before, on the device seen before, and carry no operation;
the store's writer keeps this cache so such an event takes the short path of
:class:`~trackwire.collector.store_ingest.Ingest` (no query, no row object). The rules it
must agree with are :class:`~trackwire.collector.userprops.IdentityResolver`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Final, cast

from trackwire.collector.userprops import UserRow

__all__ = ["KnownUser", "KnownUsers"]


class KnownUser:
    """What :class:`KnownUsers` holds of a committed user: one object per user, which every
    id that finds the user leads to, and which a committed change updates in place. Always
    true (no ``__len__`` or ``__bool__``): ``all(hits)`` tells a lookup without a miss."""

    __slots__ = (
        "amplitude_id", "device_id", "first_seen_ms", "last_seen_ms", "owned_device", "source_id",
        "user_id",
    )  # fmt: skip

    def __init__(self, user: UserRow) -> None:
        self.amplitude_id = user.amplitude_id
        self.source_id = user.source_id
        self.user_id = user.user_id
        self.device_id = user.device_id
        self.first_seen_ms = user.first_seen_ms
        self.last_seen_ms = user.last_seen_ms
        #: :attr:`device_id` when it leads to this user (the device's last user is this one),
        #: else None: kept by :meth:`KnownUsers.learn`, so a lookup by user id and device
        #: compares one attribute, with no probe of the devices (a dict the size of the cache,
        #: rarely in the CPU's cache).
        self.owned_device: str | None = None


#: Stands for "no known user" where a lookup of many ids needs an object: it owns no device.
_NOBODY: Final = KnownUser(UserRow(0, 0, None, None, "{}", 0, 0))
_OWNED_DEVICE: Final = attrgetter("owned_device")


class KnownUsers:
    """Committed users a store has already read or written, kept to skip work on later events.

    Most events belong to a user seen before, on the device seen before, and carry no
    operation: resolving them changes nothing but perhaps the user's seen span. This cache lets
    a store recognise such an event without a query (:meth:`lookup`) and widen the span with a
    ``min``/``max`` update instead of reading and rewriting the user.

    The store must keep it truthful: fill it only from committed state (:meth:`learn`, after
    ``COMMIT``), and :meth:`clear` it whenever another connection may have changed users or
    devices. What it holds may lag the file only in ways that cannot mislead: a ``user_id``
    never changes its ``amplitude_id``, and a seen span only ever widens.

    Args:
        max_users: users kept; past it the cache starts over empty (a request of cache misses
            refills it), which bounds memory without per-event bookkeeping.
    """

    __slots__ = ("_by_device", "_by_user", "_max_users", "_users")

    def __init__(self, max_users: int = 200_000) -> None:
        self._max_users = max_users
        # Per source, then by id: the inner keys are the events' own strings, so a lookup
        # builds no key tuple and hashes each id once.
        #: source_id -> user_id -> the user (the same object as in _users).
        self._by_user: dict[int, dict[str, KnownUser]] = {}
        #: source_id -> device_id -> amplitude_id of the device's last user.
        self._by_device: dict[int, dict[str, int]] = {}
        #: amplitude_id -> the user.
        self._users: dict[int, KnownUser] = {}

    def __len__(self) -> int:
        """How many users are known."""
        return len(self._users)

    def clear(self) -> None:
        """Forget everything."""
        self._by_user.clear()
        self._by_device.clear()
        self._users.clear()

    def lookup(
        self, source_id: int, user_id: str | None, device_id: str | None
    ) -> KnownUser | None:
        """The user an event with these ids resolves to, if that changes nothing but its span.

        That is the case when the user is known and, for an event with a device, the device is
        both the user's last device and led to that user: :meth:`IdentityResolver.resolve`
        would then neither create, claim nor move anything. An event with neither id has no
        user and is not looked up here.

        Returns:
            The user as last committed (the cache's own object: read it, never change it),
            or ``None`` when the event needs the full resolution.
        """
        if user_id is not None:
            by_user = self._by_user.get(source_id)
            user = None if by_user is None else by_user.get(user_id)
            if user is None:
                return None
            if device_id is not None and user.owned_device != device_id:
                return None
            return user
        if device_id is None:
            return None
        amplitude_id = self._device_user(source_id, device_id)
        user = None if amplitude_id is None else self._users.get(amplitude_id)
        if user is None or user.device_id != device_id:
            return None
        return user

    def lookup_all(
        self,
        source_id: int,
        user_ids: list[str | None],
        device_ids: list[str | None],
    ) -> list[KnownUser | None]:
        """:meth:`lookup` for many events of one source, the ``user_ids`` and ``device_ids``
        of the events side by side: the same answers, without a call per event.

        Events that all carry a user id, and either no device (Segment's, mParticle's) or all
        one (Amplitude's), are looked up with one ``map`` of the source's dict, in C."""
        by_user = (self._by_user.get(source_id) or {}).get
        count = len(user_ids)
        if len(device_ids) != count:
            raise ValueError("one device id (or None) per user id")
        # all() rather than "None not in ...": it tests each id's truth without comparing it
        # with None (an empty id, also false, just takes the loop below).
        if all(user_ids):
            named = cast("list[str]", user_ids)  # no None among them
            if all(device_ids):
                # The user's owned device must be the event's: one list comparison when all
                # are (the common case), else event by event.
                found: list[KnownUser | None] = [*map(by_user, named, repeat(_NOBODY))]
                owned = [*map(_OWNED_DEVICE, found)]
                if owned == device_ids:
                    return found  # no _NOBODY among them: it owns no device
                return [
                    user if device == device_id else None
                    for user, device, device_id in zip(found, owned, device_ids, strict=True)
                ]
            if device_ids.count(None) == count:  # None is None: an identity test each
                return [*map(by_user, named)]
        by_device = self._by_device.get(source_id) or {}
        users = self._users
        found_one: list[KnownUser | None] = []
        append = found_one.append
        for user_id, device_id in zip(user_ids, device_ids, strict=True):
            if user_id is not None:
                user = by_user(user_id)
                if user is not None and device_id is not None and user.owned_device != device_id:
                    user = None
            elif device_id is None:
                user = None
            else:
                amplitude_id = by_device.get(device_id)
                user = None if amplitude_id is None else users.get(amplitude_id)
                if user is not None and user.device_id != device_id:
                    user = None
            append(user)
        return found_one

    def _device_user(self, source_id: int, device_id: str) -> int | None:
        by_device = self._by_device.get(source_id)
        return None if by_device is None else by_device.get(device_id)

    def learn(
        self,
        users: Iterator[UserRow],
        devices: Iterator[tuple[int, str, int]],
        spans: Mapping[int, Sequence[int]],
    ) -> None:
        """Take in what a committed request stored or read.

        Args:
            users: user rows as committed (their ``device_id`` and seen span).
            devices: ``(source_id, device_id, amplitude_id)`` mappings as committed.
            spans: ``amplitude_id -> (first_seen_ms, last_seen_ms)`` of known users whose span
                the request widened without a row (see :meth:`lookup`).
        """
        if len(self._users) > self._max_users:
            self.clear()
        known = self._users
        by_user = self._by_user
        # Users whose device or whose devices' users changed: their owned_device is redone.
        touched: list[KnownUser] = []
        for user in users:
            state = known.get(user.amplitude_id)
            if state is None:
                state = known[user.amplitude_id] = KnownUser(user)
            else:
                state.user_id = user.user_id
                state.device_id = user.device_id
                state.first_seen_ms = user.first_seen_ms
                state.last_seen_ms = user.last_seen_ms
            if user.user_id is not None:
                ids = by_user.get(user.source_id)
                if ids is None:
                    ids = by_user[user.source_id] = {}
                ids[user.user_id] = state
            touched.append(state)
        by_device = self._by_device
        for source_id, device_id, amplitude_id in devices:
            ids_of = by_device.get(source_id)
            if ids_of is None:
                ids_of = by_device[source_id] = {}
            previous = ids_of.get(device_id)
            ids_of[device_id] = amplitude_id
            if previous != amplitude_id:
                # The device's earlier user (if known) may have lost it, the new one got it.
                for owner in (previous, amplitude_id):
                    state = None if owner is None else known.get(owner)
                    if state is not None:
                        touched.append(state)
        for state in touched:
            device = state.device_id
            state.owned_device = (
                device
                if device is not None
                and by_device.get(state.source_id, {}).get(device) == state.amplitude_id
                else None
            )
        for amplitude_id, (first_seen_ms, last_seen_ms) in spans.items():
            state = known.get(amplitude_id)
            if state is not None:
                state.first_seen_ms = first_seen_ms
                state.last_seen_ms = last_seen_ms
