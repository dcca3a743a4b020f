"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def timed(call: Callable[[], T], limit: float) -> tuple[T, float]:
    """Run ``call`` in a thread: its result and seconds taken; fails instead of hanging."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:
            outcome.append((False, exc))

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit + 5)
    elapsed = time.monotonic() - started
    assert outcome, f"still running after {elapsed:.1f} s (should take under {limit} s)"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value, elapsed  # type: ignore[no-any-return]
