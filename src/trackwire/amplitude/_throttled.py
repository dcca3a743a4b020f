"""Stand-in for ``trackwire._engine.retry.Throttled`` until the client layer lands on main."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Throttled:
    """Some messages must wait ``after`` seconds; ``rejected`` fail; the rest go again now."""

    reason: str
    after: float
    deferred: Collection[int]
    rejected: Collection[int] = ()
    status: int | None = 429
