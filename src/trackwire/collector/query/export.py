"""The export archive, written as a stream: stored rows in, zip bytes out.

Amplitude's Export API answers a zip archive holding one gzipped JSON-lines file per hour of
server upload time, named ``<project>/<project>_<yyyy-mm-dd>_<H>#0.json.gz`` (hour not
zero-padded). :func:`archive_chunks` produces exactly that from an iterator of rows in upload
order, yielding bytes as it goes: the zip is written with data descriptors (no seeking back),
so neither the archive nor an hour's file is ever held whole in memory.
"""

from __future__ import annotations

import gzip
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import orjson

from trackwire.collector.query import mapping
from trackwire.collector.query.reader import ExportRow
from trackwire.collector.store import expand

__all__ = [
    "ExportRow",
    "archive_chunks",
    "export_event",
    "export_line",
    "export_time",
    "member_name",
]

_HOUR_MS: Final = 3_600_000
#: Yield to the HTTP response once this many bytes are ready.
_CHUNK: Final = 256 * 1024
#: Lines encoded and compressed together.
_LINES: Final = 512
#: Fast compression: the export is bound by it, and JSON still shrinks ~5x at level 1.
_GZIP_LEVEL: Final = 1

#: Fields Amplitude sets that the collector does not know; present and null, as in exports.
_NULL_FIELDS: Final = (
    "adid",
    "amplitude_attribution_ids",
    "amplitude_event_type",
    "city",
    "country",
    "device_brand",
    "device_carrier",
    "device_family",
    "device_manufacturer",
    "device_model",
    "device_type",
    "dma",
    "idfa",
    "ip_address",
    "language",
    "library",
    "location_lat",
    "location_lng",
    "os_name",
    "os_version",
    "paying",
    "platform",
    "region",
    "sample_rate",
    "start_version",
    "user_creation_time",
    "version_name",
)
#: Amplitude ingestion fields copied into the export under their export names.
_AMPLITUDE_FIELDS: Final = {
    "adid": "adid",
    "idfa": "idfa",
    "city": "city",
    "country": "country",
    "region": "region",
    "dma": "dma",
    "language": "language",
    "platform": "platform",
    "os_name": "os_name",
    "os_version": "os_version",
    "device_brand": "device_brand",
    "device_manufacturer": "device_manufacturer",
    "device_model": "device_model",
    "carrier": "device_carrier",
    "ip": "ip_address",
    "app_version": "version_name",
    "location_lat": "location_lat",
    "location_lng": "location_lng",
    "paying": "paying",
    "start_version": "start_version",
    "library": "library",
}
#: Built-in properties (see :mod:`.mapping`) copied for other vendors, by export name.
_BUILT_IN_FIELDS: Final = {
    "country": "country",
    "city": "city",
    "region": "region",
    "DMA": "dma",
    "language": "language",
    "platform": "platform",
    "os": "os_name",
    "device": "device_model",
    "version": "version_name",
    "carrier": "device_carrier",
    "library": "library",
}


def export_time(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, as Amplitude's exports write times."""
    return _time(ms).decode()


def _time(ms: int) -> bytes:
    """:func:`export_time` as bytes (what :func:`export_line` writes).

    Two per exported event: built from cached pieces (the second, else the hour's date and
    hour and the minute and second; the milliseconds) rather than by calendar arithmetic each
    time. The events of a request were mostly made within the same few seconds.
    """
    second, milli = divmod(ms, 1000)
    found = _SECOND_PREFIXES.get(second)
    if found is None:
        found = _second_prefix(second)
    return found + _MILLI[milli]


def _second_prefix(second: int) -> bytes:
    """``YYYY-MM-DD HH:MM:SS.`` of a second since the epoch, cached."""
    hour, rest = divmod(second, 3600)
    prefix = _HOUR_PREFIXES.get(hour)
    if prefix is None:
        if len(_HOUR_PREFIXES) > 100_000:
            _HOUR_PREFIXES.clear()
        t = time.gmtime(hour * 3600)
        prefix = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:".encode()
        _HOUR_PREFIXES[hour] = prefix
    if len(_SECOND_PREFIXES) >= 4096:  # bounded: a few requests' worth
        _SECOND_PREFIXES.clear()
    found = _SECOND_PREFIXES[second] = prefix + _MINUTE_SECOND[rest]
    return found


_HOUR_PREFIXES: dict[int, bytes] = {}
_SECOND_PREFIXES: dict[int, bytes] = {}
#: The last receipt time formatted (a pair replaced whole: safe across threads).
_last_received: tuple[int, bytes] = (-1, b"")
_MINUTE_SECOND: Final = tuple(f"{s // 60:02d}:{s % 60:02d}.".encode() for s in range(3600))
_MILLI: Final = tuple(f"{m:03d}000".encode() for m in range(1000))


def export_uuid(source_id: int, row_id: int) -> str:
    """A stable UUID-shaped id of a stored row (version 8, "custom"): re-exports agree, and
    no two rows share one."""
    return _uuid(source_id, row_id).decode()


def _uuid(source_id: int, row_id: int) -> bytes:
    """:func:`export_uuid` as bytes; formatted directly (:mod:`uuid` costs more than the
    whole event)."""
    prefix = _UUID_PREFIXES.get(source_id)
    if prefix is None:
        prefix = f"{source_id & 0xFFFFFFFF:08x}-0000-8000-8000-".encode()
        _UUID_PREFIXES[source_id] = prefix
    return b"%s%012x" % (prefix, row_id & 0xFFFFFFFFFFFF)


_UUID_PREFIXES: dict[int, bytes] = {}


def member_name(project_id: int, hour_ms: int) -> str:
    """The archive member of one upload hour: ``<p>/<p>_<yyyy-mm-dd>_<H>#0.json.gz``."""
    t = time.gmtime(hour_ms // 1000)
    day = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return f"{project_id}/{project_id}_{day}_{t.tm_hour}#0.json.gz"


def _own_user_properties(vendor: str, type: str, payload: Mapping[str, Any]) -> Any:
    """The value in the payload that holds what the event itself set on its user (any JSON
    value; None: nothing), before :func:`_user_properties` reads it."""
    if vendor == "amplitude":
        return payload.get("user_properties")
    if vendor == "segment":
        traits = payload.get("traits") if type == "identify" else None
        if traits is None:
            context = payload.get("context")
            traits = context.get("traits") if isinstance(context, dict) else None
        return traits
    return payload.get("user_attributes")


def _user_properties(vendor: str, value: Any) -> dict[str, Any]:
    """What an event set on its user, from its :func:`_own_user_properties` value."""
    # isinstance(x, dict), not Mapping: decoded JSON is dicts, and the ABC check is slow.
    if not isinstance(value, dict):
        return {}
    if vendor == "amplitude":
        # Operations ($set, $add, ...) are shown as Amplitude shows them after applying:
        # the $set values; the others are kept under their operation.
        plain = {k: v for k, v in value.items() if not k.startswith("$")}
        sets = value.get("$set")
        return {**plain, **(sets if isinstance(sets, dict) else {})}
    return dict(value)


def _exported_user_properties(vendor: str, own: Any, current: str | None) -> bytes:
    """The ``user_properties`` of an exported event: the user's properties (as stored now),
    with what the event itself set on top (its values at the time of the event); ``own`` is
    the event's :func:`_own_user_properties` value.

    Amplitude exports the user's properties on every event, not only on identifies. A user's
    events mostly set the same values: the merged JSON is kept per (vendor, stored
    properties, event's values), so decoding, merging and encoding happen once for them.
    """
    if own is None:
        # Most events set nothing on their user: the stored properties as they are.
        return current.encode() if current and current != "{}" else b"{}"
    key = (vendor, current, _dumps(own))
    found = _MERGED.get(key)
    if found is None:
        found = _merged_user_properties(_user_properties(vendor, own), current)
        if len(_MERGED) >= 8192:  # a bounded cache: the export's memory stays flat
            _MERGED.clear()
        _MERGED[key] = found
    return found


_MERGED: dict[tuple[str, str | None, bytes], bytes] = {}


def _merged_user_properties(own: dict[str, Any], current: str | None) -> bytes:
    """The stored properties ``current`` (JSON) with ``own`` on top, as JSON."""
    if not current or current == "{}":
        return _dumps(own)
    if not own:
        return current.encode()
    state = orjson.loads(current)
    if type(state) is not dict:
        return _dumps(own)
    return _dumps({**state, **own})


def _built_in_sources(vendor: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Another vendor's built-in properties, keyed by Amplitude's ingestion field names (so
    :func:`export_event` reads every vendor's the same way)."""
    return {
        _BUILT_IN_SOURCES[name]: value
        for name, value in mapping.built_ins_of(vendor, payload).items()
        if name in _BUILT_IN_SOURCES
    }


#: Built-in property name -> the Amplitude ingestion field that lands in the same export field.
_BUILT_IN_SOURCES: Final = {
    name: next(k for k, v in _AMPLITUDE_FIELDS.items() if v == export_name)
    for name, export_name in _BUILT_IN_FIELDS.items()
}


#: The export fields after the top-level ones, in the export's key order, as a format (see
#: :func:`export_line`): constants written out, the event's own values as ``%s``/``%d``.
_REST: Final = (
    b'"$insert_id":%s,"$schema":12,"amplitude_id":%s,"app":%d,"client_event_time":"%s",'
    b'"client_upload_time":"%s","data":{},"device_id":%s,"event_id":%d,"event_properties":%s,'
    b'"event_time":"%s","event_type":%s,"group_properties":{},"groups":%s,'
    b'"is_attribution_event":false,"processed_time":"%s","server_received_time":"%s",'
    b'"server_upload_time":"%s","session_id":%d,"user_id":%s,"user_properties":%s,'
    b'"uuid":"%s"}'
)


def _line_format(top: Mapping[str, Any]) -> tuple[tuple[str, ...], bytes]:
    """The line format for events with the top-level keys of ``top``: which ingestion fields
    fill its first ``%s`` slots, in order, and the format (the other fields are null).

    Cached by the keys as they come (events of one SDK share them): hashing that tuple costs
    less than finding the known fields among them.
    """
    shape = tuple(top)
    found = _FORMATS.get(shape)
    if found is None:
        by_export = {v: k for k, v in _AMPLITUDE_FIELDS.items() if k in top}
        keys = tuple(by_export[name] for name in _NULL_FIELDS if name in by_export)
        head = ",".join(
            f'"{name}":%s' if name in by_export else f'"{name}":null' for name in _NULL_FIELDS
        )
        if len(_FORMATS) >= 1024:  # hostile inputs cannot grow it without bound
            _FORMATS.clear()
        found = _FORMATS[shape] = (keys, b"{" + head.encode() + b"," + _REST)
    return found


_FORMATS: dict[tuple[str, ...], tuple[tuple[str, ...], bytes]] = {}
_dumps: Final = orjson.dumps


def export_line(row: ExportRow, project_id: int) -> bytes:
    """The export JSON of one stored event (Amplitude's export field names, any vendor), as
    compact JSON bytes without a newline.

    The export's hot path, once per exported event. Building a ~50-key dict per event cost
    more than everything else together, so the line is a cached format per set of top-level
    fields present, filled with each value's JSON: keys in the order of :data:`_NULL_FIELDS`
    then the event's own fields, unknown fields present and null.
    """
    payload = orjson.loads(row.payload)
    if type(payload) is not dict:
        payload = {}
    vendor = row.vendor
    if row.context_kind is not None and row.context is not None:
        payload = expand(row.context_kind, _context(row.context), payload)
    global _last_received
    # The events of one request share their receipt time: format it once for them.
    last = _last_received
    if last[0] == row.received_time_ms:
        received = last[1]
    else:
        received = _time(row.received_time_ms)
        _last_received = (row.received_time_ms, received)
    client = received if row.client_time_ms is None else _time(row.client_time_ms)
    if vendor == "amplitude":
        top = payload
        properties = payload.get("event_properties")
        if type(properties) is not dict:
            properties = {}
    else:
        top = _built_in_sources(vendor, payload)
        properties = mapping.event_properties_of(vendor, payload)
    # _line_format's cache, looked up here: a call per event costs as much as the lookup.
    found = _FORMATS.get(tuple(top))
    keys, line = _line_format(top) if found is None else found
    groups = _dumps(orjson.loads(row.groups)) if row.groups else b"{}"
    session = -1 if row.session_id is None else row.session_id
    return line % (
        *map(_dumps, map(top.__getitem__, keys)),
        _dumps(row.dedup_key),
        _dumps(row.amplitude_id),
        project_id,
        client,
        received,
        _dumps(row.device_id),
        row.id,
        _dumps(properties),
        client,
        _event_type(vendor, row.type, row.event_name),
        groups,
        received,
        received,
        received,
        session,
        _dumps(row.user_id),
        _exported_user_properties(
            vendor, _own_user_properties(vendor, row.type, payload), row.user_properties
        ),
        _uuid(row.source_id, row.id),
    )


def _event_type(vendor: str, type: str, event_name: str | None) -> bytes:
    """The export's ``event_type`` JSON of a stored message, cached (a page holds a few)."""
    key = (vendor, type, event_name)
    found = _EVENT_TYPES.get(key)
    if found is None:
        if len(_EVENT_TYPES) >= 4096:  # hostile inputs cannot grow it without bound
            _EVENT_TYPES.clear()
        found = _EVENT_TYPES[key] = _dumps(mapping.event_type_of(vendor, type, event_name))
    return found


_EVENT_TYPES: dict[tuple[str, str, str | None], bytes] = {}


def export_event(row: ExportRow, project_id: int) -> dict[str, Any]:
    """The export JSON of one stored event, decoded (see :func:`export_line`)."""
    event: dict[str, Any] = orjson.loads(export_line(row, project_id))
    return event


def _context(body: str) -> dict[str, Any]:
    """A shared context, decoded once for all the events that share it (they are adjacent)."""
    found = _CONTEXTS.get(body)
    if found is None:
        if len(_CONTEXTS) >= 64:
            _CONTEXTS.clear()
        decoded = orjson.loads(body)
        found = _CONTEXTS[body] = decoded if isinstance(decoded, dict) else {}
    return found


_CONTEXTS: dict[str, dict[str, Any]] = {}


class _Sink:
    """A write-only stream that hands its bytes out in chunks (the zip writes into it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        if data:
            self.parts.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


def archive_chunks(rows: Iterable[ExportRow], project_id: int) -> Iterator[bytes]:
    """The export archive of ``rows`` (in upload-time order), as a stream of byte chunks."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        hour: int | None = None
        member: Any = None
        packer: gzip.GzipFile | None = None
        lines: list[bytes] = []

        def close_member() -> None:
            if packer is not None:
                if lines:
                    packer.write(b"\n".join(lines) + b"\n")
                    lines.clear()
                packer.close()
                member.close()

        for row in rows:
            row_hour = row.received_time_ms // _HOUR_MS
            if row_hour != hour:
                close_member()
                hour = row_hour
                # force_zip64: the size is unknown until the hour is written.
                member = archive.open(
                    zipfile.ZipInfo(member_name(project_id, hour * _HOUR_MS), _date(hour)),
                    mode="w",
                    force_zip64=True,
                )
                packer = gzip.GzipFile(
                    filename="", mode="wb", fileobj=member, compresslevel=_GZIP_LEVEL, mtime=0
                )
            lines.append(export_line(row, project_id))
            if len(lines) >= _LINES:
                assert packer is not None
                packer.write(b"\n".join(lines) + b"\n")
                lines.clear()
                if sink.size >= _CHUNK:
                    yield sink.take()
        close_member()
    if sink.size:
        yield sink.take()


def _date(hour: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(hour * 3600)
    return (max(t.tm_year, 1980), t.tm_mon, t.tm_mday, t.tm_hour, 0, 0)
