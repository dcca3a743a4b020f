"""What the collector knows about users and groups, as pure logic shared by every store.

Two rules live here, away from SQL, so they can be tested by table and shared by the SQLite and
(later) PostgreSQL stores, which then cannot disagree about them:

- **Property operations.** Amplitude changes user and group properties through operations
  (``$set``, ``$add``, ``$append``, ...; amplitude.md §2.3); Segment ``identify`` traits and
  mParticle ``user_attributes`` reach the store as ``$set``. :func:`apply_operations`.
- **Identity resolution**, per vendor and source (like an Amplitude project),
  :class:`IdentityResolver`:

  1. An event with a ``user_id`` belongs to the user with that ``user_id``. If there is none
     yet and the event's ``device_id`` was last seen on an anonymous user (no ``user_id``),
     that user is claimed: it takes the ``user_id`` and keeps its ``amplitude_id``, history and
     properties. Otherwise a new user is created.
  2. An event with only a ``device_id`` belongs to the user that device was last seen with (so
     events after a logout still count for the last user, as in Amplitude); an unknown device
     creates a new anonymous user.
  3. An event with neither id has no user.

  Users are never merged: when a known user shows up on a device that has an anonymous user,
  the anonymous user keeps its history and the device moves to the known user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, KeysView, Mapping, Sequence
from typing import Any, Final

import orjson

from trackwire.amplitude.properties import add_amount
from trackwire.collector._values import is_number
from trackwire.errors import ValidationError

__all__ = [
    "OPERATIONS",
    "IdentityResolver",
    "Row",
    "UserOp",
    "UserRow",
    "apply_operations",
    "dumps",
    "json_default",
]

#: One operation: its name and its argument, normally ``{property: value}``.
UserOp = tuple[str, Mapping[str, Any]]


def _same(a: Any, b: Any) -> bool:
    # JSON equality: Python's ``True == 1`` and ``1 == 1.0`` would let ``$remove: true`` delete a
    # ``1``; keep booleans apart from numbers.
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _contains(items: Sequence[Any], value: Any) -> bool:
    return any(_same(item, value) for item in items)


def _as_list(value: Any) -> list[Any]:
    """The operation's value(s): a list is many values, anything else is one."""
    return list(value) if isinstance(value, list) else [value]


def _current_list(props: Mapping[str, Any], key: str) -> list[Any]:
    """The property as a fresh list: missing is empty, a scalar becomes a one-item list."""
    if key not in props:
        return []
    current = props[key]
    return list(current) if isinstance(current, list) else [current]


def _set(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    props.update(args)


def _set_once(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        props.setdefault(key, value)


def _add(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        # Numbers, or numbers written as strings (Amplitude's browser SDK documents "5").
        amount = add_amount(value)
        if amount is None:
            continue  # anything else is not an increment
        current = props.get(key, 0)
        if is_number(current):
            props[key] = current + amount
        # A non-numeric current value is left alone rather than overwritten by the increment.


def _append(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        props[key] = _current_list(props, key) + _as_list(value)


def _prepend(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        props[key] = _as_list(value) + _current_list(props, key)


def _new_values(current: Sequence[Any], value: Any) -> list[Any]:
    """The values not yet in ``current`` (nor repeated among themselves), in their order."""
    fresh: list[Any] = []
    for item in _as_list(value):
        if not _contains(current, item) and not _contains(fresh, item):
            fresh.append(item)
    return fresh


def _pre_insert(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        current = _current_list(props, key)
        props[key] = _new_values(current, value) + current


def _post_insert(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        current = _current_list(props, key)
        props[key] = current + _new_values(current, value)


def _remove(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    for key, value in args.items():
        if key not in props:
            continue  # Removing from nothing must not create an empty list.
        doomed = _as_list(value)
        props[key] = [item for item in _current_list(props, key) if not _contains(doomed, item)]


def _unset(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    # The value is conventionally "-" and carries no meaning: only the keys count.
    for key in args:
        props.pop(key, None)


def _clear_all(props: dict[str, Any], args: Mapping[str, Any]) -> None:
    props.clear()


_Handler = Callable[[dict[str, Any], Mapping[str, Any]], None]

_HANDLERS: Final[Mapping[str, _Handler]] = {
    "$set": _set,
    "$setOnce": _set_once,
    "$add": _add,
    "$append": _append,
    "$prepend": _prepend,
    "$preInsert": _pre_insert,
    "$postInsert": _post_insert,
    "$remove": _remove,
    "$unset": _unset,
    "$clearAll": _clear_all,
}

#: Every operation name :func:`apply_operations` understands.
OPERATIONS: Final = frozenset(_HANDLERS)


def apply_operations(properties: Mapping[str, Any], ops: Sequence[UserOp]) -> dict[str, Any]:
    """Apply user-property operations in order and return the resulting properties.

    Semantics follow Amplitude's Identify API (amplitude.md §2.3):

    - ``$set`` overwrites; ``$setOnce`` sets only properties that are absent.
    - ``$add`` increments numerically; a missing property counts as 0. A non-numeric amount
      (booleans and numeric strings included) is ignored, and so is an increment of a property
      whose current value is not a number.
    - ``$append`` / ``$prepend`` add the value at the end / start of a list; a list value adds
      each of its items, a missing property starts as an empty list and a scalar property becomes
      a one-item list. Duplicates are kept.
    - ``$postInsert`` / ``$preInsert`` do the same but add only values not already present.
    - ``$remove`` removes every occurrence of the value(s); a missing property stays missing.
    - ``$unset`` removes the named properties (their values are ignored).
    - ``$clearAll`` removes every property; its argument is ignored.

    Equality is JSON equality: ``true`` never matches ``1``.

    Args:
        properties: the current properties; never modified.
        ops: ``(name, {property: value})`` pairs, applied first to last.

    Returns:
        A new dictionary. Values that no operation touched are shared with ``properties``, and
        values set by ``$set``/``$setOnce`` are shared with ``ops``; lists changed by an
        operation are always new lists.

    Raises:
        ValidationError: an operation name is unknown, or its argument is not a mapping
            (``$clearAll`` accepts any argument).
    """
    result = dict(properties)
    for index, (name, args) in enumerate(ops):
        handler = _HANDLERS.get(name)
        if handler is None:
            raise ValidationError(
                f"user_ops[{index}]",
                f"unknown user-property operation {name!r}; "
                f"expected one of {', '.join(sorted(OPERATIONS))}",
            )
        if handler is _clear_all:
            result.clear()
            continue
        if not isinstance(args, Mapping):
            raise ValidationError(
                f"user_ops[{index}]",
                f"{name} needs an object of {{property: value}}, got {type(args).__name__}",
            )
        handler(result, args)
    return result


def json_default(value: Any) -> Any:
    """``orjson.dumps``'s ``default`` for :func:`dumps`: a ``Mapping`` as a ``dict``."""
    # orjson encodes dict but no other mapping; the record types promise only Mapping.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """``value`` as compact JSON text; any ``Mapping`` is encoded as an object.

    Raises:
        orjson.JSONEncodeError: the value has no JSON form (a set, an int beyond 64 bits, ...).
    """
    return orjson.dumps(value, default=json_default).decode()


class Row:
    """Working copy of a user's or group's row while one request is ingested.

    The properties stay as the stored JSON text and are decoded only if an operation changes
    them: most events change no properties, and decoding and re-encoding every touched user's
    properties would cost more than the rest of the ingest.

    Attributes:
        first_seen_ms: earliest event time seen, epoch ms.
        last_seen_ms: latest event time seen, epoch ms.
        is_new: the row is not stored yet (insert rather than update).
        changed: the request touched the row, so it must be written back.
    """

    __slots__ = ("_text", "_value", "changed", "first_seen_ms", "is_new", "last_seen_ms")

    def __init__(
        self, properties: str, first_seen_ms: int, last_seen_ms: int, *, is_new: bool = False
    ) -> None:
        self._text: str | None = properties
        self._value: dict[str, Any] = {}
        self.first_seen_ms = first_seen_ms
        self.last_seen_ms = last_seen_ms
        self.is_new = is_new
        self.changed = is_new

    def seen(self, when_ms: int) -> None:
        """Record an event at ``when_ms``: widen the first/last-seen span.

        Only a span that actually widens marks the row changed: most events fall inside it, and
        rewriting an unchanged row costs as much as inserting the event.
        """
        if when_ms < self.first_seen_ms:
            self.first_seen_ms = when_ms
            self.changed = True
        if when_ms > self.last_seen_ms:
            self.last_seen_ms = when_ms
            self.changed = True

    def apply(self, ops: Sequence[UserOp]) -> None:
        """Change the properties with :func:`apply_operations`."""
        if self._text is not None:
            self._value = orjson.loads(self._text)
        self._value = apply_operations(self._value, ops)
        self._text = None
        self.changed = True

    def properties(self) -> dict[str, Any]:
        """The current properties (a copy)."""
        return dict(orjson.loads(self._text) if self._text is not None else self._value)

    def properties_text(self) -> str:
        """The properties as JSON text (the stored text itself when nothing changed them).

        Raises:
            ValidationError: an operation stored a value that has no JSON form.
        """
        if self._text is None:
            try:
                self._text = dumps(self._value)
            except orjson.JSONEncodeError as exc:
                raise ValidationError("user_ops", f"cannot be stored as JSON: {exc}") from exc
        return self._text


class UserRow(Row):
    """Working copy of a user row; see :class:`Row`.

    Attributes:
        amplitude_id: the user's stable id.
        source_id: the store's number for the user's (vendor, source).
        user_id: the known user id, if any.
        device_id: the device the user was last seen on.
        claimed: an anonymous stored user took a ``user_id`` in this request.
    """

    __slots__ = ("amplitude_id", "claimed", "device_id", "source_id", "user_id")

    def __init__(
        self,
        amplitude_id: int,
        source_id: int,
        user_id: str | None,
        device_id: str | None,
        properties: str,
        first_seen_ms: int,
        last_seen_ms: int,
        *,
        is_new: bool = False,
    ) -> None:
        super().__init__(properties, first_seen_ms, last_seen_ms, is_new=is_new)
        self.amplitude_id = amplitude_id
        self.source_id = source_id
        self.user_id = user_id
        self.device_id = device_id
        self.claimed = False


class _Scope:
    """The users of one source, keyed the two ways events find them."""

    __slots__ = ("by_device", "by_user_id", "linked", "moved_devices")

    def __init__(self) -> None:
        self.by_user_id: dict[str, UserRow] = {}
        self.by_device: dict[str, UserRow] = {}
        self.moved_devices: dict[str, UserRow] = {}
        #: Earlier ids an alias linked to a user: an event carrying one is that user's.
        self.linked: dict[str, UserRow] = {}


class IdentityResolver:
    """Apply the identity rule (module docstring) to one request's events, in memory.

    A store preloads, with :meth:`remember`, every stored user the request's user ids and
    device ids can reach, then calls :meth:`resolve` per event in arrival order, then writes
    back :meth:`changed_users` and :meth:`moved_devices`.

    Args:
        allocate_id: returns a fresh ``amplitude_id`` each call; called once per new user.
    """

    def __init__(self, allocate_id: Callable[[], int]) -> None:
        self._allocate_id = allocate_id
        self._scopes: dict[int, _Scope] = {}
        self._users: dict[int, UserRow] = {}

    def _scope(self, source_id: int) -> _Scope:
        scope = self._scopes.get(source_id)
        if scope is None:
            scope = self._scopes[source_id] = _Scope()
        return scope

    def remember(
        self, user: UserRow, *, device_id: str | None = None, linked_id: str | None = None
    ) -> None:
        """Register a stored user, and optionally a device whose last user it is, or an
        earlier id an alias linked to it.

        The same user may be remembered more than once (found by id and by device); the first
        copy is kept, so the request works on one object per user.
        """
        user = self._users.setdefault(user.amplitude_id, user)
        scope = self._scope(user.source_id)
        if user.user_id is not None:
            scope.by_user_id[user.user_id] = user
        if device_id is not None:
            scope.by_device[device_id] = user
        if linked_id is not None:
            scope.linked[linked_id] = user

    def resolve(
        self, source_id: int, user_id: str | None, device_id: str | None, when_ms: int
    ) -> UserRow | None:
        """The event's user, created if needed, with its device and seen times updated.

        Returns:
            The user, or ``None`` for an event with neither id.
        """
        scope = self._scope(source_id)
        if user_id is not None:
            # An id an alias replaced stays the linked user's (a later request may carry it).
            user = scope.linked.get(user_id) or scope.by_user_id.get(user_id)
            if user is None:
                anonymous = None if device_id is None else scope.by_device.get(device_id)
                if anonymous is not None and anonymous.user_id is None:
                    user = anonymous
                    user.user_id = user_id
                    user.claimed = user.changed = True
                else:
                    user = self._new(source_id, user_id, device_id, when_ms)
                scope.by_user_id[user_id] = user
        elif device_id is not None:
            user = scope.by_device.get(device_id)
            if user is None:
                user = self._new(source_id, None, device_id, when_ms)
        else:
            return None
        if device_id is not None:
            if scope.by_device.get(device_id) is not user:
                scope.by_device[device_id] = user
                scope.moved_devices[device_id] = user
            if user.device_id != device_id:
                user.device_id = device_id
                user.changed = True
        user.seen(when_ms)
        return user

    def link(self, source_id: int, user: UserRow, previous_id: str) -> UserRow | None:
        """Make ``previous_id`` (an anonymous id or an earlier user id) lead to ``user``.

        From then on an event whose device is ``previous_id`` belongs to ``user``. When another
        user held that id, its properties join ``user``'s (``user``'s own values win: they are
        the newer ones) and its seen span widens ``user``'s.

        Returns:
            The other user whose history now belongs to ``user`` (the caller moves its events
            and devices), or None.
        """
        scope = self._scope(source_id)
        previous = scope.by_user_id.get(previous_id) or scope.by_device.get(previous_id)
        scope.linked[previous_id] = user
        if scope.by_device.get(previous_id) is not user:
            scope.by_device[previous_id] = user
            scope.moved_devices[previous_id] = user
        if previous is None or previous is user:
            return None
        for device, owner in list(scope.by_device.items()):
            if owner is previous:
                scope.by_device[device] = user
                scope.moved_devices[device] = user
        if previous.user_id == previous_id:
            # The earlier user id now names ``user``: the merged-away row gives it up, so no
            # lookup by that id (stored or cached) finds the old row again.
            previous.user_id = None
            previous.claimed = previous.changed = True
            scope.by_user_id.pop(previous_id, None)
        inherited = previous.properties()
        if inherited:
            user.apply([("$setOnce", inherited)])
        user.seen(previous.first_seen_ms)
        user.seen(previous.last_seen_ms)
        return previous

    def _new(
        self, source_id: int, user_id: str | None, device_id: str | None, when_ms: int
    ) -> UserRow:
        amplitude_id = self._allocate_id()
        user = UserRow(
            amplitude_id, source_id, user_id, device_id, "{}", when_ms, when_ms, is_new=True
        )
        self._users[user.amplitude_id] = user
        return user

    def get(self, amplitude_id: int) -> UserRow | None:
        """The request's working copy of a user, if the request reached it."""
        return self._users.get(amplitude_id)

    def amplitude_ids(self) -> KeysView[int]:
        """The ``amplitude_id`` of every user the request reached (a live view)."""
        return self._users.keys()

    def users(self) -> Iterator[UserRow]:
        """Every user the request reached: remembered, found or created."""
        return iter(self._users.values())

    def devices(self) -> Iterator[tuple[int, str, int]]:
        """``(source_id, device_id, amplitude_id)`` for every device the request reached."""
        for source_id, scope in self._scopes.items():
            for device_id, user in scope.by_device.items():
                yield source_id, device_id, user.amplitude_id

    def changed_users(self) -> list[UserRow]:
        """Users the request created or touched (new ones in ``amplitude_id`` order)."""
        return [user for user in self._users.values() if user.changed]

    def moved_devices(self) -> Iterator[tuple[int, str, int]]:
        """``(source_id, device_id, amplitude_id)`` for each device whose user changed."""
        for source_id, scope in self._scopes.items():
            for device_id, user in scope.moved_devices.items():
                yield source_id, device_id, user.amplitude_id
