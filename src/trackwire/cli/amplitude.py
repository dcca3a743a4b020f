"""``trackwire amplitude ...``: Amplitude's query API from the command line.

::

    trackwire amplitude export --start 20260101T00 --end 20260101T23 -o day.zip   (-o - : stdout)
    trackwire amplitude search user-123
    trackwire amplitude activity 12345 --limit 20
    trackwire amplitude segmentation "Song Played" --start 20260101 --end 20260131 \\
        --metric totals --group-by-event genre \\
        --segment '{"prop": "gp:plan", "op": "is", "values": ["pro"]}'

Each command asks a local collector (``http://127.0.0.1:8787``) unless ``--url`` names another
server, or ``us`` / ``eu`` for Amplitude's own dashboard API. Keys come from ``--api-key`` and
``--secret-key`` or the ``AMPLITUDE_API_KEY`` and ``AMPLITUDE_SECRET_KEY`` environment
variables. Every flag is checked before a request is made. Output is plain text (tables and a
chart whose series differ by their bar's character, so they read the same piped); ``--json``
prints the API's JSON; the export's progress goes to stderr.

The charts (funnels, retention, active and new users, revenue LTV) are in
:mod:`trackwire.cli.amplitude_charts`. A query command is one ``_add_<name>(calls)`` called from
:func:`register` (its parser: :func:`common_flags` plus its own, each checked by a flag type, and
``field_flags`` naming the API's parameters by flag) and a runner that calls the client through
:func:`ask`, which tells network failures as the other commands do.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Final

import orjson

from trackwire.cli._common import (
    DEFAULT_URL,
    EXIT_OK,
    UsageError,
    add_command,
    count_flag,
    network_text,
    non_negative_int,
    plain_table,
    positive,
    url_flag,
    write_lines,
)
from trackwire.cli.amplitude_charts import register_charts
from trackwire.errors import QueryError, TrackwireError

if TYPE_CHECKING:
    from trackwire.amplitude.query import AmplitudeQuery, Segmentation, UserActivity, UserSearch

__all__ = ["ask", "common_flags", "print_json", "register"]

#: Metrics both Amplitude and the collector compute (``formula`` and ``histogram`` are
#: Amplitude's only).
METRICS: Final = ("uniques", "totals", "average", "pct_dau", "sums", "value_avg")
INTERVALS: Final = ("hourly", "daily", "weekly", "monthly")
#: Columns of the activity table: export field, heading.
_EVENT_COLUMNS: Final = (
    ("event_time", "time (UTC)"),
    ("event_type", "event type"),
    ("event_properties", "event properties"),
    ("device_id", "device"),
)
#: Rows of the activity summary.
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
#: Query parameters the API names in its errors, and the flags that set them.
_SEGMENTATION_FLAGS: Final = {
    "e": "EVENT",
    "e.event_type": "EVENT",
    "e.group_by": "--group-by-event",
    "group_by": "--group-by",
    "g": "--group-by",
    "m": "--metric",
    "i": "--interval",
    "s": "--segment",
    "start": "--start",
    "end": "--end",
    "limit": "--limit",
}
_EXPORT_FLAGS: Final = {"start": "--start", "end": "--end"}
#: Most series drawn in the chart (the first ones: the largest groups).
_CHART_SERIES: Final = 5
_BAR_WIDTH: Final = 40
#: One bar character per series, so that series differ without colour.
_BARS: Final = ("█", "▓", "▒", "░", "▚")


def register(commands: Any) -> None:
    """Add ``amplitude`` and its query subcommands to the ``trackwire`` parser."""
    amplitude = add_command(
        commands,
        "amplitude",
        "query Amplitude's API (export, users, segmentation, funnels, retention, LTV)",
        None,
    )
    calls = amplitude.add_subparsers(dest="call", metavar="CALL")
    _add_export(calls)
    _add_search(calls)
    _add_activity(calls)
    _add_segmentation(calls)
    register_charts(calls)


def _server(text: str) -> str:
    """``--url``: ``us``, ``eu`` or an http(s) URL."""
    return text.upper() if text.upper() in ("US", "EU") else url_flag(text)


_server.__name__ = "URL"


def common_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every query command takes: server, keys, timeout."""
    parser.add_argument(
        "--url",
        type=_server,
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
    parser.add_argument(
        "--timeout", type=positive(float), default=60.0, help="seconds (default 60)"
    )


def _add_export(calls: Any) -> None:
    export = add_command(calls, "export", "download raw events as a zip archive", _export)
    export.set_defaults(field_flags=_EXPORT_FLAGS)
    common_flags(export)
    export.add_argument("--start", required=True, help="first hour, YYYYMMDDTHH (UTC)")
    export.add_argument("--end", required=True, help="last hour, YYYYMMDDTHH (UTC), included")
    export.add_argument(
        "-o", "--output", required=True, help="the zip file to write, or - for stdout"
    )


def _add_search(calls: Any) -> None:
    search = add_command(calls, "search", "find users by id, device id or id prefix", _search)
    common_flags(search)
    search.add_argument("user", help="Amplitude ID, device ID, user ID or user ID prefix")
    search.add_argument("--json", action="store_true", help="print the API's JSON")


def _add_activity(calls: Any) -> None:
    activity = add_command(calls, "activity", "a user's summary and recent events", _activity)
    common_flags(activity)
    activity.add_argument(
        "amplitude_id", type=non_negative_int, help="the user's Amplitude ID (see search)"
    )
    activity.add_argument(
        "--offset", type=non_negative_int, default=0, help="events to skip (default 0)"
    )
    activity.add_argument(
        "--limit", type=count_flag(1, 1000), default=50, help="events to show, 1-1000 (default 50)"
    )
    activity.add_argument("--earliest", action="store_true", help="earliest events first")
    activity.add_argument("--json", action="store_true", help="print the API's JSON")


def _add_segmentation(calls: Any) -> None:
    segmentation = add_command(
        calls, "segmentation", "an event's metric over days, charted", _segmentation
    )
    segmentation.set_defaults(field_flags=_SEGMENTATION_FLAGS)
    common_flags(segmentation)
    segmentation.add_argument("event", metavar="EVENT", help="event type (or _active, _all)")
    segmentation.add_argument("--start", required=True, help="first day, YYYYMMDD")
    segmentation.add_argument("--end", required=True, help="last day, YYYYMMDD, included")
    segmentation.add_argument(
        "--metric", default="uniques", choices=METRICS, help="what to compute (default uniques)"
    )
    segmentation.add_argument(
        "--interval", default="daily", choices=INTERVALS, help="period length (default daily)"
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
    segmentation.add_argument(
        "--limit", type=count_flag(1, 1000), default=100, help="most groups, 1-1000 (default 100)"
    )
    segmentation.add_argument("--json", action="store_true", help="print the API's JSON")


# --- running -----------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> AmplitudeQuery:
    from trackwire.amplitude.query import AmplitudeQuery
    from trackwire.amplitude.query.client import DASHBOARD_URLS

    if not args.api_key:
        raise UsageError("--api-key is required (or set AMPLITUDE_API_KEY)")
    if not args.secret_key:
        raise UsageError("--secret-key is required (or set AMPLITUDE_SECRET_KEY)")
    url = DASHBOARD_URLS.get(args.url, args.url)
    return AmplitudeQuery(args.api_key, args.secret_key, query_url=url, timeout=args.timeout)


def ask(args: argparse.Namespace, call: Callable[[AmplitudeQuery], int]) -> int:
    """Run one call; a network failure is told as ``send`` and ``events`` tell it."""
    import urllib3

    with _client(args) as client:
        try:
            return call(client)
        except QueryError as exc:
            cause = exc.__cause__
            if isinstance(cause, urllib3.exceptions.HTTPError) and exc.status is None:
                reason = network_text(cause, client.query_url)
                raise TrackwireError(f"cannot reach {client.query_url}: {reason}") from None
            raise


def print_json(data: Any) -> int:
    """Print the API's JSON answer, indented."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    return EXIT_OK


# --- export --------------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    from trackwire.amplitude.query import params

    first = params.parse_hour(args.start, "start")
    last = params.parse_hour(args.end, "end")
    if last < first:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    to_stdout = args.output == "-"
    if not to_stdout:
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise UsageError(f"-o: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise UsageError(f"-o: cannot write in {folder}")
    dest: str | IO[bytes] = sys.stdout.buffer if to_stdout else args.output
    progress = _Progress(f"export {args.start}..{args.end}")
    result = ask(args, lambda client: _download(client, args, dest, progress))
    progress.done()
    where = "stdout" if to_stdout else args.output
    # With -o - the archive is stdout; the summary goes to stderr beside the progress.
    out = sys.stderr if to_stdout else sys.stdout
    if result < 0:
        print(f"no data from {args.start} to {args.end}: wrote an empty archive to {where}",
              file=out)  # fmt: skip
    else:
        print(f"wrote {result:,} bytes to {where}", file=out)
    return EXIT_OK


def _download(
    client: AmplitudeQuery, args: argparse.Namespace, dest: str | IO[bytes], progress: _Progress
) -> int:
    """The bytes written, or -1 for an empty range."""
    result = client.export(args.start, args.end, dest, progress=progress.update)
    return -1 if result.empty else result.bytes_written


class _Progress:
    """Download progress on stderr: redrawn in place on a terminal, silent when redirected."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.live = sys.stderr.isatty()
        self.drawn = False

    def update(self, done: int, total: int | None) -> None:
        if not self.live:
            return
        of = f" of {total:,}" if total else ""
        sys.stderr.write(f"\r{self.title}: {done:,}{of} bytes")
        sys.stderr.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")


# --- search and activity ---------------------------------------------------------------------


def _search(args: argparse.Namespace) -> int:
    result = ask(args, lambda client: _show_search(client.user_search(args.user), args.json))
    return result


def _show_search(result: UserSearch, as_json: bool) -> int:
    if as_json:
        return print_json(result.raw)
    if not result.matches:
        print(f"no match ({result.type})")
        return EXIT_OK
    rows = [
        (str(match.amplitude_id), match.user_id or "", match.last_seen or "")
        for match in result.matches
    ]
    print(f"{len(result.matches)} match(es): {result.type}")
    write_lines(plain_table(("amplitude id", "user id", "last seen"), rows))
    return EXIT_OK


def _activity(args: argparse.Namespace) -> int:
    def call(client: AmplitudeQuery) -> int:
        activity = client.user_activity(
            args.amplitude_id,
            offset=args.offset,
            limit=args.limit,
            direction="earliest" if args.earliest else "latest",
        )
        return print_json(activity.raw) if args.json else _show_activity(activity)

    return ask(args, call)


def cell(value: Any) -> str:
    """A value as one table cell: JSON for objects, times to the millisecond."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    text = str(value)
    # Amplitude's times carry microseconds ("2026-01-05 10:00:00.204000"): milliseconds read
    # better and are all a tracked time has.
    if len(text) == 26 and text[19] == "." and text[:4].isdigit():
        return text[:23]
    return text


def _show_activity(activity: UserActivity) -> int:
    data = activity.user_data
    if not activity.found:
        print("no such user (Amplitude answers an empty summary)")
        return EXIT_OK
    print(f"user {data.user_id or data.canonical_amplitude_id}")
    summary = [(key, cell(data.raw.get(key))) for key in _SUMMARY_FIELDS]
    summary.append(("properties", cell(data.properties)))
    write_lines(plain_table(("field", "value"), summary, max_width=100))
    print(f"\n{len(activity.events)} event(s)")
    rows = [tuple(cell(event.get(name)) for name, _ in _EVENT_COLUMNS) for event in activity.events]
    write_lines(plain_table(tuple(heading for _, heading in _EVENT_COLUMNS), rows))
    return EXIT_OK


# --- segmentation ------------------------------------------------------------------------------


def _segmentation(args: argparse.Namespace) -> int:
    segments = []
    for number, text in enumerate(args.segment, 1):
        try:
            segments.append(orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"--segment #{number} is not valid JSON: {exc}") from None
    group_by: Any = args.group_by
    if args.group_by_event:
        group_by = {"type": "event", "value": args.group_by_event}
    if args.metric in ("sums", "value_avg") and not args.group_by_event:
        raise UsageError(f"--metric {args.metric} adds up an event property: give --group-by-event")

    def call(client: AmplitudeQuery) -> int:
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
            return print_json(result.raw)
        write_lines(chart(result, f"{args.event}: {args.metric}, {args.interval} (UTC)"))
        return EXIT_OK

    return ask(args, call)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def chart(result: Segmentation, title: str) -> list[str]:
    """The segmentation as text: a table of every series, then bars of the first few.

    Each series' bars use their own character (named in the legend), so they read apart
    without colour, in a pipe or a log.
    """
    series = range(len(result.series))
    titles = ("period", *(result.label(i) for i in series))
    rows = [
        (x, *(_number(result.series[i][row]) for i in series))
        for row, x in enumerate(result.x_values)
    ]
    rows.append(("whole range", *(_number(result.collapsed(i)) for i in series)))
    right = frozenset(range(1, len(titles)))
    lines = [title, *plain_table(titles, rows, right=right, max_width=24), ""]
    shown = range(min(len(result.series), _CHART_SERIES))
    peak = max((v for i in shown for v in result.series[i]), default=0) or 1
    width = max((len(x) for x in result.x_values), default=0)
    for row, x in enumerate(result.x_values):
        for index in shown:
            value = result.series[index][row]
            bar = _BARS[index] * round(_BAR_WIDTH * value / peak)
            label = x if index == shown[0] else ""
            lines.append(f"{label:<{width}} {bar or '▏'} {_number(value)}")
    if len(shown) > 1:
        lines.append("")
        lines.append("  ".join(f"{_BARS[i]} {result.label(i)}" for i in shown))
    return lines
