"""The warning log limits lines, never counts: every failed or dropped message is in a line."""

from __future__ import annotations

import logging
import re

import pytest

import trackwire
from tests.sink import Action, Sink
from trackwire._engine import receipts


def _counted(lines: list[str], pattern: str) -> int:
    return sum(
        int(match.group(1)) for line in lines for match in [re.search(pattern, line)] if match
    )


def test_thirty_failed_batches_are_thirty_messages_in_the_log(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.default = Action(status=400, body=b'{"code":"invalid"}')  # final: no retry
    caplog.set_level(logging.WARNING, logger="trackwire")
    client = trackwire.Segment("k", host=sink.url, handle_sigterm=False)
    try:
        for n in range(30):  # one batch each: thirty lines' worth, one line allowed
            client.track("user-1", "Numbered", {"n": n})
            client.flush(timeout=10)
        assert sum(client.stats()["failed"].values()) == 30
    finally:
        client.shutdown(timeout=5)
    lines = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(lines) == 2  # the first failure, and the summary of the rest at shutdown
    assert "1 message(s) not delivered" in lines[0]
    assert re.search(
        r": 29 more message\(s\) not delivered \(\w+\) since the last warning$", lines[1]
    )
    total = _counted(lines, r"(\d+) message\(s\) not delivered") + _counted(
        lines, r"(\d+) more message\(s\) not delivered"
    )
    assert total == 30


def test_a_held_back_count_rides_on_the_next_line_after_the_interval(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr(receipts.time, "monotonic", lambda: now[0])
    caplog.set_level(logging.WARNING, logger="trackwire")
    warn = receipts.WarnOnce(interval=60.0)
    warn.warn("k", "first %d", 1, count=1)
    warn.warn("k", "second %d", 7, count=7)  # held: 7 messages, one line
    warn.warn("k", "third %d", 2, count=2)  # held: 9
    now[0] += 61
    warn.warn("k", "fourth %d", 3, count=3)  # said, with what was held
    warn.warn("k", "fifth %d", 4, count=4, summary="trackwire: s: %d more message(s) lost")
    warn.summarize()
    warn.summarize()  # said once
    assert [r.getMessage() for r in caplog.records] == [
        "first 1",
        "fourth 3 (and 9 more message(s) since the last warning)",
        "trackwire: s: 4 more message(s) lost since the last warning",
    ]
