"""The ``trackwire`` command: run a collector, look at what it stored, send test events.

::

    trackwire collector [--host 127.0.0.1] [--port 8787] [--db PATH] [--keys FILE] [--fault-...]
    trackwire events [--url URL] [--vendor V] [--type T] [--user U] [--event E] [--limit N] [--json]
    trackwire send segment track --write-key K --user-id U --event E --properties '{"plan": "pro"}'
    trackwire send amplitude track --api-key K --user-id U --event E --properties '{...}'
    trackwire send mparticle event --key K --secret S --customer-id U --event E

``send`` talks to a local collector (``http://127.0.0.1:8787``) unless ``--host`` names another
one or the vendor itself, so a test event never reaches a vendor by accident. The Segment
command goes through trackwire's own client, exactly as an application would; the Amplitude
and mParticle commands post the JSON directly.

The command-line tools live apart from the SDK (nothing under ``trackwire`` imports this
module), and import the collector, rich and the vendor clients only when a command needs them.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

import orjson

from trackwire._version import __version__
from trackwire.errors import TrackwireError

__all__ = ["build_parser", "main"]

#: Where ``send`` and ``events`` go unless told otherwise: a collector on this machine.
DEFAULT_URL: Final = "http://127.0.0.1:8787"
#: Where ``trackwire collector`` keeps its database unless told otherwise.
DEFAULT_DB: Final = ".trackwire/collector.db"

_SEGMENT_CALLS: Final = ("track", "identify", "page", "screen", "group", "alias")


class _UsageError(Exception):
    """A command-line value is wrong; printed without a traceback, exit status 2."""


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


# --- trackwire collector -----------------------------------------------------------------------


def _cmd_collector(args: argparse.Namespace) -> int:
    from trackwire.collector.faults import fault_config_from_arguments
    from trackwire.collector.server import serve

    faults = fault_config_from_arguments(args)
    return serve(db=args.db, host=args.host, port=args.port, keys=args.keys, faults=faults)


# --- trackwire events --------------------------------------------------------------------------


def _get_json(url: str, timeout: float) -> Any:
    import urllib3

    try:
        response = urllib3.request("GET", url, timeout=timeout, retries=False)
    except urllib3.exceptions.HTTPError as exc:
        raise TrackwireError(f"cannot reach the collector at {url}: {exc}") from None
    if response.status != 200:
        text = response.data.decode("utf-8", "replace")[:300]
        raise TrackwireError(f"the collector answered {response.status}: {text}")
    return orjson.loads(response.data)


def _time(ms: Any) -> str:
    if not isinstance(ms, int):
        return ""
    return datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="milliseconds")


def _summary(payload: Any, limit: int = 60) -> str:
    """A short view of the event's properties/traits/attributes for the table."""
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
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    body = _get_json(f"{args.url.rstrip('/')}/events?{params}", args.timeout)
    events = body.get("events", [])
    if args.json:
        for event in events:
            sys.stdout.write(orjson.dumps(event).decode() + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(events)} most recent events at {args.url}", title_justify="left")
    for column in ("id", "received", "vendor", "source", "type", "event", "user", "device"):
        table.add_column(column, justify="right" if column == "id" else "left")
    table.add_column("properties", overflow="fold")
    for event in events:
        table.add_row(
            str(event.get("id", "")),
            _time(event.get("received_time_ms")),
            str(event.get("vendor") or ""),
            str(event.get("source") or ""),
            str(event.get("type") or ""),
            str(event.get("event_name") or ""),
            str(event.get("user_id") or ""),
            str(event.get("device_id") or ""),
            _summary(event.get("payload")),
        )
    Console().print(table)
    return 0


# --- trackwire send ----------------------------------------------------------------------------


def _cmd_send_segment(args: argparse.Namespace) -> int:
    from trackwire.segment.client import Segment

    properties = _json_object(args.properties, "--properties")
    traits = _json_object(args.traits, "--traits")
    client = Segment(
        args.write_key,
        host=args.host,
        flush_at=1,
        max_retries=args.retries,
        timeout=args.timeout,
        connect_timeout=min(args.timeout, 5.0),
    )
    ids: dict[str, Any] = {"timestamp": args.timestamp, "message_id": args.message_id}
    try:
        call = args.call
        if call == "alias":
            receipt = client.alias(args.previous_id, args.user_id, **ids)
        else:
            ids["anonymous_id"] = args.anonymous_id
            if call == "track":
                receipt = client.track(args.user_id, args.event, properties, **ids)
            elif call == "identify":
                receipt = client.identify(args.user_id, traits, **ids)
            elif call in ("page", "screen"):
                view = client.page if call == "page" else client.screen
                receipt = view(args.user_id, args.category, args.name, properties, **ids)
            else:
                receipt = client.group(args.user_id, args.group_id, traits, **ids)
        client.flush(timeout=args.timeout)
        delivered = receipt.wait(args.timeout)
    finally:
        client.shutdown(timeout=0.5)
    if delivered:
        print(f"delivered: segment {call} messageId={receipt.message_id} to {client.host}")
        return 0
    why = receipt.error or f"still pending after {args.timeout} s"
    print(f"not delivered: segment {call} messageId={receipt.message_id}: {why}", file=sys.stderr)
    return 1


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST a body, print the answer, return the exit status (0 for 2xx)."""
    import urllib3

    try:
        response = urllib3.request(
            "POST", url, body=body, headers=headers, timeout=timeout, retries=False
        )
    except urllib3.exceptions.HTTPError as exc:
        print(f"cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    text = response.data.decode("utf-8", "replace")
    print(f"HTTP {response.status} from {url}" + (f": {text}" if text else ""))
    return 0 if 200 <= response.status < 300 else 1


def _cmd_send_amplitude(args: argparse.Namespace) -> int:
    event: dict[str, Any] = {
        "user_id": args.user_id,
        "device_id": args.device_id,
        "time": int(time.time() * 1000),
        "insert_id": args.insert_id or str(uuid.uuid4()),
        "library": f"trackwire-cli/{__version__}",
    }
    if args.call == "track":
        if not args.event:
            raise _UsageError("send amplitude track needs --event")
        event["event_type"] = args.event
        event["event_properties"] = _json_object(args.properties, "--properties")
        event["user_properties"] = _json_object(args.user_properties, "--user-properties")
    elif args.call == "identify":
        event["event_type"] = "$identify"
        event["user_properties"] = _json_object(args.user_properties, "--user-properties") or {}
    else:
        if not (args.group_type and args.group_value):
            raise _UsageError("send amplitude group-identify needs --group-type and --group-value")
        event["event_type"] = "$groupidentify"
        event["groups"] = {args.group_type: args.group_value}
        props = _json_object(args.group_properties, "--group-properties") or {}
        event["group_properties"] = props
    event = {key: value for key, value in event.items() if value is not None}
    body = orjson.dumps({"api_key": args.api_key, "events": [event]})
    path = "/batch" if args.batch else "/2/httpapi"
    headers = {"Content-Type": "application/json"}
    return _post(args.host.rstrip("/") + path, body, headers, args.timeout)


def _cmd_send_mparticle(args: argparse.Namespace) -> int:
    data: dict[str, Any] = {
        "timestamp_unixtime_ms": int(time.time() * 1000),
        "source_message_id": str(uuid.uuid4()),
        "custom_attributes": _json_object(args.attributes, "--attributes"),
    }
    if args.call == "screen":
        data["screen_name"] = args.event
        event = {"event_type": "screen_view", "data": data}
    else:
        data["event_name"] = args.event
        data["custom_event_type"] = args.custom_event_type
        event = {"event_type": "custom_event", "data": data}
    event["data"] = {key: value for key, value in data.items() if value is not None}
    batch: dict[str, Any] = {
        "environment": args.environment,
        "source_request_id": str(uuid.uuid4()),
        "events": [event],
    }
    if args.customer_id:
        batch["user_identities"] = {"customer_id": args.customer_id}
    attributes = _json_object(args.user_attributes, "--user-attributes")
    if attributes:
        batch["user_attributes"] = attributes
    token = base64.b64encode(f"{args.key}:{args.secret}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    url = args.host.rstrip("/") + "/v2/events"
    return _post(url, orjson.dumps(batch), headers, args.timeout)


# --- the parser --------------------------------------------------------------------------------


def _add_send_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_URL, help=f"collector or vendor base URL (default {DEFAULT_URL})"
    )
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for delivery (default 10)")  # fmt: skip


def _segment_parsers(send: Any) -> None:
    segment = send.add_parser("segment", help="send a Segment call through trackwire.Segment")
    calls = segment.add_subparsers(dest="call", required=True, metavar="CALL")
    for call in _SEGMENT_CALLS:
        parser = calls.add_parser(call, help=f"a Segment {call} call")
        parser.set_defaults(handler=_cmd_send_segment)
        parser.add_argument("--write-key", required=True, help="the source's write key")
        parser.add_argument("--user-id", required=call == "alias", help="userId")
        if call == "alias":
            parser.add_argument("--previous-id", required=True, help="the id being aliased")
        else:
            parser.add_argument("--anonymous-id", help="anonymousId")
        parser.add_argument("--event", required=call == "track", help="track: the event name")
        parser.add_argument("--name", help="page/screen: the name")
        parser.add_argument("--category", help="page/screen: the category")
        parser.add_argument("--group-id", required=call == "group", help="group: the groupId")
        parser.add_argument("--properties", help="track/page/screen: a JSON object")
        parser.add_argument("--traits", help="identify/group: a JSON object")
        parser.add_argument("--timestamp", help="ISO-8601 event time (default now)")
        parser.add_argument("--message-id", help="messageId (default a new UUID)")
        parser.add_argument("--retries", type=int, default=2, help="retries (default 2)")
        _add_send_common(parser)


def _vendor_send_parsers(send: Any) -> None:
    amplitude = send.add_parser("amplitude", help="post an Amplitude event (HTTP V2 JSON)")
    calls = amplitude.add_subparsers(dest="call", required=True, metavar="CALL")
    for call in ("track", "identify", "group-identify"):
        parser = calls.add_parser(call, help=f"an Amplitude {call} event")
        parser.set_defaults(handler=_cmd_send_amplitude)
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--user-id")
        parser.add_argument("--device-id")
        parser.add_argument("--event", help="track: the event_type")
        parser.add_argument("--properties", help="track: event_properties as a JSON object")
        parser.add_argument("--user-properties",
                            help='user_properties, e.g. \'{"$set": {"plan": "pro"}}\'')  # fmt: skip
        parser.add_argument("--group-type")
        parser.add_argument("--group-value")
        parser.add_argument("--group-properties", help="group-identify: a JSON object")
        parser.add_argument("--insert-id", help="insert_id (default a new UUID)")
        parser.add_argument("--batch", action="store_true", help="post to /batch")
        _add_send_common(parser)
    mparticle = send.add_parser("mparticle", help="post an mParticle batch with one event")
    calls = mparticle.add_subparsers(dest="call", required=True, metavar="CALL")
    for call in ("event", "screen"):
        parser = calls.add_parser(call, help=f"a {call} in a one-event batch")
        parser.set_defaults(handler=_cmd_send_mparticle)
        parser.add_argument("--key", required=True)
        parser.add_argument("--secret", required=True)
        parser.add_argument("--event", required=True, help="the event or screen name")
        parser.add_argument("--custom-event-type", default="other")
        parser.add_argument("--customer-id")
        parser.add_argument("--environment", default="development",
                            choices=("development", "production"))  # fmt: skip
        parser.add_argument("--attributes", help="custom_attributes as a JSON object")
        parser.add_argument("--user-attributes", help="user_attributes as a JSON object")
        _add_send_common(parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``trackwire`` argument parser (every command and flag)."""
    from trackwire.collector.faults import add_fault_arguments

    parser = argparse.ArgumentParser(prog="trackwire", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"trackwire {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    collector = commands.add_parser(
        "collector", help="run a local collector for the Segment, Amplitude and mParticle APIs"
    )
    collector.set_defaults(handler=_cmd_collector)
    collector.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    collector.add_argument(
        "--port", type=int, default=8787, help="port (default 8787; 0 picks a free one)"
    )
    collector.add_argument(
        "--db", default=DEFAULT_DB, help=f"SQLite database file (default {DEFAULT_DB})"
    )
    collector.add_argument("--keys", help="keys file listing the accepted sources (JSON); "
                           "without it any key is accepted, on loopback only")  # fmt: skip
    add_fault_arguments(collector)

    events = commands.add_parser("events", help="list the events a collector stored")
    events.set_defaults(handler=_cmd_events)
    events.add_argument("--url", default=DEFAULT_URL, help=f"collector URL (default {DEFAULT_URL})")
    for name in ("vendor", "source", "type", "user", "event"):
        events.add_argument(f"--{name}", help=f"only this {name}")
    events.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)

    send = commands.add_parser("send", help="send a test event to a collector or a vendor")
    vendors = send.add_subparsers(dest="vendor", required=True, metavar="VENDOR")
    _segment_parsers(vendors)
    _vendor_send_parsers(vendors)
    from trackwire import _cli_spool  # trackwire spool status|replay

    _cli_spool.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trackwire`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except _UsageError as exc:
        parser.error(str(exc))
    except TrackwireError as exc:
        print(f"trackwire {args.command}: error: {exc}", file=sys.stderr)
        return 2 if args.command == "collector" else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
