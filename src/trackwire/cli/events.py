"""``trackwire events``: the newest events a collector stored, as a table or JSON lines."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import orjson

from trackwire.cli._common import (
    DEFAULT_URL,
    EXIT_OK,
    TOKEN_ENV,
    add_command,
    count_flag,
    cut,
    get_json,
    positive,
    read_headers,
    url_flag,
)

__all__ = ["COLUMNS", "VENDORS", "register", "table"]

#: The vendors a collector stores events of (``--vendor`` takes one of them).
VENDORS: Final = ("segment", "amplitude", "mparticle")
#: Most events the collector lists in one answer (its ``/events`` limit).
_MAX_LIMIT: Final = 1000
#: Columns of the table: (title, widest it grows to, narrowest it shrinks to).
COLUMNS: Final = (
    ("id", 8, 2),
    ("received", 14, 14),
    ("vendor", 9, 3),
    ("source", 16, 6),
    ("type", 14, 5),
    ("event", 24, 6),
    ("user", 20, 6),
    ("properties", 10_000, 10),
)


def register(commands: Any) -> None:
    """Add ``events`` to the ``trackwire`` parser."""
    parser = add_command(commands, "events", "list the events a collector stored", run)
    parser.add_argument(
        "--url", type=url_flag, default=DEFAULT_URL, help=f"collector URL (default {DEFAULT_URL})"
    )
    parser.add_argument("--vendor", choices=VENDORS, help="only events of this vendor")
    for name in ("source", "type", "user", "event"):
        parser.add_argument(f"--{name}", help=f"only events with this {name}")
    parser.add_argument(
        "--limit",
        type=count_flag(1, _MAX_LIMIT),
        default=20,
        help=f"how many, newest first (1-{_MAX_LIMIT}, default 20)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line, in full")
    parser.add_argument(
        "--width", type=positive(int), help="table width in columns (default the terminal's)"
    )
    parser.add_argument(
        "--token",
        help=f"an admin token from a keyed collector's keys file (default ${TOKEN_ENV})",
    )
    parser.add_argument(
        "--key",
        help="or a source's key: a Segment write key, an Amplitude api_key or an mParticle key "
        "(reads that source only)",
    )
    parser.add_argument(
        "--secret", help="with --key: the Amplitude secret_key or the mParticle secret"
    )
    parser.add_argument(
        "--timeout",
        type=positive(float),
        default=10.0,
        help="seconds to wait for the collector (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    """List the events; returns the exit status."""
    query = {
        "vendor": args.vendor,
        "source": args.source,
        "type": args.type,
        "user": args.user,
        "event": args.event,
        "limit": args.limit,
    }
    params = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    token = args.token or os.environ.get(TOKEN_ENV) or None
    headers = read_headers(token, args.key, args.secret)
    body = get_json(f"{args.url}/events?{params}", args.timeout, headers)
    events = body.get("events", []) if isinstance(body, dict) else []
    if args.json:
        for event in events:
            sys.stdout.write(orjson.dumps(event).decode() + "\n")
        return EXIT_OK
    rows = [_row(event) for event in events if isinstance(event, dict)]
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    filtered = any(value is not None for key, value in query.items() if key != "limit")
    empty = " (none match)" if filtered else " (none stored yet)"
    print(f"{len(rows)} most recent events at {args.url}" + ("" if rows else empty))
    if rows:
        print("\n".join(table(rows, width)))
    return EXIT_OK


def _row(event: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(event.get("id", "")),
        _time(event.get("received_time_ms")),
        str(event.get("vendor") or ""),
        str(event.get("source") or ""),
        str(event.get("type") or ""),
        str(event.get("event_name") or ""),
        str(event.get("user_id") or event.get("device_id") or ""),
        _summary(event.get("payload")),
    )


def _time(ms: Any) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return ""
    try:
        return datetime.fromtimestamp(ms / 1000).strftime("%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return ""


def _summary(payload: Any) -> str:
    """A one-line view of the event's properties/traits/attributes for the table."""
    if not isinstance(payload, dict):
        return ""
    for key in ("properties", "traits", "event_properties", "user_properties"):
        value = payload.get(key)
        if isinstance(value, dict) and value:
            break
    else:
        events = payload.get("events")
        data = events[0].get("data") if isinstance(events, list) and events else None
        value = data.get("custom_attributes") if isinstance(data, dict) else None
        value = value or payload.get("user_attributes")
    if not value:
        return ""
    return orjson.dumps(value).decode()


def table(rows: Sequence[tuple[str, ...]], width: int) -> list[str]:
    """Rows as fixed-width text lines no wider than ``width``: wide cells are cut with ``…``.

    The properties column takes what is left (and is left out when no row has any); the other
    columns give up width widest first, each down to a readable minimum.
    """
    columns = list(COLUMNS)
    if not any(row[-1] for row in rows):
        columns.pop()
        rows = [row[:-1] for row in rows]
    widths = [
        min(cap, max([len(title)] + [len(row[i]) for row in rows]))
        for i, (title, cap, _) in enumerate(columns)
    ]
    gaps = 2 * (len(widths) - 1)
    last = len(columns) - 1
    while sum(widths) + gaps > width:
        if columns[last][0] == "properties" and widths[last] > columns[last][2]:
            widths[last] -= 1
            continue
        candidates = [i for i, w in enumerate(widths) if w > columns[i][2]]
        if not candidates:
            break
        widths[max(candidates, key=lambda i: widths[i])] -= 1
    titles = tuple(title for title, _, _ in columns)
    lines = []
    for row in (titles, *rows):
        cells = [cut(cell, w) for cell, w in zip(row, widths, strict=True)]
        cells[0] = cells[0].rjust(widths[0])
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return lines
