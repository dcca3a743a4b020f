"""The official ``amplitude.Amplitude`` client, delivering through :class:`trackwire.Amplitude`.

The calls, their arguments and their return values are the official SDK's: ``track(event)``,
``identify(identify_obj, event_options, event_properties)``, ``group_identify``, ``revenue``,
``set_group``, ``flush()`` (a list of futures), ``add``/``remove`` (plugins), ``shutdown()``.
Plugins run here, on the official event objects, in the official order (BEFORE, ENRICHMENT,
then a deep copy to each DESTINATION); the built-in destination hands the event's body to
:class:`trackwire.Amplitude`, whose engine batches, retries (honouring Amplitude's 429 and
413 answers), drains at exit and after SIGTERM, and survives ``fork``.

Differences: an event trackwire's checks refuse (a bad field, an id shorter than
``min_id_length``) is logged with the reason and its callbacks get code 400, without a
request, where the official SDK sends it and lets Amplitude answer 400.
"""

from __future__ import annotations

import concurrent.futures
import copy
import threading
from collections.abc import Mapping
from typing import Any

from trackwire._engine.threads import start_background
from trackwire.amplitude.client import Amplitude as NativeAmplitude
from trackwire.compat.amplitude import constants
from trackwire.compat.amplitude.config import Config
from trackwire.compat.amplitude.event import (
    BaseEvent,
    EventOptions,
    GroupIdentifyEvent,
    Identify,
    IdentifyEvent,
    Revenue,
)
from trackwire.compat.amplitude.plugin import ContextPlugin, Plugin, verify_event
from trackwire.errors import TrackwireError

__all__ = ["Amplitude"]

# What Amplitude answers for an event it refuses; used when trackwire refuses it first.
_INVALID: int = 400


class Amplitude:
    """An Amplitude project client: ``Amplitude("API_KEY", Config(...))``.

    Args:
        api_key: the project's API key.
        configuration: a :class:`Config`; the official defaults when None.
        trackwire_options: (keyword only, not an official argument) further
            :class:`trackwire.Amplitude` options, e.g. ``{"spool": PATH}`` for a disk queue.

    Raises:
        ConfigError: an option trackwire cannot honour (the message names it).
    """

    def __init__(
        self,
        api_key: str,
        configuration: Config | None = None,
        *,
        trackwire_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.configuration = configuration or Config()
        self.configuration.api_key = api_key
        config = self.configuration
        where: dict[str, Any] = (
            {"server_url": config.server_url}
            if config._url
            else {"server_zone": config.server_zone, "use_batch": config.use_batch}
        )
        self.native = NativeAmplitude(
            api_key,
            **where,
            flush_at=config.flush_queue_size,
            flush_interval=config.flush_interval_millis / 1000,
            max_retries=config.flush_max_retries,
            min_id_length=config.min_id_length,
            **dict(trackwire_options or {}),
        )
        self._plugins: dict[constants.PluginType, list[Plugin]] = {
            kind: [] for kind in constants.PluginType
        }
        self._lock = threading.Lock()
        self.add(ContextPlugin())

    # ------------------------------------------------------------------ calls

    def track(self, event: BaseEvent) -> None:
        """Run the plugins on ``event`` and queue it for delivery."""
        config = self.configuration
        if config.opt_out:
            config.logger.info("Skipped event for opt out config")
            return
        result: BaseEvent | None = event
        for kind in (constants.PluginType.BEFORE, constants.PluginType.ENRICHMENT):
            result = self._apply(kind, result)
        if result is None:
            return
        for destination in self._plugins_of(constants.PluginType.DESTINATION):
            try:
                destination.execute(copy.deepcopy(result))
            except Exception:
                config.logger.exception(f"Error for apply DESTINATION plugin for event {result}")
        self._deliver(result)

    def identify(
        self,
        identify_obj: Identify,
        event_options: EventOptions,
        event_properties: dict[str, Any] | None = None,
    ) -> None:
        """Send an ``$identify`` event with ``identify_obj``'s operations."""
        if not identify_obj.is_valid():
            self.configuration.logger.error("Empty identify properties")
            return
        event = IdentifyEvent(
            event_properties=event_properties, user_properties=identify_obj.user_properties
        )
        event.load_event_options(event_options)
        self.track(event)

    def group_identify(
        self,
        group_type: str,
        group_name: str,
        identify_obj: Identify,
        event_options: EventOptions | None = None,
        event_properties: dict[str, Any] | None = None,
        user_properties: dict[str, Any] | None = None,
    ) -> None:
        """Send a ``$groupidentify`` event setting the group's properties."""
        if not identify_obj.is_valid():
            self.configuration.logger.error("Empty group identify properties")
            return
        event = GroupIdentifyEvent(
            event_properties=event_properties,
            user_properties=user_properties,
            groups={group_type: group_name},
            group_properties=identify_obj.user_properties,
        )
        event.load_event_options(event_options)
        self.track(event)

    def revenue(self, revenue_obj: Revenue, event_options: EventOptions) -> None:
        """Send a ``revenue_amount`` event for ``revenue_obj``."""
        if not revenue_obj.is_valid():
            self.configuration.logger.error("Invalid price for revenue event")
            return
        event = revenue_obj.to_revenue_event()
        event.load_event_options(event_options)
        self.track(event)

    def set_group(
        self, group_type: str, group_name: str | list[str], event_options: EventOptions
    ) -> None:
        """Put the user of ``event_options`` in a group (``groups`` and the user property)."""
        identify = Identify().set(group_type, group_name)
        event = IdentifyEvent(
            groups={group_type: group_name}, user_properties=identify.user_properties
        )
        event.load_event_options(event_options)
        self.track(event)

    def flush(self) -> list[concurrent.futures.Future[Any]]:
        """Start sending what is queued; one future per destination, done when it is sent.

        The built-in destination's future resolves to True when everything queued before the
        call was delivered or finally failed.
        """
        futures: list[concurrent.futures.Future[Any]] = [self._flush_native()]
        for destination in self._plugins_of(constants.PluginType.DESTINATION):
            try:
                result = getattr(destination, "flush", lambda: None)()
            except Exception:
                self.configuration.logger.exception("Error for flush events")
                continue
            if isinstance(result, concurrent.futures.Future):
                futures.append(result)
        return futures

    def add(self, plugin: Plugin) -> Amplitude:
        """Add a plugin (by its ``plugin_type``) and call its ``setup(client)``."""
        with self._lock:
            self._plugins[plugin.plugin_type].append(plugin)
        plugin.setup(self)
        return self

    def remove(self, plugin: Plugin) -> Amplitude:
        """Remove a plugin added with :meth:`add`."""
        with self._lock:
            for kind, plugins in self._plugins.items():
                self._plugins[kind] = [p for p in plugins if p is not plugin]
        return self

    def shutdown(self) -> None:
        """Send what is queued (within the shutdown timeout) and stop; later events are
        skipped (``opt_out``), as the official client does."""
        self.configuration.opt_out = True
        self.native.shutdown()
        for destination in self._plugins_of(constants.PluginType.DESTINATION):
            shutdown = getattr(destination, "shutdown", None)
            if callable(shutdown):
                shutdown()

    # ------------------------------------------------------------------ internals

    def _plugins_of(self, kind: constants.PluginType) -> list[Plugin]:
        with self._lock:
            return list(self._plugins[kind])

    def _apply(self, kind: constants.PluginType, event: BaseEvent | None) -> BaseEvent | None:
        for plugin in self._plugins_of(kind):
            if event is None:
                break
            try:
                event = plugin.execute(event)
            except Exception:
                self.configuration.logger.exception(
                    f"Error for apply {kind.name} plugin for event {event}"
                )
        return event

    def _deliver(self, event: BaseEvent) -> None:
        config = self.configuration
        if not verify_event(event):
            config.logger.error(f"Invalid event body {event}")
            return

        def settled(_source: object, code: int, message: str | None) -> None:
            event.callback(code, message)
            if callable(config.callback):
                config.callback(event, code, message)

        try:
            self.native.track(event.get_event_body(), callback=settled)
        except TrackwireError as error:
            config.logger.error(f"Invalid event {event.event_type!r}: {error}")
            settled(None, _INVALID, str(error))

    def _flush_native(self) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(self.native.flush())
            except BaseException as error:  # handed to whoever reads the future
                future.set_exception(error)

        start_background(
            threading.Thread(target=run, name="trackwire-amplitude-flush", daemon=True)
        )
        return future
