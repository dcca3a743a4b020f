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
from collections.abc import Iterable, Sequence
from typing import Any, Final

__all__ = ["CHUNKS", "WHOLE_TRANSACTION", "insert_columns", "insert_rows", "variable_limit"]

#: Rows per statement, largest first: any count is cut into these (400 rows: 256, 64, 64, 16),
#: so a handful of statements per table serve every request. Sizes whose rows would bind more
#: parameters than the connection allows (:func:`variable_limit`) are skipped.
CHUNKS: Final = (256, 64, 16, 4, 1)
#: The conflict clause of the writer's bulk merges (``INSERT OR ROLLBACK INTO``, ``UPDATE OR
#: ROLLBACK``). A statement that could fail half-way keeps a copy of every page it changes, to
#: undo only itself: for a merge, about the whole table it merges into (tens of MB at millions
#: of keys), held in the writer's memory (its ``temp_store``). A merge runs after the group's
#: requests, and any failure there fails the whole group anyway, so it goes without: a failing
#: merge rolls back the transaction.
WHOLE_TRANSACTION: Final = "OR ROLLBACK"


def insert_rows(
    conn: sqlite3.Connection,
    head: str,
    width: int,
    rows: Iterable[Iterable[Any]],
    tail: str = "",
    shared: tuple[Any, ...] = (),
) -> int:
    """Insert ``rows`` (each ``width`` values) with ``head`` (``"INSERT INTO t (a, b)"``) and
    an optional ``tail`` after the values (an ``ON CONFLICT`` clause; rows are applied in
    order, so a later row's conflict sees the earlier ones). Both are fixed texts of the
    caller's, never a request's. Returns how many rows were inserted (or updated).

    ``shared`` values are the same in every row: ``head`` names their columns first, then the
    rows' own. They are bound once per statement (``INSERT ... SELECT ?1, ?2, column1, ...
    FROM (VALUES ...)``) instead of once per row: binding a parameter costs about as much as
    SQLite's work to store it."""
    return _insert_values(
        conn, head, width, list(itertools.chain.from_iterable(rows)), tail, shared
    )


def insert_columns(
    conn: sqlite3.Connection,
    head: str,
    columns: Sequence[Sequence[Any]],
    tail: str = "",
    shared: tuple[Any, ...] = (),
) -> int:
    """:func:`insert_rows` with the rows given column by column (one value per row in each
    column, every column as long): the values are laid out row after row by one slice
    assignment per column, in C, without building a tuple per row."""
    if not columns:
        raise ValueError("no columns to insert")
    width = len(columns)
    values: list[Any] = [None] * (len(columns[0]) * width)
    for offset, column in enumerate(columns):
        values[offset::width] = column  # a column of another length raises ValueError
    return _insert_values(conn, head, width, values, tail, shared)


def _insert_values(
    conn: sqlite3.Connection,
    head: str,
    width: int,
    values: list[Any],
    tail: str,
    shared: tuple[Any, ...],
) -> int:
    """The rows' ``values`` (row after row) in as few statements as :data:`CHUNKS` allow."""
    count, rest = divmod(len(values), width)
    if rest:
        raise ValueError(f"{len(values)} values are not rows of {width}")
    limit = variable_limit(conn) - len(shared)
    first = list(shared)
    inserted = 0
    start = 0
    for size in CHUNKS:
        if size > 1 and size * width > limit:
            continue  # more host parameters than this SQLite takes in one statement
        while count - start >= size:
            chunk = values[start * width : (start + size) * width]
            if shared:
                statement = _select_statement(head, len(shared), width, size, tail)
                chunk = first + chunk
            else:
                statement = _statement(head, width, size, tail)
            inserted += conn.execute(statement, chunk).rowcount
            start += size
    return inserted


def variable_limit(conn: sqlite3.Connection) -> int:
    """The most host parameters one statement of ``conn`` may bind: 999 by default before
    SQLite 3.32, 32,766 since (Python 3.11 reads the connection's own limit)."""
    getlimit = getattr(conn, "getlimit", None)
    if getlimit is not None:
        # SQLITE_LIMIT_VARIABLE_NUMBER is 9 in SQLite's C API (named in Python 3.11+).
        limit: int = getlimit(getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", 9))
        return limit
    return 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


@functools.lru_cache(maxsize=256)
def _statement(head: str, width: int, rows: int, tail: str) -> str:
    row = f"({', '.join('?' * width)})"
    return f"{head} VALUES {', '.join([row] * rows)}{tail}"


@functools.lru_cache(maxsize=256)
def _select_statement(head: str, shared: int, width: int, rows: int, tail: str) -> str:
    # ?1..?n come first in the text, so the rows' plain ? are numbered from n + 1 on.
    columns = [f"?{n}" for n in range(1, shared + 1)]
    columns += [f"column{n}" for n in range(1, width + 1)]
    row = f"({', '.join('?' * width)})"
    # An upsert's ON CONFLICT after a SELECT needs a WHERE before it, or SQLite reads the ON
    # as a join constraint.
    where = " WHERE true" if tail else ""
    values = ", ".join([row] * rows)
    return f"{head} SELECT {', '.join(columns)} FROM (VALUES {values}){where}{tail}"
