"""The export's exact bytes: every line of an archive of varied rows against a golden file.

The export's hot path is tuned for speed; this pins its output so a faster version must write
the same bytes (regenerate the golden file only for a deliberate change of the output:
``python tests/collector/test_export_golden.py``).
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from trackwire.collector.query import export, export_zip
from trackwire.collector.query.export import ExportRow, archive_chunks, pages_of

GOLDEN = Path(__file__).with_name("export_golden.jsonl")
_HOUR = 3_600_000
_T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _rows() -> list[ExportRow]:
    """Rows of every vendor and shape the export handles, over three upload hours."""
    amp_ops = {"$set": {"plan": "pro"}, "$add": {"n": 1}, "age": 3}
    cases: list[tuple[str, str, str | None, object, dict[str, object]]] = [
        # (vendor, type, event name, stored user properties, payload)
        ("amplitude", "event", "Song Played", '{"plan":"free","x":1}',
         {"event_properties": {"genre": "rock", "price": 4.5}, "country": "FR",
          "platform": "Web", "user_properties": amp_ops}),
        ("amplitude", "event", "Song Played", '{"plan":"free"}',
         {"city": "Lyon", "country": "FR", "ip": "1.2.3.4", "carrier": "Orange",
          "app_version": "2.1", "paying": True, "location_lat": 1.5, "library": "x/1"}),
        ("amplitude", "identify", "$identify", "{}", {"user_properties": {"$set": {"a": "b"}}}),
        ("amplitude", "event", "A", None, {"user_properties": ["not", "a", "dict"]}),
        ("amplitude", "event", "A", "[1]", {"user_properties": {"k": "v"}}),
        ("amplitude", "event", "A", '{"k":"old","z":null}', {"user_properties": {"k": "new"}}),
        ("amplitude", "event", "Unicode", '{"name":"é"}',
         {"event_properties": {"s": 'a"b\n\u2028é\x01', "n": None, "l": [1, {"m": 2}]}}),
        ("amplitude", "event", "A", None, []),  # not an object: treated as empty
        ("segment", "track", "Order Completed", '{"email":"a@b.c"}',
         {"properties": {"total": 9}, "context": {"traits": {"plan": "team"},
          "location": {"country": "DE", "city": "Berlin"}, "os": {"name": "iOS"}}}),
        ("segment", "identify", None, '{"email":"a@b.c"}', {"traits": {"email": "x@y.z"}}),
        ("segment", "page", "Home", None, {"properties": {"path": "/"}}),
        ("segment", "screen", None, None, {}),
        ("mparticle", "custom_event", "Play", '{"tier":"gold"}',
         {"user_attributes": {"tier": "silver"}, "events": [{"data": {
             "event_name": "Play", "custom_attributes": {"song": "x"}}}]}),
    ]  # fmt: skip
    rows = []
    for i in range(60):
        vendor, type_, name, current, payload = cases[i % len(cases)]
        received = _T0 + (i // 25) * _HOUR + i * 7_001
        row = ExportRow(
            vendor, 100 + i, 3 + i % 2, type_, name,
            None if i % 5 == 0 else f"user-{i % 4}", f"device-{i % 3}",
            None if i % 7 == 0 else 1000 + i % 4, None if i % 3 == 0 else received // 1800_000,
            None if i % 4 == 0 else received - 5_123, received, f"insert-{i}",
            None if i % 6 else '{"org": ["a", "b"]}', orjson.dumps(payload),
            None, None, current if isinstance(current, str) else None,
        )  # fmt: skip
        rows.append(row)
    # Events stored with a shared request context (one Segment batch, one mParticle batch).
    envelope = '{"context":{"traits":{"plan":"pro"},"location":{"country":"NL"}},"userId":"u"}'
    for i, (kind, body, vendor, type_, name, payload) in enumerate([
        ("segment_envelope", envelope, "segment", "track", "Clicked",
         {"properties": {"b": 1}, "context": {"location": {"city": "Delft"}}}),
        ("segment_envelope", envelope, "segment", "identify", None, {"traits": {"t": 2}}),
        ("mparticle_batch", '{"user_attributes":{"tier":"gold"},"device_info":{}}', "mparticle",
         "custom_event", "Play", {"data": {"event_name": "Play", "custom_attributes": {"c": 3}}}),
    ]):  # fmt: skip
        received = _T0 + 2 * _HOUR + 900_000 + i
        rows.append(ExportRow(
            vendor, 500 + i, 9, type_, name, "u", "d", 77, 5, received, received, f"ctx-{i}",
            None, orjson.dumps(payload), kind, body, '{"seen":true}',
        ))  # fmt: skip
    return rows


def _archive() -> bytes:
    return b"".join(archive_chunks(pages_of(_rows()), 3))


def _archive_lines() -> list[bytes]:
    """Each member's name, then its lines, as the archive of :func:`_rows` holds them."""
    archive = zipfile.ZipFile(io.BytesIO(_archive()))
    out: list[bytes] = []
    for name in archive.namelist():
        out.append(b"# " + name.encode())
        out.extend(gzip.decompress(archive.read(name)).splitlines())
    return out


def _gzip_file(data: bytes) -> bytes:
    """``data`` as :class:`gzip.GzipFile` writes it with the export's settings."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=1, mtime=0) as f:
        f.write(data)
    return out.getvalue()


def _isal_compressobj() -> Callable[..., object]:
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    compressobj: Callable[..., object] = isal_zlib.compressobj
    return compressobj


@pytest.fixture(params=["zlib", "isal"])
def compressor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The export compressing with zlib, then with ISA-L (where installed)."""
    name: str = request.param
    made = zlib.compressobj if name == "zlib" else _isal_compressobj()
    monkeypatch.setattr(export_zip, "_compressobj", made)
    return name


#: Blocks of 512 lines (an hour's lines compressed at once here), or of 2 (many per hour).
_BLOCKS = [pytest.param(512, id="big-blocks"), pytest.param(2, id="small-blocks")]


@pytest.mark.usefixtures("compressor")
@pytest.mark.parametrize("block", _BLOCKS)
def test_the_archive_is_byte_for_byte_the_golden_export(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "_LINES", block)
    expected = GOLDEN.read_bytes().splitlines()
    got = _archive_lines()
    assert len(got) == len(expected)
    for number, (line, want) in enumerate(zip(got, expected, strict=True), 1):
        assert line == want, f"line {number} of {GOLDEN.name} differs"


@pytest.mark.parametrize("block", _BLOCKS)
def test_with_zlib_each_hour_file_is_the_bytes_gzip_writes(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With zlib, each hour's file is what :class:`gzip.GzipFile` writes for its lines at
    level 1 (header included), as before ISA-L, however the lines were cut up."""
    monkeypatch.setattr(export_zip, "_compressobj", zlib.compressobj)
    monkeypatch.setattr(export, "_LINES", block)
    archive = zipfile.ZipFile(io.BytesIO(_archive()))
    names = archive.namelist()
    assert len(names) == 3
    for name in names:
        packed = archive.read(name)
        assert packed == _gzip_file(gzip.decompress(packed))


@pytest.mark.usefixtures("compressor")
def test_each_hour_file_starts_with_gzip_files_header() -> None:
    archive = zipfile.ZipFile(io.BytesIO(_archive()))
    for name in archive.namelist():
        assert archive.read(name)[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"


if __name__ == "__main__":
    GOLDEN.write_bytes(b"\n".join(_archive_lines()) + b"\n")
