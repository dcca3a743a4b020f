"""The durable spool: the on-disk :class:`~trackwire._engine.queue.MessageQueue`.

Every accepted message is appended to a segment file with one ``os.write`` on an
``O_APPEND`` descriptor before :meth:`Spool.offer` returns: no user-space buffer, so once the
call returned the bytes are the kernel's, and a ``kill -9`` at any instant loses none of
them. ``fsync`` (for power loss) runs on the configured schedule. A message leaves the disk
only when the engine acknowledges it (delivered, or finally failed); acknowledgements are
appended to a per-segment file, in whatever order they come (batches retry, several workers
send), and a segment is deleted once every record in it is acknowledged.

Memory stays bounded during a long outage: only a window of the oldest waiting messages is
held in memory; the rest waits on disk and is read back as the window empties.

Opening a spool takes over every spool of the same vendor under the root that no live
process owns (see :mod:`~trackwire._engine.spool_dir`) and replays what they hold: those
messages get fresh sequence numbers and no receipt (their callers are gone). A spool that
keeps running looks again every :data:`TAKEOVER_INTERVAL` seconds while its client is busy
(a worker process, a forked child or a neighbour that died meanwhile), one dead spool a time.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any, Final

from trackwire._engine import spool_dir
from trackwire._engine.queue import Queued
from trackwire._engine.spool_failures import WriteFailures
from trackwire._engine.spool_format import HEADER_SIZE, encode_acks, encode_header
from trackwire._engine.spool_segments import Reader, Segment, close_fd, unlink_files
from trackwire._engine.spool_sync import Syncer, sync_directory
from trackwire.config import SpoolConfig

__all__ = ["Spool", "SpoolConfig"]

logger = logging.getLogger("trackwire")

#: Seconds between two looks for dead spools to take over while running. A look costs a
#: directory listing; taking one over copies its messages under the engine's lock.
TAKEOVER_INTERVAL: Final = 30.0
#: Message bytes copied from a dead spool per look while running (callers wait for the
#: engine's lock meanwhile: ~10 ms on a 2-core machine); a larger spool takes several looks,
#: one per turn of the worker.
TAKEOVER_BUDGET: Final = 256 * 1024


class Spool:
    """A :class:`~trackwire._engine.queue.MessageQueue` kept on disk. Not thread-safe.

    Args:
        config: where and how.
        meta: what the spool records about its client when it is created (``vendor`` and the
            destination settings ``trackwire spool replay`` needs); spools are taken over only
            by a client of the same vendor.
    """

    def __init__(self, config: SpoolConfig, meta: Mapping[str, Any]) -> None:
        self.config = config
        self._fsync = config.fsync
        root = os.fspath(config.path)
        spool_dir.open_root(root)  # a link or a world-writable root is refused
        vendor = str(meta.get("vendor", ""))
        identity = meta.get("identity")
        self._source = (root, vendor, identity if isinstance(identity, str) else None)
        self._next_takeover = time.monotonic() + TAKEOVER_INTERVAL
        self._resume: tuple[str, int, int, int] | None = None  # (spool, segment, offset, corrupt)
        claimed = spool_dir.claim(*self._source)
        if claimed:
            # Taken over in place: a full disk (no room for a new spool) still drains it.
            self.directory, self._lock_fd = claimed[0]
            try:
                spool_dir.update_meta(self.directory, meta)
            except OSError as exc:  # no room for the new meta: the old one names the same source
                logger.warning("trackwire: spool: kept the old meta file (%s)", exc.strerror)
        else:
            self.directory, self._lock_fd = spool_dir.create(root, meta)
        self._segments: dict[int, Segment] = {}
        self._window: deque[Queued] = deque()
        self._window_bytes = 0
        self._where: dict[int, tuple[Segment, int]] = {}  # seq -> record, for acks
        self._unwritten: deque[Queued] = deque()  # accepted while the disk refused writes
        self._backlog = 0  # waiting messages not in the window (on disk or unwritten)
        self._backlog_bytes = 0
        self._next_seq = 0
        self._read_seq = 0  # seq of the next message loaded into the window
        self._live_bytes = 0
        # With fsync="interval", a thread of the spool's own syncs: never a caller.
        self._syncer = Syncer(config.fsync_interval) if config.fsync == "interval" else None
        self.corrupt = 0
        self.replayed = 0
        self.failures = WriteFailures(root)
        self._segment_bytes = config.segment_bytes
        self._window_items = config.window_items
        self._window_max_bytes = config.window_bytes
        self._active_fd = -1
        self._broken = False  # the active segment's file took a partial write or is missing
        try:
            self._replay_own()
            first = min(self._segments, default=0)
            self._active = self._open_active(self._highest + 1)
            self._reader = Reader(self._segments, first or self._active.number, 0)
            for index, (directory, fd) in enumerate(claimed[1:], 1):
                if self._broken or not self._adopt(directory, fd):
                    # No room to copy it: it stays as it is, for a later takeover.
                    spool_dir.release(fd)
                claimed[index] = (directory, -1)  # removed, or kept and its lock let go
        except BaseException:
            # Let go of every spool claimed, so the next process can take them over.
            close_fd(self._active_fd)
            for _, fd in [(self.directory, self._lock_fd), *claimed[1:]]:
                close_fd(fd)
            raise
        if self.replayed:
            logger.info(
                "trackwire: spool: replaying %d message(s) left by an earlier process",
                self.replayed,
            )
        self._refill()

    # ------------------------------------------------------------------ MessageQueue

    def __len__(self) -> int:
        return len(self._window) + self._backlog

    @property
    def nbytes(self) -> int:
        """Message bytes waiting (in memory and on disk)."""
        return self._window_bytes + self._backlog_bytes

    @property
    def next_seq(self) -> int:
        """The sequence number the next :meth:`offer` hands out."""
        return self._next_seq

    @property
    def head(self) -> Queued | None:
        """The oldest waiting message, or None.

        The worker reads it each time it looks for work: the spool's moment to take over
        the spools that died since it looked last (every :data:`TAKEOVER_INTERVAL`).
        """
        if time.monotonic() >= self._next_takeover:
            self._take_over_dead()
        if not self._window and self._backlog:  # never expected: the window is kept filled
            self._refill()
        return self._window[0] if self._window else None

    def has_room(self, size: int) -> bool:
        """True when a message of ``size`` bytes fits under the bounds (bytes on disk, count)."""
        max_items = self.config.max_items
        if max_items is not None and len(self) >= max_items:
            return False
        return self._live_bytes + size <= self.config.max_bytes

    def could_ever_fit(self, size: int) -> bool:
        """False when a message of ``size`` bytes is larger than the whole spool."""
        return size <= self.config.max_bytes

    def offer(self, data: bytes, enqueued_at: float) -> int:
        """Write ``data`` to the spool (one ``os.writev``) and queue it; returns its seq."""
        # The hot path (every call, under the engine's lock): attributes read once.
        seq = self._next_seq
        self._next_seq = seq + 1
        item = _new_queued(Queued, (seq, data, enqueued_at))
        size = len(data)
        length = HEADER_SIZE + size
        segment = self._active
        if self._broken or (segment.size and segment.size + length > self._segment_bytes):
            segment = self._rotate()
        offset = segment.size
        if self._broken or not self._write(encode_header(data), data):
            # The disk refused (full, read-only, I/O error): keep the message in memory
            # rather than lose it or raise into the caller; it is simply not durable.
            self._unwritten.append(item)
            self.failures.memory_only += 1
            self._backlog += 1
            self._backlog_bytes += size
            self._refill()  # into the window at once if it is next in line
            return seq
        if self.failures.failing:
            self.failures.work_again()
        segment.size = offset + length
        segment.live += 1
        self._live_bytes += size
        window = self._window
        if (
            not self._backlog
            and len(window) < self._window_items
            and self._window_bytes + size <= self._window_max_bytes
        ):
            window.append(item)
            self._window_bytes += size
            self._where[seq] = (segment, offset)
            self._read_seq = seq + 1
            self._reader.skip_to(segment, offset + length)
        else:
            if not self._backlog:
                self._reader.skip_to(segment, offset)
            self._backlog += 1
            self._backlog_bytes += size
        syncer = self._syncer
        if syncer is not None:
            syncer.dirty = True
            if not syncer.started:
                syncer.start()
        elif self._fsync == "always":
            self._sync()
        return seq

    def sizes(self) -> Iterator[int]:
        """Sizes of the waiting messages in memory, oldest first (enough for one batch)."""
        return (len(item.data) for item in self._window)

    def take(self, count: int) -> list[Queued]:
        """Hand out the ``count`` oldest waiting messages as in flight."""
        window = self._window
        taken = [window.popleft() for _ in range(min(count, len(window)))]
        self._window_bytes -= sum(len(item.data) for item in taken)
        self._refill()
        return taken

    def ack(self, items: Sequence[Queued]) -> None:
        """Record that ``items`` are settled; delete segments left with nothing to send."""
        # Runs under the engine's lock for whole batches: kept to one pass and one write
        # per segment.
        pop = self._where.pop
        by_segment: dict[Segment, list[int]] = {}
        freed = 0
        current: Segment | None = None
        offsets: list[int] = []
        live = 0
        wheres = map(pop, [item.seq for item in items], repeat(None))
        for item, where in zip(items, wheres, strict=True):
            if where is None:
                continue  # never written (disk error), or acknowledged already
            segment, offset = where
            if segment is not current:  # batches are mostly runs of one segment
                if current is not None:
                    current.live -= live
                segment_offsets = by_segment.get(segment)
                if segment_offsets is None:
                    segment_offsets = by_segment[segment] = []
                offsets = segment_offsets
                current = segment
                live = 0
            offsets.append(offset)
            live += 1
            freed += len(item.data)
        if current is not None:
            current.live -= live
        self._live_bytes -= freed
        for segment, offsets in by_segment.items():
            if segment.live <= 0 and segment is not self._active:
                self._delete_segment(segment)
                continue
            try:
                if segment.ack_fd is None:
                    segment.ack_fd = os.open(
                        segment.ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
                    )
                os.write(segment.ack_fd, encode_acks(offsets))
            except OSError as exc:
                # A lost acknowledgement only means the message is sent again later.
                self.failures.ack_failed(exc)
            else:
                self.failures.acks_work()

    def release(self, items: Sequence[Queued]) -> None:
        """Put in-flight ``items`` back at the head, in order."""
        for item in reversed(items):
            self._window.appendleft(item)
            self._window_bytes += len(item.data)

    def evict_oldest(self) -> Queued | None:
        """Remove the oldest waiting message for good (acknowledged on disk)."""
        if not self._window:
            return None
        item = self._window.popleft()
        self._window_bytes -= len(item.data)
        self.ack([item])
        self._refill()
        return item

    def drain(self) -> list[Queued]:
        """Take every waiting message out of memory; all of them stay on disk for next time.

        Messages past the in-memory window are returned with empty ``data`` (reading them
        back only to forget them would cost memory for nothing): the engine needs only their
        sequence numbers, to settle their receipts.
        """
        drained = list(self._window)
        for item in drained:
            self._where.pop(item.seq, None)
        now = time.monotonic()
        unwritten = {item.seq: item for item in self._unwritten}
        for seq in range(self._read_seq, self._next_seq):
            drained.append(unwritten.get(seq) or Queued(seq, b"", now))
        self._window.clear()
        self._unwritten.clear()
        self._window_bytes = self._backlog = self._backlog_bytes = 0
        self._read_seq = self._next_seq
        self._reader.close()
        self._reader = Reader(self._segments, self._active.number, max(self._active.size, 0))
        return drained

    def close(self) -> None:
        """Sync, close files and let go of the lock; an empty spool is removed."""
        if self._lock_fd < 0:
            return
        if self._syncer is not None:
            self._syncer.close(sync=True)
        self.failures.summarize("closing after")
        for segment in self._segments.values():
            close_fd(segment.ack_fd)
            segment.ack_fd = None
        close_fd(self._active_fd)
        self._active_fd = -1
        self._reader.close()
        lock_fd, self._lock_fd = self._lock_fd, -1
        if self._live_bytes == 0:
            spool_dir.remove_spool(self.directory, lock_fd)
        else:
            spool_dir.release(lock_fd)

    def abandon(self) -> None:
        """Close this process's descriptors without touching the files (a forked child).

        The parent still owns the spool and its lock (``flock`` locks are shared with the
        child through the inherited descriptor, and closing the child's copy keeps them).
        """
        if self._syncer is not None:
            self._syncer.close(sync=False)
        # Each descriptor is forgotten as it is closed: closing it twice could close a
        # descriptor the process has opened since under the same number.
        for segment in self._segments.values():
            close_fd(segment.ack_fd)
            segment.ack_fd = None
        close_fd(self._active_fd)
        self._active_fd = -1
        self._reader.close()
        close_fd(self._lock_fd)
        self._lock_fd = -1

    def stats(self) -> dict[str, Any]:
        """Disk-side counters for ``stats()``."""
        return {
            "spool_bytes": self._live_bytes,  # message bytes on disk, waiting or in flight
            # A placeholder for a segment that could not be made (a full disk) is no file.
            "spool_segments": len(self._segments) - (self._active_fd < 0),
            "spool_corrupt": self.corrupt,
            "spool_replayed": self.replayed,
            "spool_write_errors": self.failures.errors,
            "spool_memory_only": self.failures.memory_only,
        }

    # ------------------------------------------------------------------ writing

    def _open_active(self, number: int) -> Segment:
        """The first segment of this process, or a placeholder when none can be made.

        With a placeholder (a full disk), the spool still drains what is on disk; new
        messages wait in memory until a rotation manages to open a file.
        """
        try:
            return self._open_segment(number)
        except OSError as exc:
            self.failures.failed(exc)
            self._broken = True
            placeholder = self._segments[number] = Segment(self.directory, number)
            return placeholder

    def _open_segment(self, number: int) -> Segment:
        segment = Segment(self.directory, number)
        self._active_fd = os.open(
            segment.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600
        )
        self._segments[number] = segment
        if self._syncer is not None:
            self._syncer.watch(self._active_fd, self.directory)  # file and entry, later
        elif self._fsync == "always":
            sync_directory(self.directory)
        return segment

    def _rotate(self) -> Segment:
        old = self._active
        if self._fsync == "always":
            self._sync()
        close_fd(self._active_fd)
        self._active_fd = -1
        try:
            self._active = self._open_segment(old.number + 1)
            self._broken = False
        except OSError as exc:
            self.failures.failed(exc)
            # A placeholder with no file: writes keep failing until a later rotation works.
            self._active = Segment(self.directory, old.number + 1)
            self._segments[old.number + 1] = self._active
            self._broken = True
        if old.live <= 0:
            self._delete_segment(old)
        return self._active

    def _write(self, header: bytes, data: bytes) -> bool:
        # One writev: a single system call appends the whole record, as one write would,
        # without first copying the message behind its header.
        length = len(header) + len(data)
        try:
            written = os.writev(self._active_fd, (header, data))
        except OSError as exc:
            self.failures.failed(exc)
            written = -1
        if written == length:
            return True
        if written >= 0:
            self.failures.failed(OSError(f"short write ({written} of {length} bytes)"))
        # Part of a record may be in the file now: start a new segment, so that the bytes
        # after ours are never read at the wrong offset (the torn record is skipped there).
        self._broken = True
        return False

    def _sync(self) -> None:
        """Force the active segment to the device now (``fsync="always"``)."""
        if self._active_fd >= 0:
            try:
                os.fdatasync(self._active_fd)
            except OSError as exc:
                self.failures.failed(exc)

    def _delete_segment(self, segment: Segment) -> None:
        if segment is self._active:
            return
        self._segments.pop(segment.number, None)
        close_fd(segment.ack_fd)
        segment.ack_fd = None
        self._reader.forget(segment)
        unlink_files(segment)

    # ------------------------------------------------------------------ reading back

    def _replay_own(self) -> None:
        """Count what an earlier owner of this spool left (payloads stay on disk)."""
        numbers = spool_dir.list_segments(self.directory)
        self._highest = max(numbers, default=0)  # new segments are numbered after every file
        for number in numbers:
            segment = Segment(self.directory, number)
            segment.acked = spool_dir.read_acks(segment.ack_path)
            scan = spool_dir.scan_segment(segment.path, segment.acked)
            if scan.unreadable:
                self.corrupt += 1
                logger.warning(
                    "trackwire: spool: cannot read %s; left in place, skipped",
                    os.path.basename(segment.path),
                )
                continue
            self.corrupt += scan.corrupt
            if scan.corrupt:
                logger.warning(
                    "trackwire: spool: skipped %d corrupt or truncated record(s) in %s",
                    scan.corrupt,
                    os.path.basename(segment.path),
                )
            segment.size = scan.size
            segment.live = scan.live
            if not scan.live:
                unlink_files(segment)
                continue
            self._segments[number] = segment
            self._live_bytes += scan.payload_bytes
            self._backlog += scan.live
            self._backlog_bytes += scan.payload_bytes
            self.replayed += scan.live
        self._next_seq = self._backlog

    def _adopt(self, directory: str, lock_fd: int, budget: int | None = None) -> bool:
        """Copy the waiting messages of a dead spool into this one; True once it is removed.

        False when it stays (its lock to be let go by the caller): ``budget`` bytes (None: no
        limit) were copied, or this spool cannot write (a full disk). What was copied is
        settled there (segments copied whole removed, the rest acknowledged), so the next
        look goes on where this one stopped (at least once, if that cannot be written).
        """
        errors = self.failures.errors
        # Where the previous look at this spool stopped: everything before is settled there,
        # so it is not read again (corruption is counted once, when the spool is taken whole).
        resume = self._resume if self._resume and self._resume[0] == directory else None
        _, first, start, corrupt = resume or (directory, -1, 0, 0)
        self._resume = None
        finished: list[tuple[str, str]] = []  # segments copied whole: (log, ack)
        spent = 0
        for number in spool_dir.list_segments(directory):
            log, ack = spool_dir.segment_paths(directory, number)
            acked = spool_dir.read_acks(ack)
            copied: list[int] = []  # offsets copied from this segment
            try:
                for item in spool_dir.iter_segment(log, start if number == first else 0):
                    if isinstance(item, int):
                        corrupt += item
                        continue
                    offset, payload = item
                    if offset in acked:
                        continue
                    if budget is not None and spent >= budget:
                        self._settle_copied(finished, ack, copied)
                        self._resume = (directory, number, offset, corrupt)
                        return False
                    self.offer(payload, time.monotonic())
                    self.replayed += 1
                    if self.failures.errors != errors:
                        logger.warning(
                            "trackwire: spool: no room to take over %s; left for later",
                            os.path.basename(directory),
                        )
                        self._settle_copied(finished, ack, copied)  # without the refused one
                        self._resume = (directory, number, offset, corrupt)
                        return False
                    copied.append(offset)
                    spent += len(payload)
            except OSError as exc:  # unreadable: what was read is kept, the rest is lost
                corrupt += 1
                logger.warning("trackwire: spool: cannot read a spool being taken over: %s", exc)
            finished.append((log, ack))
        self.corrupt += corrupt
        if self._fsync != "never":
            self._sync()  # before the originals are removed
        spool_dir.remove_spool(directory, lock_fd)
        return True

    def _settle_copied(self, finished: list[tuple[str, str]], ack: str, copied: list[int]) -> None:
        """Settle in a spool left in place what was copied from it (see :meth:`_adopt`)."""
        if self._fsync != "never":
            self._sync()  # the copies reach the device before the originals are let go
        try:
            spool_dir.settle_copied(finished, ack, copied)
        except OSError as exc:
            self.failures.ack_failed(exc)

    def _take_over_dead(self) -> None:
        """Adopt one spool of the same source whose owner died while this one runs."""
        self._next_takeover = time.monotonic() + TAKEOVER_INTERVAL
        if self._broken or self._lock_fd < 0:
            return  # no room to copy into (a full disk), or closed
        try:
            claimed = spool_dir.claim(*self._source)
        except OSError as exc:  # the root cannot be listed now: try again next time
            logger.warning("trackwire: spool: cannot look for dead spools: %s", exc.strerror)
            return
        before = self.replayed
        for index, (directory, fd) in enumerate(claimed):
            # One spool and TAKEOVER_BUDGET bytes a look bound the time the engine's lock is
            # held for it (callers wait meanwhile); what is left is copied at the next looks.
            try:
                adopted = not index and self._adopt(directory, fd, TAKEOVER_BUDGET)
            except OSError as exc:  # this runs in the worker: never let it fail there
                logger.warning("trackwire: spool: cannot take over a dead spool: %s", exc)
                adopted = False
            if not adopted:
                close_fd(fd)  # its lock let go: the spool stays, for a later look
        if len(claimed) > 1 or (claimed and self.replayed - before > 0 and not self._broken):
            # More to copy: look again at the worker's next turn, not in 30 s.
            self._next_takeover = 0.0
        if self.replayed > before:
            logger.info(
                "trackwire: spool: took over %d message(s) left by a process that died",
                self.replayed - before,
            )

    def _refill(self) -> None:
        """Load messages from disk into the window until it is full or nothing is left."""
        window = self._window
        limit_items = self.config.window_items
        limit_bytes = self.config.window_bytes
        now = time.monotonic()
        while self._backlog and (
            not window or (len(window) < limit_items and self._window_bytes < limit_bytes)
        ):
            unwritten = self._unwritten
            if unwritten and unwritten[0].seq == self._read_seq:
                item = unwritten.popleft()
            else:
                found = self._reader.next()
                if found is None:
                    if unwritten:  # out of step: trust the unwritten message's own seq
                        item = unwritten.popleft()
                        self._read_seq = item.seq
                    else:
                        logger.warning("trackwire: spool: %d record(s) missing", self._backlog)
                        self._backlog = self._backlog_bytes = 0
                        return
                else:
                    segment, offset, payload = found
                    item = Queued(self._read_seq, payload, now)
                    self._where[item.seq] = (segment, offset)
            self._read_seq = item.seq + 1
            window.append(item)
            self._window_bytes += len(item.data)
            self._backlog -= 1
            self._backlog_bytes -= len(item.data)


# NamedTuple's generated __new__ is a Python function; tuple.__new__ builds the same object
# without it, on the path every call takes.
_new_queued = tuple.__new__
