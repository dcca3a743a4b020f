"""A full disk never stops a client from starting, and never strands a dead spool's messages.

The disk is filled by injection at the spool's write seam (``os.open`` of a new file, every
write to a file under the spool root) rather than with a real tiny filesystem: deterministic,
and no privileges needed. Removing files still works on a full disk, as it does on a real one.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackwire
from tests.sink import Sink
from trackwire._engine import spool_dir
from trackwire._engine.spool import Spool, SpoolConfig
from trackwire.cli import main

DEAD_HOST = "http://127.0.0.1:9"

# The injection tells the spool's files by their descriptors' paths in /proc (Linux).
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


class FullDisk:
    """Refuses with ENOSPC every new file and every write under ``root`` while ``full``."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = os.path.realpath(root)
        self.full = True
        self.refused = 0
        real_open, real_mkdir = os.open, os.mkdir
        real_write, real_writev, real_pwrite = os.write, os.writev, os.pwrite

        def fake_open(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
            if flags & os.O_CREAT and self._mine(path) and not os.path.exists(path):
                self._refuse()
            return real_open(path, flags, mode, **kw)

        def fake_mkdir(path: Any, mode: int = 0o777, **kw: Any) -> None:
            if self._mine(path):
                self._refuse()
            real_mkdir(path, mode, **kw)

        def fake_write(fd: int, data: Any) -> int:
            self._check_fd(fd)
            return real_write(fd, data)

        def fake_writev(fd: int, buffers: Any) -> int:
            self._check_fd(fd)
            return real_writev(fd, buffers)

        def fake_pwrite(fd: int, data: Any, offset: int) -> int:
            self._check_fd(fd)
            return real_pwrite(fd, data, offset)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)
        monkeypatch.setattr(os, "write", fake_write)
        monkeypatch.setattr(os, "writev", fake_writev)
        monkeypatch.setattr(os, "pwrite", fake_pwrite)

    def _mine(self, path: Any) -> bool:
        if not self.full:
            return False
        real = os.path.realpath(os.fspath(path))
        return real == self.root or real.startswith(self.root + os.sep)

    def _check_fd(self, fd: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return
        if self._mine(target):
            self._refuse()

    def _refuse(self) -> None:
        self.refused += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _segment(url: str, spool: Path, **options: Any) -> trackwire.Segment:
    return trackwire.Segment(
        "k", host=url, spool=str(spool), handle_sigterm=False, flush_at=50, **options
    )


def _leave_dead_spool(spool: Path, first: int, count: int) -> None:
    """A client that could not send and stopped: its messages stay on disk, unowned."""
    client = _segment(DEAD_HOST, spool, flush_interval=3600, send_first_immediately=False)
    for n in range(first, first + count):
        client.track("user-1", "Numbered", {"n": n})
    client.shutdown(timeout=0)


def _numbers(sink: Sink) -> list[int]:
    return sorted(message["properties"]["n"] for message in sink.delivered())


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "spool"
    root.mkdir(mode=0o700)
    yield root


def test_a_client_starts_on_a_full_disk_from_memory_and_says_so(
    sink: Sink, spool: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    disk = FullDisk(spool, monkeypatch)
    caplog.set_level(logging.WARNING, logger="trackwire")
    client = _segment(sink.url, spool)  # no ConfigError: the application boots
    try:
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "NOT durable" in errors[0] and str(spool) in errors[0]
        assert client.stats()["spool_fallbacks"] == 1
        for n in range(3):
            client.track("user-1", "Numbered", {"n": n})
        assert client.flush(timeout=10)
        assert _numbers(sink) == [0, 1, 2]
    finally:
        client.shutdown(timeout=5)
    assert disk.refused >= 1
    assert os.listdir(spool) == []  # the half-made spool was cleaned up


def test_a_path_that_is_not_writable_is_still_a_config_error(tmp_path: Path) -> None:
    # Only disk trouble falls back to memory: a wrong path is a mistake caught at boot.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(trackwire.ConfigError, match="writable directory"):
        _segment(DEAD_HOST, blocker / "spool")


def test_a_dead_spool_on_a_full_disk_is_taken_over_in_place_and_drained(
    sink: Sink, spool: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _leave_dead_spool(spool, 0, 20)
    (dead,) = spool_dir.spool_dirs(str(spool))
    disk = FullDisk(spool, monkeypatch)
    caplog.set_level(logging.WARNING, logger="trackwire")
    heir = _segment(sink.url, spool)
    try:
        stats = heir.stats()
        assert (stats["spool_replayed"], stats["spool_fallbacks"]) == (20, 0)
        assert spool_dir.spool_dirs(str(spool)) == [dead]  # its own now: no new spool made
        for n in range(20, 25):  # new messages wait in memory: the disk has no room
            heir.track("user-1", "Numbered", {"n": n})
        assert heir.flush(timeout=20)
        assert _numbers(sink) == list(range(25))
        stats = heir.stats()
        # One refused segment at start, one per new message (each tries a new segment).
        assert (stats["spool_write_errors"], stats["spool_memory_only"]) == (6, 5)
        assert stats["spool_bytes"] == 0
    finally:
        heir.shutdown(timeout=5)
    assert disk.refused >= 6
    assert spool_dir.spool_dirs(str(spool)) == []  # drained, then removed: room again
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "NOT durable" in errors[0]  # said once, not per message
    summary = [r.getMessage() for r in caplog.records if "closing after" in r.getMessage()]
    assert summary == [
        "trackwire: spool: closing after 6 failed write(s); 5 message(s) were kept in memory only"
    ]


def test_writes_that_work_again_end_the_stretch_with_a_summary(
    sink: Sink, spool: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = _segment(sink.url, spool, flush_interval=3600, send_first_immediately=False)
    disk = FullDisk(spool, monkeypatch)
    caplog.set_level(logging.WARNING, logger="trackwire")
    try:
        client.track("user-1", "Numbered", {"n": 0})  # every write is refused
        client.track("user-1", "Numbered", {"n": 1})
        disk.full = False
        client.track("user-1", "Numbered", {"n": 2})
        client.track("user-1", "Numbered", {"n": 3})
        stats = client.stats()
        assert (stats["spool_write_errors"], stats["spool_memory_only"]) == (2, 2)
        lines = [r.getMessage() for r in caplog.records]
        assert sum("NOT durable" in line for line in lines) == 1
        summary = (
            "trackwire: spool: writes work again after 2 failed write(s); "
            "2 message(s) were kept in memory only"
        )
        assert lines.count(summary) == 1
        disk.full = True  # a second stretch is said again, and summed up on its own
        client.track("user-1", "Numbered", {"n": 4})
        disk.full = False
        client.track("user-1", "Numbered", {"n": 5})
        lines = [r.getMessage() for r in caplog.records]
        assert sum("NOT durable" in line for line in lines) == 2
        assert lines[-1] == (
            "trackwire: spool: writes work again after 1 failed write(s); "
            "1 message(s) were kept in memory only"
        )
        assert client.flush(timeout=10)
        assert _numbers(sink) == [0, 1, 2, 3, 4, 5]
    finally:
        client.shutdown(timeout=5)


def test_replay_drains_full_spools_in_place(
    sink: Sink,
    spool: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two dead spools of one source; the disk has no room for a third, nor to copy one into
    # the other: each is drained where it is, one after the other.
    first = _segment(DEAD_HOST, spool, flush_interval=3600, send_first_immediately=False)
    second = _segment(DEAD_HOST, spool, flush_interval=3600, send_first_immediately=False)
    for n in range(10):
        (first if n % 2 else second).track("user-1", "Numbered", {"n": n})
    first.shutdown(timeout=0)
    second.shutdown(timeout=0)
    assert len(spool_dir.spool_dirs(str(spool))) == 2
    FullDisk(spool, monkeypatch)
    monkeypatch.setenv("TRACKWIRE_WRITE_KEY", "k")  # the spool keeps no key in clear
    assert main(["spool", "replay", str(spool), "--host", sink.url, "--timeout", "20"]) == 0
    assert "10 message(s) waiting; all sent" in capsys.readouterr().out
    assert _numbers(sink) == list(range(10))
    assert spool_dir.spool_dirs(str(spool)) == []


def test_every_write_refused_is_counted_and_said_once(
    spool: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # New files can still be made, but no byte goes in them (a quota on blocks, a dying
    # device): each message tries a fresh segment, fails, and waits in memory.
    queue = Spool(SpoolConfig(path=str(spool), window_items=10), {"vendor": "segment"})
    caplog.set_level(logging.WARNING, logger="trackwire")

    def refuse(fd: int, buffers: Any) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "writev", refuse)
    for n in range(500):
        queue.offer(b'{"n":%d}' % n, 0.0)
    stats = queue.stats()
    assert (stats["spool_write_errors"], stats["spool_memory_only"]) == (500, 500)
    assert stats["spool_segments"] <= 1  # the empty files tried are not left behind
    assert len([name for name in os.listdir(queue.directory) if name.endswith(".log")]) <= 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "NOT durable" in lines[0]  # once, not per write
    assert len(queue) == 500
    queue.close()
    assert caplog.records[-1].getMessage() == (
        "trackwire: spool: closing after 500 failed write(s); "
        "500 message(s) were kept in memory only"
    )
