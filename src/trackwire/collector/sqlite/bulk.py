"""Many rows into one SQLite table in a few multi-row ``INSERT ... VALUES`` statements.

Python's sqlite3 ``executemany`` releases the GIL around every row's step and takes it back
after: with the collector's other threads parsing requests, each row of a request became a
hand-off of the GIL (and a wait to get it back). :func:`insert_rows` binds a chunk of rows to
one statement, stepped once. SQLite inserts the rows of a ``VALUES`` list in their order, so
a rowid table's ids still follow the rows.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["CHUNKS", "insert_rows"]

#: Rows per statement, largest first: any count is cut into these (400 rows: 256, 64, 64, 16),
#: so a handful of statements per table serve every request.
CHUNKS: Final = (256, 64, 16, 4, 1)


def insert_rows(
    conn: sqlite3.Connection,
    head: str,
    width: int,
    rows: Iterable[Iterable[Any]],
    tail: str = "",
) -> int:
    """Insert ``rows`` (each ``width`` values) with ``head`` (``"INSERT INTO t (a, b)"``) and
    an optional ``tail`` after the values (an ``ON CONFLICT`` clause; rows are applied in
    order, so a later row's conflict sees the earlier ones). Both are fixed texts of the
    caller's, never a request's. Returns how many rows were inserted (or updated)."""
    values = tuple(itertools.chain.from_iterable(rows))
    count, rest = divmod(len(values), width)
    if rest:
        raise ValueError(f"{len(values)} values are not rows of {width}")
    inserted = 0
    start = 0
    for size in CHUNKS:
        while count - start >= size:
            chunk = values[start * width : (start + size) * width]
            inserted += conn.execute(_statement(head, width, size, tail), chunk).rowcount
            start += size
    return inserted


@functools.lru_cache(maxsize=256)
def _statement(head: str, width: int, rows: int, tail: str) -> str:
    row = f"({', '.join('?' * width)})"
    return f"{head} VALUES {', '.join([row] * rows)}{tail}"
