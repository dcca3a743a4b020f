"""The ``trackwire`` command: run a collector, look at what it stored, send test events.

::

    trackwire collector [--host 127.0.0.1] [--port 8787] [--db PATH] [--keys FILE] [--fault-...]
    trackwire events [--url URL] [--vendor V] [--type T] [--user U] [--event E] [--limit N] [--json]
                     [--token TOKEN | --key KEY [--secret SECRET]]
    trackwire send segment track --write-key K --user-id U --event E --properties '{"plan": "pro"}'
    trackwire send amplitude track --api-key K --user-id U --event E --properties '{...}'
    trackwire send mparticle event --key K --secret S --customer-id U --event E
    trackwire amplitude export|search|activity|segmentation ...   (see trackwire._cli_amplitude)
    trackwire spool status|replay PATH                            (see trackwire._cli_spool)

``send`` (:mod:`trackwire._cli_send`) talks to a local collector (``http://127.0.0.1:8787``)
unless ``--host`` names another one or the vendor itself, so a test event never reaches a
vendor by accident. The Segment command goes through trackwire's own client, exactly as an
application would; the Amplitude and mParticle commands post the JSON directly.

Exit status: 0 done, 1 not delivered (or the collector could not be reached), 2 a usage error.

``--help``, ``send`` and ``events`` need only trackwire's core dependencies; the collector, its
web stack and rich are imported only by the ``collector`` command, which needs the
``collector`` extra. Nothing under ``trackwire`` imports this module.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

import orjson

from trackwire._version import __version__
from trackwire.errors import ConfigError, TrackwireError, ValidationError

__all__ = ["build_parser", "main"]

#: Where ``send`` and ``events`` go unless told otherwise: a collector on this machine.
DEFAULT_URL: Final = "http://127.0.0.1:8787"
#: Where ``trackwire collector`` keeps its database unless told otherwise.
DEFAULT_DB: Final = ".trackwire/collector.db"
#: The one line ``trackwire collector`` prints on a core install.
COLLECTOR_EXTRA_HINT: Final = (
    "the collector needs the collector extra: pip install 'trackwire[collector]'"
)
#: Modules the collector cannot run without (all in the ``collector`` extra).
_COLLECTOR_MODULES: Final = ("starlette", "uvicorn", "anyio")
#: Exit statuses.
EXIT_OK: Final = 0
EXIT_NOT_DELIVERED: Final = 1
EXIT_USAGE: Final = 2


class _UsageError(Exception):
    """A command-line value is wrong; printed with the subcommand's usage, exit status 2."""


def _collector_installed() -> bool:
    """True when the collector extra is importable (checked without importing it)."""
    from importlib.util import find_spec

    for name in _COLLECTOR_MODULES:
        try:
            if find_spec(name) is None:
                return False
        except (ImportError, ValueError):  # a broken or blocked install counts as missing
            return False
    return True


def _json_object(text: str | None, flag: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _UsageError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _UsageError(f'{flag} must be a JSON object, like \'{{"plan": "pro"}}\'')
    return value


def _flag(field: str) -> str:
    """The command-line flag for a Python argument name: ``user_id`` -> ``--user-id``."""
    return "--" + field.replace("_", "-")


#: Python argument names the Segment client's errors may mention, and the flags that set them.
_FIELD_NAMES: Final = re.compile(
    r"\b(user_id|anonymous_id|previous_id|group_id|message_id|timestamp|properties|traits)\b"
)


#: Client options the ``send`` flags set, and those flags.
_OPTION_FLAGS: Final = {"host": "--host", "timeout": "--timeout", "max_retries": "--retries"}
_OPTION_NAMES: Final = re.compile(r"\b(host|timeout|max_retries)\b")


def _config_text(exc: ConfigError) -> str:
    """A client's ConfigError retold with the flags that set the options it names."""
    return _OPTION_NAMES.sub(lambda match: _OPTION_FLAGS[match.group(1)], str(exc))


def _flag_text(exc: ValidationError) -> str:
    """A client's ValidationError retold with flags (``--user-id``) instead of field names."""
    text = str(exc)
    if exc.field and text.startswith(exc.field + ": "):
        text = text[len(exc.field) + 2 :]
    text = _FIELD_NAMES.sub(lambda match: _flag(match.group(1)), text)
    text = text.replace("; pass a datetime or ISO string", ", like 2024-05-01T12:00:00Z")
    if not exc.field:
        return text
    head, _, rest = exc.field.partition(".")
    if not rest and text.startswith(_flag(head) + " "):
        return text  # "--user-id or --anonymous-id is required" names its flag already
    where = _flag(head) + (f" (at {rest})" if rest else "")
    return f"{where}: {text}"


# --- trackwire collector -----------------------------------------------------------------------


def _cmd_collector(args: argparse.Namespace) -> int:
    from trackwire.collector.faults import fault_config_from_arguments
    from trackwire.collector.plan import load_plan
    from trackwire.collector.server import serve

    faults = fault_config_from_arguments(args)
    plan = None if args.plan is None else load_plan(args.plan)
    return serve(
        db=args.db,
        host=args.host,
        port=args.port,
        keys=args.keys,
        faults=faults,
        log_level=args.log_level,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        plan=plan,
        plan_mode=args.plan_mode,
    )


def _port(text: str) -> int:
    """``--port``: an integer from 0 to 65535 (argparse turns the ValueError into a usage error)."""
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


_port.__name__ = "port"  # argparse names the type in its message: "invalid port value: '99999'"


def _seconds(text: str) -> float:
    """A positive number of seconds."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value


_seconds.__name__ = "seconds"


# --- trackwire events --------------------------------------------------------------------------


#: Where ``trackwire events`` finds an admin token when ``--token`` is not given.
TOKEN_ENV: Final = "TRACKWIRE_COLLECTOR_TOKEN"


def _read_headers(token: str | None, key: str | None, secret: str | None) -> dict[str, str]:
    """Credentials for a keyed collector's read endpoints: an admin token, or a source's keys."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if key:
        basic = base64.b64encode(f"{key}:{secret or ''}".encode()).decode("ascii")
        return {"Authorization": f"Basic {basic}"}
    return {}


def _get_json(url: str, timeout: float, headers: dict[str, str] | None = None) -> Any:
    import urllib3

    try:
        response = urllib3.request("GET", url, headers=headers, timeout=timeout, retries=False)
    except urllib3.exceptions.HTTPError as exc:
        raise TrackwireError(
            f"cannot reach the collector at {url}: {_network_text(exc, url)}"
        ) from None
    if response.status in (401, 403):
        raise TrackwireError(
            f"the collector answered {response.status}: it has a keys file, so reading needs "
            f"credentials: --token (an admin token from the keys file, or ${TOKEN_ENV}) "
            "or --key/--secret of one source"
        )
    if response.status != 200:
        text = response.data.decode("utf-8", "replace")[:300]
        raise TrackwireError(f"the collector answered {response.status}: {text}")
    try:
        return orjson.loads(response.data)
    except orjson.JSONDecodeError:
        raise TrackwireError(f"{url} did not answer JSON; is it a trackwire collector?") from None


def _network_text(exc: BaseException, url: str) -> str:
    """A network error as trackwire's transport names it (``connection_refused: ...``)."""
    from trackwire._engine.transport import describe_error, host_port

    code, text = describe_error(exc, host_port(url))
    return f"{code}: {text}"


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


# Columns of the events table: (title, widest it grows to, narrowest it shrinks to).
_COLUMNS: Final = (
    ("id", 8, 2),
    ("received", 14, 14),
    ("vendor", 9, 3),
    ("source", 16, 6),
    ("type", 14, 5),
    ("event", 24, 6),
    ("user", 20, 6),
    ("properties", 10_000, 10),
)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())  # a newline or tab in a stored value would break the row
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _table(rows: Sequence[tuple[str, ...]], width: int) -> list[str]:
    """Rows as fixed-width text lines no wider than ``width``: wide cells are cut with ``…``.

    The properties column takes what is left (and is left out when no row has any); the other
    columns give up width widest first, each down to a readable minimum.
    """
    columns = list(_COLUMNS)
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
        cells = [_cut(cell, w) for cell, w in zip(row, widths, strict=True)]
        cells[0] = cells[0].rjust(widths[0])
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return lines


def _cmd_events(args: argparse.Namespace) -> int:
    import urllib.parse

    query = {
        "vendor": args.vendor,
        "source": args.source,
        "type": args.type,
        "user": args.user,
        "event": args.event,
        "limit": args.limit,
    }
    params = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    url = args.url.rstrip("/")
    token = args.token or os.environ.get(TOKEN_ENV) or None
    headers = _read_headers(token, args.key, args.secret)
    body = _get_json(f"{url}/events?{params}", args.timeout, headers)
    events = body.get("events", []) if isinstance(body, dict) else []
    if args.json:
        for event in events:
            sys.stdout.write(orjson.dumps(event).decode() + "\n")
        return EXIT_OK
    rows = [
        (
            str(event.get("id", "")),
            _time(event.get("received_time_ms")),
            str(event.get("vendor") or ""),
            str(event.get("source") or ""),
            str(event.get("type") or ""),
            str(event.get("event_name") or ""),
            str(event.get("user_id") or event.get("device_id") or ""),
            _summary(event.get("payload")),
        )
        for event in events
        if isinstance(event, dict)
    ]
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    print(f"{len(rows)} most recent events at {url}" + ("" if rows else " (none stored yet)"))
    if rows:
        print("\n".join(_table(rows, width)))
    return EXIT_OK


# --- the parser --------------------------------------------------------------------------------


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: a number above zero (``kind`` is int or float)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


#: Most events the collector lists in one answer (its ``/events`` limit).
_MAX_EVENTS_LIMIT: Final = 1000


def _events_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= _MAX_EVENTS_LIMIT:
        raise argparse.ArgumentTypeError(f"must be 1 to {_MAX_EVENTS_LIMIT}, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _command(
    subcommands: Any, name: str, help: str, handler: Callable[[argparse.Namespace], int] | None
) -> argparse.ArgumentParser:
    """Add a subcommand whose own usage is shown with its errors."""
    parser: argparse.ArgumentParser = subcommands.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler, command_parser=parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The ``trackwire`` argument parser (every command and flag)."""
    parser = argparse.ArgumentParser(
        prog="trackwire",
        description="Run a local collector, look at what it stored, send test events.",
        epilog="Exit status: 0 done, 1 not delivered, 2 a usage error. "
        "'trackwire COMMAND --help' shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"trackwire {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    collector = _command(
        commands,
        "collector",
        "run a local collector for the Segment, Amplitude and mParticle APIs",
        _cmd_collector,
    )
    collector.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    collector.add_argument(
        "--port", type=_port, default=8787, help="port, 0-65535 (default 8787; 0 picks a free one)"
    )
    collector.add_argument(
        "--db", default=DEFAULT_DB, help=f"SQLite database file (default {DEFAULT_DB})"
    )
    collector.add_argument("--keys", help="keys file listing the accepted sources (JSON); "
                           "without it any key is accepted, on loopback only")  # fmt: skip
    collector.add_argument("--log-level", default="info",
                           choices=("debug", "info", "warning", "error"),
                           help="stderr logging: info (default) logs one line per request and "
                           "every warning; warning logs warnings and errors only")  # fmt: skip
    collector.add_argument("--header-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                           help="close a connection that has not sent its request headers "
                           "within this time (default 10)")  # fmt: skip
    collector.add_argument("--body-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                           help="answer 408 and close when a request body has not arrived "
                           "within this time (default 60)")  # fmt: skip
    collector.add_argument("--plan", metavar="FILE",
                           help="tracking plan (JSON or YAML) every event is checked against; "
                           "violations are listed by /events and /_test/violations")  # fmt: skip
    collector.add_argument("--plan-mode", choices=("record", "enforce"), default="record",
                           help="record (default): store events breaking the plan, list "
                           "why; enforce: keep them out of the store (see /_test/bad)")  # fmt: skip
    if _collector_installed():  # the fault flags live with the collector, in the extra
        from trackwire.collector.faults import add_fault_arguments

        add_fault_arguments(collector)

    events = _command(commands, "events", "list the events a collector stored", _cmd_events)
    events.add_argument("--url", default=DEFAULT_URL, help=f"collector URL (default {DEFAULT_URL})")
    for name in ("vendor", "source", "type", "user", "event"):
        events.add_argument(f"--{name}", help=f"only events with this {name}")
    events.add_argument(
        "--limit",
        type=_events_limit,
        default=20,
        help="how many, newest first (1-1000, default 20)",
    )
    events.add_argument("--json", action="store_true", help="one JSON object per line, in full")
    events.add_argument(
        "--width", type=_positive(int), help="table width in columns (default the terminal's)"
    )
    events.add_argument(
        "--token",
        help=f"an admin token from a keyed collector's keys file (default ${TOKEN_ENV})",
    )
    events.add_argument("--key", help="or a source's key: a Segment write key, an Amplitude "
                        "api_key or an mParticle key (reads that source only)")  # fmt: skip
    events.add_argument("--secret", help="with --key: the Amplitude secret_key or the "
                        "mParticle secret")  # fmt: skip
    events.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        help="seconds to wait for the collector (default 10)",
    )

    from trackwire import _cli_send  # trackwire send segment|amplitude|mparticle

    _cli_send.add_parser(commands)

    from trackwire import _cli_amplitude

    _cli_amplitude.add_parser(commands)
    from trackwire import _cli_spool  # trackwire spool status|replay

    _cli_spool.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trackwire`` command; returns the exit status (0 ok, 1 not delivered, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["collector"] and not _collector_installed():
        print(f"trackwire collector: {COLLECTOR_EXTRA_HINT}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    if not argv:
        parser.print_help()
        return EXIT_USAGE
    args = parser.parse_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except _UsageError as exc:
        command_parser.error(str(exc))
    except ValidationError as exc:  # a value the client refused: a usage error, named by flag
        command_parser.error(_flag_text(exc))
    except ConfigError as exc:
        if args.command == "collector":  # the collector's own errors are its to word
            print(f"trackwire collector: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        command_parser.error(_config_text(exc))
    except TrackwireError as exc:
        print(f"trackwire {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if args.command == "collector" else EXIT_NOT_DELIVERED
    except KeyboardInterrupt:
        return 130
    return EXIT_OK  # not reached: parser.error exits


if __name__ == "__main__":
    sys.exit(main())
