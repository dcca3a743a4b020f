"""``trackwire send``: a test event to a collector (or a vendor), through each vendor's API.

``send segment`` goes through trackwire's own client, exactly as an application would; ``send
amplitude`` and ``send mparticle`` post the JSON directly. A resend whose de-duplication id the
collector already stored is reported as a duplicate.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
import uuid
from typing import Any, Final

import orjson

from trackwire._version import __version__
from trackwire.cli import (
    DEFAULT_URL,
    EXIT_NOT_DELIVERED,
    EXIT_OK,
    _command,
    _json_object,
    _network_text,
    _non_negative_int,
    _positive,
    _read_headers,
    _UsageError,
)
from trackwire.errors import TrackwireError

__all__ = ["add_parser"]

_SEGMENT_CALLS: Final = ("track", "identify", "page", "screen", "group", "alias")
#: Shortest Amplitude ``user_id``/``device_id`` kept by default (Amplitude's ``min_id_length``).
_AMPLITUDE_MIN_ID_LENGTH: Final = 5
_DUPLICATE_NOTE: Final = (
    " (a duplicate: the collector already had this id and kept the first copy, not this one)"
)
_SEGMENT_HELP: Final = {
    "track": "record an action a user performed",
    "identify": "record who a user is and their traits",
    "page": "record a page view",
    "screen": "record a screen view in an app",
    "group": "associate a user with a group and its traits",
    "alias": "tell Segment two ids are the same person",
}


def add_parser(commands: Any) -> None:
    """Add ``send`` and its vendor subcommands to the ``trackwire`` parser."""
    send = _command(commands, "send", "send a test event to a collector or a vendor", None)
    vendors = send.add_subparsers(dest="vendor", required=True, metavar="VENDOR")
    _segment_parsers(vendors)
    _amplitude_parsers(vendors)
    _mparticle_parsers(vendors)


def _stored_total(host: str, timeout: float, headers: dict[str, str] | None = None) -> int | None:
    """How many events a trackwire collector holds (as these credentials see it), or None.

    Vendors answer a resent id with a plain success; only a count that did not grow after a
    delivered message tells that the collector recognised it as a duplicate.
    """
    import urllib3

    try:
        response = urllib3.request(
            "GET",
            host.rstrip("/") + "/stats",
            headers=headers,
            timeout=min(timeout, 5.0),
            retries=False,
        )
        stats = orjson.loads(response.data) if response.status == 200 else None
    except (urllib3.exceptions.HTTPError, orjson.JSONDecodeError):
        return None
    total = stats.get("total") if isinstance(stats, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _was_duplicate(before: int | None, after: int | None) -> bool:
    # Another sender's events can only make the count grow: a duplicate is never claimed falsely.
    return before is not None and after is not None and after == before


def _cmd_send_segment(args: argparse.Namespace) -> int:
    from trackwire.segment.client import Segment

    call = args.call
    properties = _json_object(getattr(args, "properties", None), "--properties")
    traits = _json_object(getattr(args, "traits", None), "--traits")
    client = Segment(
        args.write_key,
        host=args.host,
        flush_at=1,
        max_retries=args.retries,
        timeout=args.timeout,
        connect_timeout=min(args.timeout, 5.0),
    )
    resend = args.message_id is not None
    # A keyed collector lets a source's write key read that source's count.
    reader = _read_headers(None, args.write_key, None)
    before = _stored_total(client.host, args.timeout, reader) if resend else None
    ids: dict[str, Any] = {"timestamp": args.timestamp, "message_id": args.message_id}
    try:
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
    what = f"segment {call} messageId={receipt.message_id}"
    if delivered:
        after = _stored_total(client.host, args.timeout, reader) if resend else None
        note = _DUPLICATE_NOTE if _was_duplicate(before, after) else ""
        print(f"delivered: {what} to {client.host}{note}")
        return EXIT_OK
    why = receipt.error or f"still pending after {args.timeout} s"
    print(f"not delivered: {what}: {why}", file=sys.stderr)
    return EXIT_NOT_DELIVERED


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST a body; returns (status, body text), or raises TrackwireError when nothing answered."""
    import urllib3

    try:
        response = urllib3.request(
            "POST", url, body=body, headers=headers, timeout=timeout, retries=False
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TrackwireError(f"cannot reach {url}: {_network_text(exc, url)}") from None
    return response.status, response.data.decode("utf-8", "replace")


def _report(url: str, status: int, text: str, note: str = "") -> int:
    line = f"HTTP {status} from {url}" + (f": {text}" if text else "") + note
    ok = 200 <= status < 300
    print(line, file=sys.stdout if ok else sys.stderr)
    return EXIT_OK if ok else EXIT_NOT_DELIVERED


def _cmd_send_amplitude(args: argparse.Namespace) -> int:
    if not (args.user_id or args.device_id):
        raise _UsageError("give --user-id or --device-id (Amplitude needs one of them)")
    event: dict[str, Any] = {
        "user_id": args.user_id,
        "device_id": args.device_id,
        "time": int(time.time() * 1000),
        "insert_id": args.insert_id or str(uuid.uuid4()),
        "library": f"trackwire-cli/{__version__}",
    }
    if args.call == "track":
        event["event_type"] = args.event
        event["event_properties"] = _json_object(args.properties, "--properties")
        event["user_properties"] = _json_object(args.user_properties, "--user-properties")
    elif args.call == "identify":
        event["event_type"] = "$identify"
        event["user_properties"] = _json_object(args.user_properties, "--user-properties") or {}
    else:
        event["event_type"] = "$groupidentify"
        event["groups"] = {args.group_type: args.group_value}
        props = _json_object(args.group_properties, "--group-properties") or {}
        event["group_properties"] = props
    event = {key: value for key, value in event.items() if value is not None}
    body = orjson.dumps({"api_key": args.api_key, "events": [event]})
    url = args.host.rstrip("/") + ("/batch" if args.batch else "/2/httpapi")
    resend = args.insert_id is not None
    before = _stored_total(args.host, args.timeout) if resend else None
    status, text = _post(url, body, {"Content-Type": "application/json"}, args.timeout)
    note = ""
    if 200 <= status < 300 and resend:
        after = _stored_total(args.host, args.timeout)
        note = _DUPLICATE_NOTE if _was_duplicate(before, after) else ""
    result = _report(url, status, text, note)
    short = [
        flag
        for flag, value in (("--user-id", args.user_id), ("--device-id", args.device_id))
        if value is not None and len(value) < _AMPLITUDE_MIN_ID_LENGTH
    ]
    if short:
        print(
            f"hint: Amplitude refuses a user_id or device_id shorter than "
            f"{_AMPLITUDE_MIN_ID_LENGTH} characters (its min_id_length); use a longer "
            + " and ".join(short),
            file=sys.stderr,
        )
    return result


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
    status, text = _post(url, orjson.dumps(batch), headers, args.timeout)
    return _report(url, status, text)


def _add_send_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_URL, help=f"collector or vendor base URL (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        help="seconds to wait for delivery (default 10)",
    )


def _segment_parsers(send: Any) -> None:
    segment = _command(send, "segment", "send a Segment call through trackwire.Segment", None)
    calls = segment.add_subparsers(dest="call", required=True, metavar="CALL")
    for call in _SEGMENT_CALLS:
        parser = _command(
            calls, call, f"a Segment {call}: {_SEGMENT_HELP[call]}", _cmd_send_segment
        )
        parser.add_argument("--write-key", required=True, help="the source's write key")
        if call == "alias":
            parser.add_argument("--previous-id", required=True, help="the id being merged away")
            parser.add_argument("--user-id", required=True, help="the id to keep")
        else:
            parser.add_argument("--user-id", help="the user's id (this or --anonymous-id)")
            parser.add_argument("--anonymous-id", help="an id for a user not yet known")
        if call == "track":
            parser.add_argument("--event", required=True, help="the event name")
        if call in ("page", "screen"):
            parser.add_argument("--name", help=f"the {call}'s name")
            parser.add_argument("--category", help=f"the {call}'s category")
        if call == "group":
            parser.add_argument("--group-id", required=True, help="the group's id")
        if call in ("track", "page", "screen"):
            parser.add_argument("--properties", help='a JSON object, like \'{"plan": "pro"}\'')
        if call in ("identify", "group"):
            parser.add_argument("--traits", help='a JSON object, like \'{"plan": "pro"}\'')
        parser.add_argument("--timestamp", help="ISO-8601 event time (default now)")
        parser.add_argument(
            "--message-id", help="messageId (default a new one); resend one to test de-duplication"
        )
        parser.add_argument(
            "--retries",
            type=_non_negative_int,
            default=2,
            help="retries after the first attempt (default 2)",
        )
        _add_send_common(parser)


def _amplitude_parsers(send: Any) -> None:
    amplitude = _command(send, "amplitude", "post an Amplitude event (HTTP V2 JSON)", None)
    calls = amplitude.add_subparsers(dest="call", required=True, metavar="CALL")
    helps = {
        "track": "an event a user performed",
        "identify": "set user properties ($identify)",
        "group-identify": "set a group's properties ($groupidentify)",
    }
    for call in ("track", "identify", "group-identify"):
        parser = _command(calls, call, f"an Amplitude {call}: {helps[call]}", _cmd_send_amplitude)
        parser.add_argument("--api-key", required=True, help="the project's API key")
        parser.add_argument("--user-id", help="the user's id, 5 characters or more")
        parser.add_argument("--device-id", help="the device's id, 5 characters or more")
        if call == "track":
            parser.add_argument("--event", required=True, help="the event_type")
            parser.add_argument("--properties", help="event_properties as a JSON object")
        if call in ("track", "identify"):
            parser.add_argument(
                "--user-properties",
                required=call == "identify",
                help='user_properties, e.g. \'{"$set": {"plan": "pro"}}\'',
            )
        if call == "group-identify":
            parser.add_argument("--group-type", required=True, help="the group type, e.g. org")
            parser.add_argument("--group-value", required=True, help="the group, e.g. acme")
            parser.add_argument("--group-properties", help="group_properties as a JSON object")
        parser.add_argument(
            "--insert-id", help="insert_id (default a new one); resend one to test de-duplication"
        )
        parser.add_argument(
            "--batch", action="store_true", help="post to /batch instead of /2/httpapi"
        )
        _add_send_common(parser)


def _mparticle_parsers(send: Any) -> None:
    mparticle = _command(send, "mparticle", "post an mParticle batch with one event", None)
    calls = mparticle.add_subparsers(dest="call", required=True, metavar="CALL")
    for call in ("event", "screen"):
        parser = _command(calls, call, f"a {call} in a one-event batch", _cmd_send_mparticle)
        parser.add_argument("--key", required=True, help="the input's server-to-server key")
        parser.add_argument("--secret", required=True, help="the input's secret")
        parser.add_argument("--event", required=True, help=f"the {call} name")
        if call == "event":
            parser.add_argument(
                "--custom-event-type", default="other", help="custom_event_type (default other)"
            )
        parser.add_argument("--customer-id", help="user_identities.customer_id")
        parser.add_argument(
            "--environment",
            default="development",
            choices=("development", "production"),
            help="the batch's environment (default development)",
        )
        parser.add_argument("--attributes", help="custom_attributes as a JSON object")
        parser.add_argument("--user-attributes", help="user_attributes as a JSON object")
        _add_send_common(parser)
