"""``trackwire spool replay``: what a killed process left is sent by the command, through the
vendor client the spool recorded; ``status`` reports it before and nothing after."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson
import pytest

from tests.reliability.conftest import Collected, run_child
from tests.reliability.vendors import KEYS, VENDORS
from trackwire.cli import main
from trackwire.collector.keys import fingerprint

KILLED = r"""
import os, signal, sys
from tests.reliability.vendors import make_client

client, send = make_client(sys.argv[1], sys.argv[2], spool=sys.argv[3], flush_interval=30)
for n in range(300):
    send(n)
os.kill(os.getpid(), signal.SIGKILL)
"""


#: The environment ``spool replay`` reads each vendor's keys from (no key is kept in clear).
REPLAY_ENV = {
    "segment": {"TRACKWIRE_WRITE_KEY": KEYS["segment"]},
    "amplitude": {"TRACKWIRE_API_KEY": KEYS["amplitude"]},
    "mparticle": {"TRACKWIRE_API_KEY": KEYS["mparticle"], "TRACKWIRE_API_SECRET": "tw-secret"},
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_replay_sends_what_a_killed_process_left(
    collected: Collected,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    vendor: str,
) -> None:
    spool = str(tmp_path / "spool")
    # The recorded host refuses connections: only --host can get these events delivered.
    dead_host = "http://127.0.0.1:9"
    child = run_child(KILLED, vendor, dead_host, spool)
    assert child.returncode == -signal.SIGKILL, child.stderr
    (directory,) = [name for name in os.listdir(spool) if name.startswith("spool-")]
    raw = Path(spool, directory, "meta.json").read_bytes()
    meta = orjson.loads(raw)
    assert (meta["vendor"], meta["args"][0]["secret"]) == (
        vendor,
        "api_key" if vendor != "segment" else "write_key",
    )
    assert KEYS[vendor].encode() not in raw and b"tw-secret" not in raw  # no key in clear
    assert meta["kwargs"]["flush_interval"] == 30 and dead_host in meta["kwargs"].values()
    assert os.stat(Path(spool, directory, "meta.json")).st_mode & 0o077 == 0

    assert main(["spool", "status", spool, "--json"]) == 0
    status = orjson.loads(capsys.readouterr().out)
    assert (status["owner_alive"], status["messages"]) == (False, 300)

    for name in REPLAY_ENV[vendor]:
        monkeypatch.delenv(name, raising=False)
    replay = ["spool", "replay", spool, "--host", collected.url, "--timeout", "30"]
    assert main(replay) == 1  # no key given: nothing sent, and the fix named
    missing = next(iter(REPLAY_ENV[vendor]))
    assert f"set {missing}" in capsys.readouterr().err
    assert len(collected.numbers(vendor)) == 0
    for name, value in REPLAY_ENV[vendor].items():
        monkeypatch.setenv(name, value)
    assert main(replay) == 0
    assert "300 message(s) waiting; all sent" in capsys.readouterr().out
    numbers = collected.numbers(vendor)
    assert sorted(numbers) == list(range(300))
    sources = {event.source for event in collected.store.events(limit=10)}
    assert sources == {fingerprint(KEYS[vendor])}  # sent with the recorded key
    assert main(["spool", "status", spool]) == 0
    assert "no spool" in capsys.readouterr().out


def test_replay_to_a_dead_host_says_why_and_gives_up_at_its_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = str(tmp_path / "spool")
    dead_host = "http://127.0.0.1:9"
    child = run_child(KILLED, "segment", dead_host, spool)
    assert child.returncode == -signal.SIGKILL, child.stderr
    for name, value in REPLAY_ENV["segment"].items():
        monkeypatch.setenv(name, value)

    assert main(["spool", "replay", spool, "--timeout", "6"]) == 1

    captured = capsys.readouterr()
    # Not silence: what the attempts meet, while they go on and when it gives up.
    assert "segment: still sending; the last attempt met" in captured.err
    assert "segment: gave up after 6 s:" in captured.err
    assert "connection_refused" in captured.err
    assert "300 not sent (still in the spool)" in captured.out


def test_replay_checks_its_host_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["spool", "replay", str(tmp_path), "--host", "not-a-url"])
    assert info.value.code == 2
    assert "expected an http:// or https:// URL" in capsys.readouterr().err
