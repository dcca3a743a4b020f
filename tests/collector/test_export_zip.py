"""The export's zip side: GzipFile's header whichever the compressor, and an export stopped
early (the client went away, a read failed) ends quietly or with the read's error."""

from __future__ import annotations

import gc
import gzip
import sys
import zlib
from collections.abc import Generator, Iterator
from typing import Any

import orjson
import pytest

from trackwire.collector.query import export, export_zip
from trackwire.collector.query.export import ExportRow, archive_chunks, pages_of

_T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_HOUR = 3_600_000
_GZIP_FILE_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"


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
    stream = export_zip.GzipStream()
    first = stream.pack(b"a\nb\n")
    rest = stream.pack(b"c\n") + stream.finish()
    assert first == _GZIP_FILE_HEADER  # GzipFile's header, before any data
    assert gzip.decompress(first + rest) == b"a\nb\nc\n"


def test_the_compressor_in_use_is_reported() -> None:
    try:
        import isal  # noqa: F401
    except ImportError:
        assert export_zip.COMPRESSOR == "zlib"
    else:
        assert export_zip.COMPRESSOR == "isal"


def _rows(count: int, fail_at: int | None = None) -> Iterator[ExportRow]:
    """``count`` events over ``count // 10`` upload hours; raises at row ``fail_at``."""
    for i in range(count):
        if i == fail_at:
            raise RuntimeError("the store went away")
        received = _T0 + (i // 10) * _HOUR + i
        payload = orjson.dumps({"event_properties": {"n": i}, "country": "FR"})
        yield ExportRow("amplitude", i + 1, 3, "event", "Play", f"u-{i % 7}", "d", 7, None,
                        received, received, f"i-{i}", None, payload)  # fmt: skip


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What Python could not raise (an error in a collected object's __del__), recorded."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_a_reader_leaving_mid_hour_closes_the_stream_quietly(
    monkeypatch: pytest.MonkeyPatch, unraisable: list[Any]
) -> None:
    """Closing the stream with an hour's member open raised ValueError from the zip before
    (the route closes it when the client goes away)."""
    monkeypatch.setattr(export, "_LINES", 3)
    monkeypatch.setattr(export, "_CHUNK", 1)  # a chunk after every block of lines
    chunks = archive_chunks(pages_of(_rows(200)), 3)
    assert isinstance(chunks, Generator)
    assert next(chunks)
    chunks.close()
    del chunks
    gc.collect()
    assert unraisable == []


def test_a_failing_read_reaches_the_reader(
    monkeypatch: pytest.MonkeyPatch, unraisable: list[Any]
) -> None:
    monkeypatch.setattr(export, "_LINES", 3)
    monkeypatch.setattr(export, "_CHUNK", 1)
    got = 0
    with pytest.raises(RuntimeError, match="the store went away"):
        for chunk in archive_chunks(pages_of(_rows(200, fail_at=150), size=10), 3):
            got += len(chunk)
    gc.collect()
    assert got > 0  # the hours before it went out
    assert unraisable == []
