"""End to end: the Segment client and the engine against a real HTTP server on 127.0.0.1.

Wire shape of every call, delivery through outages, retries and lost responses, rejections,
splits, flush timing, asyncio, batch triggers and per-call callbacks.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import email.utils
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import trackwire
from tests.e2e.helpers import timed
from tests.sink import Action, Received, Sink

WRITE_KEY = "e2e-write-key"
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LIBRARY = {"name": "trackwire", "version": trackwire.__version__}
FAST_RETRY = trackwire.RetryConfig(initial_backoff=0.05, max_backoff=0.5, max_retries=1000)

SegmentFactory = Callable[..., trackwire.Segment]


@pytest.fixture
def segment(sink: Sink) -> Iterator[SegmentFactory]:
    """Make clients pointed at the sink; each is shut down (within 1 s) after the test."""
    made: list[trackwire.Segment] = []

    def make(**options: Any) -> trackwire.Segment:
        client = trackwire.Segment(WRITE_KEY, host=sink.url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=1)


def header(request: Received, name: str) -> str | None:
    """A request header, looked up case-insensitively."""
    for key, value in request.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def ids_of(requests: list[Received]) -> list[str]:
    """Every messageId in ``requests``, in order."""
    return [message["messageId"] for request in requests for message in request.json["batch"]]


def delivered_ids(sink: Sink) -> Counter[str]:
    """How many times each messageId arrived in a batch the sink answered with 2xx."""
    return Counter(message["messageId"] for message in sink.delivered())


def answered(sink: Sink, status: int) -> int:
    """How many requests the sink answered with ``status``."""
    with sink.cond:
        return sum(1 for request in sink.requests if request.answered == status)


class Arrivals:
    """Records when each request reached the sink, from the test thread, without sleeping."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.times: list[float] = []

    def wait_for(self, count: int, timeout: float) -> bool:
        def seen() -> bool:
            while len(self.times) < len(self.sink.requests):
                self.times.append(time.monotonic())
            return len(self.times) >= count

        return self.sink.wait_until(seen, timeout)


# ---------------------------------------------------------------------------- wire shape


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_every_call_type_arrives_with_the_segment_wire_shape(
    sink: Sink, segment: SegmentFactory, gzip: bool
) -> None:
    """All six calls reach /v1/batch in one Segment envelope, camelCase, filled like Segment's SDKs.

    Also: the caller's context dict is kept (plus ``library``) and not mutated, integrations
    pass through, a given messageId passes through, auth/user-agent/content headers are set,
    and the body is gzipped exactly when ``gzip`` is on.
    """
    options: dict[str, Any] = {"send_first_immediately": False, "flush_at": 100}
    if not gzip:
        options["gzip"] = False
    client = segment(**options)
    context = {"ip": "203.0.113.7", "locale": "fr-FR", "app": {"name": "shop", "build": 7}}
    context_before = copy.deepcopy(context)
    integrations = {"All": False, "Mixpanel": True}
    before = datetime.now(timezone.utc) - timedelta(seconds=1)

    receipts = [
        client.identify("u1", {"plan": "pro"}, context=context, integrations=integrations),
        client.track(
            "u1", "Order Completed", {"revenue": 39.95}, context=context, message_id="given-id-1"
        ),
        client.page(anonymous_id="a1", category="Docs", name="Install", properties={"p": 1}),
        client.screen("u1", name="Home", properties={"tab": "feed"}),
        client.group("u1", "g1", {"seats": 12}),
        client.alias("anon-42", "u1"),
    ]
    assert client.flush(timeout=5)
    assert all(receipt.ok for receipt in receipts)
    assert context == context_before, "the caller's context dict was mutated"

    assert len(sink.requests) == 1
    request = sink.requests[0]
    assert request.path == "/v1/batch"
    assert request.answered == 200
    token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    assert header(request, "Authorization") == f"Basic {token}"
    assert (header(request, "User-Agent") or "").startswith("trackwire/")
    assert header(request, "Content-Type") == "application/json"
    if gzip:
        assert header(request, "Content-Encoding") == "gzip"
        assert request.raw[:2] == b"\x1f\x8b"
    else:
        assert header(request, "Content-Encoding") is None
        assert request.raw.startswith(b"{")

    body = request.json
    assert set(body) == {"batch", "sentAt", "writeKey"}
    assert body["writeKey"] == WRITE_KEY
    assert ISO_MS_Z.match(body["sentAt"])

    batch = body["batch"]
    assert [m["type"] for m in batch] == ["identify", "track", "page", "screen", "group", "alias"]
    assert [m["messageId"] for m in batch] == [r.message_id for r in receipts]
    assert batch[1]["messageId"] == "given-id-1"
    for message in batch:
        assert not [key for key in message if "_" in key], f"snake_case key in {message}"
        if message["messageId"] != "given-id-1":
            parsed = uuid.UUID(message["messageId"])
            assert parsed.version == 4 and str(parsed) == message["messageId"]
        assert ISO_MS_Z.match(message["timestamp"]), message["timestamp"]
        sent = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
        assert before <= sent <= datetime.now(timezone.utc) + timedelta(seconds=1)

    rest = [{k: v for k, v in m.items() if k not in ("messageId", "timestamp")} for m in batch]
    assert rest == [
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "pro"},
            "context": {**context, "library": LIBRARY},
            "integrations": integrations,
        },
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"revenue": 39.95},
            "context": {**context, "library": LIBRARY},
        },
        {
            "type": "page",
            "anonymousId": "a1",
            "category": "Docs",
            "name": "Install",
            "properties": {"p": 1},
            "context": {"library": LIBRARY},
        },
        {
            "type": "screen",
            "userId": "u1",
            "name": "Home",
            "properties": {"tab": "feed"},
            "context": {"library": LIBRARY},
        },
        {
            "type": "group",
            "userId": "u1",
            "groupId": "g1",
            "traits": {"seats": 12},
            "context": {"library": LIBRARY},
        },
        {
            "type": "alias",
            "previousId": "anon-42",
            "userId": "u1",
            "context": {"library": LIBRARY},
        },
    ]


@pytest.fixture
def local_zone_not_utc() -> Iterator[None]:
    """Run the test with the process's local time zone at UTC+05:30."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"  # POSIX form: needs no tz database
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("local_zone_not_utc")
def test_historical_timestamps_pass_through(sink: Sink, segment: SegmentFactory) -> None:
    """A caller's datetime (aware, naive = UTC, other zone) and ISO string arrive as given.

    The local zone is UTC+05:30 here, so a naive datetime wrongly read as local time shows.
    """
    client = segment(send_first_immediately=False, flush_at=100)
    given: list[tuple[object, str]] = [
        (datetime(2019, 3, 4, 5, 6, 7, 891000, tzinfo=timezone.utc), "2019-03-04T05:06:07.891Z"),
        (datetime(2019, 3, 4, 5, 6, 7, 891234), "2019-03-04T05:06:07.891Z"),
        (
            datetime(2019, 3, 4, 7, 6, 7, 5000, tzinfo=timezone(timedelta(hours=2))),
            "2019-03-04T05:06:07.005Z",
        ),
        ("2018-12-31T23:59:59.123+01:00", "2018-12-31T23:59:59.123+01:00"),
        ("2018-01-02T03:04:05Z", "2018-01-02T03:04:05Z"),
    ]
    for value, _ in given:
        client.track("u1", "Imported", timestamp=value)
    assert client.flush(timeout=5)
    assert [m["timestamp"] for m in sink.delivered()] == [wire for _, wire in given]


# ---------------------------------------------------------------------------- retries


def test_nothing_is_lost_across_a_five_second_outage(sink: Sink, segment: SegmentFactory) -> None:
    """500 events sent during a 5 s run of 503s all arrive, each messageId exactly once."""
    sink.start_outage(5)
    client = segment(retry=FAST_RETRY, flush_at=50, workers=2)
    receipts = [client.track("u1", "During Outage", {"i": i}) for i in range(250)]
    # Send the second half while batches are already failing and being retried.
    assert sink.wait_until(lambda: answered(sink, 503) >= 3, timeout=5)
    receipts += [client.track("u1", "During Outage", {"i": i}) for i in range(250, 500)]

    assert client.flush(timeout=20)
    assert answered(sink, 503) >= 3
    assert all(receipt.ok for receipt in receipts), [r.error for r in receipts if not r.ok][:3]
    counts = delivered_ids(sink)
    assert set(counts) == {receipt.message_id for receipt in receipts}
    assert set(counts.values()) == {1}
    stats = client.stats()
    assert stats["delivered"] == 500
    assert stats["retries"] >= 3
    assert stats["failed"] == {} and stats["dropped"] == {}


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured(sink: Sink, segment: SegmentFactory, form: str) -> None:
    """After a 429 with ``Retry-After`` (seconds or HTTP date) the retry waits that long."""
    value = "1" if form == "seconds" else email.utils.formatdate(time.time() + 2, usegmt=True)
    sink.script = [Action(429, headers={"Retry-After": value}, body=b'{"code":"slow_down"}')]
    client = segment(retry=FAST_RETRY)
    arrivals = Arrivals(sink)

    receipt = client.track("u1", "Throttled")
    assert arrivals.wait_for(2, timeout=5)
    assert receipt.wait(5)

    gap = arrivals.times[1] - arrivals.times[0]
    # Without Retry-After the backoff would be at most 0.05 s.
    assert 0.9 <= gap <= 3.0, gap
    assert [r.answered for r in sink.requests] == [429, 200]
    assert ids_of(sink.requests[:1]) == ids_of(sink.requests[1:2]) == [receipt.message_id]


def test_retries_carry_x_retry_count(sink: Sink, segment: SegmentFactory) -> None:
    """Each retry of a batch resends the same messages with ``X-Retry-Count`` 1, 2, ..."""
    sink.script = [Action(503), Action(500), Action(408)]
    retries: list[trackwire.BatchReport] = []
    client = segment(retry=FAST_RETRY)
    client.on("retry", retries.append)

    receipt = client.track("u1", "Flaky")
    assert receipt.wait(5)
    assert client.flush(timeout=5)

    assert [r.answered for r in sink.requests] == [503, 500, 408, 200]
    assert [header(r, "X-Retry-Count") for r in sink.requests] == [None, "1", "2", "3"]
    assert {tuple(ids_of([r])) for r in sink.requests} == {(receipt.message_id,)}
    assert [report.attempt for report in retries] == [1, 2, 3]
    assert [report.status for report in retries] == [503, 500, 408]
    assert client.stats()["retries"] == 3


def test_no_message_arrives_twice_unless_its_response_was_lost(
    sink: Sink, segment: SegmentFactory
) -> None:
    """With dropped connections, only the messages of the dropped requests arrive twice."""
    drop = Action(status=None)
    ok = Action(200)
    sink.script = [drop, ok, ok, drop, drop, ok, ok, ok, drop, ok, drop]
    client = segment(retry=FAST_RETRY, flush_at=10, send_first_immediately=False)

    receipts = []
    for i in range(200):
        receipts.append(client.track("u1", "Lossy", {"i": i}))
        if i % 25 == 24:  # give the worker a chance to send several separate batches
            assert client.flush(timeout=5)
    assert client.flush(timeout=10)

    assert all(receipt.ok for receipt in receipts)
    sent = {receipt.message_id for receipt in receipts}
    counts = delivered_ids(sink)
    assert set(counts) == sent
    assert set(counts.values()) == {1}, "a message was delivered twice in answered batches"

    with sink.cond:
        requests = list(sink.requests)
    dropped = [r for r in requests if r.answered is None]
    assert dropped, "the script should have dropped some connections"
    arrived = Counter(ids_of([r for r in requests if r.answered is None or r.answered == 200]))
    duplicated = {message_id for message_id, count in arrived.items() if count > 1}
    assert duplicated == set(ids_of(dropped))
    assert all(r.answered in (None, 200) for r in requests)


# ---------------------------------------------------------------------------- rejections


def test_400_rejects_the_batch_without_retry_and_reports_it(
    sink: Sink, segment: SegmentFactory
) -> None:
    """A 400 fails every message as ``rejected`` once: receipts, on_error, hook and counters."""
    sink.script = [Action(400, body=b'{"code":"invalid_request","message":"nope"}')]
    on_error_calls: list[tuple[trackwire.DeliveryError, list[Any]]] = []
    hook_reports: list[trackwire.BatchReport] = []
    client = segment(
        retry=FAST_RETRY,
        send_first_immediately=False,
        flush_at=100,
        on_error=lambda error, messages: on_error_calls.append((error, messages)),
    )
    client.on("error", hook_reports.append)

    receipts = [client.track("u1", "Bad", {"i": i}) for i in range(3)]
    assert client.flush(timeout=5)

    ids = [receipt.message_id for receipt in receipts]
    assert len(sink.requests) == 1, "a rejected batch must not be retried"
    for receipt in receipts:
        assert receipt.done and not receipt.ok
        assert receipt.error is not None
        assert receipt.error.reason == "rejected"
        assert receipt.error.status == 400
    assert len(on_error_calls) == 1
    error, messages = on_error_calls[0]
    assert error.reason == "rejected"
    assert [m["messageId"] for m in messages] == ids
    assert [m["properties"]["i"] for m in messages] == [0, 1, 2]
    assert len(hook_reports) == 1
    assert hook_reports[0].kind == "error"
    assert hook_reports[0].reason == "rejected"
    assert list(hook_reports[0].message_ids) == ids
    stats = client.stats()
    assert stats["failed"] == {"rejected": 3}
    assert stats["delivered"] == 0 and stats["retries"] == 0


def test_413_splits_the_batch_and_resends_the_halves(sink: Sink, segment: SegmentFactory) -> None:
    """A 413 on a batch of 8 (and again on a half) ends with every message delivered once."""
    sink.script = [Action(413), Action(413)]
    client = segment(send_first_immediately=False, flush_at=100)

    receipts = [client.track("u1", "Big", {"i": i}) for i in range(8)]
    assert client.flush(timeout=5)

    assert all(receipt.ok for receipt in receipts)
    sizes = [len(r.json["batch"]) for r in sink.requests]
    assert sizes[:2] == [8, 4]
    assert sorted(sizes[2:]) == [2, 2, 4]
    counts = delivered_ids(sink)
    assert set(counts) == {receipt.message_id for receipt in receipts}
    assert set(counts.values()) == {1}
    assert client.stats()["failed"] == {}


# ---------------------------------------------------------------------------- flush


def test_flush_timeout_returns_false_on_time_then_true_when_delivered(
    sink: Sink, segment: SegmentFactory
) -> None:
    """``flush(0.3)`` gives up after ~0.3 s while the sink is slow; a later flush sees delivery."""
    sink.script = [Action(delay=1.0)]
    client = segment()
    receipt = client.track("u1", "Slow")

    flushed, elapsed = timed(lambda: client.flush(timeout=0.3), limit=0.8)
    assert flushed is False
    assert 0.25 <= elapsed < 0.8, elapsed

    assert client.flush(timeout=5) is True
    assert receipt.ok
    assert delivered_ids(sink) == {receipt.message_id: 1}
    assert client.flush(timeout=0) is True, "nothing pending: flush is immediately done"


def test_flush_timeout_is_not_held_by_a_batch_waiting_to_retry(
    sink: Sink, segment: SegmentFactory
) -> None:
    """A batch told to come back in 30 s neither delays ``flush(0.3)`` nor ``shutdown(0.3)``."""
    sink.script = [Action(503, headers={"Retry-After": "30"})]
    client = segment(retry=FAST_RETRY)
    receipt = client.track("u1", "Later")
    assert sink.wait_until(lambda: len(sink.requests) == 1, timeout=5)

    flushed, elapsed = timed(lambda: client.flush(timeout=0.3), limit=0.8)
    assert flushed is False
    assert elapsed < 0.8, elapsed

    _, elapsed = timed(lambda: client.shutdown(timeout=0.3), limit=0.8)
    assert elapsed < 0.8, elapsed
    assert receipt.done and receipt.error is not None
    assert receipt.error.reason == "shutdown"


def test_aflush_and_await_receipt_work_from_asyncio(sink: Sink, segment: SegmentFactory) -> None:
    """``await receipt`` and ``await client.aflush()`` complete without blocking the loop."""
    sink.script = [Action(delay=0.5)]
    client = segment()

    async def main() -> tuple[bool, bool, bool, int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        first = await asyncio.wait_for(client.track("u1", "Async"), timeout=5)
        second = client.track("u1", "Async Again")
        flushed = await asyncio.wait_for(client.aflush(timeout=5), timeout=6)
        again = await asyncio.wait_for(second, timeout=1)
        done.set()
        await task
        return first, flushed, again, ticks

    first, flushed, again, ticks = asyncio.run(main())
    assert first is True and flushed is True and again is True
    assert ticks >= 10, "the event loop was blocked while waiting for delivery"
    assert len(sink.delivered()) == 2


# ---------------------------------------------------------------------------- triggers


def test_flush_at_sends_one_batch_without_flush(sink: Sink, segment: SegmentFactory) -> None:
    """With flush_at=5, four calls send nothing; the fifth sends one batch of five."""
    client = segment(flush_at=5, flush_interval=60, send_first_immediately=False)
    receipts = [client.track("u1", "Counted", {"i": i}) for i in range(4)]
    assert not sink.wait_until(lambda: len(sink.requests) > 0, timeout=0.3)

    receipts.append(client.track("u1", "Counted", {"i": 4}))
    assert sink.wait_until(lambda: len(sink.requests) >= 1, timeout=5)
    assert receipts[-1].wait(5)
    assert [len(r.json["batch"]) for r in sink.requests] == [5]
    assert ids_of(sink.requests) == [receipt.message_id for receipt in receipts]


def test_flush_interval_sends_a_lone_message_without_flush(
    sink: Sink, segment: SegmentFactory
) -> None:
    """With flush_interval=0.2 one waiting message is sent after about 0.2 s, unasked."""
    client = segment(flush_at=100, flush_interval=0.2, send_first_immediately=False)
    started = time.monotonic()
    receipt = client.track("u1", "Aged")
    assert sink.wait_until(lambda: len(sink.requests) >= 1, timeout=5)
    waited = time.monotonic() - started
    assert 0.15 <= waited < 3.0, waited
    assert receipt.wait(5)
    assert ids_of(sink.requests) == [receipt.message_id]


def test_first_message_is_sent_alone_at_once(sink: Sink, segment: SegmentFactory) -> None:
    """send_first_immediately (the default) sends the first call alone; later ones wait."""
    client = segment(flush_at=100, flush_interval=60)
    first = client.track("u1", "First")
    assert sink.wait_until(lambda: len(sink.requests) >= 1, timeout=2)
    assert first.wait(5)

    later = [client.track("u1", "Later", {"i": i}) for i in range(3)]
    assert not sink.wait_until(lambda: len(sink.requests) > 1, timeout=0.3)
    assert ids_of(sink.requests) == [first.message_id]
    assert not any(receipt.done for receipt in later)

    assert client.flush(timeout=5)
    assert [len(r.json["batch"]) for r in sink.requests] == [1, 3]


# ---------------------------------------------------------------------------- callbacks


def test_callback_is_called_once_per_message_after_delivery_and_rejection(
    sink: Sink, segment: SegmentFactory
) -> None:
    """``callback(error, message)`` runs once per call: error None if delivered, set if not."""
    sink.script = [Action(200), Action(400, body=b'{"message":"bad"}')]
    calls: list[tuple[str, trackwire.DeliveryError | None, dict[str, Any]]] = []

    def recorder(tag: str) -> Callable[[trackwire.DeliveryError | None, dict[str, Any]], None]:
        return lambda error, message: calls.append((tag, error, message))

    client = segment(send_first_immediately=False, flush_at=100)
    a = client.track("u1", "A", callback=recorder("a"))
    b = client.identify("u1", {"x": 1}, callback=recorder("b"))
    assert client.flush(timeout=5)
    assert [(tag, error) for tag, error, _ in calls] == [("a", None), ("b", None)]
    assert [message["messageId"] for _, _, message in calls] == [a.message_id, b.message_id]
    assert calls[0][2]["event"] == "A" and calls[1][2]["type"] == "identify"

    c = client.track("u1", "C", callback=recorder("c"))
    assert client.flush(timeout=5)
    assert [tag for tag, _, _ in calls] == ["a", "b", "c"]
    error = calls[2][1]
    assert error is not None and error.reason == "rejected" and error.status == 400
    assert calls[2][2]["messageId"] == c.message_id
    assert not c.ok


@pytest.mark.parametrize("proxies", ["url", "mapping"])
def test_proxies_are_used(sink: Sink, proxies: str) -> None:
    """Requests go through the configured proxy (the sink plays the proxy: it records the
    absolute URL a client sends to a forward proxy)."""
    target = "http://segment.invalid"
    option: str | dict[str, str] = sink.url if proxies == "url" else {"http": sink.url}
    client = trackwire.Segment("KEY", host=target, proxies=option, gzip=False)
    assert client.track(user_id="u", event="Proxied").wait(10)
    client.shutdown(5)
    assert [request.path for request in sink.requests] == [f"{target}/v1/batch"]
    assert sink.delivered()[0]["event"] == "Proxied"
