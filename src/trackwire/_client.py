"""The client layer every vendor shares: options, middleware, hooks, lanes, enable switch.

A vendor client (``trackwire.Segment``, ``trackwire.Amplitude``, ``trackwire.MParticle``) is a
:class:`Client` that adds only its calls, its message rules and its destination. Everything a
user does with a client besides sending — ``flush``, ``shutdown``, ``with``/``async with``,
hooks, middleware, ``stats()`` — is written and documented here, once.

A client sends through one or more **lanes**: a :class:`Lane` is a destination and the engine
that delivers to it. Every client has its main lane (the vendor's destination); a vendor with
a second endpoint (Amplitude's ``/identify`` form API, mParticle's historical endpoint) or a
client that feeds several vendors adds more with :meth:`Client.add_lane`. All lanes of a client
share its transport, hooks, middleware, enable switch and ``stats()`` (and, unless a lane is
given its own, its delivery and retry options), and ``flush`` and ``shutdown`` give them one
deadline between them.

Options are declared once too, in :mod:`trackwire._options` (:func:`parse_options`, re-exported
here for the vendor clients).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, Final, NamedTuple, TypeVar

from trackwire._engine.destination import Destination
from trackwire._engine.encoding import encode
from trackwire._engine.receipts import BatchReport, HookName, Hooks, Receipt
from trackwire._engine.signals import install_sigterm_handler
from trackwire._engine.spool_setup import SpoolQueues, spool_meta
from trackwire._engine.transport import Transport, Urllib3Transport
from trackwire._engine.worker import Engine
from trackwire._logging import enable_debug_logging
from trackwire._options import ClientOptions, parse_options
from trackwire.config import DeliveryConfig, RetryConfig
from trackwire.errors import ConfigError, MessageTooLargeError
from trackwire.middleware import Middleware, MiddlewareChain, MiddlewareFailed

__all__ = ["MAIN_LANE", "Client", "ClientOptions", "Lane", "ReplaySpec", "parse_options"]

logger = logging.getLogger("trackwire")

Message = dict[str, Any]
_C = TypeVar("_C", bound="Client")


class ReplaySpec(NamedTuple):
    """How to make a vendor client again, for ``trackwire spool replay``.

    A vendor client builds it from its own constructor's arguments (:meth:`of`) and passes it
    to :class:`Client`; the spool writes it to its meta file (``client``, ``args``,
    ``kwargs``; values JSON cannot hold, such as callables, are left out there) and replay
    calls ``client(*args, **kwargs)`` with the spool's path.

    Attributes:
        client: the class's import path (``"trackwire.amplitude.client.Amplitude"``).
        args: the positional arguments (the keys).
        kwargs: the keyword arguments the caller gave.
    """

    client: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    @classmethod
    def of(cls, client: type, *args: Any, **kwargs: Any) -> ReplaySpec:
        """The spec of ``client(*args, **kwargs)``; keyword arguments left None are omitted."""
        given = {name: value for name, value in kwargs.items() if value is not None}
        return cls(f"{client.__module__}.{client.__qualname__}", args, given)


#: The name of the lane every client has: its vendor's own destination.
MAIN_LANE: Final = "main"


@dataclass(frozen=True, slots=True, eq=False)
class Lane:
    """One destination of a client and the engine that delivers to it.

    Made by :class:`Client` (the main lane) and :meth:`Client.add_lane`; a vendor client keeps
    the lanes it adds and passes one to :meth:`Client._enqueue`.

    Attributes:
        name: the lane's name, unique in its client (its counters are ``stats()[name]``).
        destination: where its messages go (URL, limits, envelope, response rules).
        engine: its queue, batcher and workers.
    """

    name: str
    destination: Destination
    engine: Engine


class _SharedTransport:
    """The client's transport as each lane's engine sees it: the client closes it, once.

    An engine closes its transport when it finishes shutting down; with several lanes on one
    transport the first to finish would close it under the others, so the client closes the
    real one after every lane finished. A fork resets it once per child, not once per lane.
    """

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.send = inner.send
        self._pid = os.getpid()

    def close(self) -> None:
        """Nothing: :meth:`Client.shutdown` closes the transport after the last lane."""

    def reset_after_fork(self) -> None:
        # Fork handlers run in the child's only thread: no lock needed for this check.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self.inner.reset_after_fork()


class Client:
    """What every trackwire client does besides its vendor's calls.

    Sending happens in the background: each call validates and encodes its message in the
    caller's thread, queues it on a lane and returns a :class:`~trackwire.Receipt` at once;
    worker threads send batches, retry transient failures and settle the receipts.

    Args:
        destination: the vendor's destination (URL, limits, envelope, response rules); the
            main lane sends to it.
        options: the shared options, from :func:`parse_options`.
        replay: how to make this client again, written to a spool's meta file so that
            ``trackwire spool replay`` can send what a dead process left; None when it cannot
            be made again (the spool is then told apart by its destination).
    """

    def __init__(
        self, destination: Destination, options: ClientOptions, *, replay: ReplaySpec | None = None
    ) -> None:
        self.config = options.delivery
        self.retry = options.retry
        if self.config.debug:
            enable_debug_logging()
        self._options = options
        self._middleware = MiddlewareChain(options.middleware, options.on_middleware_error)
        self._hooks = Hooks()
        transport = options.transport
        if transport is None:
            transport = Urllib3Transport(
                connect_timeout=self.config.connect_timeout,
                read_timeout=self.config.timeout,
                proxy=self.config.proxy,
                ca_certs=self.config.ca_certs,
                pool_maxsize=self.config.workers,
            )
        self._transport = _SharedTransport(transport)
        self._destination = destination
        self._spool: SpoolQueues | None = None
        self._lanes_lock = threading.Lock()
        self._lanes: dict[str, Lane] = {}
        self._lane_spools: dict[str, SpoolQueues] = {}
        self._main = self._make_lane(MAIN_LANE, destination, replay)
        self._engine = self._main.engine
        if options.handle_sigterm:
            install_sigterm_handler()
        self._enabled = self.config.enable

    def _make_lane(
        self,
        name: str,
        destination: Destination,
        replay: ReplaySpec | None,
        delivery: DeliveryConfig | None = None,
        retry: RetryConfig | None = None,
    ) -> Lane:
        queue_factory = self._options.queue_factory
        spool: SpoolQueues | None = None
        if self._options.spool is not None and self.config.enable:  # disabled: nothing to keep
            # A lane other than the main one has no constructor of its own to record: its
            # spool is told apart by its destination's URL and credentials (spool_meta).
            meta = spool_meta(destination.name, replay, destination)
            queue_factory = spool = SpoolQueues(self._options.spool, meta)
        engine = Engine(
            destination,
            delivery or self.config,
            retry or self.retry,
            self._transport,
            self._hooks,
            self._options.on_error,
            queue_factory,
        )
        lane = Lane(name, destination, engine)
        if name == MAIN_LANE:
            self._spool = spool
        elif spool is not None:
            self._lane_spools[name] = spool
        self._lanes[name] = lane
        return lane

    def add_lane(
        self,
        name: str,
        destination: Destination,
        *,
        delivery: DeliveryConfig | None = None,
        retry: RetryConfig | None = None,
    ) -> Lane:
        """Add a lane: a second destination that shares this client's options and controls.

        Its messages go through the same middleware (when queued with
        :meth:`_enqueue`), its deliveries fire the same hooks, ``flush`` and ``shutdown`` cover
        it within the same deadline, and ``stats()[name]`` holds its counters. With a spool,
        the lane keeps a spool of its own beside the main one. The transport (its connection
        pool) is the client's: its timeouts, proxy and CA bundle apply to every lane.

        Args:
            name: unique in this client; ``"main"`` is the vendor's own destination.
            destination: where the lane's messages go.
            delivery: the lane's batching and queue options when they differ from the
                client's (a fan-out lane with its vendor's ``flush_at`` or ``gzip``).
            retry: the lane's retry options when they differ from the client's.

        Returns:
            The new lane, to pass to :meth:`_enqueue`.

        Raises:
            ConfigError: the name is taken, or the client is shut down.
        """
        with self._lanes_lock:
            if name in self._lanes:
                raise ConfigError(f"this client already has a lane named {name!r}")
            if self.closed:
                raise ConfigError(f"cannot add lane {name!r}: the client is shut down")
            return self._make_lane(name, destination, None, delivery, retry)

    @property
    def lanes(self) -> Mapping[str, Lane]:
        """Every lane of this client by name, the main lane first (a read-only view)."""
        return MappingProxyType(self._lanes)

    # ------------------------------------------------------------------ for vendor clients

    def _enqueue(
        self,
        message: Message,
        *,
        message_id: str | None,
        max_bytes: int,
        what: str,
        recheck: Callable[[Message], None] | None = None,
        callback: Callable[[Receipt], None] | None = None,
        lane: Lane | None = None,
    ) -> Receipt:
        """Run the middleware, encode ``message`` once and queue it; returns its receipt.

        Args:
            message: the message as it goes on the wire (the client's own copy).
            message_id: its de-duplication id, for the receipt.
            max_bytes: the vendor's per-message limit on the encoded size.
            what: the message's name in a size error (``"Segment message"``).
            recheck: validates the message again after a middleware changed it.
            callback: called with the receipt once it is settled.
            lane: the lane to queue it on (default the main lane).

        Raises:
            ValidationError: the message (or a middleware's change) is invalid.
            MessageTooLargeError: the encoded message is over ``max_bytes``.
        """
        if self._middleware.items:
            try:
                result = self._middleware.run(message)
            except MiddlewareFailed as failure:
                return self._dropped(message_id, "middleware_error", str(failure), callback)
            if result is None:
                return self._dropped(message_id, "filtered", "", callback)
            if recheck is not None:
                recheck(result)
            message = result
        return self._submit(
            message, message_id=message_id, max_bytes=max_bytes, what=what, callback=callback,
            lane=lane,
        )  # fmt: skip

    def _submit(
        self,
        message: Message,
        *,
        message_id: str | None,
        max_bytes: int,
        what: str,
        callback: Callable[[Receipt], None] | None = None,
        lane: Lane | None = None,
    ) -> Receipt:
        """Encode ``message`` once and queue it, its middleware already run; its receipt.

        For a vendor client that runs the client's middleware itself, inside a chain of its
        own (Amplitude's plugins and event middleware): see :meth:`_enqueue` for the rest.
        """
        data = encode(message)
        if len(data) > max_bytes:
            raise MessageTooLargeError(len(data), max_bytes, what)
        receipt = Receipt(message_id)
        if callback is not None:
            receipt.add_done_callback(callback)
        engine = self._engine if lane is None else lane.engine
        if self._enabled:
            return engine.submit(data, receipt)
        return engine.drop(receipt, "disabled")

    def _dropped(
        self,
        message_id: str | None,
        reason: str,
        detail: str,
        callback: Callable[[Receipt], None] | None,
    ) -> Receipt:
        receipt = Receipt(message_id)
        if callback is not None:
            receipt.add_done_callback(callback)
        return self._engine.drop(receipt, reason, detail)

    def _drop(
        self,
        message_id: str | None,
        reason: str,
        detail: str = "",
        callback: Callable[[Receipt], None] | None = None,
    ) -> Receipt:
        """Settle a message that will not be sent (``filtered``, ...): counted and reported;
        ``callback`` (the call's own) is called with the settled receipt."""
        return self._dropped(message_id, reason, detail, callback)

    # ------------------------------------------------------------------ control

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far and wait until it is delivered or finally failed.

        Every lane is flushed within the one ``timeout``.

        Args:
            timeout: seconds to wait at most; None waits until done.

        Returns:
            True if everything queued before the call was settled in time.
        """
        lanes = list(self._lanes.values())
        if len(lanes) == 1:
            return self._engine.flush(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        done = True
        for lane in lanes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = lane.engine.flush(left) and done
        return done

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio  # lazily: importing asyncio costs more than all of trackwire

        return await asyncio.to_thread(self.flush, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (default ``shutdown_timeout``), then stop the workers.

        Every lane drains at once, toward the one deadline. Calls made afterwards are refused:
        their receipts fail with reason ``after_close``. Messages still undelivered at the
        deadline fail with reason ``shutdown``. The transport is closed once every lane
        delivered everything (a custom transport's ``close()`` is called then too).

        Returns:
            True if everything was delivered or settled before the deadline.
        """
        if timeout is None:
            timeout = self.config.shutdown_timeout
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lanes_lock:  # no lane is added while the others stop
            lanes = list(self._lanes.values())
            for lane in lanes:
                lane.engine.begin_shutdown(deadline)
        done = True
        for lane in lanes:
            done = lane.engine.finish_shutdown(deadline) and done
        if done:
            # Closed only when nothing is left in flight, as one engine did on its own.
            self._transport.inner.close()
        return done

    async def ashutdown(self, timeout: float | None = None) -> bool:
        """:meth:`shutdown` for asyncio code: waits in a thread, not on the event loop."""
        import asyncio

        return await asyncio.to_thread(self.shutdown, timeout)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` began."""
        return self._engine.closed

    def on(self, hook: HookName, fn: Callable[[BatchReport], None]) -> None:
        """Call ``fn(report)`` on ``"flush"``, ``"retry"``, ``"error"`` or ``"drop"``.

        Hooks run in the worker thread (or the caller's, for drops at the call site); an
        exception in one is logged and ignored. They fire for every lane.
        """
        self._hooks.add(hook, fn)

    def add_middleware(self, middleware: Middleware) -> None:
        """Run ``middleware`` on every later message, after those already added."""
        self._middleware.add(middleware)

    def stats(self) -> dict[str, Any]:
        """Counters: enqueued, delivered, retries, batches, dropped and failed by reason, queue.

        ``dropped`` counts messages never sent, by reason (``queue_full``, ``after_close``,
        ``shutdown``, ``filtered``, ``middleware_error``, ``disabled``); ``failed`` counts
        messages sent but not accepted (``rejected``, ``retry_exhausted``, ``shutdown``).
        The top level counts the main lane; another lane's counters are under its name
        (``stats()["historical"]`` for mParticle's historical endpoint).
        """
        stats = self._engine.stats()
        if self._spool is not None:
            stats.update(self._spool.stats())
        for name, lane in list(self._lanes.items()):
            if name != MAIN_LANE:
                stats[name] = lane.engine.stats()
                if name in self._lane_spools:
                    stats[name].update(self._lane_spools[name].stats())
        if self._middleware.errors:
            stats["middleware_errors"] = self._middleware.errors
        return stats

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ashutdown()
