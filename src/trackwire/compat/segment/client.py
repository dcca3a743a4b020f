"""segment-analytics-python's ``Client`` (``segment.analytics.client``) on trackwire's Segment."""

from __future__ import annotations

import logging
import numbers
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

from trackwire._engine.receipts import BatchReport, Receipt
from trackwire.config import RetryConfig
from trackwire.errors import ConfigError, MessageTooLargeError, ValidationError
from trackwire.segment.client import Segment

__all__ = [
    "Client",
    "CompatMessageTooLargeError",
    "CompatValidationError",
    "ErrorHandler",
    "Message",
    "QueueView",
    "Result",
]

Message = dict[str, Any]
Result = tuple[bool, Message]
ErrorHandler = Callable[[Any, list[Message]], None]
_IDS: Final = ("userId", "anonymousId")
# How often a waiting flush() says what it waits for.
_FLUSH_REPORT_EVERY: Final = 5.0


class CompatValidationError(ValidationError, AssertionError):
    """A bad argument: trackwire's ValidationError, and the AssertionError the official raises."""


class CompatMessageTooLargeError(MessageTooLargeError, RuntimeError):
    """A message over 32 KB: trackwire's error, and the RuntimeError the official raises."""


class Client:
    """segment-analytics-python's ``Client``, sending through :class:`trackwire.Segment`.

    Arguments, defaults and their order are the official library's; ``upload_size`` and
    ``upload_interval`` become ``flush_at`` and ``flush_interval``, ``thread`` becomes
    ``workers`` and ``send=False`` becomes ``enable=False``.

    ``trackwire_options`` (keyword only, not an official argument) passes further options to
    :class:`trackwire.Segment`, e.g. ``{"spool": "/var/lib/app/segment-spool"}`` for a disk
    queue that survives restarts.

    Raises:
        CompatValidationError: ``write_key`` is not a str.
        ConfigError: an option is invalid, or OAuth was asked for.
    """

    class DefaultConfig:
        """The official library's defaults."""

        write_key: ClassVar[str | None] = None
        host: ClassVar[str | None] = None
        on_error: ClassVar[ErrorHandler | None] = None
        debug: ClassVar[bool] = False
        log_handler: ClassVar[logging.Handler | None] = None
        send: ClassVar[bool] = True
        sync_mode: ClassVar[bool] = False
        max_queue_size: ClassVar[int] = 10_000
        gzip: ClassVar[bool] = False
        timeout: ClassVar[float] = 15
        max_retries: ClassVar[int] = 10
        proxies: ClassVar[Mapping[str, str] | str | None] = None
        thread: ClassVar[int] = 1
        upload_interval: ClassVar[float] = 0.5
        upload_size: ClassVar[int] = 100
        oauth_client_id: ClassVar[str | None] = None
        oauth_client_key: ClassVar[str | None] = None
        oauth_key_id: ClassVar[str | None] = None
        oauth_auth_server: ClassVar[str] = "https://oauth2.segment.io"
        oauth_scope: ClassVar[str] = "tracking_api:write"
        max_total_backoff_duration: ClassVar[float] = 43_200
        max_rate_limit_duration: ClassVar[float] = 1_800

    log: ClassVar[logging.Logger] = logging.getLogger("trackwire")

    def __init__(
        self,
        write_key: str | None = DefaultConfig.write_key,
        host: str | None = DefaultConfig.host,
        debug: bool = DefaultConfig.debug,
        max_queue_size: int = DefaultConfig.max_queue_size,
        send: bool = DefaultConfig.send,
        on_error: ErrorHandler | None = DefaultConfig.on_error,
        gzip: bool = DefaultConfig.gzip,
        max_retries: int = DefaultConfig.max_retries,
        sync_mode: bool = DefaultConfig.sync_mode,
        timeout: float = DefaultConfig.timeout,
        proxies: Mapping[str, str] | str | None = DefaultConfig.proxies,
        thread: int = DefaultConfig.thread,
        upload_size: int = DefaultConfig.upload_size,
        upload_interval: float = DefaultConfig.upload_interval,
        log_handler: logging.Handler | None = DefaultConfig.log_handler,
        oauth_client_id: str | None = DefaultConfig.oauth_client_id,
        oauth_client_key: str | None = DefaultConfig.oauth_client_key,
        oauth_key_id: str | None = DefaultConfig.oauth_key_id,
        oauth_auth_server: str = DefaultConfig.oauth_auth_server,
        oauth_scope: str = DefaultConfig.oauth_scope,
        max_total_backoff_duration: float = DefaultConfig.max_total_backoff_duration,
        max_rate_limit_duration: float = DefaultConfig.max_rate_limit_duration,
        *,
        trackwire_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(write_key, str) or not write_key:
            raise CompatValidationError(
                "write_key",
                f"must be your source's write key (a str), got {type(write_key).__name__}; "
                "set analytics.write_key before the first call",
            )
        if oauth_client_id or oauth_client_key or oauth_key_id:
            raise ConfigError(
                "OAuth (oauth_client_id, oauth_client_key, oauth_key_id) is not supported by "
                "trackwire; authenticate with the write key"
            )
        for name, seconds in (
            ("max_total_backoff_duration", max_total_backoff_duration),
            ("max_rate_limit_duration", max_rate_limit_duration),
        ):
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ConfigError(f"{name} must be a non-negative number of seconds")
        if on_error is not None and not callable(on_error):
            if on_error:
                raise ConfigError(
                    f"on_error must be callable as on_error(error, items), got {on_error!r}"
                )
            # The official library treats any falsy value (its own tests set False) as "none".
            on_error = None
        if log_handler is not None:
            self.log.addHandler(log_handler)
        self.write_key = write_key
        self.host = host
        self.on_error = on_error
        self.debug = debug
        self.send = send
        self.sync_mode = sync_mode
        self.gzip = gzip
        self.timeout = timeout
        self.proxies = proxies
        self._segment = _Segment(
            write_key,
            host=host,
            debug=debug,
            max_queue_size=max_queue_size,
            enable=send,
            on_error=on_error,
            gzip=gzip,
            # A batch stops retrying after max_retries or max_total_backoff_duration, as there;
            # throttling (429) is bounded by the same total (max_rate_limit_duration is checked
            # but has no separate clock in trackwire).
            retry=RetryConfig(max_retries=max_retries, max_elapsed=max_total_backoff_duration),
            timeout=timeout,
            proxies=proxies,
            workers=thread,
            flush_at=1 if sync_mode else upload_size,
            flush_interval=upload_interval,
            **dict(trackwire_options or {}),
        )
        self.max_queue_size = max_queue_size
        self._retries = _RetryLog(max_retries)
        self._segment.on("retry", self._retries.note)

    @property
    def segment(self) -> Segment:
        """The :class:`trackwire.Segment` client underneath (hooks, ``stats()``, receipts)."""
        return self._segment

    def identify(
        self,
        user_id: object = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: object = None,
    ) -> Result:
        """Record who a user is; returns ``(success, message)``."""
        return self._call(
            lambda: self._segment.identify(
                _id(user_id),
                traits or None,
                anonymous_id=_id(anonymous_id),
                context=context or None,
                integrations=integrations or None,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    def track(
        self,
        user_id: object = None,
        event: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: object = None,
    ) -> Result:
        """Record an action a user performed; returns ``(success, message)``."""
        return self._call(
            lambda: self._segment.track(
                _id(user_id),
                event,
                properties or None,
                anonymous_id=_id(anonymous_id),
                context=context or None,
                integrations=integrations or None,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    def alias(
        self,
        previous_id: object = None,
        user_id: object = None,
        context: Mapping[str, Any] | None = None,
        timestamp: object = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: object = None,
    ) -> Result:
        """Say ``previous_id`` and ``user_id`` are one person; returns ``(success, message)``."""
        return self._call(
            lambda: self._segment.alias(
                _id(previous_id),
                _id(user_id),
                context=context or None,
                integrations=integrations or None,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    def group(
        self,
        user_id: object = None,
        group_id: object = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: object = None,
    ) -> Result:
        """Associate a user with a group; returns ``(success, message)``."""
        return self._call(
            lambda: self._segment.group(
                _id(user_id),
                _id(group_id),
                traits or None,
                anonymous_id=_id(anonymous_id),
                context=context or None,
                integrations=integrations or None,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    def page(
        self,
        user_id: object = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: object = None,
    ) -> Result:
        """Record a page view; returns ``(success, message)``."""
        return self._call(
            lambda: self._segment.page(
                _id(user_id),
                category,
                name,
                properties or None,
                anonymous_id=_id(anonymous_id),
                context=context or None,
                integrations=integrations or None,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    def screen(
        self,
        user_id: object = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: object = None,
        anonymous_id: object = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: object = None,
    ) -> Result:
        """Record a screen view; returns ``(success, message)``."""
        return self._call(
            lambda: self._segment.screen(
                _id(user_id),
                category,
                name,
                properties or None,
                anonymous_id=_id(anonymous_id),
                context=context or None,
                integrations=integrations or None,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    @property
    def queue(self) -> QueueView:
        """The queue of messages waiting to be sent (``empty()``, ``qsize()``, ``maxsize``)."""
        return QueueView(self._segment, self.max_queue_size)

    def flush(self) -> None:
        """Send everything queued and wait until each message is delivered or finally failed.

        As the official library's, this waits as long as retries go on (up to ``max_retries``
        attempts with backoff). While it waits it says why on the ``trackwire`` logger every
        few seconds: what is left and what the last attempt met (a refused connection, a
        status), so a process with no route to the API does not hang in silence.
        """
        started = time.monotonic()
        while not self._segment.flush(timeout=_FLUSH_REPORT_EVERY):
            stats = self._segment.stats()
            waiting = stats["queued"] + stats["in_flight"]
            self.log.warning(
                "segment flush() has waited %.0f s for %d message(s): %s",
                time.monotonic() - started,
                waiting,
                self._retries.describe(),
            )

    def join(self) -> None:
        """Stop sending: what is still queued gets up to ``shutdown_timeout`` to go first."""
        self._segment.shutdown()

    def shutdown(self) -> None:
        """Flush, then stop (``flush()`` and ``join()``)."""
        self.flush()
        self.join()

    def _call(self, make: Callable[[], Receipt]) -> Result:
        try:
            receipt = make()
        except MessageTooLargeError as exc:
            raise CompatMessageTooLargeError(exc.size, exc.limit, "Segment message") from None
        except ValidationError as exc:
            raise CompatValidationError(exc.field, _message_of(exc)) from None
        message = self._segment.last_message()
        # The official message names both ids even when one is None (the API accepts either).
        for key in ("previousId", "userId") if message.get("type") == "alias" else _IDS:
            message.setdefault(key, None)
        if self.sync_mode and self.send:
            receipt.wait(self.timeout)
        error = receipt.error if receipt.done else None
        # A refused call (queue full, client closed) is False, as the official returns for a
        # full queue; send=False settles as "disabled", which the official counts a success.
        return error is None or error.reason == "disabled", message


class _Segment(Segment):
    """trackwire.Segment that keeps the message each call built, for ``(success, message)``."""

    def __init__(self, write_key: str, **options: Any) -> None:
        super().__init__(write_key, **options)
        self._built = threading.local()

    def _enqueue(self, message: dict[str, Any], **options: Any) -> Receipt:
        self._built.message = message
        return super()._enqueue(message, **options)

    def last_message(self) -> Message:
        """The message this thread's last call built (before middleware), handed over once."""
        message: Message = self._built.__dict__.pop("message", {})
        return message


class QueueView:
    """The official ``client.queue``'s read side, answered from the engine's counters."""

    def __init__(self, segment: Segment, maxsize: int) -> None:
        self._segment = segment
        self.maxsize = maxsize

    def qsize(self) -> int:
        """Messages queued and not yet taken into a batch."""
        return int(self._segment.stats()["queued"])

    def empty(self) -> bool:
        """True when no message waits to be taken into a batch."""
        return self.qsize() == 0

    def full(self) -> bool:
        """True when the next call would be refused for a full queue."""
        return self.qsize() >= self.maxsize


class _RetryLog:
    """Remembers the last failed attempt, and says the first one of each batch out loud."""

    def __init__(self, max_retries: int) -> None:
        self._max_retries = max_retries
        self._last: BatchReport | None = None

    def note(self, report: BatchReport) -> None:
        """The engine's ``retry`` hook: keep the report; warn on a batch's first failure."""
        self._last = report
        level = logging.WARNING if report.attempt == 1 else logging.DEBUG
        Client.log.log(
            level,
            "segment: %d message(s) not delivered (attempt %d of %d): %s; retrying in %.1f s",
            report.count,
            report.attempt,
            self._max_retries + 1,
            report.reason,
            report.retry_in or 0.0,
        )

    def describe(self) -> str:
        """The last failed attempt in words, for the flush() progress line."""
        last = self._last
        if last is None:
            return "no attempt has failed yet (a response is awaited)"
        return (
            f"attempt {last.attempt} of {self._max_retries + 1} failed: {last.reason}; "
            f"the next in {last.retry_in or 0.0:.1f} s"
        )


def _id(value: object) -> object:
    """An id as the official library takes it: any number is sent as its text."""
    if isinstance(value, numbers.Number) and not isinstance(value, int):
        return str(value)
    return value


def _message_of(exc: ValidationError) -> str:
    text = str(exc)
    prefix = f"{exc.field}: "
    return text[len(prefix) :] if exc.field and text.startswith(prefix) else text
