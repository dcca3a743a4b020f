"""The spool's directory layout: who owns which spool, its meta file, its segments.

A spool root (the ``spool=`` path) holds one directory per process that uses it::

    ROOT/spool-3f9c0a1e/lock            flock'ed by the owning process; holds its pid
    ROOT/spool-3f9c0a1e/meta.json       vendor and destination settings (for ``spool replay``)
    ROOT/spool-3f9c0a1e/seg-00000001.log   message records (spool_format)
    ROOT/spool-3f9c0a1e/seg-00000001.ack   acknowledged offsets in that segment

The root is refused (:class:`~trackwire.errors.ConfigError`) when it is a symbolic link or
writable by every user (a pre-existing ``chmod 777`` directory, even with the sticky bit): whoever
can re-point the link or plant a ``spool-*`` directory in it could read the messages, or have
forged ones sent with the source's key. Entries inside the root that are links are ignored.

The lock is an ``fcntl.flock`` on the lock file: the kernel drops it when the owner dies,
however it dies, so a spool whose lock can be taken belongs to nobody and is taken over.
A new spool is built under a hidden name and renamed into place with its lock already held,
so no other process can take it over half made.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from trackwire._engine.spool_format import (
    HEADER_SIZE,
    decode_acks,
    encode_acks,
    ends_in_corrupt,
    scan_records,
)
from trackwire.errors import ConfigError

__all__ = [
    "SpoolInfo",
    "claim",
    "create",
    "inspect",
    "list_segments",
    "lock_is_held",
    "open_root",
    "read_acks",
    "read_meta",
    "release",
    "remove_spool",
    "scan_segment",
    "segment_paths",
    "settle_copied",
    "spool_dirs",
]

LOCK: Final = "lock"
META: Final = "meta.json"
_PREFIX: Final = "spool-"
_CHUNK: Final = 1024 * 1024


def open_root(root: str) -> None:
    """Make the spool root (``0700``) if missing, and refuse one that is unsafe to use.

    Raises:
        ConfigError: ``root`` is a symbolic link, not a directory, or writable by every user.
        OSError: it cannot be made (a full disk, no permission).
    """
    if os.path.islink(root):
        raise ConfigError(
            f"spool path {root!r} is a symbolic link: whoever can re-point it chooses where "
            f"the messages go; pass the real directory ({os.path.realpath(root)!r})"
        )
    os.makedirs(root, mode=0o700, exist_ok=True)
    info = os.lstat(root)
    if stat.S_ISLNK(info.st_mode):  # made a link since the check above
        raise ConfigError(f"spool path {root!r} is a symbolic link; pass the real directory")
    if info.st_mode & stat.S_IWOTH:
        raise ConfigError(
            f"spool path {root!r} is writable by every user (mode "
            f"{stat.S_IMODE(info.st_mode):o}): another user could plant spools whose messages "
            f"are sent with your key; run `chmod o-w {root}` or pass a private directory"
        )


def spool_dirs(root: str) -> list[str]:
    """The spool directories under ``root``, oldest name first (none if ``root`` is missing).

    Links are left out: a spool directory is always made here, never linked in.
    """
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    return [
        entry.path
        for entry in entries
        if entry.name.startswith(_PREFIX) and entry.is_dir(follow_symlinks=False)
    ]


def read_meta(directory: str) -> dict[str, Any]:
    """The spool's meta file, or ``{}`` when it is missing or unreadable."""
    try:
        with open(os.path.join(directory, META), "rb") as file:
            value = orjson.loads(file.read())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_meta(directory: str, meta: Mapping[str, Any]) -> None:
    # Written aside and renamed, so a reader never sees half a file. 0600: it may hold a key.
    tmp = os.path.join(directory, f".{META}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.write(fd, orjson.dumps(dict(meta), option=orjson.OPT_INDENT_2))
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(directory, META))
    except OSError:
        _unlink(tmp)  # a full disk: the old meta stays whole, the half-written copy goes
        raise


def _try_lock(directory: str) -> int | None:
    """Take the spool's lock without waiting: its fd, or None if another process holds it."""
    path = os.path.join(directory, LOCK)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None  # no lock file: being built or being removed
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The owner may have removed the spool between our open and our lock: then we hold
        # the lock of a file that is gone, which protects nothing.
        if os.stat(path).st_ino != os.fstat(fd).st_ino:
            raise OSError("lock file replaced")
    except OSError:
        os.close(fd)
        return None
    _write_pid(fd)
    return fd


def _write_pid(fd: int) -> None:
    # Written over the old pid, then cut: no new block needed, so it works on a full disk
    # too. The pid is only for people (``spool status``); the lock is what counts.
    data = f"{os.getpid()}\n".encode()
    with contextlib.suppress(OSError):
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))


def lock_is_held(directory: str) -> bool:
    """True when a live process owns the spool (tested by trying its lock, then letting go)."""
    path = os.path.join(directory, LOCK)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if we got it
    return False


def owner_pid(directory: str) -> int | None:
    """The pid written in the lock file by the last owner, or None."""
    try:
        with open(os.path.join(directory, LOCK), "rb") as file:
            return int(file.read().strip() or b"0") or None
    except (OSError, ValueError):
        return None


def claim(root: str, vendor: str, identity: str | None = None) -> list[tuple[str, int]]:
    """Lock every spool under ``root`` of ``vendor`` that no live process owns.

    Only spools with the same ``identity`` (a digest of the client's keys, see
    :func:`~trackwire._engine.spool.spool_meta`) are taken: messages of one source are
    never sent with another source's key.

    Returns ``(directory, lock fd)`` pairs; the first becomes the caller's own spool, the
    others are to be emptied into it and removed.
    """
    _remove_unfinished(root)
    claimed = []
    for directory in spool_dirs(root):
        meta = read_meta(directory)
        if meta.get("vendor") != vendor or meta.get("identity") != identity:
            continue
        fd = _try_lock(directory)
        if fd is not None:
            claimed.append((directory, fd))
    return claimed


def _remove_unfinished(root: str) -> None:
    """Remove spools whose creator died before renaming them into place (they hold nothing).

    A spool being built is locked by its creator from the start, so one whose lock can be
    taken is abandoned. (One whose lock file does not exist yet is left alone: its creator
    may be between ``mkdir`` and ``open``.)
    """
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(".new-"):
            directory = os.path.join(root, name)
            fd = _try_lock(directory)
            if fd is not None:
                remove_spool(directory, fd)


def create(root: str, meta: Mapping[str, Any]) -> tuple[str, int]:
    """Make a new spool under ``root``, locked by this process: ``(directory, lock fd)``."""
    token = secrets.token_hex(4)
    tmp = os.path.join(root, f".new-{token}")
    os.mkdir(tmp, 0o700)
    fd = -1
    try:
        # Locked under another name, then renamed: a lock file that can be seen is always
        # held already, so a process cleaning up half-made spools never takes this one.
        unnamed = os.path.join(tmp, f".{LOCK}.new")
        fd = os.open(unnamed, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(unnamed, os.path.join(tmp, LOCK))
        _write_pid(fd)
        _write_meta(tmp, meta)
        directory = os.path.join(root, f"{_PREFIX}{token}")
        os.rename(tmp, directory)
    except OSError:
        # A full disk fails here: leave nothing behind (a directory without a lock file is
        # never cleaned up by others, since its creator might still be making it).
        with contextlib.suppress(OSError):
            for name in os.listdir(tmp):
                _unlink(os.path.join(tmp, name))
            os.rmdir(tmp)
        if fd >= 0:
            os.close(fd)
        raise
    return directory, fd


def update_meta(directory: str, meta: Mapping[str, Any]) -> None:
    """Replace the meta file of a spool this process owns (a takeover with newer settings)."""
    _write_meta(directory, meta)


def release(fd: int) -> None:
    """Let go of a spool's lock."""
    os.close(fd)


def remove_spool(directory: str, fd: int) -> None:
    """Delete an owned spool's files and directory, then its lock (last, so no one claims it)."""
    with contextlib.suppress(OSError):  # unlistable: removed meanwhile, or not ours to list
        for name in os.listdir(directory):
            if name != LOCK:
                _unlink(os.path.join(directory, name))
    _unlink(os.path.join(directory, LOCK))
    # If a file appeared (should not happen), the directory stays: harmless.
    with contextlib.suppress(OSError):
        os.rmdir(directory)
    os.close(fd)


def settle_copied(finished: list[tuple[str, str]], ack: str, copied: list[int]) -> None:
    """In an owned spool whose records were partly copied elsewhere: remove the segments
    copied whole (``(log, ack)`` paths) and acknowledge ``copied`` offsets in ``ack``.

    Raises:
        OSError: the acknowledgements could not be written (those records are sent twice).
    """
    for paths in finished:
        for path in paths:
            _unlink(path)
    if copied:
        fd = os.open(ack, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, encode_acks(copied))
        finally:
            os.close(fd)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):  # gone already, or not a file: left, never an error
        os.unlink(path)


def segment_paths(directory: str, number: int) -> tuple[str, str]:
    """The record file and acknowledgement file of segment ``number``."""
    base = os.path.join(directory, f"seg-{number:08d}")
    return base + ".log", base + ".ack"


def list_segments(directory: str) -> list[int]:
    """Segment numbers present in ``directory``, in order."""
    numbers = []
    for name in os.listdir(directory):
        if name.startswith("seg-") and name.endswith(".log"):
            try:
                numbers.append(int(name[4:-4]))
            except ValueError:
                continue
    return sorted(numbers)


def read_acks(path: str) -> set[int]:
    """Acknowledged record offsets stored in an acknowledgement file (empty if none)."""
    try:
        with open(path, "rb") as file:
            return set(decode_acks(file.read()))
    except OSError:  # none yet, or unreadable: the records are sent again (at least once)
        return set()


@dataclass(slots=True)
class SegmentScan:
    """What one pass over a segment found.

    Attributes:
        size: bytes in the file.
        live: intact records not acknowledged.
        live_bytes: their size on disk, headers included.
        payload_bytes: their message bytes.
        corrupt: corrupt or truncated stretches skipped.
        unreadable: the file could not be read at all.
    """

    size: int = 0
    live: int = 0
    live_bytes: int = 0
    payload_bytes: int = 0
    corrupt: int = 0
    unreadable: bool = False


def iter_segment(path: str, start: int = 0) -> Iterator[tuple[int, bytes] | int]:
    """Yield ``(offset, payload)`` per intact record and an int per corrupt-stretch count.

    Reads a chunk at a time from ``start`` (a record's offset), so memory stays bounded
    whatever the segment size.
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        offset = start
        chunk = _CHUNK
        in_corrupt = False  # a corrupt stretch runs on from the previous chunk
        while offset < size:
            data = os.pread(file.fileno(), chunk, offset)
            if not data:
                break
            final = offset + len(data) >= size
            records, consumed, corrupt = scan_records(
                data, offset, final=final, in_corrupt=in_corrupt
            )
            in_corrupt = ends_in_corrupt(records, offset, consumed, in_corrupt=in_corrupt)
            if corrupt:
                yield corrupt
            for record in records:
                yield record.offset, record.payload
            if consumed == 0:
                chunk *= 2  # one record larger than the chunk
                continue
            offset += consumed
            chunk = _CHUNK


def scan_segment(path: str, acked: set[int]) -> SegmentScan:
    """Count the live records and the corruption of one segment file."""
    scan = SegmentScan()
    try:
        scan.size = os.stat(path).st_size
        for item in iter_segment(path):
            if isinstance(item, int):
                scan.corrupt += item
                continue
            offset, payload = item
            if offset not in acked:
                scan.live += 1
                scan.live_bytes += HEADER_SIZE + len(payload)
                scan.payload_bytes += len(payload)
    except OSError:
        # Unreadable (not a file, an I/O error, removed meanwhile): nothing in it is usable.
        return SegmentScan(unreadable=True)
    return scan


@dataclass(frozen=True, slots=True)
class SpoolInfo:
    """One spool as ``trackwire spool status`` shows it."""

    directory: str
    vendor: str
    owner_pid: int | None
    owner_alive: bool
    messages: int
    bytes: int
    corrupt: int
    segments: int


def inspect(directory: str) -> SpoolInfo:
    """Read-only look at one spool: owner, what waits, how much is corrupt."""
    total = SegmentScan()
    segments = list_segments(directory)
    for number in segments:
        log, ack = segment_paths(directory, number)
        scan = scan_segment(log, read_acks(ack))
        total.live += scan.live
        total.payload_bytes += scan.payload_bytes
        total.corrupt += scan.corrupt
    return SpoolInfo(
        directory=directory,
        vendor=str(read_meta(directory).get("vendor", "?")),
        owner_pid=owner_pid(directory),
        owner_alive=lock_is_held(directory),
        messages=total.live,
        bytes=total.payload_bytes,
        corrupt=total.corrupt,
        segments=len(segments),
    )
