"""How a client gets its spool: the engine's queue factory and what the meta file records.

:class:`SpoolQueues` makes a :class:`~trackwire._engine.spool.Spool` per process (again in a
forked child). :func:`spool_meta` and :func:`record_constructor` capture how the vendor client
was made, so ``trackwire spool replay`` can make it again and a spool is only ever taken over
by a client of the same source.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from trackwire._engine.destination import Destination
from trackwire._engine.queue import MessageQueue
from trackwire._engine.spool import Spool, SpoolConfig
from trackwire._engine.spool_secrets import hide_secrets
from trackwire._engine.worker import buffer_queue
from trackwire.config import DeliveryConfig
from trackwire.errors import ConfigError

__all__ = ["SpoolQueues", "record_constructor", "spool_meta"]

logger = logging.getLogger("trackwire")


class SpoolQueues:
    """The engine's queue factory for a spooled client: a :class:`Spool` per process.

    Called when the client is made and again in a forked child, which opens a spool of its
    own under the same root (the parent's stays the parent's: the child only closes its
    inherited descriptors).

    Args:
        config: where and how.
        meta: written to the spool's meta file (see :class:`Spool`).
    """

    def __init__(self, config: SpoolConfig, meta: Mapping[str, Any]) -> None:
        self.config = config
        self.meta = dict(meta)
        self._current: Spool | None = None
        self._pid = -1
        self.fallbacks = 0  # times a spool could not start and memory was used instead

    def __call__(self, delivery: DeliveryConfig) -> MessageQueue:
        # The memory bounds of the client bound the spool's window in memory; the disk
        # bound is the spool's own.
        config = replace(
            self.config,
            window_items=delivery.max_queue_size,
            window_bytes=delivery.max_queue_bytes,
        )
        previous, self._current = self._current, None
        if previous is not None and self._pid != os.getpid():
            previous.abandon()
        first = previous is None
        try:
            self._current = Spool(config, self.meta)
        except ConfigError as exc:
            if first:
                raise
            # A forked child whose root became unsafe since the parent's start.
            return self._in_memory(delivery, str(exc))
        except OSError as exc:
            path = os.fspath(self.config.path)
            if first and exc.errno not in _DISK_TROUBLE:  # a mistake: caught at boot
                raise ConfigError(
                    f"spool: cannot keep a spool in {path!r} ({exc.strerror or exc}); "
                    "pass a writable directory"
                ) from None
            # A full disk (or a forked child that cannot open its own spool) must not stop
            # the application: it still sends, from memory.
            return self._in_memory(
                delivery, f"cannot start a spool in {path!r} ({exc.strerror or exc})"
            )
        self._pid = os.getpid()
        return self._current

    def _in_memory(self, delivery: DeliveryConfig, why: str) -> MessageQueue:
        """The memory queue instead of a spool, said once, loudly (the caller's start)."""
        self.fallbacks += 1
        logger.error(
            "trackwire: spool: %s: this client keeps its queue in memory only, so its "
            "messages are NOT durable",
            why,
        )
        return buffer_queue(delivery)

    def stats(self) -> dict[str, Any]:
        """The current spool's counters (only ``spool_fallbacks`` when none is open)."""
        stats: dict[str, Any] = {"spool_fallbacks": self.fallbacks}
        if self._current is not None:
            stats.update(self._current.stats())
        return stats


#: Errors that say the disk is in trouble (full, over quota, failing), not that the path is
#: wrong: a client starts with memory then, rather than the application failing to boot.
_DISK_TROUBLE: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})

#: Options never written to a spool's meta file: the spool's own, and the process's.
_NOT_RECORDED: Final = frozenset(
    {"spool", "spool_max_bytes", "spool_fsync", "spool_fsync_interval", "handle_sigterm"}
)


def _plain(value: Any) -> bool:
    """True for a value JSON can hold as is (so ``spool replay`` can pass it again)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


def spool_meta(
    vendor: str,
    made_with: tuple[str, tuple[Any, ...], dict[str, Any]] | None,
    destination: Destination | None = None,
) -> dict[str, Any]:
    """What a spool records about its client: the vendor, and how to make the client again.

    ``made_with`` is ``(client class, args, kwargs)`` of the vendor client's constructor; the
    values JSON cannot hold (callables, transports, middleware) are left out, and so are the
    spool's own options. A client made without a vendor class (an internal route, such as
    mParticle's historical endpoint) is identified by its ``destination``'s URL and
    credentials instead; ``trackwire spool replay`` cannot make it again, its own next
    process sends what it left.
    """
    meta: dict[str, Any] = {"format": 1, "vendor": vendor}
    if made_with is None and destination is not None:
        try:
            request = destination.request([], 0)
        except Exception:  # a destination that cannot build an empty request: name only
            return meta
        auth = request.headers.get("Authorization", "")
        digest = hashlib.sha256("\n".join([vendor, request.url, auth]).encode()).hexdigest()
        meta["identity"] = digest[:16]
        meta["url"] = request.url
    if made_with is not None:
        client, args, kwargs = made_with
        # Which source the messages belong to: the positional arguments (the keys) and any
        # key, secret or token given by name. A digest, so status output can show it.
        secrets = [repr(arg) for arg in args] + [
            f"{name}={value!r}"
            for name, value in sorted(kwargs.items())
            if name.endswith(("key", "secret", "token"))
        ]
        digest = hashlib.sha256("\n".join([vendor, *secrets]).encode()).hexdigest()
        meta["identity"] = digest[:16]
        meta["client"] = client
        plain_args = [arg if _plain(arg) else None for arg in args]
        plain_kwargs = {
            name: value
            for name, value in kwargs.items()
            if name not in _NOT_RECORDED and _plain(value)
        }
        # No key in clear: a fingerprint, the key given again at replay (spool_secrets).
        meta["format"] = 2
        meta["salt"], meta["args"], meta["kwargs"] = hide_secrets(client, plain_args, plain_kwargs)
    return meta


def record_constructor(cls: type) -> None:
    """Make ``cls.__init__`` keep the arguments it was given (``self._made_with``).

    A spool writes them to its meta file, so ``trackwire spool replay`` can make the same
    client again. The innermost class's call wins: the vendor client's own.
    """
    init = cls.__dict__.get("__init__")
    if init is None or getattr(init, "_records_arguments", False):
        return
    name = f"{cls.__module__}.{cls.__qualname__}"

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        self._made_with = (name, args, kwargs)
        init(self, *args, **kwargs)

    __init__._records_arguments = True  # type: ignore[attr-defined]
    setattr(cls, "__init__", __init__)  # noqa: B010 - assigning a method: mypy refuses the plain form
