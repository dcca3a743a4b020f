"""Writes the spool's disk refused: counted exactly, said once loudly, summed up at the end.

A full or failing disk refuses every write for as long as it lasts, thousands a second: one
log line each would flood the log, and one line per thousand (or none) hides how much is no
longer durable. So the first refusal of a stretch is logged at ERROR at once, and the stretch
ends with one line of counts, when writes work again or when the spool closes.
"""

from __future__ import annotations

import logging

__all__ = ["WriteFailures"]

logger = logging.getLogger("trackwire")


class WriteFailures:
    """The spool's count of refused writes, and what it says about them.

    Args:
        where: the spool root, for the log lines.
    """

    __slots__ = (
        "_acks_failing",
        "_errors_before",
        "_memory_only_before",
        "errors",
        "failing",
        "memory_only",
        "where",
    )

    def __init__(self, where: str) -> None:
        self.where = where
        self.errors = 0  # writes refused (records, new segments, syncs, acknowledgements)
        self.memory_only = 0  # messages accepted while the disk refused them (not durable)
        self.failing = False  # in a stretch of refused record writes
        self._errors_before = 0
        self._memory_only_before = 0
        self._acks_failing = False

    def failed(self, exc: OSError) -> None:
        """A record, a new segment or a sync was refused; the first of a stretch is said."""
        self.errors += 1
        if self.failing:
            return
        self.failing = True
        self._errors_before = self.errors - 1
        self._memory_only_before = self.memory_only
        logger.error(
            "trackwire: spool: cannot write to the spool in %s (%s): new messages are kept in "
            "memory only (NOT durable) until the disk accepts writes again; stats() counts "
            "them (spool_write_errors, spool_memory_only)",
            self.where,
            exc.strerror or exc,
        )

    def work_again(self) -> None:
        """A record was written after a stretch of refusals: say what the stretch cost."""
        self.summarize("writes work again after")
        self.failing = False

    def summarize(self, what: str) -> None:
        """Log the counts of the current stretch (``what``: why now), if there is one."""
        if not self.failing:
            return
        logger.warning(
            "trackwire: spool: %s %d failed write(s); %d message(s) were kept in memory only",
            what,
            self.errors - self._errors_before,
            self.memory_only - self._memory_only_before,
        )

    def ack_failed(self, exc: OSError) -> None:
        """An acknowledgement was refused: its messages will be sent again (at least once)."""
        self.errors += 1
        if not self._acks_failing:
            self._acks_failing = True
            logger.warning(
                "trackwire: spool: cannot record acknowledgements in %s (%s): messages "
                "already sent may be sent again by the next process",
                self.where,
                exc.strerror or exc,
            )

    def acks_work(self) -> None:
        """An acknowledgement was written: the next refusal is said again."""
        self._acks_failing = False
