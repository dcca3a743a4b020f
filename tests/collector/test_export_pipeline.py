"""The export's compressing thread: it ends with the export however the export ends, a failure
on either side reaches the reader, and it is used only when a core is idle."""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from collections.abc import Generator, Iterator

import orjson
import pytest

from trackwire.collector.query import export, export_zip
from trackwire.collector.query.export import ExportRow, archive_chunks

_T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_HOUR = 3_600_000


def _rows(count: int, fail_at: int | None = None) -> Iterator[ExportRow]:
    """``count`` events over ``count // 10`` upload hours; raises at row ``fail_at``."""
    for i in range(count):
        if i == fail_at:
            raise RuntimeError("the store went away")
        received = _T0 + (i // 10) * _HOUR + i
        payload = orjson.dumps({"event_properties": {"n": i}, "country": "FR"})
        yield ExportRow("amplitude", i + 1, 3, "event", "Play", f"u-{i % 7}", "d", 7, None,
                        received, received, f"i-{i}", None, payload)  # fmt: skip


def _compressing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("trackwire-export-gzip")]


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a few lines and tiny chunks: many pieces out at once, chunks early."""
    monkeypatch.setattr(export, "_LINES", 4)
    monkeypatch.setattr(export, "_PIECE", 1)
    monkeypatch.setattr(export, "_CHUNK", 1)


@pytest.mark.usefixtures("small_pieces")
def test_a_reader_leaving_early_stops_the_compressing_thread() -> None:
    chunks = archive_chunks(_rows(2000), 3, pipelined=True)
    assert isinstance(chunks, Generator)
    assert next(chunks)
    assert _compressing_threads()
    chunks.close()
    # close() returns after the thread has finished (the executor joins it).
    assert _compressing_threads() == []


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("pipelined", [False, True])
def test_a_failing_read_reaches_the_reader_and_stops_the_thread(pipelined: bool) -> None:
    with pytest.raises(RuntimeError, match="the store went away"):
        for _ in archive_chunks(_rows(2000, fail_at=1500), 3, pipelined=pipelined):
            pass
    assert _compressing_threads() == []


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("pipelined", [False, True])
def test_a_failure_compressing_reaches_the_reader(
    pipelined: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = export_zip.HourFile.pack

    def failing(self: export_zip.HourFile, blocks: list[bytes], first: bool, last: bool) -> bytes:
        if self.hour > _T0 // _HOUR + 3:
            raise MemoryError("no room to compress")
        return pack(self, blocks, first, last)

    monkeypatch.setattr(export_zip.HourFile, "pack", failing)
    got = 0
    with pytest.raises(MemoryError, match="no room to compress"):
        for chunk in archive_chunks(_rows(200), 3, pipelined=pipelined):
            got += len(chunk)
    assert got > 0  # the hours before it went out
    assert _compressing_threads() == []


@pytest.mark.parametrize(
    ("load", "cores", "spare"),
    [(0.2, 2, True), (1.4, 2, True), (1.5, 2, False), (3.9, 2, False), (2.0, 4, True),
     (0.0, 1, False)],
)  # fmt: skip
def test_a_second_thread_only_with_a_core_idle(
    load: float, cores: int, spare: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert export_zip.spare_core() is spare


def test_no_load_average_no_second_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", unknown)
    assert export_zip.spare_core() is False


class _HoldingBack:
    """A compressor that gives nothing out until flushed (as ISA-L may, header included)."""

    def __init__(self, level: int, method: int, wbits: int) -> None:
        self._real = zlib.compressobj(level, method, wbits)
        self._held: list[bytes] = []

    def compress(self, data: bytes, /) -> bytes:
        self._held.append(self._real.compress(data))
        return b""

    def flush(self) -> bytes:
        return b"".join(self._held) + self._real.flush()


def test_the_compressors_header_is_replaced_wherever_it_comes_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export_zip, "_compressobj", _HoldingBack)
    hour = export_zip.HourFile(5)
    first = hour.pack([b"a\n", b"b\n"], first=True, last=False)
    rest = hour.pack([b"c\n"], first=False, last=True)
    assert first == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"  # GzipFile's header alone
    assert gzip.decompress(first + rest) == b"a\nb\nc\n"
