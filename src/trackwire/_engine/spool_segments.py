"""The spool's segment files: their bookkeeping, and reading live records back from them.

A :class:`Segment` is one record file and its ack file; a :class:`Reader` walks the live
(unacknowledged) records of every segment in order, a chunk at a time, so the spool can keep
only a window of waiting messages in memory during a long outage.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Mapping
from typing import Final

from trackwire._engine import spool_dir
from trackwire._engine.spool_format import scan_records

__all__ = ["Reader", "Segment", "close_fd", "unlink_files"]

logger = logging.getLogger("trackwire")

_READ_CHUNK: Final = 256 * 1024


class Segment:
    """One segment file's bookkeeping."""

    __slots__ = ("ack_fd", "ack_path", "acked", "live", "number", "path", "size")

    def __init__(self, directory: str, number: int) -> None:
        self.number = number
        self.path, self.ack_path = spool_dir.segment_paths(directory, number)
        self.size = 0  # bytes of whole records written (or found) in the file
        self.live = 0  # records not acknowledged
        self.acked: set[int] = set()  # offsets acknowledged by an earlier process
        self.ack_fd: int | None = None


class Reader:
    """Reads live records back from the spool's segments, in order, a chunk at a time."""

    __slots__ = ("_fd", "_fd_segment", "_offset", "_pending", "_segment", "_segments")

    def __init__(self, segments: Mapping[int, Segment], number: int, offset: int) -> None:
        self._segments = segments  # the spool's own mapping: segments come and go in it
        self._segment = number
        self._offset = offset
        self._pending: deque[tuple[Segment, int, bytes]] = deque()
        self._fd = -1
        self._fd_segment = -1

    def skip_to(self, segment: Segment, offset: int) -> None:
        """Continue reading at ``offset`` of ``segment`` (everything before is in memory)."""
        if self._pending:
            return  # records still to hand out: they come before anything newer
        self._segment = segment.number
        self._offset = offset

    def forget(self, segment: Segment) -> None:
        """``segment`` is being deleted: close it if open."""
        if self._fd_segment == segment.number:
            self.close()

    def close(self) -> None:
        close_fd(self._fd)
        self._fd = -1
        self._fd_segment = -1

    def next(self) -> tuple[Segment, int, bytes] | None:
        """The next live record ``(segment, offset, payload)``, or None at the end."""
        while not self._pending:
            if not self._read_chunk():
                return None
        return self._pending.popleft()

    def _read_chunk(self) -> bool:
        segments = self._segments
        while True:
            segment = segments.get(self._segment)
            if segment is None or self._offset >= segment.size:
                later = [number for number in segments if number > self._segment]
                if not later:
                    return False
                self._segment = min(later)
                self._offset = 0
                continue
            break
        want = min(_READ_CHUNK, segment.size - self._offset)
        while True:
            try:
                if self._fd_segment != segment.number:
                    self.close()
                    self._fd = os.open(segment.path, os.O_RDONLY)
                    self._fd_segment = segment.number
                data = os.pread(self._fd, want, self._offset)
            except OSError as exc:
                # The file went away or cannot be read (removed by hand, I/O error): what it
                # still held is lost; the spool goes on with the next segment.
                logger.warning("trackwire: spool: cannot read a segment back: %s", exc)
                data = b""
            if not data:  # the file is shorter than we thought: nothing more in it
                self._offset = segment.size
                return True
            final = self._offset + len(data) >= segment.size
            records, consumed, _corrupt = scan_records(data, self._offset, final=final)
            # Corruption was counted when the spool was opened (earlier segments) and cannot
            # come from this process's own whole writes, so it is not counted again here.
            if consumed or final:
                break
            want *= 2  # a record larger than the chunk
        self._offset += consumed
        acked = segment.acked
        for record in records:
            if record.offset not in acked:
                self._pending.append((segment, record.offset, record.payload))
        return True


def unlink_files(segment: Segment) -> None:
    """Remove a segment's record and ack files, ignoring what cannot be removed."""
    for path in (segment.path, segment.ack_path):
        with contextlib.suppress(OSError):  # a file that cannot go is left, never an error
            os.unlink(path)


def close_fd(fd: int | None) -> None:
    """Close ``fd`` if it is open, ignoring errors."""
    if fd is not None and fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
