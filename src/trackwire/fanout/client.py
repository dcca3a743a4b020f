"""FanOut: Segment-spec calls sent to every configured vendor client, each in its own shape.

It composes the public clients (:class:`trackwire.Segment`, :class:`trackwire.Amplitude`,
:class:`trackwire.MParticle`) through their public calls only. Each client has its own queue,
engine and worker threads, so a vendor that is down or slow holds back nothing of the others:
its messages wait in its own queue while theirs are sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from trackwire._engine.receipts import BatchReport, Receipt
from trackwire._engine.threads import start_background
from trackwire.errors import ConfigError, DeliveryError, TrackwireError
from trackwire.fanout.mappings import (
    DESTINATIONS,
    Mapper,
    apply_table,
    check_table,
    default_mapper,
    known_call,
)
from trackwire.fanout.receipt import FanOutReceipt, failed_receipt, joined_receipt
from trackwire.fanout.spec import CALL_TYPES, build_message

if TYPE_CHECKING:
    from trackwire.amplitude.client import Amplitude
    from trackwire.mparticle.client import MParticle
    from trackwire.segment.client import Segment

__all__ = ["FanOut"]

logger = logging.getLogger("trackwire")

#: A filter: the Segment message in, True to send it to the destination.
Filter = Callable[[dict[str, Any]], bool]


def _filter(destination: str, given: object) -> Filter:
    if callable(given):
        return given
    if isinstance(given, Collection) and not isinstance(given, str | bytes | Mapping):
        names = frozenset(given)
        if not all(isinstance(name, str) for name in names):
            raise ConfigError(f"filters[{destination!r}] must hold call types or event names")
        return lambda message: message["type"] in names or message.get("event") in names
    raise ConfigError(
        f"filters[{destination!r}] must be a function fn(message) -> bool or a set of call "
        "types and event names (e.g. {'identify', 'Order Completed'})"
    )


class _Shared(NamedTuple):
    """The fields every Segment call shares."""

    anonymous_id: object
    context: object
    integrations: object
    timestamp: object
    message_id: object


class _Route:
    """One destination: its client, how each call is mapped, and what it may receive."""

    def __init__(
        self,
        name: str,
        client: Any,
        mapping: object,
        keep: Filter | None,
        group_type: str,
    ) -> None:
        self.name = name
        self.client = client
        self.keep = keep
        self.skipped: Counter[str] = Counter()
        self.refused = 0
        default = default_mapper(name, group_type)
        self.mappers: dict[str, Mapper] = dict.fromkeys(CALL_TYPES, default)
        self.tables: dict[str, Mapping[str, Mapping[str, str | None]]] = {}
        if mapping is None:
            return
        if callable(mapping):
            self.mappers = dict.fromkeys(CALL_TYPES, mapping)
            return
        if not isinstance(mapping, Mapping):
            raise ConfigError(
                f"mappings[{name!r}] must be a function fn(message) -> payload or a dict of "
                "call type -> function or table"
            )
        for kind, override in mapping.items():
            if not known_call(kind):
                raise ConfigError(
                    f"mappings[{name!r}]: unknown call {kind!r}; use {', '.join(CALL_TYPES)}"
                )
            if callable(override):
                self.mappers[kind] = override
            elif isinstance(override, Mapping):
                check_table(name, kind, override)
                self.tables[kind] = override
            else:
                raise ConfigError(f"mappings[{name!r}][{kind!r}] must be a function or a table")

    def payloads(self, message: dict[str, Any]) -> tuple[list[Any], str]:
        """The payloads to send for ``message``, or ``([], reason)`` when none."""
        if not _integration_enabled(message.get("integrations"), DESTINATIONS[self.name]):
            return [], "integrations"
        if self.keep is not None and not self.keep(message):
            return [], "filtered"
        kind = message["type"]
        mine = dict(message)
        table = self.tables.get(kind)
        if table is not None and not apply_table(mine, table):
            return [], "filtered"
        payload = self.mappers[kind](mine)
        if payload is None:
            return [], "no_mapping"
        payloads = list(payload) if isinstance(payload, list | tuple) else [payload]
        return payloads, "" if payloads else "no_mapping"

    def send(self, payload: Any) -> Receipt:
        """Queue one payload with this destination's client."""
        if self.name == "amplitude":
            return self.client.track(payload)  # type: ignore[no-any-return]
        if self.name == "mparticle":
            if isinstance(payload, dict) and not payload.get("environment"):
                environment = getattr(self.client, "environment", None)
                payload = {**payload, "environment": environment or "production"}
            return self.client.upload(payload)  # type: ignore[no-any-return]
        return _segment_call(self.client, payload)


def _integration_enabled(integrations: object, name: str) -> bool:
    """Segment's ``integrations`` object: ``{"Amplitude": False}`` or ``{"All": False}``."""
    if not integrations or not isinstance(integrations, Mapping):
        return True
    if name in integrations:
        return integrations[name] is not False
    return integrations.get("All", True) is not False


def _segment_call(client: Any, message: Mapping[str, Any]) -> Receipt:
    """Send a Segment message through the Segment client's call of its type."""
    kind = message.get("type")
    shared = {
        "context": message.get("context"),
        "integrations": message.get("integrations"),
        "timestamp": message.get("timestamp"),
        "message_id": message.get("messageId"),
    }
    user_id = message.get("userId")
    if kind == "alias":
        return client.alias(message.get("previousId"), user_id, **shared)  # type: ignore[no-any-return]
    shared["anonymous_id"] = message.get("anonymousId")
    if kind == "track":
        call = client.track(user_id, message.get("event"), message.get("properties"), **shared)
    elif kind == "identify":
        call = client.identify(user_id, message.get("traits"), **shared)
    elif kind in ("page", "screen"):
        method = client.page if kind == "page" else client.screen
        call = method(
            user_id, message.get("category"), message.get("name"), message.get("properties"),
            **shared,
        )  # fmt: skip
    elif kind == "group":
        call = client.group(user_id, message.get("groupId"), message.get("traits"), **shared)
    else:
        raise ConfigError(f"a Segment mapping returned a message of unknown type {kind!r}")
    return call  # type: ignore[no-any-return]


class FanOut:
    """Segment-spec calls (``identify``, ``track``, ``page``, ``screen``, ``group``,
    ``alias``) sent to every configured vendor, each in its own shape.

    ::

        fanout = trackwire.FanOut(
            segment=trackwire.Segment("WRITE_KEY"),
            amplitude=trackwire.Amplitude("API_KEY"),
            mparticle=trackwire.MParticle("KEY", "SECRET", environment="production"),
        )
        receipt = fanout.track("user-1", "Order Completed", {"revenue": 39.95})
        fanout.flush(timeout=5)
        receipt.results["amplitude"].ok

    Args:
        segment, amplitude, mparticle: the clients to send to (any subset, at least one). The
            FanOut uses only their public calls; configure each (keys, hosts, batching,
            retries) as usual.
        mappings: per destination, a function ``fn(message) -> payload | list | None`` for
            every call, or a dict of call type -> such a function or a table (see
            :mod:`trackwire.fanout.mappings`). ``message`` is the Segment message (camelCase);
            the payload is the vendor's: an Amplitude event dict, an mParticle batch dict, a
            Segment message dict. None sends nothing there.
        filters: per destination, ``fn(message) -> bool`` or a set of call types and event
            names: which calls it receives.
        group_type: the Amplitude group type (and mParticle user attribute) a ``group`` call's
            groupId is stored under.

    Raises:
        ConfigError: no client, an unknown destination, or a bad mapping or filter.
    """

    def __init__(
        self,
        *,
        segment: Segment | None = None,
        amplitude: Amplitude | None = None,
        mparticle: MParticle | None = None,
        mappings: Mapping[str, object] | None = None,
        filters: Mapping[str, object] | None = None,
        group_type: str = "group",
    ) -> None:
        clients: dict[str, Any] = {
            "segment": segment, "amplitude": amplitude, "mparticle": mparticle,
        }  # fmt: skip
        mappings = mappings or {}
        filters = filters or {}
        for option, given in (("mappings", mappings), ("filters", filters)):
            for name in given:
                if name not in DESTINATIONS:
                    raise ConfigError(
                        f"{option}: unknown destination {name!r}; use {', '.join(DESTINATIONS)}"
                    )
                if clients[name] is None:
                    raise ConfigError(f"{option}[{name!r}] is set but no {name} client was given")
        if not isinstance(group_type, str) or not group_type:
            raise ConfigError("group_type must be a non-empty str (e.g. 'company')")
        self._routes = [
            _Route(
                name,
                client,
                mappings.get(name),
                None if filters.get(name) is None else _filter(name, filters[name]),
                group_type,
            )
            for name, client in clients.items()
            if client is not None
        ]
        if not self._routes:
            raise ConfigError(
                "FanOut needs at least one client: segment=, amplitude= or mparticle="
            )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<trackwire.FanOut {', '.join(self.destinations)}>"

    @property
    def destinations(self) -> list[str]:
        """The configured destinations' names, in order."""
        return [route.name for route in self._routes]

    def client(self, destination: str) -> Any:
        """The client of ``destination`` (``"segment"``, ``"amplitude"``, ``"mparticle"``)."""
        for route in self._routes:
            if route.name == destination:
                return route.client
        raise ConfigError(f"no {destination!r} destination; this FanOut has {self.destinations}")

    # ------------------------------------------------------------------ calls

    # Every call takes Segment's shared fields as keywords: anonymous_id, context,
    # integrations, timestamp (a datetime, naive = UTC, or an ISO-8601 str) and message_id
    # (made when not given).

    def identify(
        self,
        user_id: object = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: str | None = None,
    ) -> FanOutReceipt:
        """Record who a user is (Amplitude ``$set``, mParticle user attributes)."""
        shared = _Shared(anonymous_id, context, integrations, timestamp, message_id)
        return self._call("identify", {"traits": traits}, user_id, shared)

    def track(
        self,
        user_id: object = None,
        event: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: str | None = None,
    ) -> FanOutReceipt:
        """Record an action (Amplitude event, mParticle custom event)."""
        shared = _Shared(anonymous_id, context, integrations, timestamp, message_id)
        return self._call("track", {"event": event, "properties": properties}, user_id, shared)

    def page(
        self,
        user_id: object = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: str | None = None,
    ) -> FanOutReceipt:
        """Record a page view (Amplitude ``Viewed <name> Page``, mParticle screen view)."""
        shared = _Shared(anonymous_id, context, integrations, timestamp, message_id)
        fields = {"category": category, "name": name, "properties": properties}
        return self._call("page", fields, user_id, shared)

    def screen(
        self,
        user_id: object = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: str | None = None,
    ) -> FanOutReceipt:
        """Record a screen view (Amplitude ``Viewed <name> Screen``, mParticle screen view)."""
        shared = _Shared(anonymous_id, context, integrations, timestamp, message_id)
        fields = {"category": category, "name": name, "properties": properties}
        return self._call("screen", fields, user_id, shared)

    def group(
        self,
        user_id: object = None,
        group_id: object = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: object = None,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: str | None = None,
    ) -> FanOutReceipt:
        """Put a user in a group (Amplitude groups and group identify)."""
        shared = _Shared(anonymous_id, context, integrations, timestamp, message_id)
        return self._call("group", {"group_id": group_id, "traits": traits}, user_id, shared)

    def alias(
        self,
        previous_id: object = None,
        user_id: object = None,
        *,
        context: Mapping[str, Any] | None = None,
        integrations: Mapping[str, Any] | None = None,
        timestamp: object = None,
        message_id: str | None = None,
    ) -> FanOutReceipt:
        """Say ``previous_id`` and ``user_id`` are one person (not sent to Amplitude)."""
        shared = _Shared(None, context, integrations, timestamp, message_id)
        return self._call("alias", {"previous_id": previous_id}, user_id, shared)

    def _call(
        self, kind: str, fields: Mapping[str, object], user_id: object, shared: _Shared
    ) -> FanOutReceipt:
        """Build the Segment message once, then hand each destination its own payload."""
        message = build_message(
            kind,
            fields,
            user_id=user_id,
            anonymous_id=shared.anonymous_id,
            context=shared.context,
            integrations=shared.integrations,
            timestamp=shared.timestamp,
            message_id=shared.message_id,
        )
        message_id = message["messageId"]
        results: dict[str, Receipt] = {}
        skipped: dict[str, str] = {}
        refusals: list[TrackwireError] = []
        for route in self._routes:
            try:
                payloads, reason = route.payloads(message)
            except Exception as exc:
                # A user's mapping or filter that fails drops the call for that destination
                # (fail closed: it may have been scrubbing something) and says so.
                logger.warning(
                    "trackwire: fanout: the %s mapping or filter raised %s on a %s call; "
                    "not sent there", route.name, type(exc).__name__, kind,
                )  # fmt: skip
                with self._lock:
                    route.skipped["mapping_error"] += 1
                detail = f"the {route.name} mapping or filter raised {type(exc).__name__}"
                results[route.name] = failed_receipt(
                    message_id, DeliveryError("middleware_error", detail)
                )
                continue
            try:
                if not payloads:
                    skipped[route.name] = reason
                    with self._lock:
                        route.skipped[reason] += 1
                    continue
                receipts = [route.send(payload) for payload in payloads]
            except TrackwireError as error:
                # One vendor refusing its shape of the call (an id too short for Amplitude,
                # say) must not cost the others theirs: that destination's receipt says why.
                refusals.append(error)
                with self._lock:
                    route.refused += 1
                logger.warning(
                    "trackwire: fanout: %s refused a %s call: %s", route.name, kind, error
                )
                results[route.name] = failed_receipt(
                    message_id, DeliveryError("rejected", f"{type(error).__name__}: {error}")
                )
                continue
            results[route.name] = joined_receipt(message_id, receipts)
        if refusals and len(refusals) == len(results) and not skipped:
            raise refusals[0]  # nobody took it: a caller mistake, said at the call site
        return FanOutReceipt(message_id, results, skipped)

    # ------------------------------------------------------------------ control

    def _each(self, action: str, timeout: float | None) -> bool:
        """Run ``client.<action>(remaining)`` on every client at once, under one deadline.

        Each client waits in its own thread: a slow vendor's wait overlaps the others' instead
        of eating their budget.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        outcomes: dict[str, bool] = {}

        def run(route: _Route) -> None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                outcomes[route.name] = bool(getattr(route.client, action)(left))
            except Exception:
                logger.exception("trackwire: fanout: %s.%s() raised", route.name, action)
                outcomes[route.name] = False

        threads = [
            threading.Thread(target=run, args=(route,), name=f"trackwire-fanout-{action}")
            for route in self._routes
        ]
        for thread in threads:
            thread.daemon = True
            start_background(thread)
        for thread in threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            # A client honours its own timeout; the margin only covers thread scheduling.
            thread.join(None if left is None else left + 1.0)
        return len(outcomes) == len(self._routes) and all(outcomes.values())

    def flush(self, timeout: float | None = None) -> bool:
        """Flush every client at once within one ``timeout``; True if all finished in time."""
        return self._each("flush", timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Shut every client down at once within one ``timeout`` (default: each client's
        ``shutdown_timeout``); True if all delivered or settled everything in time."""
        return self._each("shutdown", timeout)

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio

        return await asyncio.to_thread(self.flush, timeout)

    async def ashutdown(self, timeout: float | None = None) -> bool:
        """:meth:`shutdown` for asyncio code."""
        import asyncio

        return await asyncio.to_thread(self.shutdown, timeout)

    @property
    def closed(self) -> bool:
        """True once every client is shut down."""
        return all(bool(getattr(route.client, "closed", False)) for route in self._routes)

    def on(self, hook: str, fn: Callable[[str, BatchReport], None]) -> None:
        """Call ``fn(destination, report)`` on a client hook (``flush``, ``retry``, ``error``,
        ``drop``) of every destination."""
        for route in self._routes:
            route.client.on(hook, lambda report, name=route.name: fn(name, report))

    def add_middleware(self, middleware: Callable[[dict[str, Any]], Any]) -> None:
        """Add ``middleware`` to every destination's client (it sees each vendor's own
        message shape; see :mod:`trackwire.middleware`)."""
        for route in self._routes:
            route.client.add_middleware(middleware)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each destination's client counters (see the clients' ``stats()``), plus
        ``skipped`` (calls not sent there, by reason) and ``refused`` (calls its client
        refused), keyed by destination."""
        out: dict[str, dict[str, Any]] = {}
        for route in self._routes:
            stats = dict(route.client.stats())
            with self._lock:
                stats["skipped"] = dict(route.skipped)
                stats["refused"] = route.refused
            out[route.name] = stats
        return out

    def __enter__(self) -> FanOut:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    async def __aenter__(self) -> FanOut:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ashutdown()
