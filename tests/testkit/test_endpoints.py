"""The collector as a test double: /_test endpoints and tracking plans, end to end over HTTP.

Events are sent with trackwire's own clients to a real collector on 127.0.0.1; the assertions
read the /_test endpoints the way the pytest plugin and a CI script do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import trackwire
from trackwire.collector.plan import plan_from_data
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.mparticle import AppEvent, Batch, UserIdentities

HTTP = urllib3.PoolManager(retries=False, timeout=15.0)

PLAN = {
    "events": {
        "Song Played": {
            "properties": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
            }
        },
        "Hello": {},
    }
}


def get(url: str, path: str, **params: Any) -> tuple[int, Any]:
    response = HTTP.request("GET", url + path, fields={k: str(v) for k, v in params.items()})
    return response.status, orjson.loads(response.data)


def post(url: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    return HTTP.request("POST", url + path, body=body, headers=headers).status


@pytest.fixture
def collector() -> Iterator[RunningCollector]:
    with start_collector(":memory:") as running:
        yield running


def segment(url: str) -> trackwire.Segment:
    return trackwire.Segment("write-key", host=url, flush_interval=0.05)


def test_counts_and_reset(collector: RunningCollector) -> None:
    with segment(collector.url) as analytics:
        analytics.track(user_id="user-1", event="Song Played", properties={"title": "a"})
        analytics.track(user_id="user-2", event="Song Played", properties={"title": "b"})
        analytics.identify(user_id="user-1", traits={"plan": "pro"})
        assert analytics.flush(timeout=10)
    status, counts = get(collector.url, "/_test/counts")
    assert status == 200
    assert counts["total"] == 3
    by = {(row["type"], row["event"]): row["count"] for row in counts["by"]}
    assert by == {("track", "Song Played"): 2, ("identify", None): 1}
    assert {row["vendor"] for row in counts["by"]} == {"segment"}

    assert HTTP.request("POST", collector.url + "/_test/reset").status == 200
    assert get(collector.url, "/_test/counts")[1]["total"] == 0
    assert get(collector.url, "/_test/users", user="user-1")[1]["users"] == []
    # The store takes events again after a reset, and the same message id counts as new.
    with segment(collector.url) as analytics:
        analytics.track(user_id="user-1", event="Again", message_id="m-1")
        assert analytics.flush(timeout=10)
    assert get(collector.url, "/_test/counts")[1]["total"] == 1


def test_expect_answers_as_soon_as_the_events_arrive(collector: RunningCollector) -> None:
    answers: list[tuple[int, Any]] = []

    def wait() -> None:
        answers.append(
            get(collector.url, "/_test/expect", vendor="amplitude", event="Song Played",
                user="user-1", count=2, timeout=30)
        )  # fmt: skip

    waiter = threading.Thread(target=wait)
    waiter.start()
    arrivals = collector.app.inspection.arrivals
    # The long poll is parked before anything is sent (a condition, not a pause).
    _until(lambda: bool(arrivals._waiters), "the expectation never started waiting")
    amp = trackwire.Amplitude("api-key", server_url=collector.url + "/2/httpapi")
    with amp:
        amp.track({"event_type": "Song Played", "user_id": "user-1", "event_properties": {"n": 1}})
        amp.track({"event_type": "Other", "user_id": "user-1"})
        amp.track({"event_type": "Song Played", "user_id": "user-1", "event_properties": {"n": 2}})
        assert amp.flush(timeout=10)
    waiter.join(40)
    status, body = answers[0]
    # Woken by the arrivals: had it waited out its 30 s it would have answered 408.
    assert status == 200, body
    assert body["ok"] and body["matched"] == 2
    assert [e["payload"]["event_properties"]["n"] for e in body["events"]] == [1, 2]


def _until(condition: Any, message: str, timeout: float = 10.0) -> None:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(message)


def test_expect_times_out_with_the_nearest_events(collector: RunningCollector) -> None:
    with segment(collector.url) as analytics:
        analytics.track(user_id="user-1", event="Song Playd", properties={"title": "a"})
        analytics.track(user_id="user-9", event="Song Played", properties={"title": "b"})
        analytics.track(user_id="user-1", event="Logged In")
        assert analytics.flush(timeout=10)
    status, body = get(
        collector.url, "/_test/expect", event="Song Played", user="user-1", count=1, timeout=0
    )
    assert status == 408
    assert body["ok"] is False and body["matched"] == 0
    assert "'Song Played'" in body["expectation"] and "'user-1'" in body["expectation"]
    nearest = [(item["event"]["event_name"], item["differences"]) for item in body["nearest"]]
    # One field off comes before two, and each says how it differs.
    assert sorted(nearest[:2]) == [
        ("Song Playd", ["event 'Song Playd'"]),
        ("Song Played", ["user 'user-9' / device None"]),
    ]
    assert nearest[2] == ("Logged In", ["event 'Logged In'"])


def test_expect_matches_properties_by_json_value(collector: RunningCollector) -> None:
    with segment(collector.url) as analytics:
        analytics.track(user_id="user-1", event="Buy", properties={"n": 3, "code": "3", "ok": True})
        assert analytics.flush(timeout=10)
    for prop, value, expected in [
        ("n", "3", 200),
        ("code", '"3"', 200),
        ("code", "3", 408),  # the number 3 is not the text "3"
        ("ok", "true", 200),
        ("n", "true", 408),
        ("missing", "1", 408),
    ]:
        params = {f"prop.{prop}": value, "timeout": 0}
        assert get(collector.url, "/_test/expect", **params)[0] == expected, (prop, value)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"count": "0"}, "count must be a number from 1"),
        ({"count": "many"}, "count must be a number"),
        ({"timeout": "61"}, "timeout must be a number from 0 to 60"),
        ({"timeout": "nan"}, "timeout must be a number"),
    ],
)
def test_expect_refuses_bad_parameters_by_name(
    collector: RunningCollector, params: dict[str, str], words: str
) -> None:
    status, body = get(collector.url, "/_test/expect", **params)
    assert status == 400 and words in body["error"]


def test_bad_requests_are_kept_with_why(collector: RunningCollector) -> None:
    assert (
        post(collector.url, "/v1/batch", b"{not json", {"Authorization": "Basic a2V5Og=="}) == 400
    )
    bad_amplitude = orjson.dumps({"api_key": "k", "events": [{"user_id": "user-1"}]})
    assert (
        post(collector.url, "/2/httpapi", bad_amplitude, {"Content-Type": "application/json"})
        == 400
    )
    # A good request is not listed.
    with segment(collector.url) as analytics:
        analytics.track(user_id="user-1", event="Fine")
        assert analytics.flush(timeout=10)
    status, body = get(collector.url, "/_test/bad")
    assert status == 200 and body["total"] == 2
    newest, oldest = body["refused"]
    assert (newest["vendor"], newest["path"], newest["status"]) == ("amplitude", "/2/httpapi", 400)
    assert "event_type" in orjson.dumps(newest["answer"]).decode()
    assert newest["body"] == {"api_key": "k", "events": [{"user_id": "user-1"}]}
    assert (oldest["vendor"], oldest["status"], oldest["body"]) == ("segment", 400, "{not json")
    assert get(collector.url, "/_test/bad", vendor="segment")[1]["refused"] == [oldest]
    assert get(collector.url, "/_test/counts")[1]["refused"] == {"requests": 2, "events": 0}


def test_users_are_found_across_sources_by_id(collector: RunningCollector) -> None:
    with segment(collector.url) as analytics:
        analytics.identify(user_id="user-1", traits={"plan": "pro"})
        assert analytics.flush(timeout=10)
    status, body = get(collector.url, "/_test/users", user="user-1")
    assert status == 200
    assert [(u["user_id"], u["properties"]) for u in body["users"]] == [("user-1", {"plan": "pro"})]
    assert get(collector.url, "/_test/users", vendor="amplitude", user="user-1")[1]["users"] == []
    assert get(collector.url, "/_test/users")[0] == 400


def test_test_endpoints_do_not_exist_on_a_keyed_collector(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_bytes(orjson.dumps({"admin_tokens": ["t" * 24], "sources": []}))
    with start_collector(":memory:", keys=keys) as running:
        assert HTTP.request("POST", running.url + "/_test/reset").status == 404
        assert HTTP.request("GET", running.url + "/_test/counts").status == 404


# --- tracking plans ------------------------------------------------------------------------------


def _send_all_vendors(url: str) -> None:
    with segment(url) as analytics:
        analytics.track(user_id="user-1", event="Song Played", properties={"title": "ok"})
        analytics.track(user_id="user-1", event="Song Played", properties={"title": 5})
        analytics.track(user_id="user-1", event="Unplanned")
        assert analytics.flush(timeout=10)
    with trackwire.Amplitude("api-key", server_url=url + "/2/httpapi") as amp:
        amp.track({"event_type": "Song Played", "user_id": "user-2", "event_properties": {}})
        amp.track(
            {"event_type": "Song Played", "user_id": "user-2", "event_properties": {"title": "t"}}
        )
        assert amp.flush(timeout=10)
    with trackwire.MParticle("key", "secret", environment="development", host=url) as mp:
        identities = UserIdentities(customer_id="user-3")
        mp.upload(Batch(user_identities=identities, events=[AppEvent("Hello")]))
        mp.upload(Batch(user_identities=identities, events=[AppEvent("Goodbye")]))
        assert mp.flush(timeout=10)


def test_record_mode_stores_everything_and_lists_violations() -> None:
    with start_collector(":memory:", plan=plan_from_data(PLAN)) as running:
        _send_all_vendors(running.url)
        assert get(running.url, "/_test/counts")[1]["total"] == 7
        status, body = get(running.url, "/_test/violations")
        assert status == 200
        found = sorted(
            (e["vendor"], e["event_name"], [v["type"] for v in e["violations"]])
            for e in body["events"]
        )
        assert found == [
            ("amplitude", "Song Played", ["Required-Missing"]),
            ("mparticle", "Goodbye", ["Unplanned-Event"]),
            ("segment", "Song Played", ["Datatype-Mismatch"]),
            ("segment", "Unplanned", ["Unplanned-Event"]),
        ]
        # /events lists every event's violations, empty for those that follow the plan.
        listed = get(running.url, "/events", vendor="segment")[1]["events"]
        assert sorted(len(e["violations"]) for e in listed) == [0, 1, 1]
        stats = get(running.url, "/stats")[1]
        assert stats["plan"]["segment"]["violating_events"] == 2


def test_enforce_mode_stores_the_good_events_and_refuses_the_others() -> None:
    with start_collector(":memory:", plan=plan_from_data(PLAN), plan_mode="enforce") as running:
        _send_all_vendors(running.url)
        names = sorted(
            (e["vendor"], e["event_name"]) for e in get(running.url, "/_test/events")[1]["events"]
        )
        assert names == [
            ("amplitude", "Song Played"),
            ("mparticle", "Hello"),
            ("segment", "Song Played"),
        ]
        refused = get(running.url, "/_test/bad")[1]["refused"]
        assert sorted((e["vendor"], e["event_name"]) for e in refused) == [
            ("amplitude", "Song Played"),
            ("mparticle", "Goodbye"),
            ("segment", "Song Played"),
            ("segment", "Unplanned"),
        ]
        refused_song = next(
            e
            for e in refused
            if e["vendor"] == "segment" and e["violations"][0]["type"] == "Datatype-Mismatch"
        )
        assert refused_song["payload"]["properties"] == {"title": 5}
        assert get(running.url, "/_test/counts")[1]["refused"] == {"requests": 0, "events": 4}


def test_the_collector_command_checks_its_plan_at_start(tmp_path: Path) -> None:
    from trackwire.cli import main

    plan = tmp_path / "plan.json"
    plan.write_text('{"events": {"E": {"properties": {"type": "nope"}}}}')
    assert (
        main(["collector", "--port", "0", "--db", str(tmp_path / "c.db"), "--plan", str(plan)]) == 2
    )
