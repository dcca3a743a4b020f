"""Amplitude's ingestion APIs: ``POST /2/httpapi`` and ``/batch`` (JSON), ``/identify`` and
``/groupidentify`` (form-encoded).

Decisions where Amplitude's documents leave room: a wrong content type is ``400``; an unknown
API key is Amplitude's ``Invalid API key`` 400.
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire.amplitude import answers, identify, wire
from trackwire.collector import _http
from trackwire.collector._handler import Reply, handle, json_reply, text_reply
from trackwire.collector._values import now_ms
from trackwire.collector.records import (
    amplitude_event_record,
    amplitude_group_identify_record,
    amplitude_identify_record,
)

if TYPE_CHECKING:
    from trackwire.collector.vendors import Ingestion

__all__ = ["routes"]


def routes(ingestion: Ingestion) -> list[Route]:
    """The Amplitude ingestion routes, storing through ``ingestion``."""
    api = _Amplitude(ingestion)
    found = [
        Route(wire.PATHS[endpoint], functools.partial(api.upload, endpoint=endpoint),
              methods=["POST"])
        for endpoint in wire.ENDPOINTS
    ]  # fmt: skip
    for endpoint, group in (("identify", False), ("groupidentify", True)):
        found.append(
            Route(wire.PATHS[endpoint], functools.partial(api.form, group=group), methods=["POST"])
        )
    return found


class _Amplitude:
    def __init__(self, ingestion: Ingestion) -> None:
        self.ingestion = ingestion

    async def upload(self, request: Request, *, endpoint: str) -> Response:
        flow = functools.partial(
            self.upload_flow, endpoint=endpoint, content_type=_http.media_type(request)
        )
        return await handle(
            request,
            vendor="amplitude",
            limit=wire.MAX_REQUEST_BYTES[endpoint],
            flow=flow,
            too_large=lambda _message: json_reply(413, answers.too_large_body()),
            bad_body=lambda message: json_reply(400, answers.error_body(400, message)),
            counters=self.ingestion.counters,
            body_timeout=self.ingestion.body_timeout,
        )

    def upload_flow(self, raw: bytes, *, endpoint: str, content_type: str) -> Reply:
        if not _http.is_json(content_type):
            text = f"Content-Type must be application/json; got {content_type or 'none'}"
            return json_reply(400, answers.error_body(400, text))
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return json_reply(400, answers.error_body(400, "Invalid JSON request body"))
        check = wire.check_upload(body, endpoint=endpoint, payload_size_bytes=len(raw))
        api_key = body.get("api_key") if isinstance(body, dict) else None
        source = None
        if isinstance(api_key, str) and api_key:
            source = self.ingestion.source(api_key)
            if source is None:
                return json_reply(400, answers.invalid_api_key_body(api_key))
        if check.error is not None:
            return json_reply(check.error.code, answers.invalid_request_body(check))
        assert source is not None  # check_upload refuses a body without an api_key
        if check.invalid_indices:
            # Amplitude's 400 means nothing was ingested: the official SDKs resend the valid
            # events, so storing them now would store them twice.
            self.ingestion.counters.add(
                "rejected", "amplitude", "invalid_event", len(check.invalid_indices)
            )
            return json_reply(400, answers.invalid_request_body(check))
        events = body["events"]
        for index in check.long_indices:
            wire.cut_long_strings(events[index])  # what Amplitude keeps of an over-long field
        record = amplitude_event_record
        records = [record(event, source, endpoint) for event in events]
        result = self.ingestion.write(records, request_bytes=len(raw))
        return json_reply(
            200, answers.success_body(len(records), len(raw), now_ms()), stored=result.stored
        )

    async def form(self, request: Request, *, group: bool) -> Response:
        flow = functools.partial(
            self.form_flow, group=group, content_type=_http.media_type(request)
        )
        endpoint = "groupidentify" if group else "identify"
        return await handle(
            request,
            vendor="amplitude",
            limit=wire.MAX_REQUEST_BYTES[endpoint],
            flow=flow,
            too_large=lambda message: text_reply(
                413, identify.form_error_body(message, too_large=True)
            ),
            bad_body=lambda message: text_reply(400, identify.form_error_body(message)),
            counters=self.ingestion.counters,
            body_timeout=self.ingestion.body_timeout,
        )

    def form_flow(self, raw: bytes, *, group: bool, content_type: str) -> Reply:
        if content_type != identify.FORM_CONTENT_TYPE:
            return text_reply(
                400,
                identify.form_error_body(
                    f"Content-Type must be {identify.FORM_CONTENT_TYPE} "
                    f"(api_key=...&identification=...); got {content_type or 'none'}"
                ),
            )
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return text_reply(
                400, identify.form_error_body("the form body is not valid UTF-8 form encoding")
            )
        fields = dict(pairs)
        check = (
            identify.check_group_identify_form(fields)
            if group
            else identify.check_identify_form(fields)
        )
        api_key = fields.get("api_key", "")
        source = self.ingestion.source(api_key) if api_key else None
        if api_key and source is None:
            return text_reply(400, identify.form_error_body(f"invalid api_key: {api_key}"))
        if check.error is not None or source is None:
            return text_reply(400, identify.form_error_body(check.error or "missing api_key"))
        build = amplitude_group_identify_record if group else amplitude_identify_record
        result = self.ingestion.write(
            [build(item, source) for item in check.identifications],
            request_bytes=len(raw),
        )
        return Reply(200, identify.IDENTIFY_SUCCESS_BODY, "text/plain", stored=result.stored)
