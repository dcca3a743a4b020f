"""``trackwire send``: one test event to a collector (or a vendor), through trackwire's clients.

Each vendor's command builds its call with the vendor's own client (:class:`trackwire.Segment`,
:class:`trackwire.Amplitude`, :class:`trackwire.MParticle`), exactly as an application would,
so the vendor's rules (ids, lengths, enums, sizes) are checked by the same code and the body
on the wire is the one the SDK sends. It waits for the call's receipt and says what happened:
delivered, or why not (``connection_refused: nothing listens at …``, the vendor's refusal).
A resend of a de-duplication id the collector already stored is reported as a duplicate.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, Final

import orjson

from trackwire.amplitude import wire as amplitude_wire
from trackwire.cli._common import (
    DEFAULT_URL,
    EXIT_NOT_DELIVERED,
    EXIT_OK,
    UsageError,
    add_command,
    json_object,
    non_negative_int,
    positive,
    read_headers,
    url_flag,
)
from trackwire.mparticle import CustomEventType

__all__ = ["register"]

_SEGMENT_CALLS: Final = ("track", "identify", "page", "screen", "group", "alias")
_SEGMENT_HELP: Final = {
    "track": "record an action a user performed",
    "identify": "record who a user is and their traits",
    "page": "record a page view",
    "screen": "record a screen view in an app",
    "group": "associate a user with a group and its traits",
    "alias": "tell Segment two ids are the same person",
}
#: Fields the clients name in their errors, and the flags that set them.
_SEGMENT_FLAGS: Final = {
    "user_id": "--user-id",
    "anonymous_id": "--anonymous-id",
    "previous_id": "--previous-id",
    "group_id": "--group-id",
    "message_id": "--message-id",
    "timestamp": "--timestamp",
    "properties": "--properties",
    "traits": "--traits",
    "event": "--event",
    "name": "--name",
    "category": "--category",
}
_AMPLITUDE_FLAGS: Final = {
    "user_id": "--user-id",
    "device_id": "--device-id",
    "event_type": "--event",
    "event_properties": "--properties",
    "user_properties": "--user-properties",
    "group_properties": "--group-properties",
    "groups": "--group-type/--group-value",
    "group_type": "--group-type",
    "group_name": "--group-value",
    "insert_id": "--insert-id",
}
_MPARTICLE_EVENT: Final = "events[0].data"
_MPARTICLE_FLAGS: Final = {
    "user_identities": "--customer-id",
    "user_attributes": "--user-attributes",
    "environment": "--environment",
    f"{_MPARTICLE_EVENT}.event_name": "--event",
    f"{_MPARTICLE_EVENT}.screen_name": "--event",
    f"{_MPARTICLE_EVENT}.custom_event_type": "--custom-event-type",
    f"{_MPARTICLE_EVENT}.custom_attributes": "--attributes",
    f"{_MPARTICLE_EVENT}.source_message_id": "--message-id",
}
_DUPLICATE_NOTE: Final = (
    " (a duplicate: the collector already had this id and kept the first copy, not this one)"
)


def register(commands: Any) -> None:
    """Add ``send`` and its vendor subcommands to the ``trackwire`` parser."""
    send = add_command(commands, "send", "send a test event to a collector or a vendor", None)
    vendors = send.add_subparsers(dest="vendor", metavar="VENDOR")
    _segment_parsers(vendors)
    _amplitude_parsers(vendors)
    _mparticle_parsers(vendors)


# --- running a call through a client -----------------------------------------------------------


def _stored_total(host: str, timeout: float, headers: dict[str, str] | None = None) -> int | None:
    """How many events a trackwire collector holds (as these credentials see it), or None.

    Vendors answer a resent id with a plain success; only a count that did not grow after a
    delivered message tells that the collector recognised it as a duplicate.
    """
    import urllib3

    try:
        response = urllib3.request(
            "GET", host + "/stats", headers=headers, timeout=min(timeout, 5.0), retries=False
        )
        stats = orjson.loads(response.data) if response.status == 200 else None
    except (urllib3.exceptions.HTTPError, orjson.JSONDecodeError):
        return None
    total = stats.get("total") if isinstance(stats, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _deliver(
    client: Any,
    call: Any,
    what: str,
    args: argparse.Namespace,
    *,
    resend: bool,
    reader: dict[str, str] | None,
) -> int:
    """Make the call on ``client``, wait for its receipt, say what happened; the exit status."""
    before = _stored_total(args.host, args.timeout, reader) if resend else None
    try:
        receipt = call()
        client.flush(timeout=args.timeout)
        delivered = receipt.wait(args.timeout)
    finally:
        client.shutdown(timeout=0.5)
    what = f"{what}={receipt.message_id}"
    if delivered:
        after = _stored_total(args.host, args.timeout, reader) if resend else None
        # Another sender's events only make the count grow: a duplicate is never claimed falsely.
        duplicate = before is not None and after is not None and after == before
        status = getattr(receipt.response, "status", None)
        answer = f" (HTTP {status})" if status else ""
        print(f"delivered: {what} to {args.host}{answer}" + (_DUPLICATE_NOTE if duplicate else ""))
        return EXIT_OK
    why = receipt.error or f"still pending after {args.timeout:g} s"
    print(f"not delivered: {what}: {why}", file=sys.stderr)
    if args.host == DEFAULT_URL and "connection_refused" in str(why):
        print("hint: no collector runs here: start one with 'trackwire collector'", file=sys.stderr)
    return EXIT_NOT_DELIVERED


def _timestamp(text: str) -> str:
    """``--timestamp``: an ISO-8601 time (kept as given: the clients send it unchanged)."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time, like 2024-05-01T12:00:00Z"
        ) from None
    return text


_timestamp.__name__ = "time"


def _cmd_segment(args: argparse.Namespace) -> int:
    from trackwire.segment.client import Segment

    call = args.call
    if call != "alias" and not (args.user_id or args.anonymous_id):
        raise UsageError("--user-id or --anonymous-id is required")
    properties = json_object(getattr(args, "properties", None), "--properties")
    traits = json_object(getattr(args, "traits", None), "--traits")
    client = Segment(
        args.write_key,
        host=args.host,
        flush_at=1,
        max_retries=args.retries,
        timeout=args.timeout,
        connect_timeout=min(args.timeout, 5.0),
        handle_sigterm=False,
    )
    ids: dict[str, Any] = {"timestamp": args.timestamp, "message_id": args.message_id}
    if call != "alias":
        ids["anonymous_id"] = args.anonymous_id

    def make() -> Any:
        if call == "alias":
            return client.alias(args.previous_id, args.user_id, **ids)
        if call == "track":
            return client.track(args.user_id, args.event, properties, **ids)
        if call == "identify":
            return client.identify(args.user_id, traits, **ids)
        if call in ("page", "screen"):
            view = client.page if call == "page" else client.screen
            return view(args.user_id, args.category, args.name, properties, **ids)
        return client.group(args.user_id, args.group_id, traits, **ids)

    # A keyed collector lets a source's write key read that source's count.
    reader = read_headers(None, args.write_key, None)
    resend = args.message_id is not None
    return _deliver(client, make, f"segment {call} messageId", args, resend=resend, reader=reader)


def _check_amplitude_ids(args: argparse.Namespace) -> None:
    if not (args.user_id or args.device_id):
        raise UsageError("give --user-id or --device-id (Amplitude needs one of them)")
    shortest = amplitude_wire.DEFAULT_MIN_ID_LENGTH
    for flag, value in (("--user-id", args.user_id), ("--device-id", args.device_id)):
        if value is not None and len(value) < shortest:
            raise UsageError(
                f"{flag}: Amplitude keeps ids of {shortest} characters or more (its "
                f"min_id_length) and drops shorter ones; {value!r} has {len(value)}"
            )


def _cmd_amplitude(args: argparse.Namespace) -> int:
    from trackwire.amplitude import Amplitude, EventOptions, Identify

    _check_amplitude_ids(args)
    client = Amplitude(
        args.api_key,
        token_endpoint=args.host,
        use_batch=args.batch,
        max_retries=args.retries,
        timeout=args.timeout,
        handle_sigterm=False,
    )
    ids = {"user_id": args.user_id, "device_id": args.device_id, "insert_id": args.insert_id}
    options = EventOptions(**ids)

    def make() -> Any:
        if args.call == "track":
            event: dict[str, Any] = {
                "event_type": args.event,
                "event_properties": json_object(args.properties, "--properties"),
                "user_properties": json_object(args.user_properties, "--user-properties"),
                **ids,
            }
            return client.track({k: v for k, v in event.items() if v is not None})
        if args.call == "identify":
            properties = json_object(args.user_properties, "--user-properties")
            return client.identify(None, options, user_properties=properties)
        values = json_object(args.group_properties, "--group-properties") or {}
        identify = Identify()
        for name, value in values.items():
            identify.set(name, value)
        return client.group_identify(args.group_type, args.group_value, identify, options)

    resend = args.insert_id is not None
    what = f"amplitude {args.call} insert_id"
    return _deliver(client, make, what, args, resend=resend, reader=None)


def _cmd_mparticle(args: argparse.Namespace) -> int:
    import trackwire
    from trackwire import mparticle as mp

    client = trackwire.MParticle(
        args.key,
        args.secret,
        environment=args.environment,
        host=args.host,
        max_retries=args.retries,
        timeout=args.timeout,
        handle_sigterm=False,
    )
    attributes = json_object(args.attributes, "--attributes")
    event: mp.AppEvent | mp.ScreenViewEvent
    if args.call == "screen":
        event = mp.ScreenViewEvent(screen_name=args.event)
    else:
        event = mp.AppEvent(args.event, CustomEventType(args.custom_event_type))
    event.custom_attributes = attributes
    event.source_message_id = args.message_id
    batch = mp.Batch(user_identities=mp.UserIdentities(customer_id=args.customer_id))
    batch.user_attributes = json_object(args.user_attributes, "--user-attributes")
    batch.add_event(event)
    reader = read_headers(None, args.key, args.secret)
    resend = args.message_id is not None
    what = f"mparticle {args.call} source_request_id"
    return _deliver(client, lambda: client.upload(batch), what, args, resend=resend, reader=reader)


# --- the parsers -------------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser, flags: dict[str, str]) -> None:
    parser.set_defaults(field_flags=flags)
    parser.add_argument(
        "--host",
        type=url_flag,
        default=DEFAULT_URL,
        help=f"collector or vendor base URL (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--timeout",
        type=positive(float),
        default=10.0,
        help="seconds to wait for delivery (default 10)",
    )
    parser.add_argument(
        "--retries",
        type=non_negative_int,
        default=2,
        help="retries after the first attempt (default 2)",
    )


def _segment_parsers(vendors: Any) -> None:
    segment = add_command(vendors, "segment", "send a Segment call through trackwire.Segment", None)
    calls = segment.add_subparsers(dest="call", metavar="CALL")
    for call in _SEGMENT_CALLS:
        parser = add_command(calls, call, f"a Segment {call}: {_SEGMENT_HELP[call]}", _cmd_segment)
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
        parser.add_argument(
            "--timestamp", type=_timestamp, help="ISO-8601 event time (default now)"
        )
        parser.add_argument(
            "--message-id", help="messageId (default a new one); resend one to test de-duplication"
        )
        _add_common(parser, _SEGMENT_FLAGS)


def _amplitude_parsers(vendors: Any) -> None:
    amplitude = add_command(
        vendors, "amplitude", "send an Amplitude event through trackwire.Amplitude", None
    )
    calls = amplitude.add_subparsers(dest="call", metavar="CALL")
    helps = {
        "track": "an event a user performed",
        "identify": "set user properties ($identify)",
        "group-identify": "set a group's properties ($groupidentify)",
    }
    shortest = amplitude_wire.DEFAULT_MIN_ID_LENGTH
    for call in ("track", "identify", "group-identify"):
        parser = add_command(calls, call, f"an Amplitude {call}: {helps[call]}", _cmd_amplitude)
        parser.add_argument("--api-key", required=True, help="the project's API key")
        parser.add_argument("--user-id", help=f"the user's id, {shortest} characters or more")
        parser.add_argument("--device-id", help=f"the device's id, {shortest} characters or more")
        if call == "track":
            parser.add_argument("--event", required=True, help="the event_type")
            parser.add_argument("--properties", help="event_properties as a JSON object")
        if call in ("track", "identify"):
            parser.add_argument(
                "--user-properties",
                required=call == "identify",
                help='user_properties: plain, or operations like \'{"$set": {"plan": "pro"}}\'',
            )
        if call == "group-identify":
            parser.add_argument("--group-type", required=True, help="the group type, e.g. org")
            parser.add_argument("--group-value", required=True, help="the group, e.g. acme")
            parser.add_argument(
                "--group-properties",
                required=True,
                help="properties to set on the group, a JSON object like '{\"seats\": 40}'",
            )
        parser.add_argument(
            "--insert-id", help="insert_id (default a new one); resend one to test de-duplication"
        )
        parser.add_argument(
            "--batch", action="store_true", help="send to /batch instead of /2/httpapi"
        )
        _add_common(parser, _AMPLITUDE_FLAGS)


def _mparticle_parsers(vendors: Any) -> None:
    mparticle = add_command(
        vendors, "mparticle", "send a one-event batch through trackwire.MParticle", None
    )
    calls = mparticle.add_subparsers(dest="call", metavar="CALL")
    for call in ("event", "screen"):
        parser = add_command(calls, call, f"a {call} in a one-event batch", _cmd_mparticle)
        parser.add_argument("--key", required=True, help="the input's server-to-server key")
        parser.add_argument("--secret", required=True, help="the input's secret")
        parser.add_argument("--event", required=True, help=f"the {call} name")
        if call == "event":
            parser.add_argument(
                "--custom-event-type",
                default="other",
                choices=[kind.value for kind in CustomEventType],
                metavar="TYPE",
                help="custom_event_type: "
                + ", ".join(kind.value for kind in CustomEventType)
                + " (default other)",
            )
        parser.add_argument(
            "--customer-id",
            required=True,
            help="user_identities.customer_id (mParticle needs the batch's user)",
        )
        parser.add_argument(
            "--environment",
            default="development",
            choices=("development", "production"),
            help="the batch's environment (default development)",
        )
        parser.add_argument("--attributes", help="custom_attributes as a JSON object")
        parser.add_argument("--user-attributes", help="user_attributes as a JSON object")
        parser.add_argument(
            "--message-id",
            help="the event's source_message_id (default a new one); resend one to test "
            "de-duplication",
        )
        _add_common(parser, _MPARTICLE_FLAGS)
