"""The export's zip archive: one gzip file per upload hour, written into a zip as a stream.

:class:`ArchiveWriter` takes each upload hour's lines in blocks, compresses them as they come
and writes them into the archive with data descriptors (no seeking back), so neither the
archive nor an hour's file is ever held whole in memory.

The compressor is ISA-L's deflate (the ``isal`` package, in the collector extra) where it is
installed: at level 1 it compressed the export ~5x faster than zlib, and smaller (measured in
``bench/RESULTS.md``). Without it, zlib, and each hour's file is what :class:`gzip.GzipFile`
writes at level 1. The lines are the same either way.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, Final, Protocol

__all__ = ["COMPRESSOR", "ArchiveWriter", "GzipStream", "Sink", "member_name"]

_HOUR_MS: Final = 3_600_000
#: Fast compression: the export is bound by it, and JSON still shrinks ~20x at level 1.
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
        """Nothing to do: written parts stay in memory until the archive takes them."""

    def close(self) -> None:
        """Nothing to release: the parts are plain bytes, dropped with the buffer."""

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


class _Packer(Protocol):
    """A streaming compressor (what ``compressobj`` returns in zlib and in ISA-L's zlib)."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


#: Makes a compressor from (level, method, wbits): ISA-L's where installed, else zlib's.
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
#: A gzip stream: header and trailer (CRC and size) written by the compressor.
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class GzipStream:
    """One gzip file compressed as its data comes, starting with GzipFile's header."""

    def __init__(self) -> None:
        self._packer = _compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        #: Bytes of the compressor's own header not yet out (replaced by GzipFile's).
        self._own_header = len(_GZIP_HEADER)
        self._started = False

    def pack(self, data: bytes) -> bytes:
        """The gzip bytes of ``data``, as far as the compressor gives them out yet."""
        return self._out(self._packer.compress(data))

    def finish(self) -> bytes:
        """The rest of the gzip bytes, trailer included."""
        return self._out(self._packer.flush())

    def _out(self, packed: bytes) -> bytes:
        if self._own_header:
            # The compressor's header comes out with some call (ISA-L may hold it back while
            # it gathers input): dropped wherever it comes, GzipFile's written first instead.
            cut = min(self._own_header, len(packed))
            packed = packed[cut:]
            self._own_header -= cut
        if not self._started:
            self._started = True
            return _GZIP_HEADER + packed
        return packed


class ArchiveWriter:
    """The zip side of the export: one member per upload hour, gzipped as lines come."""

    def __init__(self, sink: Sink, project_id: int) -> None:
        self._archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED)
        self._project_id = project_id
        self._member: Any = None
        self._gzip: GzipStream | None = None

    def start_hour(self, hour: int) -> None:
        """Open the member of upload hour ``hour`` (hours since the epoch)."""
        # force_zip64: the size is unknown until the hour is written.
        self._member = self._archive.open(
            zipfile.ZipInfo(member_name(self._project_id, hour * _HOUR_MS), _date(hour)),
            mode="w",
            force_zip64=True,
        )
        self._gzip = GzipStream()

    def write(self, lines: bytes) -> None:
        """Add lines (each ending with a newline) to the open hour's file."""
        assert self._gzip is not None, "start_hour first"
        self._member.write(self._gzip.pack(lines))

    def end_hour(self) -> None:
        """Finish the open hour's file and its member."""
        assert self._gzip is not None, "start_hour first"
        self._member.write(self._gzip.finish())
        self._member.close()
        self._gzip = None

    def close(self) -> None:
        """Write the archive's directory."""
        self._archive.close()

    def abandon(self) -> None:
        """Stopped early (the client went away, a read failed): close what is open (a zip
        with a member open refuses to close, even when collected). Nothing if closed."""
        if self._member is not None and not self._member.closed:
            self._member.close()
        self._archive.close()


def _date(hour: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(hour * 3600)
    return (max(t.tm_year, 1980), t.tm_mon, t.tm_mday, t.tm_hour, 0, 0)
