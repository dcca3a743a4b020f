"""The collector's ASGI application: the vendors' ingestion APIs and a window on what arrived.

One set of routes per vendor API, each answering exactly as the vendor documents (statuses,
bodies, content types) so that trackwire and the vendors' own SDKs work against it unchanged:

- Segment: ``POST /v1/batch`` (and its alias ``/v1/import``), ``/v1/{identify,track,page,
  screen,group,alias}``.
- Amplitude: ``POST /2/httpapi``, ``/batch`` (JSON) and ``/identify``, ``/groupidentify``
  (form-encoded).
- mParticle: ``POST /v2/events``, ``/v2/bulkevents``, ``/v2/bulkevents/historical``.
- The collector's own: ``GET /health``, ``GET /stats``, ``GET /events`` and, in development
  mode only, ``/_faults`` (see :mod:`trackwire.collector.faults`).

Bodies are read with a size cap (:mod:`trackwire.collector._http`), then parsed with orjson,
checked with the vendor's ``wire`` rules and stored in one :meth:`Store.ingest` call per request,
all in a worker thread so the event loop only moves bytes.

Decisions where the vendors' documents leave room:

- Segment measures a message's size as its compact JSON encoding (orjson, raw UTF-8), the same
  bytes the store keeps, whatever whitespace or escapes the sender used. A batch's invalid
  messages are dropped and its valid ones stored; the answer is still ``200`` (Segment's edge
  answers 200 too) and lists the rejected messages in ``rejected``/``errors``, which no SDK
  reads; ``/stats`` counts them under ``rejected``. Above 2,500 messages Segment answers 200
  and stores nothing; so does the collector, saying so in the body and the log. A missing or
  unknown write key is ``401``.
- Amplitude stores the valid events of a partly bad request and answers ``400`` listing the
  bad ones by index. A wrong content type is ``400``.
- mParticle: a missing or malformed ``Authorization`` is ``401``, an unknown key or wrong secret
  ``403`` (mParticle's documented split). Oversized requests or batches are ``413`` (mParticle
  documents no status). A bulk request stores its valid batches and answers ``202`` even when
  some batches are bad, as mParticle does; ``/stats`` counts the rejected batches.
"""

from __future__ import annotations

import functools
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire._version import __version__
from trackwire.amplitude import identify as amplitude_identify
from trackwire.amplitude import wire as amplitude_wire
from trackwire.collector import _http
from trackwire.collector._http import BodyError, Reply
from trackwire.collector.faults import FaultConfig, FaultInjector, FaultMiddleware
from trackwire.collector.ingest import (
    Counters,
    amplitude_event_record,
    amplitude_group_identify_record,
    amplitude_identify_record,
    mparticle_records,
    segment_record,
)
from trackwire.collector.keys import Keys
from trackwire.collector.store import EventRecord, IngestResult, Store, StoreClosedError
from trackwire.errors import ConfigError, ValidationError
from trackwire.mparticle import schema as mparticle_schema
from trackwire.mparticle import wire as mparticle_wire
from trackwire.segment import wire as segment_wire

__all__ = ["Collector", "create_app"]

logger = logging.getLogger("trackwire.collector")

#: Per-message errors listed in a Segment batch answer; the rest are only counted.
_MAX_LISTED_ERRORS: Final = 20


def _json(status: int, data: Any) -> Reply:
    return Reply(status, orjson.dumps(data))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Collector:
    """The collector application: an ASGI callable and the state behind it.

    Args:
        store: where accepted events go; the collector does not close it.
        keys: the accepted sources; None is development mode (any key, admin endpoint on).
        faults: faults to inject (a configuration or a shared injector); None injects none.
        db_path: the database location shown by ``/health``.

    Attributes:
        store: the store.
        keys: the accepted sources, or None in development mode.
        faults: the fault injector; reconfigure it at any time.
        counters: request, rejection and storage counters shown by ``/stats``.
        starlette: the inner Starlette application (without fault injection).
    """

    def __init__(
        self,
        store: Store,
        *,
        keys: Keys | None = None,
        faults: FaultConfig | FaultInjector | None = None,
        db_path: str = "",
    ) -> None:
        self.store = store
        self.keys = keys
        self.faults = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
        self.counters = Counters()
        self.db_path = db_path
        routes = [
            *self._segment_routes(),
            *self._amplitude_routes(),
            *self._mparticle_routes(),
            *self._own_routes(),
            *self._query_routes(),
        ]
        self.starlette = Starlette(routes=routes)
        self._asgi = FaultMiddleware(self.starlette, self.faults)

    @property
    def development(self) -> bool:
        """True without a keys file: any key is accepted and ``/_faults`` is available."""
        return self.keys is None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        await self._asgi(scope, receive, send)

    # --- shared request handling -------------------------------------------------------------

    async def _handle(
        self,
        request: Request,
        vendor: str,
        limit: int,
        flow: Callable[[bytes], Reply],
        too_large: Callable[[str], Reply],
        bad_body: Callable[[str], Reply],
    ) -> Response:
        """Read the body within ``limit``, run ``flow`` on it in a worker thread, answer."""
        close = False
        try:
            raw = await _http.read_body(request, limit)
        except ClientDisconnect:
            # Nobody is left to answer; count it and let the server close the connection.
            self.counters.add("requests", vendor, "client_disconnected")
            return Response(status_code=400)
        except BodyError as exc:
            close = exc.close
            reply = too_large(str(exc)) if exc.too_large else bad_body(str(exc))
        else:
            try:
                reply = await run_in_threadpool(flow, raw)
            except ValidationError as exc:
                reply = bad_body(f"cannot store the request: {exc}")
            except StoreClosedError:
                reply = Reply(503, b'{"error":"the collector is shutting down"}')
        self.counters.add("requests", vendor, str(reply.status))
        response = reply.response()
        if close:
            response.headers["connection"] = "close"
        return response

    def _store(
        self, vendor: str, records: Sequence[EventRecord], request_key: str | None = None
    ) -> IngestResult:
        if not records:
            return IngestResult(0, 0)
        result = self.store.ingest(records, request_key=request_key)
        self.counters.add("stored", vendor, "events", result.stored)
        self.counters.add("duplicates", vendor, "events", result.duplicates)
        return result

    # --- Segment ------------------------------------------------------------------------------

    def _segment_routes(self) -> list[Route]:
        routes = [
            Route(path, functools.partial(self._segment, kind=None), methods=["POST"])
            for path in (segment_wire.BATCH_PATH, "/v1/import")
        ]
        for path, kind in segment_wire.SINGLE_PATHS.items():
            routes.append(
                Route(path, functools.partial(self._segment, kind=kind), methods=["POST"])
            )
        return routes

    async def _segment(self, request: Request, *, kind: str | None) -> Response:
        flow = functools.partial(
            self._segment_flow,
            kind=kind,
            authorization=request.headers.get("authorization", ""),
            content_type=_http.media_type(request),
        )
        return await self._handle(
            request,
            "segment",
            segment_wire.MAX_BATCH_BYTES,
            flow,
            lambda message: _segment_error(
                400, "payload_too_large", f"Exceed payload limit: {message}"
            ),
            lambda message: _segment_error(400, "invalid_request", message),
        )

    def _segment_key(self, authorization: str, body: Mapping[str, Any]) -> str | Reply:
        """The write key (Basic user, else ``writeKey`` in the body) or the error answer."""
        key = None
        if authorization:
            try:
                credentials = _http.basic_credentials(authorization)
            except ValueError as exc:
                return _segment_error(401, "invalid_authorization", str(exc))
            if credentials is not None and credentials[0]:
                key = credentials[0]
        body_key = body.get("writeKey")
        if key is None and isinstance(body_key, str) and body_key:
            key = body_key
        if key is None:
            return _segment_error(
                401,
                "missing_write_key",
                "no write key: send it as the HTTP Basic user name (base64 of 'KEY:') "
                "or as writeKey in the body",
            )
        if self.keys is None:
            return key
        source = self.keys.segment(key)
        if source is None:
            return _segment_error(401, "invalid_write_key", "unknown write key")
        return source.name

    def _segment_flow(
        self, raw: bytes, *, kind: str | None, authorization: str, content_type: str
    ) -> Reply:
        if not _http.is_json(content_type):
            return _segment_error(
                400,
                "invalid_content_type",
                f"Content-Type must be application/json; got {content_type or 'none'}",
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _segment_error(400, "invalid_json", f"the body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _segment_error(400, "invalid_json", "the body must be a JSON object")
        source = self._segment_key(authorization, body)
        if isinstance(source, Reply):
            return source
        if kind is None:
            return self._segment_batch(
                body, source, measure=len(raw) > segment_wire.MAX_MESSAGE_BYTES
            )
        # The write key is a credential, not part of the message.
        message = {k: v for k, v in body.items() if k != "writeKey"}
        problem = segment_wire.check_message(message, kind)
        encoded = None
        if problem is None and len(raw) > segment_wire.MAX_MESSAGE_BYTES:
            encoded = orjson.dumps(message)
            problem = _segment_size_problem(len(encoded))
        if problem is not None:
            self.counters.add("rejected", "segment", problem.code)
            return _segment_error(400, problem.code, problem.message)
        self._store("segment", [segment_record(message, kind, source, payload_json=encoded)])
        return Reply(200, b'{"success":true}')

    def _segment_batch(self, body: Mapping[str, Any], source: str, *, measure: bool) -> Reply:
        batch = body.get("batch")
        if not isinstance(batch, list):
            return _segment_error(400, "invalid_batch", "batch must be an array of messages")
        if len(batch) > segment_wire.MAX_BATCH_COUNT:
            # Segment's documented quirk: 200, and the events are dropped.
            self.counters.add("rejected", "segment", "too_many_messages", len(batch))
            text = (
                f"the batch has {len(batch)} messages; Segment accepts at most "
                f"{segment_wire.MAX_BATCH_COUNT} per request and drops larger batches while "
                "answering 200: nothing was stored"
            )
            logger.warning("segment source %s: %s", source, text)
            return _json(
                200, {"success": True, "stored": 0, "dropped": len(batch), "message": text}
            )
        records: list[EventRecord] = []
        errors: list[dict[str, Any]] = []
        for index, message in enumerate(batch):
            encoded = None
            if not isinstance(message, dict):
                problem: segment_wire.WireError | None = segment_wire.WireError(
                    "invalid_message", "a batch item must be a JSON object"
                )
            else:
                problem = segment_wire.check_message(message)
                if problem is None and measure:
                    # The store keeps these same bytes: each message is encoded once.
                    encoded = orjson.dumps(message)
                    problem = _segment_size_problem(len(encoded))
            if problem is not None:
                self.counters.add("rejected", "segment", problem.code)
                errors.append({"index": index, "code": problem.code, "message": problem.message})
                continue
            records.append(segment_record(message, message["type"], source, payload_json=encoded))
        self._store("segment", records)
        if not errors:
            return Reply(200, b'{"success":true}')
        return _json(
            200,
            {
                "success": True,
                "stored": len(records),
                "rejected": len(errors),
                "errors": errors[:_MAX_LISTED_ERRORS],
            },
        )

    # --- Amplitude ----------------------------------------------------------------------------

    def _amplitude_routes(self) -> list[Route]:
        return [
            Route("/2/httpapi", functools.partial(self._amplitude_upload, endpoint="httpapi"),
                  methods=["POST"]),
            Route("/batch", functools.partial(self._amplitude_upload, endpoint="batch"),
                  methods=["POST"]),
            Route("/identify", functools.partial(self._amplitude_form, group=False),
                  methods=["POST"]),
            Route("/groupidentify", functools.partial(self._amplitude_form, group=True),
                  methods=["POST"]),
        ]  # fmt: skip

    def _amplitude_source(self, api_key: str) -> str | None:
        if self.keys is None:
            return api_key
        source = self.keys.amplitude(api_key)
        return None if source is None else source.name

    async def _amplitude_upload(self, request: Request, *, endpoint: str) -> Response:
        flow = functools.partial(
            self._amplitude_upload_flow, endpoint=endpoint, content_type=_http.media_type(request)
        )
        return await self._handle(
            request,
            "amplitude",
            amplitude_wire.MAX_REQUEST_BYTES[endpoint],
            flow,
            lambda _message: _json(413, amplitude_wire.too_large_body()),
            lambda message: _json(400, amplitude_wire.error_body(400, message)),
        )

    def _amplitude_upload_flow(self, raw: bytes, *, endpoint: str, content_type: str) -> Reply:
        if not _http.is_json(content_type):
            text = f"Content-Type must be application/json; got {content_type or 'none'}"
            return _json(400, amplitude_wire.error_body(400, text))
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _json(400, amplitude_wire.error_body(400, "Invalid JSON request body"))
        check = amplitude_wire.check_upload(body, endpoint=endpoint, payload_size_bytes=len(raw))
        api_key = body.get("api_key") if isinstance(body, dict) else None
        source = None
        if isinstance(api_key, str) and api_key:
            source = self._amplitude_source(api_key)
            if source is None:
                return _json(400, amplitude_wire.invalid_api_key_body(api_key))
        if check.error is not None:
            return _json(check.error.code, amplitude_wire.invalid_request_body(check))
        assert source is not None  # check_upload refuses a body without an api_key
        events = body["events"]
        records = [amplitude_event_record(events[i], source) for i in check.valid_indices]
        self._store("amplitude", records)
        if check.invalid_indices:
            self.counters.add("rejected", "amplitude", "invalid_event", len(check.invalid_indices))
            return _json(400, amplitude_wire.invalid_request_body(check))
        return _json(200, amplitude_wire.success_body(len(records), len(raw), _now_ms()))

    async def _amplitude_form(self, request: Request, *, group: bool) -> Response:
        flow = functools.partial(
            self._amplitude_form_flow, group=group, content_type=_http.media_type(request)
        )
        endpoint = "groupidentify" if group else "identify"
        return await self._handle(
            request,
            "amplitude",
            amplitude_wire.MAX_REQUEST_BYTES[endpoint],
            flow,
            lambda message: _text(413, f"Payload too large: {message}"),
            lambda message: _text(400, message),
        )

    def _amplitude_form_flow(self, raw: bytes, *, group: bool, content_type: str) -> Reply:
        if content_type != "application/x-www-form-urlencoded":
            return _text(
                400,
                "Content-Type must be application/x-www-form-urlencoded "
                f"(api_key=...&identification=...); got {content_type or 'none'}",
            )
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return _text(400, "the form body is not valid UTF-8 form encoding")
        fields = dict(pairs)
        check = (
            amplitude_identify.check_group_identify_form(fields)
            if group
            else amplitude_identify.check_identify_form(fields)
        )
        api_key = fields.get("api_key", "")
        source = self._amplitude_source(api_key) if api_key else None
        if api_key and source is None:
            return _text(400, f"invalid api_key: {api_key}")
        if check.error is not None or source is None:
            return _text(400, check.error or "missing api_key")
        build = amplitude_group_identify_record if group else amplitude_identify_record
        self._store("amplitude", [build(item, source) for item in check.identifications])
        return Reply(200, amplitude_identify.IDENTIFY_SUCCESS_BODY, "text/plain")

    # --- mParticle ----------------------------------------------------------------------------

    def _mparticle_routes(self) -> list[Route]:
        paths = {
            mparticle_wire.EVENTS_PATH: (False, False),
            mparticle_wire.BULK_PATH: (True, False),
            mparticle_wire.HISTORICAL_PATH: (True, True),
        }
        return [
            Route(path, functools.partial(self._mparticle, bulk=bulk, historical=historical),
                  methods=["POST"])
            for path, (bulk, historical) in paths.items()
        ]  # fmt: skip

    async def _mparticle(self, request: Request, *, bulk: bool, historical: bool) -> Response:
        flow = functools.partial(
            self._mparticle_flow,
            bulk=bulk,
            historical=historical,
            authorization=request.headers.get("authorization", ""),
            content_type=_http.media_type(request),
        )
        return await self._handle(
            request,
            "mparticle",
            mparticle_schema.MAX_REQUEST_BYTES,
            flow,
            lambda message: _mparticle_error(413, "PAYLOAD_TOO_LARGE", message),
            lambda message: _mparticle_error(400, "BAD_REQUEST", message),
        )

    def _mparticle_source(self, authorization: str) -> str | Reply:
        try:
            credentials = _http.basic_credentials(authorization) if authorization else None
        except ValueError as exc:
            return _mparticle_error(401, "UNAUTHORIZED", str(exc))
        if credentials is None or not credentials[0]:
            return _mparticle_error(
                401,
                "UNAUTHORIZED",
                "send the API key and secret as HTTP Basic credentials (base64 of 'KEY:SECRET')",
            )
        key, secret = credentials
        if self.keys is None:
            return key
        source = self.keys.mparticle(key, secret)
        if source is None:
            return _mparticle_error(403, "FORBIDDEN", "unknown API key or wrong secret")
        return source.name

    def _mparticle_flow(
        self,
        raw: bytes,
        *,
        bulk: bool,
        historical: bool,
        authorization: str,
        content_type: str,
    ) -> Reply:
        source = self._mparticle_source(authorization)
        if isinstance(source, Reply):
            return source
        if not _http.is_json(content_type):
            text = f"Content-Type must be application/json; got {content_type or 'none'}"
            return _mparticle_error(400, "BAD_REQUEST", text)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _mparticle_error(400, "BAD_REQUEST", f"the body is not valid JSON: {exc}")
        if not bulk:
            problems = mparticle_wire.check_batch(body, historical=historical)
            if problems:
                return _json(400, mparticle_wire.error_body(problems))
            if len(raw) > mparticle_schema.MAX_BATCH_BYTES:
                problems = mparticle_wire.check_sizes(len(raw), [len(raw)])
                return _json(413, mparticle_wire.error_body(problems, "PAYLOAD_TOO_LARGE"))
            records = mparticle_records(body, source, historical=historical)
            self._store("mparticle", records, mparticle_wire.request_id(body))
            return Reply(mparticle_wire.ACCEPTED_STATUS, mparticle_wire.accepted_body(), "")
        problems = mparticle_wire.check_bulk(body, historical=historical)
        if any(problem.batch is None for problem in problems):
            return _json(400, mparticle_wire.error_body(problems))
        bad = {problem.batch for problem in problems if problem.batch is not None}
        if len(raw) > mparticle_schema.MAX_BATCH_BYTES:
            sizes = [len(orjson.dumps(batch)) for batch in body]
            bad |= {
                p.batch for p in mparticle_wire.check_sizes(len(raw), sizes) if p.batch is not None
            }
        records = []
        for index, batch in enumerate(body):
            if index not in bad:
                records.extend(mparticle_records(batch, source, historical=historical))
        if bad:
            # mParticle answers 202 to a bulk request whose batches partly fail.
            self.counters.add("rejected", "mparticle", "invalid_batch", len(bad))
            logger.info("mparticle source %s: dropped invalid batches %s", source, sorted(bad))
        self._store("mparticle", records)
        return Reply(mparticle_wire.ACCEPTED_STATUS, mparticle_wire.accepted_body(), "")

    # --- the collector's own endpoints -----------------------------------------------------

    def _query_routes(self) -> list[Route]:
        # Amplitude's query API (trackwire.collector.query.routes), when the store can read it.
        from trackwire.collector.query.reader import QueryReader
        from trackwire.collector.query.routes import QueryRoutes

        def count(status: int) -> None:
            self.counters.add("requests", "amplitude_query", str(status))

        reader: QueryReader = self.store  # type: ignore[assignment]
        return QueryRoutes(reader, self.keys, count).routes()

    def _own_routes(self) -> list[Route]:
        routes = [
            Route("/health", self._health, methods=["GET"]),
            Route("/stats", self._stats, methods=["GET"]),
            Route("/events", self._events, methods=["GET"]),
        ]
        if self.development:
            routes.append(Route("/_faults", self._faults, methods=["GET", "POST", "DELETE"]))
        return routes

    async def _health(self, request: Request) -> Response:
        body = {
            "ok": True,
            "version": __version__,
            "db": self.db_path,
            "mode": "development" if self.development else "keys",
            "sources": 0 if self.keys is None else len(self.keys),
        }
        return _json(200, body).response()

    async def _stats(self, request: Request) -> Response:
        stored = await run_in_threadpool(self.store.stats)
        body = {**stored, **self.counters.snapshot(), "faults": self.faults.counts()}
        return _json(200, body).response()

    async def _events(self, request: Request) -> Response:
        params = request.query_params
        try:
            filters = _http.event_filters(params)
        except ValueError as exc:
            return _json(400, {"error": str(exc)}).response()
        events = await run_in_threadpool(functools.partial(self.store.events, **filters))
        limit = filters["limit"]
        body = {
            "events": [event.to_json() for event in events],
            "next_before": events[-1].id if len(events) == limit and events else None,
        }
        return _json(200, body).response()

    async def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.configure(FaultConfig())
        elif request.method == "POST":
            try:
                raw = await _http.read_body(request, 64 * 1024)
                config = FaultConfig.from_json(orjson.loads(raw))
            except (BodyError, orjson.JSONDecodeError, ConfigError) as exc:
                return _json(400, {"error": str(exc)}).response()
            self.faults.configure(config)
            logger.warning("fault injection reconfigured: %s", config.to_json())
        return _json(200, self.faults.state()).response()


def _segment_size_problem(size: int) -> segment_wire.WireError | None:
    """The error for a message of ``size`` bytes as compact JSON, if that is over the limit."""
    if size <= segment_wire.MAX_MESSAGE_BYTES:
        return None
    return segment_wire.WireError(
        "message_too_large",
        f"Exceed payload limit: the message is {size} bytes as compact JSON; "
        f"the limit is {segment_wire.MAX_MESSAGE_BYTES} bytes",
    )


def _segment_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, segment_wire.error_body(code, message))


def _mparticle_error(status: int, code: str, message: str) -> Reply:
    return _json(status, {"errors": [{"code": code, "message": message}]})


def _text(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain")


def create_app(
    store: Store,
    *,
    keys: Keys | None = None,
    faults: FaultConfig | FaultInjector | None = None,
    db_path: str = "",
) -> Collector:
    """Build the collector application (see :class:`Collector` for the arguments).

    The result is an ASGI application: run it under uvicorn, or use
    :func:`trackwire.collector.server.start_collector` to get it running on a free port.
    """
    return Collector(store, keys=keys, faults=faults, db_path=db_path)
