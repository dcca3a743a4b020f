"""Small value rules every collector module shares, written once.

JSON has no separate boolean-as-number, but Python's ``bool`` is an ``int``: every check that a
decoded value is a number goes through :func:`is_number` / :func:`is_int` so ``true`` is never
counted as ``1``.
"""

from __future__ import annotations

import time
from typing import Any, Final, TypeGuard

__all__ = ["INT64", "is_int", "is_number", "now_ms"]

#: The integers a 64-bit column (SQLite INTEGER, PostgreSQL BIGINT) holds.
INT64: Final = range(-(2**63), 2**63)


def now_ms() -> int:
    """The current time in epoch milliseconds (integer arithmetic, no float rounding)."""
    return time.time_ns() // 1_000_000


def is_number(value: Any) -> TypeGuard[int | float]:
    """Whether a decoded JSON value is a number (``true``/``false`` are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> TypeGuard[int]:
    """Whether a decoded JSON value is an integer (``true``/``false`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)
