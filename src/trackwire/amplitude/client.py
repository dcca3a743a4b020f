"""The Amplitude client: ``track``, ``identify``, ``group_identify``, ``set_group``, ``revenue``.

A thin layer on :class:`trackwire._client.Client`: each call turns its arguments into HTTP V2
event dicts (:mod:`.events`), runs plugins and event middleware, and hands the event to the
shared engine, which batches events to ``/2/httpapi`` (or ``/batch``) as
``{"api_key", "events", "options"}`` and reads each response with :func:`.responses.outcome`.
Delivery options, ``flush``/``shutdown``, hooks and ``stats()`` are the shared client's.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any, Final, overload

from trackwire._client import Client, Lane, ReplaySpec, parse_options
from trackwire._engine.ids import new_message_id
from trackwire._engine.receipts import Receipt
from trackwire._version import __version__
from trackwire.amplitude import options as amplitude_options
from trackwire.amplitude import wire
from trackwire.amplitude.builders import Identify, Revenue, check_property_operations
from trackwire.amplitude.callbacks import event_callback, watch_retries
from trackwire.amplitude.events import check, check_group, prepare, rename_keys, to_wire
from trackwire.amplitude.fast import track_encoder
from trackwire.amplitude.form import identification
from trackwire.amplitude.middleware import EventMiddleware
from trackwire.amplitude.models import (
    BaseEvent,
    EventCallback,
    EventOptions,
    GroupIdentifyEvent,
    IdentifyEvent,
    Plugin,
    RevenueEvent,
)
from trackwire.amplitude.pipeline import (
    Dropped,
    Stage,
    event_middleware_stage,
    plugin_stage,
    run_stages,
    shared_chain_stage,
)
from trackwire.amplitude.wire import check_event
from trackwire.errors import ConfigError, ValidationError
from trackwire.middleware import Middleware

if TYPE_CHECKING:  # the query package is imported only by a client given a secret_key
    from typing_extensions import Unpack  # typing.Unpack from 3.11; annotations only

    from trackwire.amplitude.query import AmplitudeQuery
    from trackwire.amplitude.query.client import Progress
    from trackwire.amplitude.query.results import (
        ExportResult,
        Segmentation,
        UserActivity,
        UserSearch,
    )
    from trackwire.config import AmplitudeOptions

__all__ = ["Amplitude"]

logger = logging.getLogger("trackwire.amplitude")

LIBRARY: Final = f"trackwire/{__version__}"
_WHAT: Final = "Amplitude event"
_time_ns: Final = time.time_ns
#: The lane of ``identify`` calls when ``use_identify_api=True`` (``stats()["identify"]``).
_IDENTIFY_LANE: Final = "identify"


def _clock_ms() -> int:
    """Now in epoch milliseconds: the ``time`` the client gives an event that has none."""
    return _time_ns() // 1_000_000


class Amplitude(Client):
    """An Amplitude project: sends events in the background, in batches, as HTTP V2 does.

    Each event is checked by Amplitude's rule set (:func:`trackwire.amplitude.wire.
    check_event`, the collector's too) once, after plugins and middleware: what Amplitude
    would refuse raises :class:`~trackwire.ValidationError` naming the field, an id shorter
    than ``min_id_length`` is removed with a warning, and a top-level string over 1,024
    characters is truncated with a warning, as amplitude-analytics does (a value cut short
    is better than an event lost).

    Args:
        api_key: the project's API key.
        server_url: where to send (default the HTTP V2 endpoint of ``server_zone``); use it
            for a proxy or a local collector. An origin without a path
            (``"http://127.0.0.1:8787"``) gets the endpoint's path appended (``/2/httpapi``,
            or ``/batch`` with ``use_batch``); a URL with a path is used as given.
        server_zone: ``"US"`` (default) or ``"EU"``.
        use_batch: send to the Batch API instead (larger requests, higher per-user limits).
        use_identify_api: send ``identify`` calls to the ``/identify`` form API (the community
            client's way) instead of as ``$identify`` events; plugins and event middleware do
            not run on them.
        token_endpoint: an ingestion host instead of Amplitude's (the community client's
            option; ``AMPLITUDE_TOKEN_ENDPOINT`` in the environment does the same).
        min_id_length: shortest ``user_id``/``device_id`` kept (default 5); sent to Amplitude
            as ``options.min_id_length`` when given.
        opt_out: True sends nothing (every call's receipt says dropped). Settable later.
        log_level: ``"none"``, ``"error"``, ``"warn"`` or ``"verbose"`` for the
            ``trackwire.amplitude`` logger.
        retry_timeouts: waits before each retry, in milliseconds (default the Node SDK's 12
            waits from 100 ms to 3.2 s); ``[]`` means no retries.
        on_retry: ``fn(response, attempt_number, is_last_retry)`` after each retry attempt:
            the attempt's :class:`~trackwire._engine.transport.HTTPResult`, the index of the
            retry (0 first) and whether no retry follows.
        upload_interval: seconds events may wait to be batched; default 0, the worker's next
            turn.
        user_id: default ``user_id`` of every event that has none.
        device_id: default ``device_id`` of every event that has none.
        session_id: default ``session_id`` of every event that has none.
        plan: a :class:`~.models.Plan` or dict merged into every event.
        ingestion_metadata: an :class:`~.models.IngestionMetadata` or dict for every event.
        secret_key: the project's secret key, for the query calls: :attr:`query` (every
            Dashboard and Export API call), and :meth:`export`, :meth:`user_search`,
            :meth:`user_activity`, :meth:`event_segmentation` on the client itself.
        query_url: the Dashboard/Export API base for those calls: by default Amplitude's for
            ``server_zone`` when ``server_url`` is Amplitude's, else ``server_url``'s origin
            (a client pointed at the collector queries the collector).
        **typed: every shared delivery option of trackwire clients (``flush_at``,
            ``max_queue_size``, ``on_full``, ``workers``, ``gzip``, ``timeout``, ``enable``,
            ``debug``, ``retry``, ``transport``, ``middleware``, ``on_error``, ...), typed by
            :class:`trackwire.config.AmplitudeOptions` so that mypy catches a wrong one.
            ``max_queue_size`` defaults to 16,000 here, as the official SDK's cache. The
            official SDKs' spellings (``flush_queue_size``, ``max_cached_events``, ...) are
            refused with trackwire's name; ``trackwire.compat`` accepts them.

    Raises:
        ConfigError: an option is unknown or invalid (the message names it).
    """

    def __init__(self, api_key: str, **typed: Unpack[AmplitudeOptions]) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ConfigError("api_key must be a non-empty str (your Amplitude project's key)")
        options: dict[str, Any] = dict(typed)
        replay = ReplaySpec.of(Amplitude, api_key, **options)
        own_values = {
            name: options.pop(name) for name in list(options) if name in amplitude_options.OWN
        }
        url, endpoint = amplitude_options.server_url({**amplitude_options.OWN, **own_values})
        interval = amplitude_options.upload_interval(own_values.get("upload_interval", 0.0))
        if "flush_interval" not in options:
            options["flush_interval"] = interval or amplitude_options.NEXT_TURN
        passed = dict(options)
        shared, own = parse_options(
            {**options, **own_values},
            vendor="Amplitude",
            url=url,
            own=amplitude_options.OWN,
            defaults=amplitude_options.DEFAULTS,
        )
        retry = amplitude_options.retry_config(own, passed)
        if retry is not None:
            from dataclasses import replace

            shared = replace(shared, retry=retry)
        self.api_key = api_key
        self.server_url = url
        self.min_id_length = amplitude_options.min_id_length(own["min_id_length"])
        self._id_length = self.min_id_length or wire.DEFAULT_MIN_ID_LENGTH
        self.opt_out = bool(own["opt_out"])
        self._defaults = amplitude_options.event_defaults(own)
        amplitude_options.apply_log_level(own["log_level"])
        destination = amplitude_options.upload_destination(
            api_key, url, endpoint, self.min_id_length, shared.delivery.timeout
        )
        self._max_event_bytes = destination.limits.max_bytes - destination.limits.overhead
        super().__init__(destination, shared, replay=replay)
        self._query: AmplitudeQuery | None = None
        if own["secret_key"]:
            from trackwire.amplitude.query import AmplitudeQuery  # only a querying client needs it

            # Made now, so that bad query settings fail at construction, where they were given.
            self._query = AmplitudeQuery(
                api_key,
                own["secret_key"],
                query_url=own["query_url"],
                server_zone=own["server_zone"],
                server_url=url,
            )
        # identify() sends to the /identify form API on a lane of its own when asked to.
        self._identify_lane: Lane | None = None
        if own["use_identify_api"]:
            self._identify_lane = self.add_lane(
                _IDENTIFY_LANE,
                amplitude_options.form_destination(api_key, url, shared.delivery.timeout),
            )
        self._plugins: list[Plugin] = []
        self._event_middleware: tuple[EventMiddleware, ...] = ()
        self._stages: tuple[Stage, ...] = ()
        self._restage()
        # The common track() call, spliced from pre-encoded pieces (trackwire.amplitude.fast);
        # a subclass that overrides the send path sees every event there instead.
        self._fast_encode = (
            track_encoder(LIBRARY, self._id_length, self._max_event_bytes, _clock_ms)
            if type(self)._send is Amplitude._send and type(self)._submit is Client._submit
            else None
        )
        self._fast_submit = self._engine.submit  # bound once: the fast path of track()
        on_retry = own["on_retry"]
        if on_retry is not None:
            if not callable(on_retry):
                raise ConfigError("on_retry must be callable as on_retry(response, n, is_last)")
            watch_retries(self, on_retry)

    def __repr__(self) -> str:
        return f"<trackwire.Amplitude server_url={self.server_url!r}>"

    # ------------------------------------------------------------------ the query side

    @property
    def query(self) -> AmplitudeQuery:
        """The Dashboard REST and Export API client of this project (``amp.query.export(...)``).

        Raises:
            ConfigError: the client was made without ``secret_key``.
        """
        if self._query is None:
            raise ConfigError(
                "secret_key is required for Amplitude's query APIs (export, user search, user "
                "activity, event segmentation): create the client with secret_key='...' (the "
                "project's secret key, in Amplitude's project settings)"
            )
        return self._query

    def export(
        self,
        start: datetime | str,
        end: datetime | str,
        dest: str | os.PathLike[str] | IO[bytes],
        *,
        progress: Progress | None = None,
    ) -> ExportResult:
        """``amp.query.export(...)``: see :meth:`.AmplitudeQuery.export`."""
        return self.query.export(start, end, dest, progress=progress)

    def user_search(self, user: str | int) -> UserSearch:
        """``amp.query.user_search(user)``: see :meth:`.AmplitudeQuery.user_search`."""
        return self.query.user_search(user)

    def user_activity(
        self, amplitude_id: int | str, *, offset: int = 0, limit: int = 1000,
        direction: str = "latest",
    ) -> UserActivity:  # fmt: skip
        """``amp.query.user_activity(...)``: see :meth:`.AmplitudeQuery.user_activity`."""
        return self.query.user_activity(
            amplitude_id, offset=offset, limit=limit, direction=direction
        )

    def event_segmentation(
        self, event: str | Mapping[str, Any], start: date | datetime | str,
        end: date | datetime | str, **parameters: Any,
    ) -> Segmentation:  # fmt: skip
        """``amp.query.event_segmentation(...)``: see :meth:`.AmplitudeQuery.event_segmentation`
        for the parameters (``metric``, ``interval``, ``group_by``, ``segments``, ``limit``)."""
        return self.query.event_segmentation(event, start, end, **parameters)

    # ------------------------------------------------------------------ plugins, middleware

    def add(self, plugin: Plugin) -> Amplitude:
        """Add a plugin (``execute(event)`` returns the event or None to drop it).

        Plugins run in the order added, on every event, before event middleware. A plugin's
        optional ``setup(client)`` is called now.
        """
        if not callable(getattr(plugin, "execute", None)):
            raise ConfigError("a plugin needs an execute(event) method returning the event")
        setup = getattr(plugin, "setup", None)
        if callable(setup):
            setup(self)
        self._plugins.append(plugin)
        self._restage()
        return self

    def remove(self, plugin: Plugin) -> Amplitude:
        """Remove a plugin added with :meth:`add`."""
        self._plugins.remove(plugin)
        self._restage()
        return self

    def add_event_middleware(self, middleware: EventMiddleware) -> Amplitude:
        """Run ``middleware(payload, next)`` on every later event, after those already added.

        ``payload.event`` is the event dict (wire field names) and ``payload.extra`` what the
        call passed as ``extra``. Calling ``next(payload)`` continues; not calling it drops the
        event (reason ``filtered``); raising drops it (reason ``middleware_error``).
        """
        if not callable(middleware):
            raise ConfigError("event middleware must be callable as fn(payload, next)")
        self._event_middleware = (*self._event_middleware, middleware)
        self._restage()
        return self

    def add_middleware(self, middleware: Middleware) -> None:
        """Run ``middleware(event_dict)`` on every later event, after plugins and event
        middleware (and after the shared middleware already added)."""
        super().add_middleware(middleware)
        self._restage()

    # ------------------------------------------------------------------ calls

    @overload
    def track(
        self,
        event: BaseEvent | Mapping[str, Any],
        *,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt: ...

    @overload
    def track(
        self,
        event: Sequence[BaseEvent | Mapping[str, Any]],
        *,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> list[Receipt]: ...

    def track(
        self,
        event: BaseEvent | Mapping[str, Any] | Sequence[BaseEvent | Mapping[str, Any]],
        *,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt | list[Receipt]:
        """Queue one event (a :class:`BaseEvent` or a dict) or a list of them.

        Dict keys may be the wire's (``event_type``, ``user_id``, ...), the Python spellings
        (``product_id``) or the community client's camelCase (``eventType``, ``userId``, ...).

        Args:
            event: the event(s).
            extra: passed to event middleware as ``payload.extra``.
            callback: ``callback(event, code, message)`` once each event is settled; when
                None, a :class:`BaseEvent`'s own ``callback`` is used.

        Returns:
            A :class:`~trackwire.Receipt`, or a list of them for a list of events.

        Raises:
            ValidationError: an event is invalid (the message names the field); nothing of
                that event is queued.
        """
        encode = self._fast_encode
        if (
            encode is not None
            and callback is None
            and not self._stages
            and self._enabled
            and not self.opt_out
            and not self._defaults
        ):
            # No plugin, middleware, callback or default can see or change the event: the
            # common event is checked and encoded in one step, else the general path decides.
            kind = type(event)
            encoded = (
                encode(event)  # type: ignore[arg-type]
                if kind is dict
                else encode(event.to_dict())  # type: ignore[union-attr]
                if kind is BaseEvent and event.callback is None  # type: ignore[union-attr]
                else None
            )
            if encoded is not None:
                return self._fast_submit(encoded[1], Receipt(encoded[0]))
        if isinstance(event, list | tuple):
            return [self._send(one, extra, callback) for one in event]
        if isinstance(event, BaseEvent | Mapping):
            return self._send(event, extra, callback)
        raise ValidationError(
            "event", f"must be a BaseEvent, a dict or a list of them, got {type(event).__name__}"
        )

    log_event = track

    @overload
    def identify(
        self,
        identify: Identify | Mapping[str, Any] | None = None,
        event_options: EventOptions | None = None,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        user_properties: Mapping[str, Any] | None = None,
        event_properties: Mapping[str, Any] | None = None,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt: ...

    @overload
    def identify(
        self,
        identify: Sequence[Mapping[str, Any]],
        event_options: EventOptions | None = None,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        user_properties: Mapping[str, Any] | None = None,
        event_properties: Mapping[str, Any] | None = None,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> list[Receipt]: ...

    def identify(
        self,
        identify: Identify | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        event_options: EventOptions | None = None,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        user_properties: Mapping[str, Any] | None = None,
        event_properties: Mapping[str, Any] | None = None,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt | list[Receipt]:
        """Change a user's properties, sent as an ``$identify`` event.

        Either an :class:`~.builders.Identify` builder with ids in ``event_options`` or the
        keywords (``identify(Identify().set("plan", "pro"), user_id="user-123")``), or the
        community client's shape: ``identify(user_id="user-123", user_properties={...})``,
        a dict ``{"user_id": ..., "user_properties": {...}}``, or a list of such dicts.
        ``user_properties`` may be plain (set) or an object of operations, not both mixed.

        Returns:
            A :class:`~trackwire.Receipt` (a list of them for a list of dicts).

        Raises:
            ValidationError: no id, an empty Identify, or operations mixed with plain
                properties (the message explains Amplitude's ``$set`` rule).
        """
        if isinstance(identify, list | tuple):
            return [self.identify(item, event_options, extra=extra, callback=callback)
                    for item in identify]  # fmt: skip
        event = IdentifyEvent()
        event.load_event_options(event_options)
        if isinstance(identify, Mapping):
            fields = rename_keys(identify)
            fields.pop("event_type", None)
            for name, value in fields.items():
                if name not in event.__dataclass_fields__:
                    raise ValidationError(name, "is not a field of an identify")
                setattr(event, name, value)
        elif isinstance(identify, Identify):
            if not identify.is_valid():
                raise ValidationError("identify", "holds no operation; call set(), add(), ...")
            event.user_properties = identify.user_properties
        elif identify is not None:
            raise ValidationError(
                "identify", f"must be an Identify, a dict or a list, got {type(identify).__name__}"
            )
        if user_properties is not None:
            if not isinstance(user_properties, Mapping):
                raise ValidationError("user_properties", "must be a dict")
            check_property_operations(user_properties, "user_properties")
            event.user_properties = dict(user_properties)
        if not event.user_properties and not event.groups:
            raise ValidationError(
                "user_properties", "an identify needs properties: pass an Identify or a dict"
            )
        self._set_ids(event, user_id, device_id, event_properties)
        if self._identify_lane is not None:
            return self._send_form(self._identify_lane, event, callback)
        return self._send(event, extra, callback)

    def _send_form(
        self, lane: Lane, event: IdentifyEvent, callback: EventCallback | None
    ) -> Receipt:
        """Queue an identify for the ``/identify`` form API (plugins and event middleware
        skipped; the client's ``middleware`` runs, as on every lane)."""
        checked = prepare(event, min_id_length=self._id_length, defaults=self._defaults)
        item = identification(checked)
        if self.opt_out:
            return self._drop(None, "disabled", "opt_out")
        settle = None if callback is None else event_callback(callback, event)
        return self._enqueue(
            item, message_id=None, max_bytes=amplitude_options.FORM_MAX_BYTES - 64,
            what="Amplitude identification", callback=settle, lane=lane,
        )  # fmt: skip

    def group_identify(
        self,
        group_type: str,
        group_name: str | list[str],
        identify: Identify,
        event_options: EventOptions | None = None,
        event_properties: Mapping[str, Any] | None = None,
        user_properties: Mapping[str, Any] | None = None,
        *,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt:
        """Change a group's properties (``$groupidentify``); only set/setOnce/add/append/
        prepend/unset apply to groups.

        Raises:
            ValidationError: a bad group type or name, or an operation groups do not support.
        """
        check_group(group_type, group_name)
        if not isinstance(identify, Identify) or not identify.is_valid():
            raise ValidationError("identify", "must be an Identify holding at least one operation")
        event = GroupIdentifyEvent()
        event.load_event_options(event_options)
        event.groups = {group_type: group_name}
        event.group_properties = identify.group_properties()
        if event_properties is not None:
            event.event_properties = dict(event_properties)
        if user_properties is not None:
            event.user_properties = dict(user_properties)
        return self._send(event, extra, callback)

    def set_group(
        self,
        group_type: str,
        group_name: str | list[str],
        event_options: EventOptions | None = None,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt:
        """Put a user in a group: an ``$identify`` setting ``groups`` and the user property."""
        check_group(group_type, group_name)
        event = IdentifyEvent()
        event.load_event_options(event_options)
        event.groups = {group_type: group_name}
        event.user_properties = {"$set": {group_type: group_name}}
        self._set_ids(event, user_id, device_id, None)
        return self._send(event, extra, callback)

    def revenue(
        self,
        revenue: Revenue,
        event_options: EventOptions | None = None,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        extra: Any = None,
        callback: EventCallback | None = None,
    ) -> Receipt:
        """Record a purchase: a ``revenue_amount`` event with ``$price``, ``$quantity``, ..."""
        if not isinstance(revenue, Revenue):
            raise ValidationError("revenue", f"must be a Revenue, got {type(revenue).__name__}")
        event = RevenueEvent()
        event.load_event_options(event_options)
        event.event_properties = revenue.event_properties()
        self._set_ids(event, user_id, device_id, None)
        return self._send(event, extra, callback)

    @staticmethod
    def _set_ids(
        event: BaseEvent,
        user_id: str | None,
        device_id: str | None,
        event_properties: Mapping[str, Any] | None,
    ) -> None:
        if user_id is not None:
            event.user_id = user_id
        if device_id is not None:
            event.device_id = device_id
        if event_properties is not None:
            event.event_properties = dict(event_properties)

    # ------------------------------------------------------------------ the one send path

    def _restage(self) -> None:
        """Rebuild the chain from what is installed now (only non-empty stages)."""
        stages: list[Stage] = []
        if self._plugins:
            stages.append(plugin_stage(self._plugins))
        if self._event_middleware:
            stages.append(event_middleware_stage(self._event_middleware))
        if self._middleware.items:
            stages.append(shared_chain_stage(self._middleware))
        self._stages = tuple(stages)

    def _send(
        self, source: BaseEvent | Mapping[str, Any], extra: Any, callback: EventCallback | None
    ) -> Receipt:
        if callback is None and isinstance(source, BaseEvent):
            callback = source.callback
        settle = None if callback is None else event_callback(callback, source)
        # The caller's object is never changed: the chain works on a new wire dict.
        event = to_wire(source)
        if self._defaults:
            for key, value in self._defaults.items():
                if key not in event:
                    event[key] = value
        # to_wire left out None values: "in" is the test (cheaper than a get per field).
        if "time" not in event:
            event["time"] = _time_ns() // 1_000_000
        if "insert_id" in event:
            insert_id = event["insert_id"]
        else:
            insert_id = event["insert_id"] = new_message_id()
        if "library" not in event:
            event["library"] = LIBRARY
        if self.opt_out:
            return self._drop(insert_id, "disabled", "opt_out", settle)
        if self._stages:
            result = run_stages(self._stages, event, extra)
            if isinstance(result, Dropped):
                return self._drop(insert_id, result.reason, result.detail, settle)
            event = result
        # Checked once, after the last step that could change the event.
        if check_event(event, min_id_length=self._id_length):  # usually no problem at all
            event = check(event, min_id_length=self._id_length)  # fixes ids, raises, truncates
        return self._submit(
            event,
            message_id=event.get("insert_id", insert_id),
            max_bytes=self._max_event_bytes,
            what=_WHAT,
            callback=settle,
        )
