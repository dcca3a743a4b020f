"""The export archive, written as a stream: stored rows in, zip bytes out.

Amplitude's Export API answers a zip archive holding one gzipped JSON-lines file per hour of
server upload time, named ``<project>/<project>_<yyyy-mm-dd>_<H>#0.json.gz`` (hour not
zero-padded). :func:`archive_chunks` produces exactly that from a store's pages of rows
(:class:`ExportPage`, in upload order), yielding bytes as it goes (the zip side is
:mod:`.export_zip`): neither the archive nor an hour's file is ever held whole in memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import orjson

from trackwire.collector.query import mapping
from trackwire.collector.query.export_zip import ArchiveWriter, Sink, member_name
from trackwire.collector.query.reader import (
    EXPORT_FIELDS,
    RECEIVED_AT,
    ExportPage,
    ExportRow,
    Source,
    encoded_row,
    row_values,
)
from trackwire.collector.store import expand

__all__ = [
    "EXPORT_FIELDS",
    "ExportPage",
    "ExportRow",
    "archive_chunks",
    "export_event",
    "export_line",
    "export_time",
    "member_name",
    "pages_of",
]

_HOUR_MS: Final = 3_600_000
#: Yield to the HTTP response once this many bytes are ready.
_CHUNK: Final = 256 * 1024
#: Lines encoded, joined and compressed together.
_LINES: Final = 512

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
#: The last receipt time formatted, and its three fields at the end of a line (see
#: :data:`_REST`); a triple replaced whole: safe across threads.
_last_received: tuple[int, bytes, bytes] = (-1, b"", b"")
_MINUTE_SECOND: Final = tuple(f"{s // 60:02d}:{s % 60:02d}.".encode() for s in range(3600))
_MILLI: Final = tuple(f"{m:03d}000".encode() for m in range(1000))


def export_uuid(source_id: int, row_id: int) -> str:
    """A stable UUID-shaped id of a stored row (version 8, "custom"): re-exports agree, and
    no two rows share one."""
    return _uuid(source_id, row_id).decode()


def _uuid(source_id: int, row_id: int) -> bytes:
    """:func:`export_uuid` as bytes; formatted directly (:mod:`uuid` costs more than the
    whole event)."""
    prefix = _UUID_PREFIXES.get(source_id) or _uuid_prefix(source_id)
    return b"%s%012x" % (prefix, row_id & _UUID_ID_MASK)


def _uuid_prefix(source_id: int) -> bytes:
    """The first four groups of the export UUIDs of a source's rows, cached."""
    prefix = _UUID_PREFIXES[source_id] = f"{source_id & 0xFFFFFFFF:08x}-0000-8000-8000-".encode()
    return prefix


#: The bits of a row id the UUID's last group holds.
_UUID_ID_MASK: Final = 0xFFFFFFFFFFFF
_UUID_PREFIXES: dict[int, bytes] = {}


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
    """The ``user_properties`` of an exported event: the user's properties (as stored now,
    JSON), with what the event itself set on top (its values at the time of the event);
    ``own`` is the event's :func:`_own_user_properties` value.

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
    b'"is_attribution_event":false,"processed_time":"%s","session_id":%d,"user_id":%s,'
    b'"user_properties":%s,"uuid":"%s%012x"}'
)


#: The three times of an event's receipt, as one value of :data:`_REST`.
_PROCESSED: Final = b'%s","server_received_time":"%s","server_upload_time":"%s'


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
_loads: Final = orjson.loads


def export_line(row: ExportRow, project_id: int) -> bytes:
    """The export JSON of one stored event (Amplitude's export field names, any vendor), as
    compact JSON bytes without a newline."""
    source_id = row.source_id
    prefix = _UUID_PREFIXES.get(source_id) or _uuid_prefix(source_id)
    return _line(row_values(row), row.vendor, prefix, project_id)


def _line(row: Sequence[Any], vendor: str, uuid_prefix: bytes, project_id: int) -> bytes:
    """:func:`export_line` of one event's values (:data:`EXPORT_FIELDS`, a decoded row of an
    :class:`ExportPage`), ``uuid_prefix`` its source's (:func:`_uuid_prefix`).

    The export's hot path, once per exported event. Building a ~50-key dict per event cost
    more than everything else together, so the line is a cached format per set of top-level
    fields present, filled with each value's JSON: keys in the order of :data:`_NULL_FIELDS`
    then the event's own fields, unknown fields present and null. The caches are looked up
    inline (a call per event costs as much as the lookup).
    """
    (id_, type_, event_name, user_id, device_id, amplitude_id, session_id, client_ms,
     received_ms, dedup_key, groups, context_kind, context, current, payload) = row  # fmt: skip
    if type(payload) is not dict:
        payload = {}
    if context_kind is not None and context is not None:
        payload = expand(context_kind, _context(context), payload)
    global _last_received
    # The events of one request share their receipt time: format it once for them.
    last = _last_received
    if last[0] == received_ms:
        received, processed = last[1], last[2]
    else:
        received = _time(received_ms)
        processed = _PROCESSED % (received, received, received)
        _last_received = (received_ms, received, processed)
    if client_ms is None:
        client = received
    else:
        second, milli = divmod(client_ms, 1000)
        client = (_SECOND_PREFIXES.get(second) or _second_prefix(second)) + _MILLI[milli]
    if vendor == "amplitude":
        top = payload
        properties = payload.get("event_properties")
        if type(properties) is not dict:
            properties = {}
        own = payload.get("user_properties")
    else:
        top = _built_in_sources(vendor, payload)
        properties = mapping.event_properties_of(vendor, payload)
        own = _own_user_properties(vendor, type_, payload)
    found = _FORMATS.get(tuple(top))
    keys, line = _line_format(top) if found is None else found
    if own is not None:
        user = _exported_user_properties(vendor, own, current)
    elif current and current != "{}":
        # Most events set nothing on their user: the stored properties as they are (no call).
        user = current.encode()
    else:
        user = b"{}"
    return line % (
        *map(_dumps, map(top.__getitem__, keys)),
        _dumps(dedup_key),
        _dumps(amplitude_id),
        project_id,
        client,
        received,
        _dumps(device_id),
        id_,
        _dumps(properties),
        client,
        _EVENT_TYPES.get((vendor, type_, event_name)) or _event_type(vendor, type_, event_name),
        _dumps(orjson.loads(groups)) if groups else b"{}",
        processed,
        -1 if session_id is None else session_id,
        _dumps(user_id),
        user,
        uuid_prefix,
        id_ & _UUID_ID_MASK,
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


def archive_chunks(pages: Iterable[ExportPage], project_id: int) -> Iterator[bytes]:
    """The export archive of ``pages`` (in upload-time order), as a stream of byte chunks.

    Closing the stream closes ``pages`` (a store's page reader stops with it).
    """
    sink = Sink()
    out = ArchiveWriter(sink, project_id)
    try:
        hour: int | None = None
        lines: list[bytes] = []
        # Locals: looked up once per row otherwise.
        add, line_of, loads, hour_ms, at = lines.append, _line, _loads, _HOUR_MS, RECEIVED_AT
        per_block = _LINES
        for source, rows in pages:
            vendor = source.vendor
            prefix = _UUID_PREFIXES.get(source.source_id) or _uuid_prefix(source.source_id)
            for encoded in rows:
                row = loads(encoded)
                if row[at] // hour_ms != hour:
                    if hour is not None:
                        add(b"")  # the block ends with a newline, as every line
                        out.write(b"\n".join(lines))
                        lines.clear()
                        out.end_hour()
                    hour = row[at] // hour_ms
                    out.start_hour(hour)
                add(line_of(row, vendor, prefix, project_id))
                if len(lines) >= per_block:
                    add(b"")
                    out.write(b"\n".join(lines))
                    lines.clear()
                    if sink.size >= _CHUNK:
                        yield sink.take()
        if hour is not None:
            add(b"")
            out.write(b"\n".join(lines))
            out.end_hour()
        out.close()
    finally:
        out.abandon()
        close = getattr(pages, "close", None)
        if close is not None:
            close()
    if sink.size:
        yield sink.take()


def pages_of(rows: Iterable[ExportRow], size: int = 5000) -> Iterator[ExportPage]:
    """:class:`ExportRow` values as export pages (each run of one source's rows, in pages of
    up to ``size`` rows): for rows that were not read as pages."""
    source: Source | None = None
    page: list[bytes] = []
    for row in rows:
        here = Source(row.source_id, row.vendor)
        if here != source or len(page) >= size:
            if source is not None and page:
                yield ExportPage(source, page)
                page = []
            source = here
        page.append(encoded_row(row))
    if source is not None and page:
        yield ExportPage(source, page)
