"""Reading an export archive: a zip of gzipped JSON-lines files, one or more per hour."""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Iterator
from typing import IO, Any

import orjson

__all__ = ["iter_export_events"]


def iter_export_events(archive: str | os.PathLike[str] | IO[bytes]) -> Iterator[dict[str, Any]]:
    """Every event of an export archive, hour by hour, one decoded line at a time.

    Members are read in name order (Amplitude names them by project, day and hour) and
    decompressed as they are read, so memory stays flat however large the archive.

    Args:
        archive: a path or a seekable binary stream holding the zip archive.
    """
    with zipfile.ZipFile(archive) as zipped:
        for name in sorted(zipped.namelist(), key=_member_order):
            if name.endswith("/"):
                continue
            with zipped.open(name) as member, gzip.open(member, "rb") as lines:
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)


def _member_order(name: str) -> tuple[str, int, int]:
    """Sort ``<project>_<yyyy-mm-dd>_<H>#<part>.json.gz`` by day, then hour, then part.

    Hours are not zero-padded (Amplitude writes ``_9#`` before ``_10#``), so a plain text sort
    would put 10 before 9.
    """
    base = name.rsplit("/", 1)[-1]
    stem = base.split(".", 1)[0]
    try:
        head, part = stem.rsplit("#", 1)
        rest, hour = head.rsplit("_", 1)
        day = rest.rsplit("_", 1)[-1]
        return day, int(hour), int(part)
    except ValueError:
        return base, 0, 0
