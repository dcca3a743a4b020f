"""The ``trackwire`` command: the collector as a real process, ``events`` and ``send``."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from tests.collector.conftest import Client, basic
from trackwire.cli import main
from trackwire.collector.faults import FaultConfig
from trackwire.collector.keys import fingerprint
from trackwire.collector.server import CollectorStartError, RunningCollector, spawn_collector
from trackwire.collector.sqlite import SQLiteStore

BATCH = {"batch": [{"type": "track", "userId": "cli-user", "event": "From CLI"}]}


def _post_batch(url: str, body: Any = BATCH, key: str = "wk") -> int:
    response = urllib3.request(
        "POST",
        url + "/v1/batch",
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json", "Authorization": basic(key)},
        retries=False,
    )
    return response.status


def _stored(db: Path) -> list[Any]:
    store = SQLiteStore(db)
    try:
        return store.events()
    finally:
        store.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_collector_process_serves_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    db = tmp_path / "cli.db"
    collector = spawn_collector(db)
    try:
        assert collector.url.startswith("http://127.0.0.1:")
        assert _post_batch(collector.url) == 200
        collector.process.send_signal(stop_signal)
        status = collector.process.wait(15)
    finally:
        collector.stop()

    assert status == 0
    (event,) = _stored(db)
    assert (event.event_name, event.user_id) == ("From CLI", "cli-user")
    hint = collector.output()
    assert any("trackwire events --url" in line for line in hint)
    assert any("development mode" in line for line in hint)


def test_a_request_in_flight_finishes_before_the_process_exits(tmp_path: Path) -> None:
    db = tmp_path / "inflight.db"
    collector = spawn_collector(db, faults=FaultConfig(latency=1.0))
    statuses: list[int] = []
    try:
        sender = threading.Thread(target=lambda: statuses.append(_post_batch(collector.url)))
        sender.start()
        # The latency fault is counted when the request arrives, before it is delayed.
        deadline = time.monotonic() + 10
        client = urllib3.PoolManager(retries=False)
        while time.monotonic() < deadline:
            stats = orjson.loads(client.request("GET", collector.url + "/stats").data)
            if stats["faults"].get("latency"):
                break
        collector.process.send_signal(signal.SIGTERM)
        sender.join(15)
        status = collector.process.wait(15)
    finally:
        collector.stop()

    assert statuses == [200]
    assert status == 0
    assert len(_stored(db)) == 1


def test_collector_process_with_keys_file(tmp_path: Path, keys_file: Path) -> None:
    with spawn_collector(tmp_path / "keyed.db", keys=keys_file) as collector:
        assert _post_batch(collector.url, key="nope") == 401
        assert _post_batch(collector.url, key="seg-key") == 200

    assert [e.source for e in _stored(tmp_path / "keyed.db")] == ["backend"]


def test_spawn_reports_why_the_process_did_not_start(tmp_path: Path) -> None:
    with pytest.raises(CollectorStartError, match=r"refusing to listen on 0\.0\.0\.0"):
        spawn_collector(tmp_path / "x.db", host="0.0.0.0")


def test_collector_command_refuses_a_public_bind_without_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["collector", "--host", "0.0.0.0", "--port", "0", "--db", str(tmp_path / "x.db")])

    assert status == 2
    assert "refusing to listen on 0.0.0.0 without a keys file" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_events_prints_a_table_and_json_lines(
    client: Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    client.segment("/v1/batch", BATCH)
    client.post(
        "/2/httpapi", {"api_key": "k", "events": [{"event_type": "Played", "user_id": "amp-user"}]}
    )

    assert main(["events", "--url", client.url]) == 0
    table = capsys.readouterr().out
    assert main(["events", "--url", client.url, "--vendor", "amplitude", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert "From CLI" in table and "Played" in table
    assert "cli-user" in table and "amplitude" in table
    assert [orjson.loads(line)["event_name"] for line in lines] == ["Played"]


def test_events_says_when_the_collector_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["events", "--url", "http://127.0.0.1:9", "--timeout", "2"])

    assert status == 1
    assert "cannot reach the collector" in capsys.readouterr().err


def test_send_segment_goes_through_the_trackwire_client(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([
        "send", "segment", "track", "--write-key", "cli-key", "--user-id", "u-1",
        "--event", "Signed Up", "--properties", '{"plan": "pro"}', "--host", collector.url,
    ])  # fmt: skip

    assert status == 0
    assert "delivered: segment track messageId=" in capsys.readouterr().out
    (event,) = collector.store.events()
    assert (event.source, event.event_name) == (fingerprint("cli-key"), "Signed Up")
    assert event.payload["properties"] == {"plan": "pro"}
    assert event.payload["context"]["library"]["name"] == "trackwire"


@pytest.mark.parametrize(
    ("call", "flags", "check"),
    [
        ("identify", ["--traits", '{"plan": "pro"}'], lambda e: e.payload["traits"]),
        ("page", ["--name", "Pricing"], lambda e: e.event_name),
        ("screen", ["--name", "Home"], lambda e: e.event_name),
        ("group", ["--group-id", "acme"], lambda e: e.payload["groupId"]),
        ("alias", ["--previous-id", "anon-1"], lambda e: e.payload["previousId"]),
    ],
)
def test_send_segment_other_calls(
    collector: RunningCollector, call: str, flags: list[str], check: Any
) -> None:
    args = ["send", "segment", call, "--write-key", "k", "--user-id", "u-1", *flags]

    assert main([*args, "--host", collector.url]) == 0

    (event,) = collector.store.events()
    assert event.type == call
    assert check(event)


def test_send_amplitude_and_mparticle(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    amplitude = main([
        "send", "amplitude", "track", "--api-key", "amp", "--user-id", "user-42",
        "--event", "Played", "--properties", '{"song": "Blue"}', "--host", collector.url,
    ])  # fmt: skip
    identify = main([
        "send", "amplitude", "identify", "--api-key", "amp", "--user-id", "user-42",
        "--user-properties", '{"$set": {"plan": "pro"}}', "--host", collector.url,
    ])  # fmt: skip
    mparticle = main([
        "send", "mparticle", "event", "--key", "mk", "--secret", "ms", "--customer-id", "c-1",
        "--event", "Hello", "--attributes", '{"a": 1}', "--host", collector.url,
    ])  # fmt: skip

    assert (amplitude, identify, mparticle) == (0, 0, 0)
    assert "(HTTP 200)" in capsys.readouterr().out
    names = {(e.vendor, e.event_name) for e in collector.store.events()}
    assert names == {("amplitude", "Played"), ("amplitude", "$identify"), ("mparticle", "Hello")}
    user = collector.store.user("amplitude", fingerprint("amp"), user_id="user-42")
    assert user is not None and user.properties == {"plan": "pro"}


def test_send_refuses_bad_json_flags(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["send", "segment", "track", "--write-key", "k", "--user-id", "u",
              "--event", "E", "--properties", "{oops", "--host", collector.url])  # fmt: skip

    assert info.value.code == 2
    assert "--properties is not valid JSON" in capsys.readouterr().err
    assert collector.store.events() == []
