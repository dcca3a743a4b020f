"""``trackwire amplitude ...``: Amplitude's query API from the command line.

::

    trackwire amplitude export --start 20260101T00 --end 20260101T23 -o day.zip
    trackwire amplitude search user-123
    trackwire amplitude activity 12345 --limit 20
    trackwire amplitude segmentation "Song Played" --start 20260101 --end 20260131 \\
        --metric totals --group-by-event genre \\
        --segment '{"prop": "gp:plan", "op": "is", "values": ["pro"]}'

Each command asks a local collector (``http://127.0.0.1:8787``) unless ``--url`` names another
server, or ``us`` / ``eu`` for Amplitude's own dashboard API. Keys come from ``--api-key`` and
``--secret-key`` or the ``AMPLITUDE_API_KEY`` and ``AMPLITUDE_SECRET_KEY`` environment
variables. Tables, the progress bar and the chart use ``rich`` (the ``collector`` extra),
imported only when a command runs; ``--json`` prints the API's JSON instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Final

import orjson

from trackwire.amplitude.query import AmplitudeQuery
from trackwire.amplitude.query.client import DASHBOARD_URLS
from trackwire.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from trackwire.amplitude.query import Segmentation, UserActivity, UserSearch

__all__ = ["add_parser", "run"]

DEFAULT_URL: Final = "http://127.0.0.1:8787"
#: Columns of the activity table: export field, heading.
_EVENT_COLUMNS: Final = (
    ("event_time", "time (UTC)"),
    ("event_type", "event type"),
    ("event_properties", "event properties"),
    ("device_id", "device"),
)
#: Rows of the activity summary table.
_SUMMARY_FIELDS: Final = (
    "user_id",
    "canonical_amplitude_id",
    "num_events",
    "num_sessions",
    "purchases",
    "revenue",
    "first_used",
    "last_used",
    "last_device_id",
    "country",
    "platform",
)
#: Most series drawn in the chart (the first ones: the largest groups).
_CHART_SERIES: Final = 5
_BAR_WIDTH: Final = 40


def add_parser(commands: Any) -> None:
    """Add the ``amplitude`` command and its subcommands to ``commands`` (argparse subparsers)."""
    amplitude = commands.add_parser(
        "amplitude", help="query Amplitude's API (export, user search and activity, segmentation)"
    )
    amplitude.set_defaults(handler=run, command_parser=amplitude)
    calls = amplitude.add_subparsers(dest="call", required=True, metavar="CALL")

    def common(parser: argparse.ArgumentParser) -> None:
        # Usage errors (a bad flag value) are shown with this call's own usage.
        parser.set_defaults(command_parser=parser)
        parser.add_argument(
            "--url",
            default=DEFAULT_URL,
            help=f"query server: a URL, or us / eu for Amplitude (default {DEFAULT_URL})",
        )
        parser.add_argument(
            "--api-key",
            default=os.environ.get("AMPLITUDE_API_KEY"),
            help="project API key (default $AMPLITUDE_API_KEY)",
        )
        parser.add_argument(
            "--secret-key",
            default=os.environ.get("AMPLITUDE_SECRET_KEY"),
            help="project secret key (default $AMPLITUDE_SECRET_KEY)",
        )
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")

    export = calls.add_parser("export", help="download raw events as a zip archive")
    common(export)
    export.add_argument("--start", required=True, help="first hour, YYYYMMDDTHH (UTC)")
    export.add_argument("--end", required=True, help="last hour, YYYYMMDDTHH (UTC), included")
    export.add_argument("-o", "--output", required=True, help="the zip file to write")

    search = calls.add_parser("search", help="find users by id, device id or id prefix")
    common(search)
    search.add_argument("user", help="Amplitude ID, device ID, user ID or user ID prefix")
    search.add_argument("--json", action="store_true", help="print the API's JSON")

    activity = calls.add_parser("activity", help="a user's summary and recent events")
    common(activity)
    activity.add_argument("amplitude_id", help="the user's Amplitude ID (see search)")
    activity.add_argument("--offset", type=int, default=0, help="events to skip")
    activity.add_argument("--limit", type=int, default=50, help="events to show (default 50)")
    activity.add_argument("--earliest", action="store_true", help="earliest events first")
    activity.add_argument("--json", action="store_true", help="print the API's JSON")

    segmentation = calls.add_parser("segmentation", help="an event's metric over days, charted")
    common(segmentation)
    segmentation.add_argument("event", help="event type (or _active, _all)")
    segmentation.add_argument("--start", required=True, help="first day, YYYYMMDD")
    segmentation.add_argument("--end", required=True, help="last day, YYYYMMDD, included")
    segmentation.add_argument(
        "--metric",
        default="uniques",
        help="uniques (default), totals, average, pct_dau, sums, value_avg",
    )
    segmentation.add_argument(
        "--interval", default="daily", help="hourly, daily (default), weekly or monthly"
    )
    group = segmentation.add_mutually_exclusive_group()
    group.add_argument("--group-by", help="user property to group by (country, gp:plan, ...)")
    group.add_argument(
        "--group-by-event",
        metavar="PROPERTY",
        help="event property to group by (or to add up, with sums / value_avg)",
    )
    segmentation.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="JSON",
        help='a segment filter (repeatable): {"prop": "gp:plan", "op": "is", "values": ["pro"]}',
    )
    segmentation.add_argument("--limit", type=int, default=100, help="most groups (default 100)")
    segmentation.add_argument("--json", action="store_true", help="print the API's JSON")


def _client(args: argparse.Namespace) -> AmplitudeQuery:
    if not args.api_key:
        raise ConfigError("--api-key is required (or set AMPLITUDE_API_KEY)")
    if not args.secret_key:
        raise ConfigError("--secret-key is required (or set AMPLITUDE_SECRET_KEY)")
    zone = str(args.url).upper()
    url = DASHBOARD_URLS[zone] if zone in DASHBOARD_URLS else str(args.url)
    return AmplitudeQuery(args.api_key, args.secret_key, query_url=url, timeout=args.timeout)


def _console() -> Console:
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover - rich ships with the collector extra
        raise ConfigError(
            "the amplitude commands print with rich: pip install 'trackwire[collector]' "
            "(or use --json)"
        ) from None
    return Console()


def run(args: argparse.Namespace) -> int:
    """Run ``trackwire amplitude <call>``; returns the exit status."""
    with _client(args) as client:
        if args.call == "export":
            return _export(client, args)
        if args.call == "search":
            result = client.user_search(args.user)
            return _print_json(result.raw) if args.json else _show_search(result)
        if args.call == "activity":
            activity = client.user_activity(
                args.amplitude_id,
                offset=args.offset,
                limit=args.limit,
                direction="earliest" if args.earliest else "latest",
            )
            return _print_json(activity.raw) if args.json else _show_activity(activity)
        return _segmentation(client, args)


def _print_json(data: Any) -> int:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _export(client: AmplitudeQuery, args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=_console(),
        transient=False,
    ) as progress:
        task = progress.add_task(f"export {args.start}..{args.end}", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        result = client.export(args.start, args.end, args.output, progress=advance)
    if result.empty:
        print(f"no data from {args.start} to {args.end}: wrote an empty archive to {args.output}")
    else:
        print(f"wrote {result.bytes_written:,} bytes to {args.output}")
    return 0


def _show_search(result: UserSearch) -> int:
    from rich.table import Table

    console = _console()
    if not result.matches:
        console.print("no match")
        return 0
    table = Table(title=f"{len(result.matches)} match(es): {result.type}")
    for heading in ("amplitude id", "user id", "last seen"):
        table.add_column(heading)
    for match in result.matches:
        table.add_row(str(match.amplitude_id), match.user_id or "", match.last_seen or "")
    console.print(table)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _show_activity(activity: UserActivity) -> int:
    from rich.table import Table

    console = _console()
    data = activity.user_data
    if not activity.found:
        console.print("no such user (Amplitude answers an empty summary)")
        return 0
    summary = Table(show_header=False, title=f"user {data.user_id or data.canonical_amplitude_id}")
    for key in _SUMMARY_FIELDS:
        summary.add_row(key, _cell(data.raw.get(key)))
    summary.add_row("properties", _cell(data.properties))
    console.print(summary)
    events = Table(title=f"{len(activity.events)} event(s)")
    for _, heading in _EVENT_COLUMNS:
        events.add_column(heading, overflow="fold")
    for event in activity.events:
        events.add_row(*(_cell(event.get(field)) for field, _ in _EVENT_COLUMNS))
    console.print(events)
    return 0


def _segmentation(client: AmplitudeQuery, args: argparse.Namespace) -> int:
    segments = []
    for text in args.segment:
        try:
            segments.append(orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"--segment is not valid JSON: {exc}") from None
    group_by: Any = args.group_by
    if args.group_by_event:
        group_by = {"type": "event", "value": args.group_by_event}
    result = client.event_segmentation(
        args.event,
        args.start,
        args.end,
        metric=args.metric,
        interval=args.interval,
        group_by=group_by,
        segments=segments,
        limit=args.limit,
    )
    if args.json:
        return _print_json(result.raw)
    _show_segmentation(result, f"{args.event}: {args.metric}, {args.interval} (UTC)")
    return 0


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _show_segmentation(result: Segmentation, title: str) -> None:
    from rich.table import Table
    from rich.text import Text

    console = _console()
    shown = range(min(len(result.series), _CHART_SERIES))
    table = Table(title=title)
    table.add_column("period")
    for index in range(len(result.series)):
        table.add_column(result.label(index), justify="right")
    for row, x in enumerate(result.x_values):
        table.add_row(x, *(_number(series[row]) for series in result.series))
    table.add_row(
        "whole range", *(_number(result.collapsed(i)) for i in range(len(result.series))),
        style="bold",
    )  # fmt: skip
    console.print(table)
    # The chart: one bar per period and series, scaled to the largest value shown.
    peak = max((v for i in shown for v in result.series[i]), default=0) or 1
    colors = ("cyan", "magenta", "green", "yellow", "blue")
    width = max((len(x) for x in result.x_values), default=0)
    for row, x in enumerate(result.x_values):
        for index in shown:
            value = result.series[index][row]
            bar = "█" * round(_BAR_WIDTH * value / peak)
            label = x if index == shown[0] else ""
            line = Text(f"{label:<{width}} ")
            line.append(bar or "▏", style=colors[index % len(colors)])
            line.append(f" {_number(value)}")
            console.print(line)
    if len(result.series) > 1:
        legend = Text("legend: ")
        for index in shown:
            legend.append(f"■ {result.label(index)}  ", style=colors[index % len(colors)])
        console.print(legend)
