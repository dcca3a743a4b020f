"""The one-pass build of ``MParticle.upload`` sends exactly what the general path sends.

Each test uploads the same batch through two clients on recording transports, one that takes
the fast path and one forced onto the general path (a pass-through middleware), with the id
maker fixed, and compares the request bodies byte for byte. Whether the fast path took the
batch is asked of :func:`trackwire.mparticle.fast.build_plain` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

import trackwire
from trackwire.errors import ValidationError
from trackwire.mparticle import (
    AppEvent,
    Batch,
    CustomEventType,
    GeoLocation,
    ScreenViewEvent,
    UserIdentities,
)
from trackwire.mparticle import fast as fast_module
from trackwire.mparticle import prepare as prepare_module
from trackwire.mparticle.fast import build_plain
from trackwire.testing import HTTPResult, RecordingTransport

NOW_MS = int(time.time() * 1000)  # recent: the real-time endpoint


class Ids:
    """Numbered ids, from 0 again after each :meth:`restart`."""

    def __init__(self) -> None:
        self.next = 0

    def restart(self) -> None:
        self.next = 0

    def __call__(self) -> str:
        self.next += 1
        return f"id-{self.next - 1}"


@pytest.fixture(autouse=True)
def ids(monkeypatch: pytest.MonkeyPatch) -> Ids:
    """Both paths make their ids from one counter, restarted before each upload."""
    numbered = Ids()
    monkeypatch.setattr(fast_module, "new_message_id", numbered)
    monkeypatch.setattr(prepare_module, "new_message_id", numbered)
    return numbered


def upload_both(
    clients: tuple[trackwire.MParticle, trackwire.MParticle], batch: Batch, ids: Ids
) -> list[Any]:
    receipts = []
    for client in clients:
        ids.restart()
        receipts.append(client.upload(batch))
    return receipts


def make(**options: Any) -> tuple[trackwire.MParticle, RecordingTransport]:
    transport = RecordingTransport(default=HTTPResult(status=202))
    options.setdefault("environment", "development")
    client = trackwire.MParticle("KEY", "SECRET", transport=transport, **options)
    return client, transport


@pytest.fixture
def pair() -> Iterator[tuple[trackwire.MParticle, trackwire.MParticle, list[RecordingTransport]]]:
    """A client on the fast path, one on the general path, and their transports."""
    fast, fast_transport = make()
    general, general_transport = make(middleware=[lambda batch: batch])
    yield fast, general, [fast_transport, general_transport]
    fast.shutdown()
    general.shutdown()


def event(name: str = "Order Completed", **fields: Any) -> AppEvent:
    fields.setdefault("timestamp_unixtime_ms", NOW_MS)
    return AppEvent(name, "transaction", **fields)


def user(**fields: Any) -> Batch:
    fields.setdefault("user_identities", UserIdentities(customer_id="user-1"))
    return Batch(**fields)


def with_events(*events: Any, **fields: Any) -> Batch:
    batch = user(**fields)
    for one in events:
        batch.add_event(one)
    return batch


ATTRIBUTES = {"order_id": "o-1", "quantity": 2, "revenue": 9.5, "gift": True, "none": None}

FAST_BATCHES: dict[str, Callable[[], Batch]] = {
    "ten events": lambda: with_events(*(event(custom_attributes=ATTRIBUTES) for _ in range(10))),
    "no events": lambda: user(user_attributes={"plan": "pro"}),
    "every field the fast path reads": lambda: with_events(
        AppEvent(
            "Played", CustomEventType.media, custom_flags={"Google.Category": "c"},
            timestamp_unixtime_ms=NOW_MS, source_message_id="m-1", session_id=7,
            session_uuid="s-1", session_start_unixtime_ms=NOW_MS - 1000,
            custom_attributes={"a": "b"},
        ),
        mpid=7346244611012968789, source_request_id="r-1", deleted_user_attributes=["old"],
    ),
    "environment set on the batch": lambda: with_events(event(), environment="production"),
    "empty environment filled in place": lambda: with_events(event(), environment=""),
    "empty message id replaced in place": lambda: with_events(event(source_message_id="")),
    "no timestamp": lambda: with_events(AppEvent("Open", "navigation")),
}  # fmt: skip


@pytest.mark.parametrize("make_batch", FAST_BATCHES.values(), ids=FAST_BATCHES.keys())
def test_the_fast_path_writes_what_the_general_path_writes(
    pair: tuple[trackwire.MParticle, trackwire.MParticle, list[RecordingTransport]],
    make_batch: Callable[[], Batch],
    ids: Ids,
) -> None:
    fast, general, transports = pair
    batch = make_batch()
    assert build_plain(batch, "development") is not None
    before = repr(batch)
    receipts = upload_both((fast, general), batch, ids)
    assert repr(batch) == before  # ids are filled in the built dict, never in the batch
    assert fast.flush(timeout=10) and general.flush(timeout=10)
    assert all(receipt.ok for receipt in receipts)
    assert receipts[0].message_id == receipts[1].message_id
    bodies = [b"".join(request.body for request in t.requests) for t in transports]
    assert bodies[0] == bodies[1]


SENT_BY_THE_GENERAL_PATH: dict[str, Callable[[], Batch]] = {
    "another event class": lambda: with_events(ScreenViewEvent("Home"), event()),
    "an event as a dict": lambda: with_events(
        {"event_type": "custom_event",
         "data": {"event_name": "Open", "custom_event_type": "navigation"}}
    ),
    "a location": lambda: with_events(event(location=GeoLocation(1.5, 2.5))),
    "a datetime": lambda: with_events(
        event(timestamp_unixtime_ms=datetime(2026, 1, 1, tzinfo=timezone.utc))
    ),
    "an mpid of digits": lambda: user(mpid="7346244611012968789"),
    "no environment to fill": lambda: with_events(event(), environment=None),
}  # fmt: skip


@pytest.mark.parametrize(
    "make_batch", SENT_BY_THE_GENERAL_PATH.values(), ids=SENT_BY_THE_GENERAL_PATH.keys()
)
def test_batches_the_fast_path_declines_are_sent_by_the_general_path(
    pair: tuple[trackwire.MParticle, trackwire.MParticle, list[RecordingTransport]],
    make_batch: Callable[[], Batch],
    ids: Ids,
) -> None:
    fast, general, transports = pair
    batch = make_batch()
    assert build_plain(batch, None) is None
    upload_both((fast, general), batch, ids)
    assert fast.flush(timeout=10) and general.flush(timeout=10)
    bodies = [b"".join(request.body for request in t.requests) for t in transports]
    assert bodies[0] == bodies[1] and bodies[0]


REFUSED: dict[str, tuple[Callable[[], Batch], str]] = {
    "a name too long": (lambda: with_events(event("n" * 257)), "event_name"),
    "no name": (lambda: with_events(AppEvent(None, "navigation")), "event_name"),
    "unknown event type": (lambda: with_events(AppEvent("Open", "clicked")), "custom_event_type"),
    "an attribute value too long": (
        lambda: with_events(event(custom_attributes={"a": "v" * 4097})), "custom_attributes"
    ),
    "a nested attribute": (
        lambda: with_events(event(custom_attributes={"a": {"b": 1}})), "custom_attributes.a"
    ),
    "an mpid over 64 bits": (lambda: user(mpid=2**64), "mpid"),
    "no identity": (lambda: Batch(events=[event()]), "user_identities"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_what_the_rules_refuse_is_refused_naming_the_field(
    case: tuple[Callable[[], Batch], str],
) -> None:
    make_batch, field = case
    batch = make_batch()
    assert build_plain(batch, "development") is None
    client, _ = make()
    try:
        with pytest.raises(ValidationError) as raised:
            client.upload(batch)
        assert field in str(raised.value)
        assert client.stats()["enqueued"] == 0
    finally:
        client.shutdown()


def test_a_middleware_sees_every_batch_and_its_failure_drops_it() -> None:
    seen: list[dict[str, Any]] = []

    def scrub(built: dict[str, Any]) -> dict[str, Any]:
        seen.append(built)
        raise RuntimeError("scrubber down")

    client, transport = make(middleware=[scrub])
    try:
        receipt = client.upload(with_events(event()))
        assert client.flush(timeout=10)
        assert len(seen) == 1 and transport.requests == []
        assert receipt.error is not None and receipt.error.reason == "middleware_error"
    finally:
        client.shutdown()
