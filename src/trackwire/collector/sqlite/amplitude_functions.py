"""What a read connection needs before it runs a query: value functions and a time limit.

The functions are :mod:`trackwire.collector.query.values` registered under SQL names, so SQLite
compares and labels values exactly as the store-independent layer defines them. The time limit
is SQLite's progress handler: it runs every few thousand virtual-machine steps and interrupts
the statement once the deadline has passed, so an expensive query stops instead of holding a
reader (and the CPU) for minutes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from trackwire.collector.query import values
from trackwire.collector.query.limits import QueryTimeoutError

__all__ = ["ELEMENT", "FOLDED", "STEPS", "TEXT", "prepared"]

#: ``tw_text(json)``: the canonical text of a JSON value (see :func:`values.canonical_json`).
TEXT: Final = "tw_text"
#: ``tw_folded(json)``: that text case folded, for ``contains``.
FOLDED: Final = "tw_folded"
#: ``tw_element(type, value)``: the canonical text of a ``json_each`` element.
ELEMENT: Final = "tw_element"
#: Virtual-machine steps between two deadline checks (a few milliseconds of work).
STEPS: Final = 20_000


def _folded(raw: str | bytes | None) -> str | None:
    # Once per row a contains filter reads: a plain JSON string is folded without decoding.
    if type(raw) is str and len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and "\\" not in raw:
        return raw[1:-1].casefold()
    return values.fold(values.canonical_json(raw))


def _install(conn: sqlite3.Connection) -> None:
    conn.create_function(TEXT, 1, values.canonical_json, deterministic=True)
    conn.create_function(FOLDED, 1, _folded, deterministic=True)
    conn.create_function(ELEMENT, 2, values.canonical_element, deterministic=True)


@contextmanager
def prepared(
    conn: sqlite3.Connection, time_limit_s: float | None, steps: int = STEPS
) -> Iterator[sqlite3.Connection]:
    """``conn`` with the value functions registered and, while the block runs, statements
    interrupted after ``time_limit_s`` seconds (None: no limit), checked every ``steps``
    virtual-machine steps.

    Raises:
        QueryTimeoutError: a statement ran past the limit (it was cancelled).
    """
    _install(conn)
    if time_limit_s is None:
        yield conn
        return
    deadline = time.monotonic() + time_limit_s

    def expired() -> bool:
        return time.monotonic() >= deadline

    conn.set_progress_handler(expired, steps)
    try:
        yield conn
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc) and expired():
            raise QueryTimeoutError(time_limit_s) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)
