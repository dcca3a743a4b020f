"""The spool's on-disk formats: framed message records and acknowledgement entries.

A segment file is a run of records, each::

    magic (4 bytes) | length (u32 LE) | crc32 of the payload (u32 LE) | payload (length bytes)

A crash can leave a record cut short, and a disk can flip bytes; a reader detects both (the
length runs past the end, or the CRC does not match), counts one corrupt record, and looks
for the next magic to carry on. Nothing here raises for bad bytes.

An acknowledgement file (one per segment) is a run of fixed 8-byte entries, the offset of an
acknowledged record and its bitwise complement, so a torn or garbled entry is recognised and
ignored (the record is then simply sent again: delivery is at least once).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Final, NamedTuple

__all__ = [
    "ACK_SIZE",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_PAYLOAD",
    "Record",
    "decode_acks",
    "encode_ack",
    "encode_acks",
    "encode_header",
    "encode_record",
    "ends_in_corrupt",
    "scan_records",
]

MAGIC: Final = b"TWr1"
_HEADER: Final = struct.Struct("<4sII")
HEADER_SIZE: Final = _HEADER.size
#: Largest payload a record may carry; a larger length field means the header is garbage.
MAX_PAYLOAD: Final = 64 * 1024 * 1024
_ACK: Final = struct.Struct("<II")
ACK_SIZE: Final = _ACK.size
_MASK: Final = 0xFFFFFFFF

_pack_header = _HEADER.pack
_unpack_header = _HEADER.unpack_from
_crc32 = zlib.crc32


class Record(NamedTuple):
    """One intact record found by :func:`scan_records`.

    Attributes:
        offset: where the record starts in its segment (its identity for acknowledgement).
        payload: the message bytes.
        end: where the next record starts.
    """

    offset: int
    payload: bytes
    end: int


def encode_record(payload: bytes) -> bytes:
    """Frame ``payload`` as one record (header and payload)."""
    return _pack_header(MAGIC, len(payload), _crc32(payload)) + payload


def encode_header(payload: bytes) -> bytes:
    """The header of ``payload``'s record (written with it in one ``writev``, no copy)."""
    return _pack_header(MAGIC, len(payload), _crc32(payload))


def scan_records(
    data: bytes, base: int = 0, *, final: bool = True, in_corrupt: bool = False
) -> tuple[list[Record], int, int]:
    """Read the records in ``data``, which starts at segment offset ``base``.

    Args:
        data: bytes read from a segment.
        base: the segment offset of ``data[0]``.
        final: ``data`` reaches the end of the segment, so a record cut short is corrupt
            (a crash in the middle of a write); when False it may just continue past the
            chunk, and scanning stops before it.
        in_corrupt: ``data`` continues a corrupt stretch the previous chunk counted already
            (see :func:`ends_in_corrupt`), so its first bad bytes are not counted again.

    Returns:
        ``(records, consumed, corrupt)``: the intact records, how many bytes of ``data`` were
        dealt with (scan the rest again with more data), and how many corrupt stretches were
        skipped.
    """
    records: list[Record] = []
    corrupt = 0
    pos = 0
    size = len(data)
    in_garbage = in_corrupt  # consecutive bad bytes count as one corrupt record
    while pos < size:
        if size - pos < HEADER_SIZE:
            if not final:
                break
            if not in_garbage:
                corrupt += 1
            pos = size
            break
        magic, length, crc = _unpack_header(data, pos)
        if magic == MAGIC and length <= MAX_PAYLOAD:
            end = pos + HEADER_SIZE + length
            if end > size:
                if not final:
                    break  # the rest of this record is in the next chunk
                if not in_garbage:
                    corrupt += 1
                in_garbage = True
                pos = _resync(data, pos + 1, final)
                continue
            payload = data[pos + HEADER_SIZE : end]
            if _crc32(payload) == crc:
                records.append(Record(base + pos, payload, base + end))
                pos = end
                in_garbage = False
                continue
        if not in_garbage:
            corrupt += 1
        in_garbage = True
        pos = _resync(data, pos + 1, final)
    return records, pos, corrupt


def ends_in_corrupt(
    records: Sequence[Record], base: int, consumed: int, *, in_corrupt: bool
) -> bool:
    """Whether a chunk scanned by :func:`scan_records` stopped inside a corrupt stretch.

    Pass the answer as ``in_corrupt`` when scanning the next chunk: a stretch that a chunk's
    end cuts (up to the first bytes of the next record's magic) is then one corrupt record,
    not two.
    """
    if records:
        return base + consumed > records[-1].end  # bytes skipped after the last good record
    return in_corrupt or consumed > 0  # nothing good: whatever was passed over was bad


def _resync(data: bytes, start: int, final: bool) -> int:
    """Where the next candidate record starts at or after ``start``.

    With none found: the end of ``data``, or (``final`` False) the last few bytes, where a
    magic cut by the chunk's end may begin.
    """
    found = data.find(MAGIC, start)
    if found >= 0:
        return found
    return len(data) if final else max(start, len(data) - len(MAGIC) + 1)


def encode_ack(offset: int) -> bytes:
    """One acknowledgement entry for the record at ``offset``."""
    return _ACK.pack(offset, offset ^ _MASK)


def encode_acks(offsets: Sequence[int]) -> bytes:
    """Acknowledgement entries for the records at ``offsets``, in one buffer."""
    mask = _MASK
    values = [value for offset in offsets for value in (offset, offset ^ mask)]
    return struct.pack(f"<{len(values)}I", *values)


def decode_acks(data: bytes) -> Iterator[int]:
    """The acknowledged offsets in an acknowledgement file; torn or garbled entries are skipped."""
    for start in range(0, len(data) - ACK_SIZE + 1, ACK_SIZE):
        offset, check = _ACK.unpack_from(data, start)
        if offset ^ _MASK == check:
            yield offset
