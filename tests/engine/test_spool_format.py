"""The spool's record and acknowledgement formats: every truncation and every flipped byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwire._engine import spool_dir
from trackwire._engine.spool_format import (
    ACK_SIZE,
    HEADER_SIZE,
    MAGIC,
    decode_acks,
    encode_ack,
    encode_acks,
    encode_header,
    encode_record,
    ends_in_corrupt,
    scan_records,
)

PAYLOADS = [b'{"n":1}', b"", b'{"event":"Signed Up","n":2}', b"x" * 300]


def _file(payloads: list[bytes]) -> tuple[bytes, list[int]]:
    """The bytes of a segment holding ``payloads`` and the offset where each record ends."""
    data = b""
    ends = []
    for payload in payloads:
        data += encode_record(payload)
        ends.append(len(data))
    return data, ends


@pytest.mark.parametrize(
    ("payloads", "expected_offsets"),
    [
        ([], []),
        ([b"a"], [0]),
        ([b"a", b"bc"], [0, HEADER_SIZE + 1]),
        ([b"", b""], [0, HEADER_SIZE]),
    ],
)
def test_round_trip(payloads: list[bytes], expected_offsets: list[int]) -> None:
    data, _ = _file(payloads)
    records, consumed, corrupt = scan_records(data)
    assert [r.payload for r in records] == payloads
    assert [r.offset for r in records] == expected_offsets
    assert consumed == len(data)
    assert corrupt == 0


def test_base_offset_is_added() -> None:
    data, _ = _file([b"a", b"b"])
    records, _, _ = scan_records(data, base=1000)
    assert [r.offset for r in records] == [1000, 1000 + HEADER_SIZE + 1]
    assert records[1].end == 1000 + len(data)


def test_truncated_at_every_offset() -> None:
    data, ends = _file(PAYLOADS)
    for cut in range(len(data) + 1):
        records, consumed, corrupt = scan_records(data[:cut])
        whole = [p for p, end in zip(PAYLOADS, ends, strict=True) if end <= cut]
        assert [r.payload for r in records] == whole, cut
        at_boundary = cut == 0 or cut in ends
        assert corrupt == (0 if at_boundary else 1), cut
        assert consumed == cut


def test_every_flipped_byte_loses_only_its_record() -> None:
    data, ends = _file(PAYLOADS)
    starts = [0, *ends[:-1]]
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        records, _, corrupt = scan_records(bytes(damaged))
        hit = next(i for i, end in enumerate(ends) if position < end)
        others = [p for i, p in enumerate(PAYLOADS) if i != hit]
        got = [r.payload for r in records]
        assert corrupt == 1, position
        assert got == others, position
        assert all(r.offset in starts for r in records)


def test_garbage_between_records_is_one_corrupt_stretch() -> None:
    good = encode_record(b"one")
    records, _, corrupt = scan_records(good + b"\x00" * 50 + MAGIC[:2] + good)
    assert [r.payload for r in records] == [b"one", b"one"]
    assert corrupt == 1


def test_an_absurd_length_is_corrupt_not_a_huge_read() -> None:
    bogus = MAGIC + (0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0"
    records, _, corrupt = scan_records(bogus + encode_record(b"ok"))
    assert [r.payload for r in records] == [b"ok"]
    assert corrupt == 1


@pytest.mark.parametrize("chunk", [1, 5, 13, 64, 1000])
def test_chunked_scan_matches_whole_scan(chunk: int) -> None:
    data, _ = _file(PAYLOADS * 3)
    found = []
    offset = 0
    while offset < len(data):
        piece = data[offset : offset + chunk]
        final = offset + len(piece) >= len(data)
        records, consumed, corrupt = scan_records(piece, offset, final=final)
        assert corrupt == 0
        found.extend(records)
        if consumed == 0:
            chunk *= 2  # as the reader does for a record longer than its chunk
            continue
        offset += consumed
    assert [r.payload for r in found] == PAYLOADS * 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", []),
        (encode_ack(0) + encode_ack(77), [0, 77]),
        (encode_ack(5) + encode_ack(9)[:5], [5]),  # torn last entry
        (encode_ack(5)[:4] + b"\x01\x02\x03\x04" + encode_ack(9), [9]),  # garbled entry
    ],
)
def test_acks(data: bytes, expected: list[int]) -> None:
    assert list(decode_acks(data)) == expected
    assert ACK_SIZE == 8


def test_golden_bytes_of_a_record() -> None:
    # Spools outlive processes and versions: these bytes must read the same forever.
    record = bytes.fromhex("54 57 72 31 07 00 00 00 7e 3b 4b d4") + b'{"n":1}'
    assert encode_record(b'{"n":1}') == record  # magic "TWr1" | length LE | crc32 LE | payload
    assert encode_header(b'{"n":1}') == record[:HEADER_SIZE]
    (found,), consumed, corrupt = scan_records(record)
    assert (found.offset, found.payload, found.end, consumed, corrupt) == (0, b'{"n":1}', 19, 19, 0)


def test_golden_bytes_of_acknowledgements() -> None:
    # offset u32 LE, then its bitwise complement
    golden = bytes.fromhex("00000000 ffffffff 13000000 ecffffff 04030201 fbfcfdfe")
    assert encode_acks([0, 19, 0x01020304]) == golden
    assert b"".join(encode_ack(n) for n in (0, 19, 0x01020304)) == golden
    assert list(decode_acks(golden)) == [0, 19, 0x01020304]


def _scan_in_two(data: bytes, cut: int) -> tuple[list[bytes], int]:
    """Scan ``data`` as a reader does, the first chunk ending at ``cut``."""
    found: list[bytes] = []
    corrupt = 0
    offset = 0
    in_corrupt = False
    chunk = cut
    while offset < len(data):
        piece = data[offset : offset + chunk]
        final = offset + len(piece) >= len(data)
        records, consumed, count = scan_records(piece, offset, final=final, in_corrupt=in_corrupt)
        in_corrupt = ends_in_corrupt(records, offset, consumed, in_corrupt=in_corrupt)
        corrupt += count
        found.extend(record.payload for record in records)
        if consumed == 0:
            chunk *= 2
            continue
        offset += consumed
        chunk = len(data)
    return found, corrupt


def test_a_chunk_cut_anywhere_in_a_corrupt_stretch_or_the_next_magic_counts_it_once() -> None:
    first, second = encode_record(b'{"a":1}'), encode_record(b'{"b":2}')
    garbage = b"\x00garbage\xffTW"  # ends like the start of a magic, to mislead
    data = first + garbage + second
    assert scan_records(data)[2] == 1
    # Every cut from inside the first record to past the second record's magic.
    for cut in range(1, len(first) + len(garbage) + len(MAGIC) + 2):
        assert _scan_in_two(data, cut) == ([b'{"a":1}', b'{"b":2}'], 1), cut


def test_a_segment_read_in_chunks_counts_a_cut_corrupt_stretch_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = encode_record(b'{"a":1}'), encode_record(b'{"b":2}')
    garbage = b"\x01" * 40
    path = tmp_path / "seg-00000001.log"
    path.write_bytes(first + garbage + second)
    # The read chunk ends two bytes into the second record's magic.
    monkeypatch.setattr(spool_dir, "_CHUNK", len(first) + len(garbage) + 2)
    items = list(spool_dir.iter_segment(str(path)))
    records = [item for item in items if not isinstance(item, int)]
    assert records == [(0, b'{"a":1}'), (len(first) + len(garbage), b'{"b":2}')]
    assert [item for item in items if isinstance(item, int)] == [1]
    scan = spool_dir.scan_segment(str(path), set())
    assert (scan.live, scan.corrupt) == (2, 1)


@pytest.mark.parametrize("chunk", [13, 16, 29])
def test_a_corrupt_stretch_longer_than_a_chunk_is_one_corrupt_record(chunk: int) -> None:
    first, second = encode_record(b'{"a":1}'), encode_record(b'{"b":2}')
    data = first + b"\x07" * 100 + second  # whole chunks of nothing but garbage
    found: list[bytes] = []
    corrupt = 0
    offset = 0
    in_corrupt = False
    size = chunk
    while offset < len(data):
        piece = data[offset : offset + size]
        final = offset + len(piece) >= len(data)
        records, consumed, count = scan_records(piece, offset, final=final, in_corrupt=in_corrupt)
        in_corrupt = ends_in_corrupt(records, offset, consumed, in_corrupt=in_corrupt)
        corrupt += count
        found.extend(record.payload for record in records)
        if consumed == 0:
            size *= 2
            continue
        offset += consumed
        size = chunk
    assert (found, corrupt) == ([b'{"a":1}', b'{"b":2}'], 1)
