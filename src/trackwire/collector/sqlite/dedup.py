"""De-duplication by 64-bit hash: how the SQLite store finds a message id it already stored.

Message ids are random text (UUIDs, mostly) in a scope (see
:func:`trackwire.collector.store_ingest.dedup_scope`). A unique index on the two texts held
entries of ~50 bytes in random order; at a million events it no longer fitted the page cache,
and each insert dirtied (and later checkpointed) a page of it. The store keeps instead a 64-bit
hash of scope and key in ``events.dedup_hash``, indexed as an integer: a third of the size.

Two distinct keys may share a hash, so a hash match is only a candidate: it counts as a
duplicate when the stored row's scope and key texts are the same (:func:`stored_pairs`).
The hash is part of the file format: never change :func:`dedup_hash`.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection, Iterable
from typing import Final

__all__ = ["SQL_FUNCTION", "dedup_hash", "register", "stored_pairs"]

#: The name of :func:`dedup_hash` inside SQL (the migration back-fills stored events with it).
SQL_FUNCTION: Final = "trackwire_dedup_hash"
#: Hashes bound per ``IN (...)``: far below SQLite's limit on host parameters.
_IN_CHUNK: Final = 500


def dedup_hash(scope: str, key: str) -> int:
    """The signed 64-bit hash of a de-duplication key in its scope (BLAKE2b, 8 bytes).

    ``surrogatepass``: an id is any text a request can carry, lone surrogates included.
    """
    data = f"{scope}\x00{key}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _sql_dedup_hash(scope: str | None, key: str | None) -> int | None:
    if scope is None or key is None:
        return None
    return dedup_hash(str(scope), str(key))


def register(conn: sqlite3.Connection) -> None:
    """Make :data:`SQL_FUNCTION` callable in SQL on ``conn`` (needed by the migration)."""
    conn.create_function(SQL_FUNCTION, 2, _sql_dedup_hash, deterministic=True)


def stored_pairs(
    conn: sqlite3.Connection, hashes: Collection[int], wanted: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The ``(scope, key)`` pairs of ``wanted`` that a stored event already has.

    Args:
        conn: a connection to the store.
        hashes: the hashes of ``wanted`` (:func:`dedup_hash`).
        wanted: the pairs asked about.
    """
    values = list(hashes)
    candidates: set[tuple[str, str]] = set()
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        # The IS NOT NULL lets SQLite use the partial index; only matches touch the table.
        rows = conn.execute(
            "SELECT dedup_scope, dedup_key FROM events WHERE dedup_hash IS NOT NULL "
            f"AND dedup_hash IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        candidates.update(rows)
    if not candidates:
        return set()
    return candidates.intersection(wanted)
