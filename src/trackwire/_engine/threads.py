"""trackwire's threads start with the process's signals kept off them.

Every thread trackwire starts (delivery, spool sync, the SIGTERM drain, flushes) goes
through :func:`start_background`.

The kernel delivers a signal sent to a process to any one of its threads that does not block
it. A signal handled in one of trackwire's threads does not interrupt a blocking call in the
main thread: a server whose main thread waits in ``accept`` or ``epoll`` for a signal to
stop (uWSGI's graceful shutdown, for one) can then wait until it is killed, and its exit
hooks (trackwire's drain among them) never run. So trackwire's threads start with the
asynchronous signals an application or its server acts on blocked, and those always reach a
thread of the application's own. (Signals a thread raises for itself, such as ``SIGSEGV`` or
``SIGPIPE``, are left alone.)
"""

from __future__ import annotations

import signal
import threading
from typing import Final

__all__ = ["KEPT_OFF", "start_background"]

_NAMES: Final = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD",
    "SIGWINCH", "SIGTTIN", "SIGTTOU",
)  # fmt: skip
#: The signals trackwire's threads block: those sent to a process to stop, reload or wake it.
KEPT_OFF: Final = frozenset(getattr(signal, name) for name in _NAMES if hasattr(signal, name))


def start_background(thread: threading.Thread) -> None:
    """``thread.start()``, the new thread blocking :data:`KEPT_OFF`.

    A thread takes its creator's signal mask, so the mask is set around the start and put back
    at once: a signal that arrives meanwhile waits (pending, not lost) and is handled as soon
    as the mask is back. Where signal masks do not exist (Windows), a plain start.

    Raises:
        RuntimeError: as :meth:`threading.Thread.start` (e.g. at interpreter shutdown).
    """
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, KEPT_OFF)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
