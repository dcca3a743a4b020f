"""``trackwire spool``: look at a durable spool, and send what a dead process left in it.

::

    trackwire spool status PATH [--json]
    trackwire spool replay PATH [--host URL] [--timeout SECONDS]

``PATH`` is a client's ``spool=`` directory (every spool under it) or one spool inside it.
``replay`` takes over the spools no live process owns and sends their messages through the
vendor's own client, built from the settings the spool recorded when it was created
(``--host`` sends them elsewhere, e.g. to a local collector to look at them first). A spool
keeps no key in clear: ``replay`` reads each from the environment (``TRACKWIRE_WRITE_KEY``,
``TRACKWIRE_API_KEY``, ``TRACKWIRE_API_SECRET``) and checks it against the spool's fingerprint.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Final

import orjson

from trackwire._engine import spool_dir
from trackwire._engine.spool_secrets import MissingSecret, reveal_secrets
from trackwire.cli._common import url_flag
from trackwire.errors import ConfigError

if TYPE_CHECKING:
    from trackwire._engine.receipts import BatchReport

__all__ = ["add_parser", "run"]

#: vendor name in a spool's meta file -> (module, client class)
_CLIENTS: Final = {
    "segment": ("trackwire", "Segment"),
    "amplitude": ("trackwire", "Amplitude"),
    "mparticle": ("trackwire", "MParticle"),
}


def add_parser(subparsers: Any) -> None:
    """Add the ``spool`` command to the ``trackwire`` parser's subcommands."""
    spool = subparsers.add_parser(
        "spool",
        help="look at or replay a durable spool (spool=PATH)",
        description="Look at a client's durable spool (the spool= directory), or send what "
        "processes that died left in it.",
    )
    spool.set_defaults(handler=run, command_parser=spool)
    actions = spool.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="owner, messages waiting, corrupt records")
    status.add_argument("path", help="a spool= directory, or one spool inside it")
    status.add_argument("--json", action="store_true", help="one JSON object per spool")
    replay = actions.add_parser(
        "replay",
        help="send what dead processes left in the spools",
        description="Send what dead processes left in the spools. Spools keep no key in "
        "clear: set the client's keys in TRACKWIRE_WRITE_KEY (Segment), TRACKWIRE_API_KEY "
        "(Amplitude, mParticle) and TRACKWIRE_API_SECRET (mParticle).",
    )
    replay.add_argument("path", help="a spool= directory, or one spool inside it")
    replay.add_argument(
        "--host", type=url_flag, help="send to this URL instead of the recorded host"
    )
    replay.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to spend sending (default 60)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``trackwire spool status|replay``; returns the exit status."""
    if args.action == "status":
        return _status(args.path, as_json=args.json)
    return _replay(args.path, host=args.host, timeout=args.timeout)


def _spools(path: str) -> list[str]:
    if not os.path.isdir(path):
        raise ConfigError(f"spool path {path!r} is not a directory")
    if os.path.exists(os.path.join(path, spool_dir.LOCK)):
        return [path]
    return spool_dir.spool_dirs(path)


def _status(path: str, *, as_json: bool) -> int:
    spools = _spools(path)
    if not spools:
        print(f"no spool under {path}")
        return 0
    for directory in spools:
        info = spool_dir.inspect(directory)
        if as_json:
            line = {
                "spool": os.path.basename(directory),
                "vendor": info.vendor,
                "owner_pid": info.owner_pid,
                "owner_alive": info.owner_alive,
                "messages": info.messages,
                "bytes": info.bytes,
                "corrupt": info.corrupt,
                "segments": info.segments,
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            continue
        owner = "alive" if info.owner_alive else "dead: replayed by the next client or `replay`"
        print(
            f"{os.path.basename(directory)}  {info.vendor}  owner pid {info.owner_pid} ({owner})"
            f"  waiting {info.messages} message(s), {info.bytes} bytes"
            f"  corrupt {info.corrupt}"
        )
    return 0


def _replay(path: str, *, host: str | None, timeout: float) -> int:
    spools = _spools(path)
    root = path if spools != [path] else os.path.dirname(os.path.abspath(path))
    dead = [d for d in spools if not spool_dir.lock_is_held(d)]
    busy = len(spools) - len(dead)
    if busy:
        print(f"{busy} spool(s) owned by a live process: that process sends them", file=sys.stderr)
    # One replay per source: a spool is sent only by a client of its own vendor and keys.
    groups: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
    for directory in dead:
        meta = spool_dir.read_meta(directory)
        key = (str(meta.get("vendor")), str(meta.get("identity")))
        groups.setdefault(key, (meta, []))[1].append(directory)
    status = 0
    for (vendor, _), (meta, directories) in groups.items():
        if vendor not in _CLIENTS:
            print(f"spool of unknown vendor {vendor!r}: skipped", file=sys.stderr)
            status = 1
            continue
        if "args" not in meta:  # an internal route (mParticle's historical endpoint)
            print(
                f"{vendor}: {len(directories)} spool(s) of an internal route ({meta.get('url')}): "
                "skipped; the next process of that client sends them",
                file=sys.stderr,
            )
            status = 1
            continue
        before = left = sum(spool_dir.inspect(d).messages for d in directories)
        try:
            reveal_secrets(meta)
        except MissingSecret as exc:
            print(f"{vendor}: {len(directories)} spool(s) not sent: {exc}", file=sys.stderr)
            status = 1
            continue
        flushed = True
        # One client per round: it drains the first dead spool in place and copies the
        # others into it while the disk has room; on a full disk each round frees the room
        # the next one needs, so rounds go on while they make progress.
        for _ in directories:
            flushed = _send(vendor, meta, root, host=host, timeout=timeout)
            # What the client took over is gone from disk once sent: check, do not assume.
            still = sum(spool_dir.inspect(d).messages for d in directories if os.path.isdir(d))
            progress, left = still < left, still
            if not (flushed and progress and left):
                break
        sent = flushed and left == 0
        print(
            f"{vendor}: {before} message(s) waiting; "
            + ("all sent" if sent else f"{left} not sent (still in the spool)")
        )
        if not sent:
            status = 1
    return status


def _send(
    vendor: str, meta: dict[str, Any], root: str, *, host: str | None, timeout: float
) -> bool:
    """Make the vendor's client again on the spool root (it takes the dead spools over), flush."""
    module, name = _CLIENTS[vendor]
    recorded = str(meta.get("client", ""))
    if recorded.startswith("trackwire.") and "." in recorded:
        module, _, name = recorded.rpartition(".")  # the exact class the spool was made by
    args, kwargs = reveal_secrets(meta)  # keys from the environment (meta format 2)
    if host is not None:
        _point_at(vendor, kwargs, host)
    kwargs.update(spool=root, handle_sigterm=False, shutdown_timeout=timeout)
    client_class = getattr(importlib.import_module(module), name)
    client = client_class(*args, **kwargs)
    seen = _Attempts()
    client.on("retry", seen.report)
    client.on("error", seen.report)
    try:
        # Flush in short steps, saying what the attempts meet, so a dead host is not silence.
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if client.flush(timeout=min(_PROGRESS_EVERY, max(left, 0.0))):
                return True
            if time.monotonic() >= deadline:
                if seen.last:
                    print(f"{vendor}: gave up after {timeout:g} s: {seen.last}", file=sys.stderr)
                return False
            if seen.last:
                print(f"{vendor}: still sending; the last attempt met {seen.last}", file=sys.stderr)
    finally:
        client.shutdown(timeout=5)


#: Seconds between two progress lines while a replay keeps failing.
_PROGRESS_EVERY: Final = 5.0


class _Attempts:
    """The last failed attempt's reason (a hook: ``retry`` and ``error`` reports)."""

    def __init__(self) -> None:
        self.last = ""

    def report(self, report: BatchReport) -> None:
        status = f"HTTP {report.status}: " if report.status is not None else ""
        self.last = f"{status}{report.reason or 'no reason given'}"


def _point_at(vendor: str, kwargs: dict[str, Any], host: str) -> None:
    """Send to ``host`` (a base URL) instead of the recorded destination."""
    if vendor == "amplitude":  # a base URL is Amplitude's token_endpoint; the path is added
        kwargs.pop("server_url", None)
        kwargs.pop("server_zone", None)
        kwargs["token_endpoint"] = host
    else:  # Segment's and mParticle's host; their region/pod would name another
        kwargs.pop("region", None)
        kwargs.pop("pod", None)
        kwargs["host"] = host
