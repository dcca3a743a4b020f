"""FanOut -> the real collector: the same calls read back from all three vendors' stored events
and from the Amplitude query side; one vendor hanging or refusing never holds back the others."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import trackwire
from tests.sink import Action, Sink
from trackwire.amplitude.query import AmplitudeQuery
from trackwire.collector.server import start_collector
from trackwire.fanout import FanOutReceipt

KEY = "fan-key"
SECRET = "fan-secret"


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=timezone.utc)


def _fanout(url: str, **options: Any) -> trackwire.FanOut:
    return trackwire.FanOut(
        segment=trackwire.Segment(KEY, host=url),
        amplitude=trackwire.Amplitude(KEY, server_url=f"{url}/2/httpapi"),
        mparticle=trackwire.MParticle(KEY, "mp-secret", environment="development", host=url),
        **options,
    )


def _send(url: str) -> list[FanOutReceipt]:
    with _fanout(url, group_type="company") as fanout:
        receipts = [
            fanout.identify("user-1", {"plan": "pro", "email": "one@example.com"},
                            timestamp=_at(5, 9)),
            fanout.track("user-1", "Song Played", {"genre": "rock", "price": 2},
                         timestamp=_at(5, 10), context={"ip": "203.0.113.7"}),
            fanout.track("user-2", "Song Played", {"genre": "jazz", "price": 3},
                         timestamp=_at(6, 10), message_id="m-jazz"),
            fanout.page("user-1", "Docs", "Home", {"path": "/"}, timestamp=_at(5, 11)),
            fanout.screen("user-2", None, "Settings", timestamp=_at(6, 11)),
            fanout.group("user-1", "acme", {"employees": 40}, timestamp=_at(5, 12)),
            fanout.alias("anon-1", "user-1", timestamp=_at(5, 13)),
        ]  # fmt: skip
        assert fanout.flush(timeout=20)
    return receipts


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[FanOutReceipt]]]:
    db = tmp_path_factory.mktemp("fanout") / "c.db"
    with start_collector(db=db, port=0) as running:
        yield running.url, _send(running.url)


def _events(url: str, vendor: str) -> list[dict[str, Any]]:
    response = urllib3.request(
        "GET", url + "/events", fields={"vendor": vendor, "limit": "100"}, retries=False
    )
    assert response.status == 200
    return orjson.loads(response.data)["events"]  # type: ignore[no-any-return]


def test_every_call_resolves_per_destination(sent: tuple[str, list[FanOutReceipt]]) -> None:
    _, receipts = sent
    assert all(receipt.wait(10) for receipt in receipts), [r.errors for r in receipts]
    for receipt in receipts[:-1]:
        assert set(receipt.results) == {"segment", "amplitude", "mparticle"}
        assert receipt.skipped == {}
    alias = receipts[-1]
    assert set(alias.results) == {"segment", "mparticle"}
    assert alias.skipped == {"amplitude": "no_mapping"}
    assert receipts[2].message_id == "m-jazz"
    assert receipts[2].results["amplitude"].message_id == "m-jazz"


def test_segment_stores_the_calls_as_made(sent: tuple[str, list[FanOutReceipt]]) -> None:
    url, receipts = sent
    stored = {e["dedup_key"]: e for e in _events(url, "segment")}
    assert set(stored) == {r.message_id for r in receipts}
    track = stored["m-jazz"]
    assert (track["type"], track["event_name"], track["user_id"]) == (
        "track",
        "Song Played",
        "user-2",
    )
    assert track["payload"]["properties"] == {"genre": "jazz", "price": 3}
    assert stored[receipts[5].message_id]["payload"]["groupId"] == "acme"
    assert stored[receipts[6].message_id]["payload"]["previousId"] == "anon-1"


def test_amplitude_stores_each_call_in_its_own_shape(sent: tuple[str, list[FanOutReceipt]]) -> None:
    url, receipts = sent
    stored = {e["dedup_key"]: e for e in _events(url, "amplitude")}
    group_id = receipts[5].message_id
    assert set(stored) == {r.message_id for r in receipts[:-1]} | {f"{group_id}:group"}
    identify = stored[receipts[0].message_id]["payload"]
    assert identify["event_type"] == "$identify"
    assert identify["user_properties"] == {"$set": {"plan": "pro", "email": "one@example.com"}}
    track = stored[receipts[1].message_id]["payload"]
    assert (track["event_type"], track["user_id"], track["ip"]) == (
        "Song Played", "user-1", "203.0.113.7",
    )  # fmt: skip
    assert track["event_properties"] == {"genre": "rock", "price": 2}
    assert track["time"] == int(_at(5, 10).timestamp() * 1000)
    assert stored[receipts[3].message_id]["payload"]["event_type"] == "Viewed Home Page"
    assert stored[receipts[4].message_id]["payload"]["event_type"] == "Viewed Settings Screen"
    joined = stored[group_id]["payload"]
    assert joined["groups"] == {"company": "acme"}
    assert joined["user_properties"] == {"$set": {"company": "acme"}}
    group = stored[f"{group_id}:group"]["payload"]
    assert group["event_type"] == "$groupidentify"
    assert group["group_properties"] == {"$set": {"employees": 40}}


def test_mparticle_stores_each_call_in_its_own_shape(sent: tuple[str, list[FanOutReceipt]]) -> None:
    url, _ = sent
    stored = _events(url, "mparticle")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in stored:
        by_type.setdefault(event["type"], []).append(event)
    assert sorted((e["event_name"], e["user_id"]) for e in by_type["custom_event"]) == [
        ("Song Played", "user-1"), ("Song Played", "user-2"),
    ]  # fmt: skip
    assert sorted(e["event_name"] for e in by_type["screen_view"]) == ["Home", "Settings"]
    assert len(by_type["batch"]) == 2  # identify and group: user attributes, no events
    change = by_type["user_identity_change"][0]["payload"]["events"][0]["data"]
    assert change["old"]["identity"] == "anon-1" and change["new"]["identity"] == "user-1"
    jazz = next(e for e in by_type["custom_event"] if e["user_id"] == "user-2")
    assert jazz["payload"]["events"][0]["data"]["custom_attributes"] == {
        "genre": "jazz",
        "price": 3,
    }
    assert jazz["payload"]["events"][0]["data"]["source_message_id"] == "m-jazz"


def test_the_query_side_counts_every_vendor(sent: tuple[str, list[FanOutReceipt]]) -> None:
    url, _ = sent
    with AmplitudeQuery(KEY, SECRET, query_url=url, timeout=10) as query:
        days = ("20260105", "20260106")
        # Two plays, each stored by three vendors under one project; users are one per day.
        totals = query.event_segmentation("Song Played", *days, metric="totals")
        assert totals.series == [[3, 3]]
        assert query.event_segmentation("Song Played", *days).series == [[1, 1]]
        prices = query.event_segmentation(
            {"event_type": "Song Played", "group_by": [{"type": "event", "value": "genre"}]},
            *days,
            metric="totals",
        )
        labels = [label[1] for label in prices.series_labels]
        assert dict(zip(labels, prices.series, strict=True)) == {"rock": [3, 0], "jazz": [0, 3]}
        assert query.event_segmentation("Viewed Home Page", *days).series == [[1, 0]]
        assert query.event_segmentation("Viewed Settings Screen", *days).series == [[0, 1]]
        pro = [{"prop": "gp:plan", "op": "is", "values": ["pro"]}]
        assert query.event_segmentation(
            "Song Played", *days, metric="totals", segments=pro
        ).series == [[3, 0]]
        assert {m.user_id for m in query.user_search("user-").matches} == {"user-1", "user-2"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_hanging_and_a_refusing_vendor_hold_back_nothing(sink: Sink, tmp_path: Path) -> None:
    sink.default = Action(delay=60.0)  # Segment never answers while the test runs
    refused = f"http://127.0.0.1:{_closed_port()}"
    with start_collector(db=tmp_path / "c.db", port=0) as running:
        fanout = trackwire.FanOut(
            segment=trackwire.Segment(KEY, host=sink.url, max_retries=0, flush_at=1),
            amplitude=trackwire.Amplitude(KEY, server_url=f"{running.url}/2/httpapi"),
            mparticle=trackwire.MParticle(
                KEY, "s", environment="development", host=refused, max_retries=0, flush_at=1
            ),
        )
        receipts = [fanout.track(f"user-{i}", "Clicked", {"i": i}) for i in range(5)]
        assert all(r.results["amplitude"].wait(10) for r in receipts)
        assert all(not r.results["mparticle"].wait(10) for r in receipts)
        assert {r.results["mparticle"].error.reason for r in receipts} == {  # type: ignore[union-attr]
            "retry_exhausted"
        }
        assert not any(r.results["segment"].done for r in receipts)
        assert len(_events(running.url, "amplitude")) == 5
        assert fanout.flush(timeout=0.5) is False  # Segment still hangs: said, not hidden
        stats = fanout.stats()
        assert stats["amplitude"]["delivered"] == 5
        assert stats["segment"]["delivered"] == 0
        assert sum(stats["mparticle"]["failed"].values()) == 5
        fanout.shutdown(timeout=0.5)
