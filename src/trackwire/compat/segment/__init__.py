"""segment-analytics-python's API on trackwire: migrate by changing the import.

::

    import trackwire.compat.segment as analytics   # was: import segment.analytics as analytics

    analytics.write_key = "YOUR_WRITE_KEY"
    analytics.on_error = lambda error, items: print("An error occurred:", error)
    analytics.identify("019mr8mf4r", {"email": "john@example.com", "name": "John Smith"})
    analytics.track("f4ca124298", "Signed Up", {"plan": "Enterprise"})
    analytics.flush()

The module-level settings (``write_key``, ``host``, ``on_error``, ``debug``, ``log_handler``,
``send``, ``sync_mode``, ``max_queue_size``, ``gzip``, ``timeout``, ``max_retries``, plus
``upload_size``, ``upload_interval``, ``proxies`` and ``thread``) are read when the first call
creates the default client, as the official library does. The calls take the official
positional order — ``track(user_id, event, properties, context, timestamp, anonymous_id,
integrations, message_id)`` and so on — and return ``(success, message)``. ``Client`` takes
the official constructor arguments in the official order (2.4's, with
``max_total_backoff_duration`` and ``max_rate_limit_duration``), for code that makes one
client per write key.

Underneath is :class:`trackwire.Segment`: the same validation, batching, retries, exit-time
drain and fork safety. Differences worth knowing:

- A bad argument raises :class:`CompatValidationError`, which is both trackwire's
  ``ValidationError`` (naming the field) and the ``AssertionError`` the official library
  raises; an oversized message raises :class:`CompatMessageTooLargeError`, also a
  ``RuntimeError`` as there.
- ``on_error(error, items)`` gets a :class:`trackwire.DeliveryError` and the failed messages.
- ``sync_mode=True`` waits for each call's batch to be answered (up to ``timeout``) instead of
  posting in the caller's thread; a failure goes to ``on_error``, it is not raised.
- ``debug`` and ``log_handler`` apply to the ``trackwire`` logger.
- ``timestamp`` may also be an ISO-8601 str; a naive datetime is UTC.
- After the module-level ``shutdown()``, the next call starts a new default client.
- OAuth (``oauth_client_id`` ...) is not supported: a write key is required.
- ``flush()`` waits as the official does, but says on the ``trackwire`` logger what it
  waits for; a batch's first failed attempt is logged with its reason.
- ``trackwire_options`` (``Client`` keyword, or the module setting) passes options with no
  official name, e.g. ``{"spool": path}``, to :class:`trackwire.Segment`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Final

from trackwire._version import __version__
from trackwire.compat.segment.client import (
    Client,
    CompatMessageTooLargeError,
    CompatValidationError,
    ErrorHandler,
    QueueView,
    Result,
)

__all__ = [
    "Client",
    "CompatMessageTooLargeError",
    "CompatValidationError",
    "QueueView",
    "alias",
    "debug",
    "flush",
    "group",
    "gzip",
    "host",
    "identify",
    "join",
    "log_handler",
    "max_queue_size",
    "max_retries",
    "on_error",
    "page",
    "proxies",
    "screen",
    "send",
    "shutdown",
    "sync_mode",
    "thread",
    "timeout",
    "track",
    "trackwire_options",
    "upload_interval",
    "upload_size",
    "write_key",
]

# --- the module-level API -----------------------------------------------------------------------

#: Settings read when the first call creates the default client (the official names).
write_key: str | None = Client.DefaultConfig.write_key
host: str | None = Client.DefaultConfig.host
on_error: ErrorHandler | None = Client.DefaultConfig.on_error
debug: bool = Client.DefaultConfig.debug
log_handler: logging.Handler | None = Client.DefaultConfig.log_handler
send: bool = Client.DefaultConfig.send
sync_mode: bool = Client.DefaultConfig.sync_mode
max_queue_size: int = Client.DefaultConfig.max_queue_size
gzip: bool = Client.DefaultConfig.gzip
timeout: float = Client.DefaultConfig.timeout
max_retries: int = Client.DefaultConfig.max_retries
proxies: Mapping[str, str] | str | None = Client.DefaultConfig.proxies
thread: int = Client.DefaultConfig.thread
upload_size: int = Client.DefaultConfig.upload_size
upload_interval: float = Client.DefaultConfig.upload_interval
oauth_client_id: str | None = Client.DefaultConfig.oauth_client_id
oauth_client_key: str | None = Client.DefaultConfig.oauth_client_key
oauth_key_id: str | None = Client.DefaultConfig.oauth_key_id
oauth_auth_server: str = Client.DefaultConfig.oauth_auth_server
oauth_scope: str = Client.DefaultConfig.oauth_scope
#: Further :class:`trackwire.Segment` options for the default client (not an official setting).
trackwire_options: Mapping[str, Any] | None = None

#: The client the module-level calls use; created by the first call.
default_client: Client | None = None
VERSION: Final = __version__
_lock = threading.Lock()


def _default() -> Client:
    global default_client
    client = default_client
    if client is not None:
        return client
    with _lock:  # two threads making the first call create one client
        if default_client is None:
            default_client = Client(
                write_key,
                host=host,
                debug=debug,
                max_queue_size=max_queue_size,
                send=send,
                on_error=on_error,
                gzip=gzip,
                max_retries=max_retries,
                sync_mode=sync_mode,
                timeout=timeout,
                proxies=proxies,
                thread=thread,
                upload_size=upload_size,
                upload_interval=upload_interval,
                log_handler=log_handler,
                oauth_client_id=oauth_client_id,
                oauth_client_key=oauth_client_key,
                oauth_key_id=oauth_key_id,
                oauth_auth_server=oauth_auth_server,
                oauth_scope=oauth_scope,
                trackwire_options=trackwire_options,
            )
        return default_client


def track(*args: Any, **kwargs: Any) -> Result:
    """Send a track call: ``track(user_id, event, properties, context, timestamp, ...)``."""
    return _default().track(*args, **kwargs)


def identify(*args: Any, **kwargs: Any) -> Result:
    """Send an identify call: ``identify(user_id, traits, context, timestamp, ...)``."""
    return _default().identify(*args, **kwargs)


def group(*args: Any, **kwargs: Any) -> Result:
    """Send a group call: ``group(user_id, group_id, traits, context, timestamp, ...)``."""
    return _default().group(*args, **kwargs)


def alias(*args: Any, **kwargs: Any) -> Result:
    """Send an alias call: ``alias(previous_id, user_id, context, timestamp, ...)``."""
    return _default().alias(*args, **kwargs)


def page(*args: Any, **kwargs: Any) -> Result:
    """Send a page call: ``page(user_id, category, name, properties, context, ...)``."""
    return _default().page(*args, **kwargs)


def screen(*args: Any, **kwargs: Any) -> Result:
    """Send a screen call: ``screen(user_id, category, name, properties, context, ...)``."""
    return _default().screen(*args, **kwargs)


def flush() -> None:
    """Send everything queued and wait until it is delivered or finally failed."""
    _default().flush()


def join() -> None:
    """Stop the default client once its queue is sent (within its shutdown timeout)."""
    _default().join()


def shutdown() -> None:
    """Flush and stop the default client; the next call starts a new one."""
    global default_client
    with _lock:
        client, default_client = default_client, None
    if client is not None:
        client.shutdown()
