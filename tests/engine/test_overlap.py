"""The work a worker offers its transport while a request waits for its answer, and the
request a batch taken ahead carries."""

from __future__ import annotations

import logging

import pytest

from trackwire._engine import delivery
from trackwire._engine.delivery import Ahead
from trackwire._engine.overlap import run_waiting_work, while_waiting
from trackwire._engine.transport import HTTPRequest


def test_offered_work_runs_once_and_only_inside_the_block() -> None:
    ran: list[str] = []
    run_waiting_work()  # nothing offered: nothing happens
    with while_waiting(lambda: ran.append("work")):
        run_waiting_work()
        run_waiting_work()  # a second request in the same block does not run it again
    run_waiting_work()
    assert ran == ["work"]


def test_work_not_run_by_the_transport_is_forgotten_after_the_block() -> None:
    ran: list[str] = []
    with while_waiting(lambda: ran.append("work")):
        pass  # a transport that never calls run_waiting_work
    run_waiting_work()
    assert ran == []


def test_failing_work_is_logged_and_never_raises_into_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="trackwire"), while_waiting(broken):
        run_waiting_work()
    assert "preparing the next batch failed" in caplog.text


def test_a_request_built_ahead_is_used_only_for_the_same_messages_while_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = HTTPRequest("POST", "http://127.0.0.1:9/v1/batch", {}, b"{}")
    now = [100.0]
    monkeypatch.setattr(delivery.time, "monotonic", lambda: now[0])
    ahead = Ahead([b"a", b"b"], request)

    assert ahead.request_for([b"a", b"b"]) is request
    assert ahead.request_for([b"a"]) is None  # the batch changed (split, partly rejected)
    now[0] += delivery._AHEAD_FRESH_SECONDS + 0.01
    assert ahead.request_for([b"a", b"b"]) is None  # its sentAt would be stale: build again
