"""The on-disk spool: replay, acknowledgements out of order, bounds, memory window, takeover."""

from __future__ import annotations

import errno
import logging
import os
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwire._engine import spool as spool_module
from trackwire._engine import spool_dir
from trackwire._engine.queue import MessageQueue, Queued
from trackwire._engine.spool import Spool, SpoolConfig
from trackwire._engine.spool_format import HEADER_SIZE
from trackwire._engine.spool_secrets import MissingSecret, fingerprint, reveal_secrets
from trackwire._engine.spool_setup import spool_meta
from trackwire._engine.transport import HTTPRequest
from trackwire.errors import ConfigError

META = {"vendor": "segment", "settings": {"host": "http://127.0.0.1:1"}}


def _open(root: Path, **options: object) -> Spool:
    return Spool(SpoolConfig(path=str(root), **options), META)  # type: ignore[arg-type]


def _msg(n: int) -> bytes:
    return b'{"n":%d}' % n


def _take_all(spool: Spool) -> list[Queued]:
    out: list[Queued] = []
    while len(spool):
        out.extend(spool.take(7))
    return out


def _numbers(items: list[Queued]) -> list[int]:
    return [int(item.data[5:-1]) for item in items]


def _segment_files(spool: Spool) -> list[str]:
    return sorted(name for name in os.listdir(spool.directory) if name.endswith(".log"))


def test_is_a_message_queue(tmp_path: Path) -> None:
    spool: MessageQueue = _open(tmp_path)
    assert len(spool) == 0 and spool.head is None and spool.next_seq == 0
    spool.close()


def test_offer_take_ack_in_order(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    seqs = [spool.offer(_msg(n), 0.0) for n in range(5)]
    assert seqs == [0, 1, 2, 3, 4]
    assert len(spool) == 5 and spool.nbytes == sum(len(_msg(n)) for n in range(5))
    assert list(spool.sizes()) == [len(_msg(n)) for n in range(5)]
    head = spool.head
    assert head is not None and head.seq == 0
    batch = spool.take(3)
    assert [item.seq for item in batch] == [0, 1, 2]
    assert spool.nbytes == sum(len(_msg(n)) for n in range(3, 5))  # in flight: not waiting
    spool.release(batch[1:])
    assert spool.nbytes == sum(len(_msg(n)) for n in range(1, 5))
    assert [item.seq for item in spool.take(10)] == [1, 2, 3, 4]
    spool.close()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"fsync": "sometimes"}, "spool_fsync"),
        ({"max_bytes": 0}, "spool_max_bytes"),
        ({"fsync_interval": 0}, "spool_fsync_interval"),
        ({"segment_bytes": True}, "spool_segment_bytes"),
    ],
)
def test_config_errors_name_the_option(value: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        SpoolConfig(path="x", **value)  # type: ignore[arg-type]


def test_drained_messages_are_replayed_by_the_next_spool(tmp_path: Path) -> None:
    spool = _open(tmp_path, segment_bytes=200)
    for n in range(30):
        spool.offer(_msg(n), 0.0)
    first = spool.take(4)
    spool.ack(first)
    left = spool.drain()
    assert [item.seq for item in left] == list(range(4, 30))
    spool.close()

    again = _open(tmp_path, segment_bytes=200)
    assert again.directory == spool.directory  # taken over, not a new one
    assert again.replayed == 26 and len(again) == 26
    assert again.nbytes == sum(len(_msg(n)) for n in range(4, 30))
    files = _segment_files(again)  # every one holds a message still, or is the new active one
    assert again.stats()["spool_segments"] == len(files)
    items = _take_all(again)
    assert _numbers(items) == list(range(4, 30))
    assert [item.seq for item in items] == list(range(26))  # fresh seqs
    again.ack(items)
    again.close()
    assert spool_dir.spool_dirs(str(tmp_path)) == []  # empty: removed


def test_in_flight_messages_not_acknowledged_are_replayed(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    for n in range(10):
        spool.offer(_msg(n), 0.0)
    batch = spool.take(6)
    spool.ack([batch[1], batch[4]])
    spool.abandon()  # as if the process died: nothing cleaned up, lock gone with it

    again = _open(tmp_path)
    assert _numbers(_take_all(again)) == [0, 2, 3, 5, 6, 7, 8, 9]
    again.close()


def test_acks_out_of_order_delete_segments_only_when_complete(tmp_path: Path) -> None:
    rng = random.Random(7)
    spool = _open(tmp_path, segment_bytes=HEADER_SIZE * 10)
    for n in range(200):
        spool.offer(_msg(n), 0.0)
    assert len(_segment_files(spool)) > 10
    items = _take_all(spool)
    rng.shuffle(items)
    for start in range(0, 180, 9):
        spool.ack(items[start : start + 9])
    remaining = items[180:]
    spool.abandon()
    again = _open(tmp_path, segment_bytes=HEADER_SIZE * 10)
    assert sorted(_numbers(_take_all(again))) == sorted(_numbers(remaining))
    # Only segments still holding a waiting message survived (plus the new active one).
    assert len(_segment_files(again)) <= len(remaining) + 1
    again.close()


def test_segments_are_deleted_as_they_are_acknowledged(tmp_path: Path) -> None:
    spool = _open(tmp_path, segment_bytes=HEADER_SIZE * 10)
    for n in range(100):
        spool.offer(_msg(n), 0.0)
    while len(spool):
        spool.ack(spool.take(3))
    assert len(_segment_files(spool)) == 1  # the one still being written
    spool.close()


def test_acknowledging_twice_is_harmless(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    spool.offer(_msg(1), 0.0)
    batch = spool.take(1)
    spool.ack(batch)
    spool.ack(batch)
    assert spool.stats()["spool_bytes"] == 0
    spool.close()


def test_memory_holds_only_a_window(tmp_path: Path) -> None:
    spool = _open(tmp_path, window_items=10, segment_bytes=500)
    for n in range(300):
        spool.offer(_msg(n), 0.0)
    assert len(spool) == 300
    assert spool.nbytes == sum(len(_msg(n)) for n in range(300))
    assert len(list(spool.sizes())) == 10
    items = []
    while len(spool):
        batch = spool.take(4)
        assert len(list(spool.sizes())) <= 10
        assert spool.nbytes == sum(len(_msg(n)) for n in range(len(items) + 4, 300))
        items.extend(batch)
        spool.ack(batch)
    assert _numbers(items) == list(range(300))
    assert [item.seq for item in items] == list(range(300))
    spool.close()


def test_window_by_bytes(tmp_path: Path) -> None:
    spool = _open(tmp_path, window_bytes=100)
    for n in range(50):
        spool.offer(b"%050d" % n, 0.0)
    assert sum(spool.sizes()) <= 100 + 50
    assert [int(item.data) for item in _take_all(spool)] == list(range(50))
    spool.close()


def test_new_messages_queue_behind_the_backlog(tmp_path: Path) -> None:
    first = _open(tmp_path)
    for n in range(20):
        first.offer(_msg(n), 0.0)
    first.drain()
    first.close()
    spool = _open(tmp_path, window_items=5)
    for n in range(20, 30):
        assert spool.offer(_msg(n), 0.0) == n  # seqs continue after the replayed ones
    items = _take_all(spool)
    assert _numbers(items) == list(range(30))
    assert [item.seq for item in items] == list(range(30))
    spool.close()


def test_bound_on_disk_and_evict_oldest(tmp_path: Path) -> None:
    size = len(_msg(0))
    spool = _open(tmp_path, max_bytes=3 * size)
    for n in range(3):
        assert spool.has_room(size)
        spool.offer(_msg(n), 0.0)
    assert not spool.has_room(1)
    assert spool.could_ever_fit(3 * size) and not spool.could_ever_fit(3 * size + 1)
    evicted = spool.evict_oldest()
    assert evicted is not None and evicted.data == _msg(0)
    assert len(spool) == 2 and spool.nbytes == 2 * size
    assert spool.has_room(size) and not spool.has_room(size + 1)
    in_flight = spool.take(2)
    assert not spool.has_room(size + 1)  # in flight still counts: it is on disk
    spool.ack(in_flight)
    assert spool.has_room(3 * size)
    spool.abandon()
    again = _open(tmp_path)
    assert len(again) == 0  # the evicted one is gone for good
    again.close()


def test_count_bound(tmp_path: Path) -> None:
    spool = _open(tmp_path, max_items=2)
    spool.offer(_msg(1), 0.0)
    spool.offer(_msg(2), 0.0)
    assert not spool.has_room(1)
    spool.take(1)
    assert spool.has_room(1)  # counts waiting messages, as the memory queue does
    spool.close()


def test_evict_from_an_empty_spool(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    assert spool.evict_oldest() is None
    spool.close()


def test_drain_returns_seqs_past_the_window_without_reading_them(tmp_path: Path) -> None:
    spool = _open(tmp_path, window_items=3)
    for n in range(10):
        spool.offer(_msg(n), 0.0)
    left = spool.drain()
    assert [item.seq for item in left] == list(range(10))
    assert [item.data for item in left[:3]] == [_msg(n) for n in range(3)]
    assert len(spool) == 0
    spool.close()
    again = _open(tmp_path)
    assert _numbers(_take_all(again)) == list(range(10))
    again.close()


def test_corrupt_records_are_skipped_and_counted(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    for n in range(10):
        spool.offer(_msg(n), 0.0)
    spool.abandon()
    (segment,) = _segment_files(spool)
    path = os.path.join(spool.directory, segment)
    data = bytearray(Path(path).read_bytes())
    data[HEADER_SIZE + 2] ^= 0xFF  # first record's payload
    Path(path).write_bytes(bytes(data[:-3]))  # and the last one torn
    again = _open(tmp_path)
    assert again.corrupt == 2
    assert _numbers(_take_all(again)) == list(range(1, 9))
    again.close()


def test_a_failed_write_keeps_the_message_in_memory_in_order(tmp_path: Path) -> None:
    spool = _open(tmp_path, window_items=2)
    for n in range(4):
        spool.offer(_msg(n), 0.0)
    os.close(spool._active_fd)  # the next write fails (EBADF), as a full disk would
    os.dup2(os.open(os.devnull, os.O_RDONLY), spool._active_fd)
    spool.offer(_msg(4), 0.0)
    for n in range(5, 8):
        spool.offer(_msg(n), 0.0)  # a new segment is opened: durable again
    assert spool.failures.errors >= 1
    items = _take_all(spool)
    assert _numbers(items) == list(range(8))
    assert [item.seq for item in items] == list(range(8))
    spool.ack(items)
    spool.close()


def test_each_live_spool_has_its_own_directory(tmp_path: Path) -> None:
    one, two = _open(tmp_path), _open(tmp_path)
    assert one.directory != two.directory
    assert spool_dir.lock_is_held(one.directory)
    info = spool_dir.inspect(one.directory)
    assert info.owner_pid == os.getpid() and info.owner_alive and info.vendor == "segment"
    one.close()
    two.close()


def test_dead_spools_of_another_vendor_are_left_alone(tmp_path: Path) -> None:
    other = Spool(SpoolConfig(path=str(tmp_path)), {"vendor": "amplitude"})
    other.offer(b"{}", 0.0)
    other.abandon()
    mine = _open(tmp_path)
    assert mine.directory != other.directory and len(mine) == 0
    mine.close()
    assert os.path.isdir(other.directory)


def test_several_dead_spools_are_all_taken_over(tmp_path: Path) -> None:
    dead = []
    for k in range(3):
        spool = _open(tmp_path)
        dead.append(spool)
        for n in range(5):
            spool.offer(_msg(10 * k + n), 0.0)
    for spool in dead:
        spool.abandon()
    heir = _open(tmp_path)
    assert heir.replayed == 15
    expected = sorted(10 * k + n for k in range(3) for n in range(5))
    assert sorted(_numbers(_take_all(heir))) == expected
    assert spool_dir.spool_dirs(str(tmp_path)) == [heir.directory]
    heir.close()


@pytest.fixture
def many_sizes() -> Iterator[list[int]]:
    yield [1, 10, 100, 1000, 10_000]


def test_sizes_round_trip(tmp_path: Path, many_sizes: list[int]) -> None:
    spool = _open(tmp_path, segment_bytes=4096, window_bytes=2048)
    payloads = [bytes([65 + i]) * size for i, size in enumerate(many_sizes)]
    for payload in payloads:
        spool.offer(payload, 0.0)
    spool.drain()
    spool.close()
    again = _open(tmp_path, segment_bytes=4096, window_bytes=2048)
    assert [item.data for item in _take_all(again)] == payloads
    again.close()


def test_fsync_interval_syncs_in_a_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    synced = threading.Event()
    threads: list[str] = []

    def fake_fdatasync(fd: int) -> None:
        threads.append(threading.current_thread().name)
        synced.set()

    monkeypatch.setattr(os, "fdatasync", fake_fdatasync)
    spool = _open(tmp_path, fsync="interval", fsync_interval=0.01)
    spool.offer(_msg(1), 0.0)
    assert not threads  # the call itself never syncs
    assert synced.wait(10)
    assert set(threads) == {"trackwire-spool-sync"}
    spool.close()


@pytest.mark.parametrize(("policy", "syncs"), [("always", 3), ("never", 0)])
def test_fsync_always_and_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, syncs: int
) -> None:
    calls: list[int] = []
    real = os.fdatasync
    caller = threading.current_thread()

    def fdatasync(fd: int) -> None:
        # Only this thread's syncs count: another test's sync thread may still be winding down.
        if threading.current_thread() is caller:
            calls.append(fd)
        else:
            real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    spool = _open(tmp_path, fsync=policy)
    for n in range(3):
        spool.offer(_msg(n), 0.0)
    assert len(calls) == syncs
    spool.close()


def test_a_dead_spool_of_another_source_is_left_alone(tmp_path: Path) -> None:
    config = SpoolConfig(path=str(tmp_path))
    theirs = Spool(config, {"vendor": "segment", "identity": "source-a"})
    theirs.offer(b"{}", 0.0)
    theirs.abandon()
    other = Spool(config, {"vendor": "segment", "identity": "source-b"})
    assert other.directory != theirs.directory and len(other) == 0
    other.close()
    same = Spool(config, {"vendor": "segment", "identity": "source-a"})
    assert same.directory == theirs.directory and len(same) == 1
    same.close()


@pytest.mark.parametrize(
    ("one", "two", "same"),
    [
        ((("k1",), {"host": "http://a"}), (("k1",), {"host": "http://b"}), True),
        ((("k1",), {}), (("k2",), {}), False),
        (((), {"write_key": "k1"}), ((), {"write_key": "k2"}), False),
        ((("k", "s1"), {}), (("k", "s2"), {}), False),  # mParticle: key and secret
        ((("k",), {"token_endpoint": "http://a"}), (("k",), {"token_endpoint": "http://b"}), True),
    ],
)
def test_identity_is_the_keys_not_the_settings(
    one: tuple[tuple[str, ...], dict[str, str]],
    two: tuple[tuple[str, ...], dict[str, str]],
    same: bool,
) -> None:
    first = spool_meta("segment", ("trackwire.Segment", *one))
    second = spool_meta("segment", ("trackwire.Segment", *two))
    assert (first["identity"] == second["identity"]) is same
    assert "k1" not in first["identity"]


def test_meta_keeps_plain_values_only_and_no_key_in_clear() -> None:
    meta = spool_meta(
        "segment",
        (
            "trackwire.Segment",
            ("wk-123456",),
            {"host": "h", "on_error": print, "spool": "/x", "proxy_token": "tok-987"},
        ),
    )
    salt = meta["salt"]
    assert (meta["format"], meta["client"], meta["args"], meta["kwargs"]) == (
        2,
        "trackwire.Segment",
        [{"secret": "write_key", "fingerprint": fingerprint(salt, "wk-123456")}],
        {
            "host": "h",
            "proxy_token": {"secret": "proxy_token", "fingerprint": fingerprint(salt, "tok-987")},
        },
    )
    text = orjson.dumps(meta)
    assert b"wk-123456" not in text and b"tok-987" not in text


def test_keys_are_given_again_at_replay_and_checked_against_the_fingerprint() -> None:
    meta = spool_meta("mparticle", ("trackwire.MParticle", ("the-key", "the-secret"), {}))
    env = {"TRACKWIRE_API_KEY": "the-key", "TRACKWIRE_API_SECRET": "the-secret"}
    assert reveal_secrets(meta, env) == (["the-key", "the-secret"], {})
    with pytest.raises(MissingSecret, match="set TRACKWIRE_API_SECRET"):
        reveal_secrets(meta, {"TRACKWIRE_API_KEY": "the-key"})
    with pytest.raises(MissingSecret, match="TRACKWIRE_API_KEY is not the api_key"):
        reveal_secrets(meta, {**env, "TRACKWIRE_API_KEY": "another-key"})


class MadeWith:
    """A client whose second positional argument is a setting, not a key."""

    def __init__(self, write_key: str, host: str, retries: int = 3) -> None:
        self.args = (write_key, host, retries)


def test_a_positional_setting_stays_in_clear() -> None:
    client = f"{__name__}.MadeWith"
    meta = spool_meta("segment", (client, ("wk-1", "http://h", 5), {"api_token": 7}))
    salt = meta["salt"]
    placeholder = {"secret": "write_key", "fingerprint": fingerprint(salt, "wk-1")}
    assert meta["args"] == [placeholder, "http://h", 5]
    assert meta["kwargs"] == {"api_token": 7}  # not a str: no key, kept as it is
    env = {"TRACKWIRE_WRITE_KEY": "wk-1"}
    assert reveal_secrets(meta, env) == (["wk-1", "http://h", 5], {"api_token": 7})


def test_a_meta_file_of_format_1_is_read_as_it_is() -> None:
    old = {"format": 1, "vendor": "segment", "args": ["k"], "kwargs": {"host": "h"}}
    assert reveal_secrets(old, {}) == (["k"], {"host": "h"})


def test_a_spool_left_half_made_is_removed(tmp_path: Path) -> None:
    half = tmp_path / ".new-0badc0de"
    half.mkdir()
    (half / "lock").write_text("12345\n")  # its creator died before renaming it
    spool = _open(tmp_path)
    assert not half.exists()
    spool.close()


def test_a_segment_removed_by_hand_is_skipped_not_a_crash(tmp_path: Path) -> None:
    spool = _open(tmp_path, segment_bytes=HEADER_SIZE * 10)
    for n in range(40):
        spool.offer(_msg(n), 0.0)
    spool.drain()
    spool.close()
    again = _open(tmp_path, segment_bytes=HEADER_SIZE * 10, window_items=2)
    os.unlink(os.path.join(again.directory, _segment_files(again)[2]))
    got = _numbers(_take_all(again))
    assert 0 < len(got) < 40 and got == sorted(got)
    again.close()


class _Route:
    """A destination without a vendor class around it (mParticle's historical route)."""

    name = "mparticle"

    def __init__(self, auth: str) -> None:
        self.auth = auth

    def request(self, messages: object, retry_count: int) -> HTTPRequest:
        return HTTPRequest("POST", "http://h/historical", {"Authorization": self.auth}, b"[]", 1)


def test_a_route_without_a_vendor_class_is_identified_by_its_credentials() -> None:
    one = spool_meta("mparticle", None, _Route("Basic a"))  # type: ignore[arg-type]
    same = spool_meta("mparticle", None, _Route("Basic a"))  # type: ignore[arg-type]
    other = spool_meta("mparticle", None, _Route("Basic b"))  # type: ignore[arg-type]
    assert one["identity"] == same["identity"] != other["identity"]
    assert "args" not in one and "Basic" not in str(one)


def test_a_failed_write_into_an_empty_spool_is_at_the_head_at_once(tmp_path: Path) -> None:
    spool = _open(tmp_path)
    os.close(spool._active_fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), spool._active_fd)
    spool.offer(_msg(0), 0.0)
    head = spool.head
    assert len(spool) == 1 and head is not None and head.data == _msg(0)
    assert list(spool.sizes()) == [len(_msg(0))]
    spool.ack(spool.take(1))
    spool.close()


def test_an_unreadable_segment_is_skipped_not_a_failure(tmp_path: Path) -> None:
    dead = _open(tmp_path)
    dead.offer(_msg(1), 0.0)
    dead.abandon()
    os.mkdir(os.path.join(dead.directory, "seg-00000002.log"))  # a "segment" one cannot read
    again = _open(tmp_path)
    assert again.directory == dead.directory
    assert again.corrupt == 1 and _numbers(_take_all(again)) == [1]
    again.close()


def test_a_spool_that_fails_to_open_lets_go_of_its_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _open(tmp_path)
    dead.offer(_msg(1), 0.0)
    dead.abandon()

    def refuse(self: Spool) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Spool, "_replay_own", refuse)
    with pytest.raises(OSError):
        _open(tmp_path)
    assert not spool_dir.lock_is_held(dead.directory)  # free for the next process


def test_an_unreadable_segment_in_a_spool_taken_over_is_skipped(tmp_path: Path) -> None:
    first, second = _open(tmp_path), _open(tmp_path)
    first.offer(_msg(1), 0.0)
    second.offer(_msg(2), 0.0)
    for spool in (first, second):
        spool.abandon()
    os.mkdir(os.path.join(second.directory, "seg-00000005.log"))
    heir = _open(tmp_path)
    assert sorted(_numbers(_take_all(heir))) == [1, 2]
    assert heir.corrupt == 1
    heir.close()


class _FdWatch:
    """Records the descriptors opened and closed through ``os``, to catch a stray close.

    Only closes made by trackwire's own code, on this thread or one started after the watch,
    count: the patch is process-wide, and threads left by earlier tests of the same process
    (a finished test's subprocess pipes, another client's worker) may close their own
    descriptors meanwhile.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: set[int] = set()
        self.stray: list[int] = []
        real_open, real_dup, real_close = os.open, os.dup, os.close
        earlier = {thread.ident for thread in threading.enumerate()}
        earlier.discard(threading.get_ident())

        def watched_open(*args: Any, **kwargs: Any) -> int:
            fd = real_open(*args, **kwargs)
            self.opened.add(fd)
            return fd

        def watched_dup(fd: int) -> int:
            new = real_dup(fd)
            self.opened.add(new)
            return new

        def watched_close(fd: int) -> None:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if (
                fd not in self.opened
                and caller.startswith("trackwire.")
                and threading.get_ident() not in earlier
            ):
                self.stray.append(fd)
            self.opened.discard(fd)
            real_close(fd)

        monkeypatch.setattr(os, "open", watched_open)
        monkeypatch.setattr(os, "dup", watched_dup)
        monkeypatch.setattr(os, "close", watched_close)


def _refuse_new_segments(monkeypatch: pytest.MonkeyPatch, refusing: list[bool]) -> None:
    real_open = os.open

    def open_or_refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if refusing[0] and str(path).endswith(".log") and flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_or_refuse)


@pytest.mark.parametrize("fsync", ["never", "always", "interval"])
def test_a_rotation_that_cannot_open_the_next_segment_keeps_messages_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: str
) -> None:
    refusing = [False]
    _refuse_new_segments(monkeypatch, refusing)
    watch = _FdWatch(monkeypatch)  # opened after the spool's own fd 0..2 checks below
    size = HEADER_SIZE + len(_msg(0))
    spool = _open(tmp_path, segment_bytes=3 * size, fsync=fsync, window_items=4)
    for n in range(3):  # segment 1 full
        spool.offer(_msg(n), 0.0)
    refusing[0] = True
    for n in range(3, 7):  # each needs a new segment, and none can be made
        spool.offer(_msg(n), 0.0)
    assert (spool.failures.errors, spool.failures.memory_only) == (4, 4)
    assert len(spool) == 7 and spool.nbytes == sum(len(_msg(n)) for n in range(7))
    stats = spool.stats()
    assert (stats["spool_segments"], stats["spool_bytes"]) == (1, 3 * len(_msg(0)))
    assert _segment_files(spool) == ["seg-00000001.log"]
    refusing[0] = False
    for n in range(7, 9):  # the disk has room again: durable again, in a new segment
        spool.offer(_msg(n), 0.0)
    assert (spool.failures.errors, spool.failures.memory_only) == (4, 4)
    assert spool.stats()["spool_bytes"] == 5 * len(_msg(0))
    items = _take_all(spool)
    assert _numbers(items) == list(range(9))
    assert [item.seq for item in items] == list(range(9))
    spool.ack(items)
    assert spool.stats()["spool_bytes"] == 0
    spool.close()
    assert spool_dir.spool_dirs(str(tmp_path)) == []
    assert watch.stray == []  # nothing closed that the spool did not open (fd 0 above all)


def test_a_spool_that_starts_without_a_segment_closes_no_stray_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _open(tmp_path)
    dead.offer(_msg(1), 0.0)
    dead.abandon()
    # The numbers it freed are handed out again: abandoning twice must not close them.
    sentinels = [os.open(os.devnull, os.O_RDONLY) for _ in range(4)]
    dead.abandon()
    for fd in sentinels:
        os.fstat(fd)  # still open
        os.close(fd)
    _refuse_new_segments(monkeypatch, [True])
    watch = _FdWatch(monkeypatch)
    heir = _open(tmp_path)
    assert heir.failures.errors == 1 and heir.stats()["spool_segments"] == 1
    heir.offer(_msg(2), 0.0)
    assert (heir.failures.errors, heir.failures.memory_only) == (2, 1)
    items = _take_all(heir)
    assert _numbers(items) == [1, 2]
    heir.ack(items)
    heir.close()
    heir.abandon()
    assert watch.stray == []
    assert spool_dir.spool_dirs(str(tmp_path)) == []


@pytest.mark.parametrize("written", [0.5, 0.0])
def test_a_short_write_is_one_write_error_and_one_corrupt_record_for_the_next_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: float
) -> None:
    spool = _open(tmp_path)
    spool.offer(_msg(0), 0.0)
    real_writev = os.writev

    def half(fd: int, buffers: Any) -> int:
        data = b"".join(buffers)
        if not written:
            return 0  # nothing written, and no error either
        return real_writev(fd, [data[: int(len(data) * written)]])

    monkeypatch.setattr(os, "writev", half)
    spool.offer(_msg(1), 0.0)  # torn on disk, kept in memory
    monkeypatch.setattr(os, "writev", real_writev)
    spool.offer(_msg(2), 0.0)  # a new segment: the torn bytes are never read at our offsets
    assert (spool.failures.errors, spool.failures.memory_only, spool.corrupt) == (1, 1, 0)
    assert _numbers(_take_all(spool)) == [0, 1, 2]
    spool.abandon()  # dies: 0 and 2 are on disk, 1 was in memory only
    again = _open(tmp_path)
    torn = 1 if written else 0
    assert (again.corrupt, again.failures.errors, again.replayed) == (torn, 0, 2)
    assert again.stats()["spool_corrupt"] == torn
    assert _numbers(_take_all(again)) == [0, 2]
    again.close()


def test_a_failed_acknowledgement_is_one_write_error_and_the_message_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trackwire")
    spool = _open(tmp_path)
    for n in range(4):
        spool.offer(_msg(n), 0.0)
    items = _take_all(spool)
    real_write = os.write

    def refuse_acks(fd: int, data: Any) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", refuse_acks)
    spool.ack(items[:1])
    spool.ack(items[1:2])
    assert spool.failures.errors == 2 and spool.failures.memory_only == 0
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "may be sent again" in said[0]  # once for the stretch
    monkeypatch.setattr(os, "write", real_write)
    spool.ack(items[2:3])
    monkeypatch.setattr(os, "write", refuse_acks)
    spool.ack(items[3:])  # a new stretch: said again
    assert spool.failures.errors == 3 and len(caplog.records) == 2
    monkeypatch.setattr(os, "write", real_write)
    spool.abandon()
    again = _open(tmp_path)
    assert _numbers(_take_all(again)) == [0, 1, 3]  # at least once: lost acks resend them
    again.close()


def test_fsync_interval_syncs_a_second_write_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_sizes: list[int] = []
    changed = threading.Condition()
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        real(fd)
        with changed:
            synced_sizes.append(os.fstat(fd).st_size)  # what this sync made durable
            changed.notify_all()

    def wait_for_sync_of(size: int) -> bool:
        with changed:
            return changed.wait_for(lambda: size in synced_sizes, timeout=10)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    spool = _open(tmp_path, fsync="interval", fsync_interval=0.01)
    record = HEADER_SIZE + len(_msg(1))
    spool.offer(_msg(1), 0.0)
    assert wait_for_sync_of(record)
    spool.offer(_msg(2), 0.0)  # after the first sync: it must be synced by a later round
    assert wait_for_sync_of(2 * record)
    spool.close()


def test_taking_over_a_spool_rewrites_its_meta(tmp_path: Path) -> None:
    old = Spool(SpoolConfig(path=str(tmp_path)), {**META, "settings": {"host": "old"}})
    old.offer(_msg(1), 0.0)
    old.abandon()
    new_meta = {**META, "settings": {"host": "new"}}
    heir = Spool(SpoolConfig(path=str(tmp_path)), new_meta)
    assert heir.directory == old.directory
    assert spool_dir.read_meta(heir.directory) == new_meta
    mode = os.stat(os.path.join(heir.directory, spool_dir.META)).st_mode
    assert mode & 0o077 == 0
    heir.close()


def test_a_spool_path_that_is_a_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(ConfigError, match="symbolic link") as refused:
        _open(link)
    assert str(link) in str(refused.value) and str(real) in str(refused.value)
    assert list(real.iterdir()) == []  # nothing made through the link


def test_a_world_writable_spool_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o1777)  # even with the sticky bit, anyone may plant a spool in it
    with pytest.raises(ConfigError, match="writable by every user") as refused:
        _open(root)
    assert f"chmod o-w {root}" in str(refused.value)
    root.chmod(0o700)
    _open(root).close()  # the fix it names works


def test_a_link_planted_among_the_spools_is_ignored(tmp_path: Path) -> None:
    elsewhere = _open(tmp_path / "elsewhere")
    elsewhere.offer(_msg(1), 0.0)
    elsewhere.abandon()
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    (root / "spool-0badc0de").symlink_to(elsewhere.directory)
    spool = _open(root)
    assert spool.replayed == 0 and spool_dir.spool_dirs(str(root)) == [spool.directory]
    spool.close()
    assert spool_dir.inspect(elsewhere.directory).messages == 1  # left alone


def test_a_spool_whose_owner_dies_meanwhile_is_taken_over_while_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 0.0)  # look at every turn
    running = _open(tmp_path)
    running.offer(_msg(0), 0.0)
    first, second = _open(tmp_path), _open(tmp_path)
    for n in range(1, 4):
        first.offer(_msg(n), 0.0)
    second.offer(_msg(4), 0.0)
    assert running.head is not None and running.replayed == 0  # both owners alive
    first.abandon()
    second.abandon()
    assert running.head is not None and running.replayed in (1, 3)  # one dead spool a look
    assert running.head is not None and running.replayed == 4
    assert spool_dir.spool_dirs(str(tmp_path)) == [running.directory]
    items = _take_all(running)
    assert sorted(_numbers(items)) == [0, 1, 2, 3, 4]
    assert _numbers(items)[0] == 0  # the running spool's own come first
    running.ack(items)
    running.close()
    assert spool_dir.spool_dirs(str(tmp_path)) == []


def test_a_running_spool_looks_for_dead_ones_only_every_interval(tmp_path: Path) -> None:
    running = _open(tmp_path)
    other = _open(tmp_path)
    other.offer(_msg(1), 0.0)
    other.abandon()
    assert running.head is None and running.replayed == 0  # next look in 30 s, not now
    assert spool_dir.inspect(other.directory).messages == 1
    running.close()


def test_no_takeover_while_running_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing = [True]
    running_root = tmp_path
    dead = _open(running_root)
    dead.offer(_msg(1), 0.0)
    _refuse_new_segments(monkeypatch, refusing)
    running = _open(running_root)  # a new spool, but no segment file: no room
    dead.abandon()
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 0.0)
    assert running.head is None and running.replayed == 0  # copying would only fill memory
    assert spool_dir.inspect(dead.directory).messages == 1
    running.close()


def test_a_spool_that_cannot_be_copied_whole_is_left_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _open(tmp_path), _open(tmp_path)
    for n in range(3):
        first.offer(_msg(n), 0.0)
        second.offer(_msg(10 + n), 0.0)
    first.abandon()
    second.abandon()
    real_writev = os.writev
    writes = [0]

    def second_write_refused(fd: int, buffers: Any) -> int:
        writes[0] += 1
        if writes[0] >= 2:  # the disk fills up in the middle of the copy
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_writev(fd, buffers)

    monkeypatch.setattr(os, "writev", second_write_refused)
    heir = _open(tmp_path)  # takes one over in place, copies the other into it
    monkeypatch.setattr(os, "writev", real_writev)
    (source,) = {first.directory, second.directory} - {heir.directory}
    # Its own three, and two copied: one on disk, one in memory when the disk filled up.
    assert (heir.replayed, heir.failures.errors, heir.failures.memory_only) == (5, 1, 1)
    # The one copied to disk is settled there; the one only in memory is not (at least once).
    assert spool_dir.inspect(source).messages == 2
    assert not spool_dir.lock_is_held(source)  # free to be taken at a later look
    assert len(_take_all(heir)) == 5
    heir.close()


def test_one_acknowledgement_spanning_segments_deletes_each_of_them(tmp_path: Path) -> None:
    record = HEADER_SIZE + len(_msg(0))
    spool = _open(tmp_path, segment_bytes=3 * record, window_items=100)
    for n in range(10):  # segments 1-3 full, the 10th message opens segment 4
        spool.offer(_msg(n), 0.0)
    assert _segment_files(spool) == [f"seg-0000000{n}.log" for n in (1, 2, 3, 4)]
    spool.ack(spool.take(10))  # one call, four segments
    assert _segment_files(spool) == ["seg-00000004.log"]  # the active one stays
    assert spool.stats()["spool_segments"] == 1 and spool.stats()["spool_bytes"] == 0
    spool.close()


def test_corrupt_records_are_counted_in_spools_taken_over_and_copied(tmp_path: Path) -> None:
    dead = [_open(tmp_path), _open(tmp_path)]
    for spool in dead:
        for n in range(3):
            spool.offer(_msg(n), 0.0)
        spool.abandon()
        path = os.path.join(spool.directory, "seg-00000001.log")
        data = bytearray(Path(path).read_bytes())
        data[HEADER_SIZE + 2] ^= 0xFF  # the first record's payload
        Path(path).write_bytes(bytes(data))
    heir = _open(tmp_path)  # one taken over in place, one copied: one corrupt record each
    assert (heir.corrupt, heir.replayed) == (2, 4)
    assert heir.stats()["spool_corrupt"] == 2
    assert sorted(_numbers(_take_all(heir))) == [1, 1, 2, 2]
    heir.close()


def test_acknowledged_records_are_not_copied_from_a_spool_taken_over(tmp_path: Path) -> None:
    dead = [_open(tmp_path), _open(tmp_path)]
    for spool in dead:
        for n in range(3):
            spool.offer(_msg(n), 0.0)
        spool.ack(spool.take(1))  # message 0 was delivered before the owner died
        spool.abandon()
    heir = _open(tmp_path)  # one taken over in place, one copied
    assert heir.replayed == 4
    assert sorted(_numbers(_take_all(heir))) == [1, 1, 2, 2]
    heir.close()


def _dead_spool_of_seven(root: Path) -> Spool:
    record = HEADER_SIZE + len(_msg(0))
    dead = _open(root, segment_bytes=3 * record)  # segments of 0-2, 3-5, 6
    for n in range(7):
        dead.offer(_msg(n), 0.0)
    dead.abandon()
    return dead


def test_a_large_dead_spool_is_copied_a_budget_a_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "TAKEOVER_BUDGET", 2 * len(_msg(0)))  # two a look
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 0.0)
    running = _open(tmp_path)  # its first look is due at once...
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 3600.0)  # ...the next not by time
    dead = _dead_spool_of_seven(tmp_path)
    read: list[tuple[str, int]] = []  # every record the looks read from the dead spool
    real_iter = spool_dir.iter_segment

    def iter_segment(path: str, start: int = 0) -> Iterator[tuple[int, bytes] | int]:
        for item in real_iter(path, start):
            if not isinstance(item, int):
                read.append((os.path.basename(path), item[0]))
            yield item

    left = []
    for _ in range(4):
        with monkeypatch.context() as looking:
            looking.setattr(spool_dir, "iter_segment", iter_segment)
            assert running.head is not None
        left.append(
            spool_dir.inspect(dead.directory).messages if os.path.isdir(dead.directory) else 0
        )
    assert running.replayed == 7 and left == [5, 3, 1, 0]  # each next look came at once
    # A look goes on where the previous one stopped: nothing is read twice (but the record
    # a look stopped at, which it did not copy).
    assert len(read) == 7 + 3 and len(set(read)) == 7
    assert not os.path.isdir(dead.directory)
    assert _numbers(_take_all(running)) == list(range(7))
    running.close()


def test_a_process_dying_in_the_middle_of_a_copy_leaves_each_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 0.0)
    monkeypatch.setattr(spool_module, "TAKEOVER_BUDGET", 2 * len(_msg(0)))
    running = _open(tmp_path)
    dead = _dead_spool_of_seven(tmp_path)
    assert running.head is not None
    assert running.head is not None  # four copied: the first segment removed, one acknowledged
    assert running.replayed == 4
    assert spool_dir.list_segments(dead.directory) == [2, 3]
    running.abandon()  # dies now
    heir = _open(tmp_path)
    assert sorted(_numbers(_take_all(heir))) == list(range(7))  # once each
    heir.close()


def test_after_a_torn_write_acknowledgements_name_the_right_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = _open(tmp_path)
    spool.offer(_msg(0), 0.0)
    real_writev = os.writev

    def torn(fd: int, buffers: Any) -> int:
        data = b"".join(buffers)
        return real_writev(fd, [data[:5]])

    monkeypatch.setattr(os, "writev", torn)
    spool.offer(_msg(1), 0.0)
    monkeypatch.setattr(os, "writev", real_writev)
    for n in range(2, 5):
        spool.offer(_msg(n), 0.0)
    spool.ack(_take_all(spool))  # all delivered
    spool.abandon()
    again = _open(tmp_path)
    # Nothing is sent twice, and the segment with the torn bytes went with its last record.
    assert (again.replayed, again.corrupt, len(spool_dir.spool_dirs(str(tmp_path)))) == (0, 0, 1)
    again.close()
