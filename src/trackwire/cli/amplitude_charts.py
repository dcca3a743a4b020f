"""``trackwire amplitude funnels|retention|users|ltv``: the Dashboard API's charts as tables.

::

    trackwire amplitude funnels "Signed Up" "Song Played" "Purchased" --start 20260101 \\
        --end 20260131 --mode ordered --window-days 7
    trackwire amplitude retention "_new" "Song Played" --start 20260101 --end 20260131
    trackwire amplitude users --start 20260101 --end 20260131 --metric new --interval weekly
    trackwire amplitude ltv --start 20260101 --end 20260131 --metric arpu

They share the other query commands' server, key and ``--json`` flags (see
:mod:`trackwire.cli.amplitude`) and check every flag before a request is made; the parameters'
meanings are those of :mod:`trackwire.amplitude.query.charts`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from trackwire.cli._common import EXIT_OK, UsageError, add_command, count_flag, plain_table
from trackwire.cli._common import write_lines as _write

if TYPE_CHECKING:
    from trackwire.amplitude.query import AmplitudeQuery

__all__ = ["register_charts"]

#: The API's parameters, by the flag that sets them (for errors named by flag).
_FLAGS: Final = {
    "e": "EVENT",
    "start": "--start",
    "end": "--end",
    "mode": "--mode",
    "n": "--new-users",
    "cs": "--window-days",
    "i": "--interval",
    "s": "--segment",
    "g": "--group-by",
    "m": "--metric",
    "se": "START_EVENT",
    "re": "RETURN_EVENT",
    "rm": "--mode",
    "rb": "--bracket",
    "limit": "--limit",
}
_INTERVALS: Final = ("daily", "weekly", "monthly")


def _ask(args: argparse.Namespace, call: Callable[[AmplitudeQuery], int]) -> int:
    from trackwire.cli import amplitude  # the query commands' plumbing (it imports this module)

    return amplitude.ask(args, call)


def _common(parser: argparse.ArgumentParser) -> None:
    from trackwire.cli import amplitude

    amplitude.common_flags(parser)


def _print_json(data: Any) -> int:
    from trackwire.cli import amplitude

    return amplitude.print_json(data)


def register_charts(calls: Any) -> None:
    """Add the four chart commands to ``trackwire amplitude``."""
    _add_funnels(calls)
    _add_retention(calls)
    _add_users(calls)
    _add_ltv(calls)


def _range_flags(parser: argparse.ArgumentParser, *, interval: bool = True) -> None:
    _common(parser)
    parser.set_defaults(field_flags=_FLAGS)
    parser.add_argument("--start", required=True, help="first day, YYYYMMDD")
    parser.add_argument("--end", required=True, help="last day, YYYYMMDD, included")
    if interval:
        parser.add_argument(
            "--interval", default="daily", choices=_INTERVALS, help="period (default daily)"
        )
    parser.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="JSON",
        help='a segment filter (repeatable): {"prop": "gp:plan", "op": "is", "values": ["pro"]}',
    )
    parser.add_argument("--group-by", help="user property to group by (country, gp:plan, ...)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


def _segments(args: argparse.Namespace) -> list[Any]:
    found = []
    for number, text in enumerate(args.segment, 1):
        try:
            found.append(orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"--segment #{number} is not valid JSON: {exc}") from None
    return found


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


# --- funnels -------------------------------------------------------------------------------------


def _add_funnels(calls: Any) -> None:
    funnels = add_command(calls, "funnels", "conversion through events, step by step", _funnels)
    funnels.add_argument("events", nargs="+", metavar="EVENT", help="the steps, in order (2-10)")
    _range_flags(funnels)
    funnels.add_argument(
        "--mode", default="ordered", choices=("ordered", "unordered"), help="default ordered"
    )
    funnels.add_argument(
        "--window-days",
        type=count_flag(1, 366),
        default=30,
        help="conversion window in days, 1-366 (default 30)",
    )
    funnels.add_argument("--new-users", action="store_true", help="new users only")
    funnels.add_argument(
        "--limit", type=count_flag(1, 1000), default=100, help="most groups (default 100)"
    )


def _funnels(args: argparse.Namespace) -> int:
    if len(args.events) < 2:
        raise UsageError("a funnel needs at least two EVENT steps")
    segments = _segments(args)

    def call(client: AmplitudeQuery) -> int:
        result = client.funnels(
            args.events, args.start, args.end, mode=args.mode, new_users=args.new_users,
            conversion_window_s=args.window_days * 86_400, interval=args.interval,
            segments=segments, group_by=args.group_by, limit=args.limit,
        )  # fmt: skip
        if args.json:
            return _print_json(result.raw)
        lines: list[str] = []
        for group in result.groups:
            title = "funnel" if group.group_value is None else f"funnel: {group.group_value}"
            rows = [
                (
                    str(step + 1),
                    event,
                    str(group.cumulative_raw[step]),
                    _percent(group.cumulative[step]),
                    _percent(group.step_by_step[step]),
                    _seconds(group.median_trans_times[step]) if step else "",
                )
                for step, event in enumerate(group.events)
            ]
            heads = ("step", "event", "users", "of first", "of previous", "median time")
            lines += [title, *plain_table(heads, rows, right=frozenset({2, 3, 4})), ""]
        _write(lines or ["(no users entered the funnel)"])
        return EXIT_OK

    return _ask(args, call)


def _seconds(ms: int) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- retention -----------------------------------------------------------------------------------


def _add_retention(calls: Any) -> None:
    retention = add_command(calls, "retention", "users who came back, day by day", _retention)
    retention.add_argument("start_event", metavar="START_EVENT", help="event, or _new")
    retention.add_argument("return_event", metavar="RETURN_EVENT", help="event, or _all")
    _range_flags(retention)
    retention.add_argument(
        "--mode",
        default="n-day",
        choices=("n-day", "rolling", "bracket"),
        help="default n-day",
    )
    retention.add_argument(
        "--bracket",
        action="append",
        default=[],
        metavar="FIRST-LAST",
        help="a bracket of days for --mode bracket (repeatable), e.g. 0-1 2-7",
    )


def _brackets(texts: Sequence[str]) -> list[list[int]] | None:
    if not texts:
        return None
    found = []
    for text in texts:
        first, _, last = text.partition("-")
        if not (first.isdecimal() and last.isdecimal()):
            raise UsageError(f"--bracket {text!r}: expected FIRST-LAST days, e.g. 2-7")
        found.append([int(first), int(last)])
    return found


def _retention(args: argparse.Namespace) -> int:
    segments = _segments(args)
    brackets = _brackets(args.bracket)
    if brackets is not None and args.mode != "bracket":
        raise UsageError("--bracket goes with --mode bracket")

    def call(client: AmplitudeQuery) -> int:
        result = client.retention(
            args.start_event, args.return_event, args.start, args.end, mode=args.mode,
            brackets=brackets, interval=args.interval, segments=segments,
            group_by=args.group_by,
        )  # fmt: skip
        if args.json:
            return _print_json(result.raw)
        lines: list[str] = []
        unit = {"daily": "day", "weekly": "week", "monthly": "month"}[args.interval]
        for index, series in enumerate(result.series):
            meta = result.series_meta[index] if index < len(result.series_meta) else ""
            label = meta if isinstance(meta, str) else ""  # a group's value, when grouped
            rows = [
                ("cohort" if day == 0 else f"{unit} {day}", str(cell.count), str(cell.outof),
                 _percent(cell.count / cell.outof) if cell.outof else "-",
                 "incomplete" if cell.incomplete else "")
                for day, cell in enumerate(series.combined)
            ]  # fmt: skip
            heads = ("period", "returned", "of", "retained", "")
            title = f"retention {label}".rstrip()
            lines += [title, *plain_table(heads, rows, right=frozenset({1, 2, 3})), ""]
        _write(lines or ["(no users in the range)"])
        return EXIT_OK

    return _ask(args, call)


# --- active and new users ------------------------------------------------------------------------


def _add_users(calls: Any) -> None:
    users = add_command(calls, "users", "active or new users per period", _users)
    _range_flags(users)
    users.add_argument(
        "--metric", default="active", choices=("active", "new"), help="default active"
    )


def _users(args: argparse.Namespace) -> int:
    segments = _segments(args)

    def call(client: AmplitudeQuery) -> int:
        result = client.users(
            args.start, args.end, metric=args.metric, interval=args.interval,
            segments=segments, group_by=args.group_by,
        )  # fmt: skip
        if args.json:
            return _print_json(result.raw)
        labels = [str(meta) or "all" for meta in result.series_meta] or ["all"]
        heads = ("period", *labels[: len(result.series)])
        rows = [
            (x, *(f"{series[row]:,.0f}" for series in result.series))
            for row, x in enumerate(result.x_values)
        ]
        right = frozenset(range(1, len(heads)))
        _write(
            [f"{args.metric} users, {args.interval} (UTC)", *plain_table(heads, rows, right=right)]
        )
        return EXIT_OK

    return _ask(args, call)


# --- revenue LTV ---------------------------------------------------------------------------------


def _add_ltv(calls: Any) -> None:
    ltv = add_command(calls, "ltv", "lifetime revenue of the users new in the range", _ltv)
    _range_flags(ltv)
    ltv.add_argument(
        "--metric",
        default="arpu",
        choices=("arpu", "arppu", "total", "paying"),
        help="default arpu",
    )


def _ltv(args: argparse.Namespace) -> int:
    segments = _segments(args)

    def call(client: AmplitudeQuery) -> int:
        result = client.revenue_ltv(
            args.start, args.end, metric=args.metric, interval=args.interval,
            segments=segments, group_by=args.group_by,
        )  # fmt: skip
        if args.json:
            return _print_json(result.raw)
        lines: list[str] = []
        for index, series in enumerate(result.series):
            label = result.series_labels[index] if index < len(result.series_labels) else ""
            cohorts = series.get("values")
            if not isinstance(cohorts, dict) or not cohorts:
                continue
            keys = [key for key in next(iter(cohorts.values())) if key.startswith("r")]
            heads = ("cohort", "users", "paying", *keys)
            rows = [
                (day, str(values.get("count", "")), str(values.get("paid", "")),
                 *(_amount(values.get(key)) for key in keys))
                for day, values in sorted(cohorts.items())
                if isinstance(values, dict)
            ]  # fmt: skip
            right = frozenset(range(1, len(heads)))
            title = f"LTV ({args.metric}) {label}".rstrip()
            lines += [title, *plain_table(heads, rows, right=right), ""]
        _write(lines or ["(no new users in the range)"])
        return EXIT_OK

    return _ask(args, call)


def _amount(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.2f}"
    return "" if value is None else str(value)
