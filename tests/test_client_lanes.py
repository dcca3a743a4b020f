"""Lanes: one client, several destinations, one set of options, hooks, middleware and deadline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest

from trackwire._client import MAIN_LANE, Client, parse_options
from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import HTTPDestination
from trackwire._engine.receipts import BatchReport
from trackwire._engine.retry import Delivered, Outcome
from trackwire.errors import ConfigError
from trackwire.testing import HTTPResult, RecordingTransport

_LIMITS = BatchLimits(max_count=100, max_bytes=100_000, overhead=2, separator=1)


def _delivered(result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
    return Delivered()


def destination(name: str) -> HTTPDestination:
    return HTTPDestination(
        name=name,
        url=f"http://127.0.0.1:9/{name}",
        limits=_LIMITS,
        envelope=lambda messages: b"[" + b",".join(messages) + b"]",
        outcome=_delivered,
    )


class CountingTransport(RecordingTransport):
    """Records requests, and how often it was closed and reset after a fork."""

    def __init__(self) -> None:
        super().__init__()
        self.closes = 0
        self.resets = 0

    def close(self) -> None:
        self.closes += 1

    def reset_after_fork(self) -> None:
        self.resets += 1


def make(**options: Any) -> tuple[Client, CountingTransport]:
    transport = CountingTransport()
    shared, _ = parse_options(
        {"transport": transport, "handle_sigterm": False, **options}, vendor="Test"
    )
    return Client(destination("main"), shared), transport


def send(client: Client, message: dict[str, Any], lane: Any = None) -> Any:
    return client._enqueue(
        message, message_id=None, max_bytes=10_000, what="test message", lane=lane
    )


def test_a_lane_shares_hooks_middleware_flush_and_stats() -> None:
    client, transport = make(middleware=[lambda message: {**message, "seen": True}])
    side = client.add_lane("side", destination("side"))
    assert list(client.lanes) == [MAIN_LANE, "side"]
    reports: list[BatchReport] = []
    client.on("flush", reports.append)
    first = send(client, {"n": 1})
    second = send(client, {"n": 2}, side)
    assert client.flush(timeout=10)
    assert first.ok and second.ok
    urls = sorted(request.url for request in transport.requests)
    assert urls == ["http://127.0.0.1:9/main", "http://127.0.0.1:9/side"]
    bodies = transport.bodies()
    assert all(body[0]["seen"] for body in bodies)  # the client's middleware ran on both
    assert sorted(report.count for report in reports) == [1, 1]  # one hook for both lanes
    stats = client.stats()
    assert stats["delivered"] == 1 and stats["side"]["delivered"] == 1
    assert client.shutdown(timeout=10)


def test_shutdown_stops_every_lane_and_closes_the_transport_once() -> None:
    client, transport = make()
    side = client.add_lane("side", destination("side"))
    send(client, {"n": 1})
    send(client, {"n": 2}, side)
    assert client.shutdown(timeout=10)
    assert len(transport.requests) == 2
    assert transport.closes == 1
    late = send(client, {"n": 3}, side)
    assert late.done and late.error is not None and late.error.reason == "after_close"


def test_a_lane_name_is_unique_and_no_lane_is_added_after_shutdown() -> None:
    client, _ = make()
    client.add_lane("side", destination("side"))
    with pytest.raises(ConfigError, match="already has a lane named 'side'"):
        client.add_lane("side", destination("side"))
    with pytest.raises(ConfigError, match="already has a lane named 'main'"):
        client.add_lane(MAIN_LANE, destination("other"))
    client.shutdown(timeout=5)
    with pytest.raises(ConfigError, match="shut down"):
        client.add_lane("late", destination("late"))


def test_a_transport_without_everything_is_still_closed_at_shutdown() -> None:
    closed: list[bool] = []

    class SendAndClose:
        def send(self, request: Any) -> HTTPResult:
            return HTTPResult(status=200)

        def close(self) -> None:
            closed.append(True)

    shared, _ = parse_options({"transport": SendAndClose(), "handle_sigterm": False}, vendor="Test")
    client = Client(destination("main"), shared)
    send(client, {"n": 1})
    assert client.shutdown(timeout=10)
    assert closed == [True]


class SendAndReset:
    """A user's transport with ``send`` and ``reset_after_fork`` but no ``close``."""

    def __init__(self) -> None:
        self.resets = 0

    def send(self, request: Any) -> HTTPResult:
        return HTTPResult(status=200)

    def reset_after_fork(self) -> None:
        self.resets += 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("kind", [CountingTransport, SendAndReset])
def test_a_forked_child_resets_the_transport_once_for_all_lanes(kind: type) -> None:
    transport = kind()
    shared, _ = parse_options({"transport": transport, "handle_sigterm": False}, vendor="Test")
    client = Client(destination("main"), shared)
    client.add_lane("side", destination("side"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what the fork handlers did, then leave at once
        os.write(write, str(transport.resets).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        resets = pipe.read().decode()
    os.waitpid(pid, 0)
    assert resets == "1"
    assert transport.resets == 0  # the parent keeps its pool
    client.shutdown(timeout=5)


def test_a_spooled_client_records_its_replay_spec(tmp_path: Any) -> None:
    import json

    import trackwire

    client = trackwire.MParticle(
        "KEY", "SECRET", environment="development", spool=str(tmp_path), handle_sigterm=False,
        transport=RecordingTransport(), on_error=lambda error, messages: None, flush_at=5,
    )  # fmt: skip
    (meta_file,) = tmp_path.rglob("meta.json")  # while it runs (an empty spool goes at exit)
    text = meta_file.read_text()
    meta = json.loads(text)
    client.shutdown(timeout=5)
    assert meta["client"] == "trackwire.mparticle.client.MParticle"
    # The keys are recorded as keyed fingerprints, never in clear (replay takes them from the
    # environment and checks them against these).
    assert len(meta["args"]) == 2
    assert all(set(arg) == {"secret", "fingerprint"} for arg in meta["args"])
    assert '"KEY"' not in text and '"SECRET"' not in text
    # what replay passes again: the caller's plain options, not callables or the spool's own
    assert meta["kwargs"] == {"environment": "development", "flush_at": 5}


def test_a_lane_may_batch_and_retry_on_options_of_its_own() -> None:
    from dataclasses import replace

    from trackwire.config import RetryConfig

    client, transport = make(flush_at=100, flush_interval=60.0, send_first_immediately=False)
    eager = client.add_lane(
        "eager",
        destination("eager"),
        delivery=replace(client.config, flush_at=1, gzip=False),
        retry=RetryConfig(max_retries=0),
    )
    assert eager.engine.config.flush_at == 1 and client.config.flush_at == 100
    receipt = send(client, {"n": 1}, eager)
    assert receipt.wait(10) and receipt.ok  # sent at once: the lane's flush_at, not the client's
    assert [request.url for request in transport.requests] == ["http://127.0.0.1:9/eager"]
    assert transport.requests[0].headers.get("Content-Encoding") != "gzip"
    assert client.shutdown(timeout=10)
