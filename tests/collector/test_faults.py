"""Fault injection: configuration, the injector's decisions, and faults seen over HTTP."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.collector.conftest import Client, basic
from trackwire.collector.faults import (
    DROP,
    PASS,
    FaultConfig,
    FaultInjector,
    add_fault_arguments,
    fault_config_from_arguments,
    parse_status_sequence,
    vendor_of_path,
)
from trackwire.collector.server import start_collector
from trackwire.errors import ConfigError

SEGMENT_BATCH = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "m1"}]}
AMPLITUDE_BODY = {
    "api_key": "k",
    "events": [
        {"event_type": "E", "user_id": "user-1", "insert_id": "i1"},
        {"event_type": "E", "device_id": "device-2", "insert_id": "i2"},
    ],
}


# --- configuration -----------------------------------------------------------------------------


def test_parse_status_sequence() -> None:
    assert parse_status_sequence("/v1/batch=500,429,drop,ok") == (
        "/v1/batch",
        (500, 429, DROP, PASS),
    )
    assert parse_status_sequence("*=503") == ("*", (503,))


@pytest.mark.parametrize(
    "spec", ["/v1/batch", "v1/batch=500", "/v1/batch=", "/v1/batch=600", "/x=fail", "/x=99"]
)
def test_bad_status_sequences(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_status_sequence(spec)


@pytest.mark.parametrize(
    "options",
    [
        {"failure_rate": 1.5},
        {"drop_rate": -0.1},
        {"failure_status": 100},
        {"latency": -1},
        {"latency": float("inf")},
        {"retry_after": -2},
        {"statuses": {"nope": (500,)}},
        {"statuses": {"/v1/batch": (700,)}},
    ],
)
def test_invalid_configurations_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        FaultConfig(**options)


def test_json_round_trip_and_unknown_options() -> None:
    config = FaultConfig(
        statuses={"/v1/batch": (500, DROP, PASS), "*": (429,)},
        failure_rate=0.25,
        failure_status=503,
        drop_rate=0.1,
        latency=0.5,
        retry_after=2.0,
        seed=7,
    )

    assert FaultConfig.from_json(config.to_json()) == config
    assert config.to_json()["statuses"]["/v1/batch"] == [500, "drop", "ok"]
    with pytest.raises(ConfigError, match="unknown fault option"):
        FaultConfig.from_json({"failure_rte": 0.5})


def test_cli_flags_round_trip() -> None:
    config = FaultConfig(
        statuses={"/v1/batch": (500, DROP)}, failure_rate=0.5, failure_status=502,
        drop_rate=0.2, latency=0.1, retry_after=3.0, seed=42,
    )  # fmt: skip
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)

    parsed = fault_config_from_arguments(parser.parse_args(config.to_arguments()))

    assert parsed == config
    assert fault_config_from_arguments(parser.parse_args([])) == FaultConfig()
    assert not FaultConfig().active


def test_vendor_of_path() -> None:
    assert vendor_of_path("/v1/track") == "segment"
    assert vendor_of_path("/2/httpapi") == "amplitude"
    assert vendor_of_path("/groupidentify") == "amplitude"
    assert vendor_of_path("/v2/bulkevents") == "mparticle"
    assert vendor_of_path("/events") is None
    assert vendor_of_path("/_faults") is None


# --- the injector ------------------------------------------------------------------------------


def test_status_sequences_are_consumed_per_path_then_pass() -> None:
    injector = FaultInjector(FaultConfig(statuses={"/v1/batch": (500, DROP), "*": (503,)}))

    first = injector.decide("/v1/batch")
    second = injector.decide("/v1/batch")
    other = injector.decide("/2/httpapi")

    assert first is not None and first.status == 500
    assert second is not None and second.drop
    assert other is not None and other.status == 503
    # Both sequences are used up; the paths behave normally again.
    assert injector.decide("/v1/batch") is None
    assert injector.decide("/2/httpapi") is None
    assert injector.counts() == {"drop": 1, "status_500": 1, "status_503": 1, "total": 3}


def test_seeded_rates_replay_exactly() -> None:
    config = FaultConfig(failure_rate=0.3, drop_rate=0.2, seed=1234)

    def run() -> list[Any]:
        injector = FaultInjector(config)
        return [injector.decide("/v1/batch") for _ in range(200)]

    first, second = run(), run()

    assert first == second
    statuses = sum(1 for f in first if f is not None and f.status == 500)
    drops = sum(1 for f in first if f is not None and f.drop)
    assert 20 < statuses < 80
    assert 15 < drops < 70


def test_reconfiguring_restarts_sequences_and_no_faults_means_none() -> None:
    injector = FaultInjector(FaultConfig(statuses={"/v1/batch": (500,)}))
    assert injector.decide("/v1/batch") is not None

    injector.configure(FaultConfig(statuses={"/v1/batch": (500,)}))

    assert injector.decide("/v1/batch") is not None
    injector.configure(FaultConfig())
    assert injector.decide("/v1/batch") is None
    assert injector.state()["remaining"] == {}


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[Client]:
    """A collector whose faults each test sets through the admin endpoint."""
    with start_collector(db=tmp_path / "faults.db") as running:
        yield Client(running)


def _configure(client: Client, **config: Any) -> dict[str, Any]:
    answer = client.post("/_faults", config)
    assert answer.status == 200, answer
    state: dict[str, Any] = answer.json()
    return state


def test_scripted_statuses_in_segment_style_then_normal(faulty: Client) -> None:
    _configure(faulty, statuses={"/v1/batch": [500, 429]}, retry_after=2)

    first = faulty.segment("/v1/batch", SEGMENT_BATCH)
    second = faulty.segment("/v1/batch", SEGMENT_BATCH)
    third = faulty.segment("/v1/batch", SEGMENT_BATCH)

    assert first.status == 500
    assert first.json()["code"] == "injected_fault"
    assert "retry-after" not in first.headers
    assert second.status == 429
    assert second.headers["retry-after"] == "2"
    assert third.status == 200
    assert len(faulty.events()) == 1
    assert faulty.stats()["faults"] == {"status_429": 1, "status_500": 1, "total": 2}


def test_amplitude_throttle_body_names_events_users_and_devices(faulty: Client) -> None:
    _configure(faulty, statuses={"/2/httpapi": [429]})

    answer = faulty.post("/2/httpapi", AMPLITUDE_BODY)

    assert answer.status == 429
    body = answer.json()
    assert body["code"] == 429
    assert body["error"] == "Too many requests for some devices and users"
    assert body["throttled_events"] == [0, 1]
    assert set(body["throttled_users"]) == {"user-1"}
    assert set(body["throttled_devices"]) == {"device-2"}
    assert body["eps_threshold"] == 30
    assert faulty.events() == []


def test_mparticle_throttle_names_the_limit(faulty: Client) -> None:
    _configure(faulty, statuses={"*": [429, 503]}, retry_after=1.5)
    auth = {"Authorization": basic("k", "s")}
    batch = {"environment": "development", "events": []}

    throttled = faulty.post("/v2/events", batch, headers=auth)
    unavailable = faulty.post("/v2/events", batch, headers=auth)

    assert throttled.status == 429
    assert throttled.headers["x-mp-rate-limit-exceeded"] == "app"
    assert throttled.headers["retry-after"] == "2"
    assert throttled.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert unavailable.status == 503
    assert faulty.events() == []


def test_dropped_connection_gets_no_answer_and_stores_nothing(faulty: Client) -> None:
    _configure(faulty, statuses={"/v1/batch": ["drop"]})

    with pytest.raises(urllib3.exceptions.ProtocolError):
        faulty.segment("/v1/batch", SEGMENT_BATCH)

    assert faulty.events() == []
    assert faulty.stats()["faults"]["drop"] == 1
    # The next request is served normally.
    assert faulty.segment("/v1/batch", SEGMENT_BATCH).status == 200


def test_latency_is_counted_and_the_request_still_served(faulty: Client) -> None:
    _configure(faulty, latency=0.05)

    answer = faulty.segment("/v1/batch", SEGMENT_BATCH)

    assert answer.status == 200
    assert faulty.stats()["faults"]["latency"] == 1
    # The collector's own endpoints are never faulted.
    assert faulty.get("/health").status == 200


def test_admin_endpoint_shows_resets_and_validates(faulty: Client) -> None:
    state = _configure(faulty, statuses={"/v1/track": [500, "ok"]}, seed=3)
    assert state["remaining"] == {"/v1/track": [500, "ok"]}
    assert state["config"]["seed"] == 3

    bad = faulty.post("/_faults", {"failure_rate": 2})
    cleared = faulty.pool.request("DELETE", faulty.url + "/_faults")

    assert bad.status == 400
    assert "failure_rate" in bad.json()["error"]
    assert cleared.status == 200
    assert faulty.get("/_faults").json()["remaining"] == {}


def test_faults_from_python_at_start(tmp_path: Path) -> None:
    config = FaultConfig(statuses={"/2/httpapi": [503]})
    with start_collector(db=tmp_path / "f.db", faults=config) as running:
        client = Client(running)

        first = client.post("/2/httpapi", AMPLITUDE_BODY)
        second = client.post("/2/httpapi", AMPLITUDE_BODY)

        assert first.status == 503
        assert first.json()["code"] == 503
        assert second.status == 200
        assert len(client.events()) == 2
