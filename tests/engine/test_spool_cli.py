"""``trackwire spool status``: owner, liveness, what waits, corruption."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson
import pytest

from tests.sink import Sink
from trackwire._engine import spool_dir
from trackwire._engine.spool import Spool, SpoolConfig
from trackwire._engine.spool_setup import spool_meta
from trackwire.cli import main


def _spool_with(root: Path, count: int) -> Spool:
    spool = Spool(SpoolConfig(path=str(root)), {"vendor": "segment", "settings": {}})
    for n in range(count):
        spool.offer(b'{"n":%d}' % n, 0.0)
    return spool


def test_status_shows_a_live_owner_and_a_dead_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = _spool_with(tmp_path, 3)
    dead = _spool_with(tmp_path, 5)
    dead.abandon()
    with open(os.path.join(dead.directory, "seg-00000001.log"), "ab") as file:
        file.write(b"TWr1\x05")  # a torn record, as a crash mid-write leaves
    assert main(["spool", "status", str(tmp_path), "--json"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {line["spool"]: line for line in lines}
    mine = by_name[os.path.basename(live.directory)]
    assert (mine["owner_pid"], mine["owner_alive"], mine["messages"]) == (os.getpid(), True, 3)
    theirs = by_name[os.path.basename(dead.directory)]
    assert (theirs["owner_alive"], theirs["messages"], theirs["corrupt"]) == (False, 5, 1)
    assert theirs["bytes"] == sum(len(b'{"n":%d}' % n) for n in range(5))
    live.close()


def test_status_of_one_spool_in_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = _spool_with(tmp_path, 2)
    assert main(["spool", "status", spool.directory]) == 0
    out = capsys.readouterr().out
    assert "segment" in out and "(alive)" in out and "waiting 2 message(s)" in out
    spool.close()


def test_status_of_an_empty_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spool", "status", str(tmp_path)]) == 0
    assert "no spool" in capsys.readouterr().out


def test_status_of_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # a usage error, as the other commands' are
        main(["spool", "status", str(tmp_path / "nope")])
    assert exited.value.code == 2
    assert "not a directory" in capsys.readouterr().err


def test_replay_skips_a_spool_of_an_unknown_vendor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = Spool(SpoolConfig(path=str(tmp_path)), {"vendor": "nobody", "args": []})
    dead.offer(b'{"n":1}', 0.0)
    dead.abandon()
    assert main(["spool", "replay", str(tmp_path), "--timeout", "1"]) == 1
    assert "spool of unknown vendor 'nobody': skipped" in capsys.readouterr().err
    assert spool_dir.inspect(dead.directory).messages == 1  # left as it was


def test_replay_leaves_a_spool_of_an_internal_route_to_its_client(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = {"vendor": "mparticle", "identity": "0123456789abcdef", "url": "http://h/historical"}
    dead = Spool(SpoolConfig(path=str(tmp_path)), meta)
    dead.offer(b'{"n":1}', 0.0)
    dead.abandon()
    assert main(["spool", "replay", str(tmp_path), "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "1 spool(s) of an internal route (http://h/historical): skipped" in err
    assert spool_dir.inspect(dead.directory).messages == 1


def test_replay_imports_only_trackwire_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A meta file is data: a class it names outside trackwire is never imported.
    planted = tmp_path / "plantedmod.py"
    planted.write_text("raise SystemExit('imported from a spool meta file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with Sink() as sink:
        identity = spool_meta("segment", ("trackwire.Segment", ("k",), {}))["identity"]
        meta = {
            "format": 1,
            "vendor": "segment",
            "identity": identity,
            "client": "plantedmod.Segment",
            "args": ["k"],
            "kwargs": {},
        }
        root = tmp_path / "spool"
        dead = Spool(SpoolConfig(path=str(root)), meta)
        dead.offer(b'{"type":"track","event":"E","userId":"u","messageId":"m1"}', 0.0)
        dead.abandon()
        command = ["spool", "replay", str(root), "--host", sink.url, "--timeout", "10"]
        assert main(command) == 0
        assert "plantedmod" not in sys.modules
        assert [message["messageId"] for message in sink.delivered()] == ["m1"]
