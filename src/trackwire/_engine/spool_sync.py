"""Forcing a spool's writes to the device on a schedule, away from the callers.

``fsync`` takes milliseconds (the device's write latency); done in ``offer()`` it would run
under the engine's lock, and every caller would wait for it. So with ``spool_fsync="interval"``
a thread of the spool's own syncs what was written, every ``interval`` seconds while there
are new writes, on duplicates of the segment descriptors: no engine lock, and a segment
rotated meanwhile is still synced once more before its descriptor is let go.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

from trackwire._engine.threads import start_background

__all__ = ["Syncer", "sync_directory"]

logger = logging.getLogger("trackwire")


class Syncer:
    """Syncs the spool's active segment every ``interval`` seconds while it is written.

    Args:
        interval: seconds between syncs.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.dirty = False  # set by the writer (a plain store: no lock on the hot path)
        self.started = False  # start() was called
        self.errors = 0
        self._lock = threading.Lock()  # guards the descriptors, never held during a sync
        self._current = -1
        self._retired: list[int] = []
        self._directory: str | None = None  # a directory whose new entry needs syncing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def running(self) -> bool:
        """True once the thread was started in this process."""
        return self._thread is not None and self._pid == os.getpid()

    def start(self) -> None:
        """Start the thread (on the first write: none for a spool that is never written)."""
        # A spool is never used across a fork (the child opens its own), so ``started``
        # is enough on the hot path.
        self.started = True
        if self.running:
            return
        self._pid = os.getpid()
        thread = threading.Thread(target=self._run, name="trackwire-spool-sync", daemon=True)
        try:
            start_background(thread)
        except RuntimeError:  # interpreter shutdown: close() still syncs
            return
        self._thread = thread

    def watch(self, fd: int, directory: str) -> None:
        """Follow a new active segment (its file new in ``directory``); the previous one gets
        one more sync."""
        dup = os.dup(fd)
        with self._lock:
            if self._current >= 0:
                self._retired.append(self._current)
            self._current = dup
            self._directory = directory
        self.dirty = True

    def sync_now(self) -> None:
        """Sync what was written, in the calling thread."""
        # Cleared first: a write from now on marks the spool dirty again for the next round.
        self.dirty = False
        with self._lock:
            fds = self._retired
            self._retired = []
            if self._current >= 0:
                fds.append(os.dup(self._current))
            directory, self._directory = self._directory, None
        if directory is not None:
            sync_directory(directory)
        for fd in fds:
            try:
                os.fdatasync(fd)
            except OSError as exc:
                self.errors += 1
                if self.errors == 1:
                    logger.warning("trackwire: spool: fsync failed: %s", exc)
            finally:
                os.close(fd)

    def close(self, *, sync: bool) -> None:
        """Stop the thread; sync a last time (``sync``) and close the descriptors."""
        self._stop.set()
        if sync and (self.running or self.dirty):
            self.sync_now()
        with self._lock:
            fds = [*self._retired, self._current]
            self._retired = []
            self._current = -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.dirty:
                self.sync_now()


def sync_directory(directory: str) -> None:
    """Force a directory's entries (a new segment file's name) to the device."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # removed meanwhile: nothing of it to keep
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory; the file's data still is
    finally:
        os.close(fd)
