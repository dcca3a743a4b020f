"""How long one query may run, and the error a store raises when it ran out of time.

The caps on what a request may ask for (filters, segments, group-bys, values) are checked with
the parameters, in :mod:`trackwire.amplitude.query.params`, so the client refuses the same
requests before sending them. The time limit is the store's: SQLite interrupts the statement
from its progress handler, PostgreSQL would set ``statement_timeout``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_TIME_LIMIT_S", "MAX_HITS", "QueryTimeoutError"]

#: Seconds one query may run before the store cancels it. Every query of the benchmark at a
#: million events takes well under a second; a minute-long query is a request to refuse.
DEFAULT_TIME_LIMIT_S: Final = 20.0


#: Most events one chart (funnel, retention, users, LTV) reads per event of the request: its
#: work after the store's is in Python, in memory, so a range holding more is refused.
MAX_HITS: Final = 3_000_000


class QueryTimeoutError(Exception):
    """A query ran past its time limit and was cancelled (the route answers 503)."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(
            f"the query was cancelled after {limit_s:g} s (the collector's per-query time "
            "limit): narrow the date range, or use fewer filters, segments or group-bys"
        )
        self.limit_s = limit_s
