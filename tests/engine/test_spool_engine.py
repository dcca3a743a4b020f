"""The spool under the engine, through a client: what differs from the memory queue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import trackwire
from tests.sink import Sink
from trackwire._engine import spool as spool_module


def test_a_caller_blocked_on_a_full_spool_resumes_when_a_batch_is_acknowledged(
    sink: Sink, tmp_path: Path
) -> None:
    # Room on disk is freed when a batch is acknowledged, not when it is taken: a blocked
    # caller must be woken then, not at the end of its block_timeout (60 s here).
    client = trackwire.Segment(
        "k",
        host=sink.url,
        spool=str(tmp_path),
        spool_max_bytes=2000,
        on_full="block",
        block_timeout=60,
        flush_at=100,
        flush_interval=0.05,
        send_first_immediately=False,
        handle_sigterm=False,
    )
    done = threading.Event()

    def calls() -> None:
        for n in range(30):  # ~200 bytes each: three times the spool
            client.track("user-1", "Numbered", {"n": n})
        done.set()

    threading.Thread(target=calls, daemon=True).start()
    try:
        assert done.wait(30), "a caller stayed blocked after room was freed"
        assert client.flush(timeout=30)
        assert client.stats()["dropped"] == {}
    finally:
        client.shutdown(timeout=5)


def test_messages_left_by_an_earlier_client_are_sent_without_a_new_call(
    sink: Sink, tmp_path: Path
) -> None:
    spool = str(tmp_path / "spool")
    first = trackwire.Segment(
        "k",
        host="http://127.0.0.1:9",
        spool=spool,
        flush_interval=3600,
        send_first_immediately=False,
        handle_sigterm=False,
    )
    for n in range(20):
        first.track("user-1", "Numbered", {"n": n})
    first.shutdown(timeout=0)  # nothing sent: all 20 stay on disk
    assert first.stats()["dropped"] == {"shutdown": 20}

    heir = trackwire.Segment("k", host=sink.url, spool=spool, handle_sigterm=False)
    try:
        assert heir.stats()["spool_replayed"] == 20
        # No call, no flush: the worker starts on its own for what was replayed.
        assert sink.wait_until(lambda: len(sink.delivered()) >= 20, timeout=20)
        numbers = sorted(message["properties"]["n"] for message in sink.delivered())
        assert numbers == list(range(20))
    finally:
        heir.shutdown(timeout=5)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"spool": ""}, "spool"),
        ({"spool": 42}, "spool"),
        ({"spool": "x", "spool_fsync": "sometimes"}, "spool_fsync"),
        ({"spool": "x", "spool_max_bytes": 0}, "spool_max_bytes"),
        ({"spool": "x", "spool_fsync_interval": -1}, "spool_fsync_interval"),
        ({"handle_sigterm": "yes"}, "handle_sigterm"),
        ({"spol": "x"}, "spool"),  # did you mean
    ],
)
def test_bad_spool_options_name_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(trackwire.ConfigError, match=named):
        trackwire.Segment("k", **options)  # type: ignore[arg-type]


def test_a_spool_path_that_cannot_be_used_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(trackwire.ConfigError, match="spool"):
        trackwire.Segment("k", spool=blocker / "spool", handle_sigterm=False)


def test_a_path_object_works_and_stats_show_the_spool(sink: Sink, tmp_path: Path) -> None:
    client = trackwire.Segment("k", host=sink.url, spool=tmp_path / "spool", handle_sigterm=False)
    try:
        client.track("user-1", "Numbered", {"n": 1})
        assert client.flush(timeout=10)
        stats = client.stats()
        assert stats["spool_bytes"] == 0 and stats["spool_corrupt"] == 0
    finally:
        client.shutdown(timeout=5)
    assert list((tmp_path / "spool").iterdir()) == []  # all sent: the spool was removed


def test_a_client_on_a_linked_spool_path_fails_at_construction(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(trackwire.ConfigError, match="symbolic link"):
        trackwire.Segment("k", spool=tmp_path / "link", handle_sigterm=False)


def test_a_spool_left_by_a_client_that_died_meanwhile_is_sent_by_a_running_one(
    sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 0.0)  # look at every turn
    spool = str(tmp_path / "spool")
    running = trackwire.Segment(
        "k", host=sink.url, spool=spool, flush_interval=0.05, handle_sigterm=False
    )
    try:
        running.track("user-1", "Numbered", {"n": 0})
        assert running.flush(timeout=10)
        neighbour = trackwire.Segment(
            "k",
            host="http://127.0.0.1:9",
            spool=spool,
            flush_interval=3600,
            send_first_immediately=False,
            handle_sigterm=False,
        )
        for n in range(1, 6):
            neighbour.track("user-1", "Numbered", {"n": n})
        neighbour.shutdown(timeout=0)  # gone, its five messages left on disk
        running.track("user-1", "Numbered", {"n": 6})  # the running client's worker looks
        assert sink.wait_until(lambda: len(sink.delivered()) >= 7, timeout=20)
        numbers = sorted(message["properties"]["n"] for message in sink.delivered())
        assert numbers == list(range(7))
        assert running.stats()["spool_replayed"] == 5
    finally:
        running.shutdown(timeout=5)
