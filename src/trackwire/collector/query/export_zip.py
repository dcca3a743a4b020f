"""The export's zip archive: hour files compressed in order, on a second thread when a core
is idle, written into a zip as a stream.

:class:`ArchiveWriter` takes each upload hour's lines in pieces (blocks of lines, in order),
has them compressed, and writes each hour's gzip file into the archive as its pieces come back
compressed: with data descriptors (no seeking back), so neither the archive nor an hour's file
is ever held whole in memory. Compressing runs on a thread of the export's own when a core is
idle (:func:`spare_core`): zlib lets go of the GIL while it works, so it runs beside the
building of the next lines. Either way the bytes are the same: what :class:`gzip.GzipFile`
writes at level 1.
"""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Final, NamedTuple, ParamSpec, Protocol, TypeVar

__all__ = [
    "COMPRESSOR",
    "ArchiveWriter",
    "HourFile",
    "Sink",
    "compressing",
    "member_name",
    "spare_core",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_HOUR_MS: Final = 3_600_000
#: Pieces handed out to compress and not yet written to the archive.
IN_FLIGHT: Final = 2
#: Fast compression: the export is bound by it, and JSON still shrinks ~5x at level 1.
_GZIP_LEVEL: Final = 1


def member_name(project_id: int, hour_ms: int) -> str:
    """The archive member of one upload hour: ``<p>/<p>_<yyyy-mm-dd>_<H>#0.json.gz``."""
    t = time.gmtime(hour_ms // 1000)
    day = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return f"{project_id}/{project_id}_{day}_{t.tm_hour}#0.json.gz"


class Sink:
    """A write-only stream that hands its bytes out in chunks (the zip writes into it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        if data:
            self.parts.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


class _Packer(Protocol):
    """A streaming compressor (what ``compressobj`` returns in zlib and in ISA-L's zlib)."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


#: Makes a compressor from (level, method, wbits); ISA-L's where installed, else zlib's.
_compressobj: Callable[[int, int, int], _Packer]
try:
    from isal import isal_zlib

    _compressobj = isal_zlib.compressobj
except ImportError:  # not installed (a core install, or no wheel for the platform)
    _compressobj = zlib.compressobj
#: Which compressor the export uses: ``isal`` or ``zlib``.
COMPRESSOR: Final = "zlib" if _compressobj is zlib.compressobj else "isal"

#: The gzip header :class:`gzip.GzipFile` writes with no file name, ``mtime=0`` and level 1
#: (zlib writes the same but for the last byte, the OS: 3 there, 255 "unknown" here; ISA-L
#: writes 0 for the level byte).
_GZIP_HEADER: Final = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"
#: A gzip stream: header and trailer written by the compressor, the CRC computed in the call
#: that compresses (and lets go of the GIL).
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class HourFile:
    """One upload hour's gzip file, compressed a piece (a list of blocks of lines) at a time,
    in order, on whichever thread compresses."""

    def __init__(self, hour: int) -> None:
        self.hour = hour
        #: Pieces handed out to compress so far.
        self.pieces = 0
        self._packer = _compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        #: Bytes of the compressor's own header not yet out (replaced by GzipFile's).
        self._own_header = len(_GZIP_HEADER)

    def pack(self, blocks: list[bytes], first: bool, last: bool) -> bytes:
        """The gzip bytes of the next blocks of lines; the trailer too if ``last``."""
        compress = self._packer.compress
        packed = b"".join([compress(block) for block in blocks])
        if last:
            packed += self._packer.flush()
        if self._own_header:
            # The compressor's header comes out with some call (ISA-L may hold it back while
            # it gathers input): dropped wherever it comes, GzipFile's written first instead.
            cut = min(self._own_header, len(packed))
            packed = packed[cut:]
            self._own_header -= cut
        return _GZIP_HEADER + packed if first else packed


class _Piece(NamedTuple):
    """Lines of an hour's file, handed out to compress."""

    file: HourFile
    first: bool
    last: bool
    packed: Future[bytes]


class _Inline(Executor):
    """An executor that runs each call at once in the caller's thread (no second thread)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        done: Future[_T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # re-raised by result(), as a thread's would be
            done.set_exception(exc)
        return done


def spare_core() -> bool:
    """Whether a second core is likely idle: more than one core, and a 1-minute load average
    at least half a core below their number.

    Compressing on a second thread pays only then: each time that thread takes the GIL back
    the exporting thread waits, and on a busy machine that wait is a wait for a core
    (measured: slower than one thread with the load average above the cores).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return False
    cores = os.cpu_count() or 1
    return cores > 1 and load < cores - 0.5


class ArchiveWriter:
    """The zip side of the export: hands pieces of hour files out to compress, and writes
    them back into the archive in order as they come back compressed."""

    def __init__(self, sink: Sink, project_id: int, executor: Executor) -> None:
        self._archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED)
        self._project_id = project_id
        self._executor = executor
        self._pending: deque[_Piece] = deque()
        self._member: Any = None

    def send(self, file: HourFile, blocks: list[bytes], last: bool) -> None:
        """Hand the next blocks of ``file`` out to compress (``last``: the file ends)."""
        first = file.pieces == 0
        file.pieces += 1
        packed = self._executor.submit(file.pack, blocks, first, last)
        self._pending.append(_Piece(file, first, last, packed))

    def write_ready(self, *, everything: bool = False) -> None:
        """Write the compressed pieces into the archive, in order: those done, and the oldest
        (waited for) while more than :data:`IN_FLIGHT` are out, or all of them."""
        pending = self._pending
        while pending and (everything or len(pending) > IN_FLIGHT or pending[0].packed.done()):
            piece = pending.popleft()
            if piece.first:
                hour = piece.file.hour
                # force_zip64: the size is unknown until the hour is written.
                self._member = self._archive.open(
                    zipfile.ZipInfo(member_name(self._project_id, hour * _HOUR_MS), _date(hour)),
                    mode="w",
                    force_zip64=True,
                )
            self._member.write(piece.packed.result())
            if piece.last:
                self._member.close()

    def close(self) -> None:
        """Write the archive's directory (after :meth:`write_ready` of everything)."""
        self._archive.close()

    def abandon(self) -> None:
        """Stopped early (the client went away, a read failed): drop what is queued, close
        what is open (a zip with a member open refuses to close, even when collected)."""
        for piece in self._pending:
            piece.packed.cancel()
        self._pending.clear()
        if self._member is not None and not self._member.closed:
            self._member.close()
        self._archive.close()


def compressing(pipelined: bool) -> Executor:
    """Where an export's pieces are compressed: a thread of its own, or inline."""
    if pipelined:
        return ThreadPoolExecutor(1, thread_name_prefix="trackwire-export-gzip")
    return _Inline()


def _date(hour: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(hour * 3600)
    return (max(t.tm_year, 1980), t.tm_mon, t.tm_mday, t.tm_hour, 0, 0)
