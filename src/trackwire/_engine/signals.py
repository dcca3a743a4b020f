"""Deliver what is queued when the process is ended with SIGTERM.

SIGTERM is how containers, systemd and ``docker stop`` end a process. With Python's default
disposition the process dies at once, exit hooks never run, and every queued event is lost.
So, when the process has no SIGTERM handler of its own, the first client installs one that
drains every client (each within its ``shutdown_timeout``) and then ends the process with the
same signal, restoring the default disposition first: exit status and behaviour stay what
they were, only later.

* A process that installed its own handler keeps it (trackwire never replaces one), and an
  application that installs one after creating a client simply replaces ours.
* ``handle_sigterm=False`` on a client leaves the signal alone.
* The drain runs in a helper thread, not in the handler: the handler interrupts the main
  thread at an arbitrary point, possibly while it holds an engine's lock. The main thread
  goes on meanwhile (clients, now closed, refuse new events); when the drain is done, or a
  second SIGTERM arrives, the process ends with SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from trackwire._engine.threads import start_background

__all__ = ["install_sigterm_handler", "sigterm_handler_installed"]

logger = logging.getLogger("trackwire")

_lock = threading.Lock()
_installed = False
_draining = False


def install_sigterm_handler() -> bool:
    """Install the draining SIGTERM handler if the process has none; True if ours is in place.

    Only from the main thread (Python allows handlers to be set nowhere else), and only when
    the current handler is the default one.
    """
    global _installed
    with _lock:
        if _installed and signal.getsignal(signal.SIGTERM) is _on_sigterm:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        try:
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                return False
            signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # pragma: no cover - no signals on this platform/thread
            return False
        _installed = True
        return True


def sigterm_handler_installed() -> bool:
    """True while trackwire's SIGTERM handler is the process's handler."""
    return signal.getsignal(signal.SIGTERM) is _on_sigterm


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _draining
    if _draining:
        # The drain is finished (it signals again when done) or the sender insists.
        _end(signum)
        return
    _draining = True
    thread = threading.Thread(
        target=_drain_then_end, args=(signum,), name="trackwire-sigterm", daemon=False
    )
    try:
        # Not a daemon: if the main thread finishes meanwhile, the interpreter waits for it.
        start_background(thread)
    except RuntimeError:  # the interpreter is shutting down: no thread, no drain
        _end(signum)


def _drain_then_end(signum: int) -> None:
    from trackwire._engine.lifecycle import drain_all

    try:
        drain_all()
    except Exception:  # pragma: no cover - never keep the process from ending
        logger.exception("trackwire: error while draining at SIGTERM")
    finally:
        # Ask the main thread (the only one that may change handlers) to end the process.
        os.kill(os.getpid(), signum)


def _end(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
