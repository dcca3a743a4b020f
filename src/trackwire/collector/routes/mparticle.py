"""mParticle's Events API: ``POST /v2/events``, ``/v2/bulkevents``, ``/v2/bulkevents/historical``.

Decisions where mParticle's documents leave room: a missing or malformed ``Authorization`` is
``401``, an unknown key or wrong secret ``403`` (mParticle's documented split). Oversized
requests or batches are ``413`` (mParticle documents no status). A bulk request stores its valid
batches and answers ``202`` even when some batches are bad, as mParticle does; ``/stats`` counts
the rejected batches.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire.collector import _http
from trackwire.collector._handler import Reply, handle, json_reply
from trackwire.collector.records import mparticle_records
from trackwire.collector.store import EventRecord
from trackwire.mparticle import schema, wire

if TYPE_CHECKING:
    from trackwire.collector.vendors import Ingestion

__all__ = ["routes"]

logger = logging.getLogger("trackwire.collector")


def routes(ingestion: Ingestion) -> list[Route]:
    """The mParticle routes, storing through ``ingestion``."""
    api = _MParticle(ingestion)
    paths = {
        wire.EVENTS_PATH: (False, False),
        wire.BULK_PATH: (True, False),
        wire.HISTORICAL_PATH: (True, True),
    }
    return [
        Route(path, functools.partial(api.post, bulk=bulk, historical=historical),
              methods=["POST"])
        for path, (bulk, historical) in paths.items()
    ]  # fmt: skip


def _error(status: int, code: str, message: str) -> Reply:
    return json_reply(status, wire.message_error_body(message, code))


class _MParticle:
    def __init__(self, ingestion: Ingestion) -> None:
        self.ingestion = ingestion

    async def post(self, request: Request, *, bulk: bool, historical: bool) -> Response:
        flow = functools.partial(
            self.flow,
            bulk=bulk,
            historical=historical,
            authorization=request.headers.get("authorization", ""),
            content_type=_http.media_type(request),
        )
        return await handle(
            request,
            vendor="mparticle",
            limit=schema.MAX_REQUEST_BYTES,
            flow=flow,
            too_large=lambda message: _error(413, "PAYLOAD_TOO_LARGE", message),
            bad_body=lambda message: _error(400, "BAD_REQUEST", message),
            counters=self.ingestion.counters,
            body_timeout=self.ingestion.body_timeout,
        )

    def source(self, authorization: str) -> str | Reply:
        try:
            credentials = _http.basic_credentials(authorization) if authorization else None
        except ValueError as exc:
            return _error(401, "UNAUTHORIZED", str(exc))
        if credentials is None or not credentials[0]:
            return _error(
                401,
                "UNAUTHORIZED",
                "send the API key and secret as HTTP Basic credentials (base64 of 'KEY:SECRET')",
            )
        key, secret = credentials
        source = self.ingestion.source(key, secret)
        if source is None:
            return _error(403, "FORBIDDEN", "unknown API key or wrong secret")
        return source

    def flow(
        self,
        raw: bytes,
        *,
        bulk: bool,
        historical: bool,
        authorization: str,
        content_type: str,
    ) -> Reply:
        source = self.source(authorization)
        if isinstance(source, Reply):
            return source
        if not _http.is_json(content_type):
            text = f"Content-Type must be application/json; got {content_type or 'none'}"
            return _error(400, "BAD_REQUEST", text)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _error(400, "BAD_REQUEST", f"the body is not valid JSON: {exc}")
        if not bulk:
            problems = wire.check_batch(body, historical=historical)
            if problems:
                return json_reply(400, wire.error_body(problems))
            if len(raw) > schema.MAX_BATCH_BYTES:
                problems = wire.check_sizes(len(raw), [len(raw)])
                return json_reply(413, wire.error_body(problems, "PAYLOAD_TOO_LARGE"))
            result = self.ingestion.write(
                mparticle_records(body, source, historical=historical),
                wire.request_id(body),
                request_bytes=len(raw),
            )
            return Reply(wire.ACCEPTED_STATUS, wire.accepted_body(), "", stored=result.stored)
        problems = wire.check_bulk(body, historical=historical)
        if any(problem.batch is None for problem in problems):
            return json_reply(400, wire.error_body(problems))
        bad = {problem.batch for problem in problems if problem.batch is not None}
        if len(raw) > schema.MAX_BATCH_BYTES:
            sizes = [len(orjson.dumps(batch)) for batch in body]
            bad |= {p.batch for p in wire.check_sizes(len(raw), sizes) if p.batch is not None}
        records: list[EventRecord] = []
        for index, batch in enumerate(body):
            if index not in bad:
                records.extend(mparticle_records(batch, source, historical=historical))
        if bad:
            # mParticle answers 202 to a bulk request whose batches partly fail.
            self.ingestion.counters.add("rejected", "mparticle", "invalid_batch", len(bad))
            logger.info("mparticle source %s: dropped invalid batches %s", source, sorted(bad))
        result = self.ingestion.write(records, request_bytes=len(raw))
        return Reply(wire.ACCEPTED_STATUS, wire.accepted_body(), "", stored=result.stored)
