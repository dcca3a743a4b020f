"""The official SDKs' shape: ``EventsApi(Configuration(key, secret))``, direct uploads.

Each call sends at once, in the caller's thread, and returns when mParticle has answered:
:meth:`EventsApi.upload_events` one batch, :meth:`EventsApi.bulk_upload_events` up to 100.
Unlike the official package it sends ``customer_id`` as documented, times out, retries network
errors, 429 and 5xx with backoff and jitter (re-sending the same ``source_request_id``, so a
retry is idempotent), honours ``Retry-After`` for this call only (the official package blocks
every client in the process after one 429), routes old data to the historical endpoint, and
never logs the key or secret. For background delivery in batches use
:class:`trackwire.MParticle`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from trackwire._engine.destination import USER_AGENT, basic_auth_header
from trackwire._engine.retry import Delivered, Rejected, Retry, RetryPolicy, Split
from trackwire._engine.transport import HTTPRequest, HTTPResult, Transport, Urllib3Transport
from trackwire._logging import enable_debug_logging
from trackwire.config import RetryConfig
from trackwire.errors import ConfigError, DeliveryError, ValidationError
from trackwire.mparticle import wire
from trackwire.mparticle.models import Batch
from trackwire.mparticle.prepare import (
    build,
    encode_batch,
    is_historical,
    resolve_base_url,
)
from trackwire.mparticle.schema import MAX_BULK_BATCHES, MAX_REQUEST_BYTES

__all__ = ["ApiException", "AuthenticationError", "Configuration", "EventsApi"]

logger = logging.getLogger("trackwire")

Callback = Callable[["ApiException | None", Any, "HTTPResult | None"], None]
# A direct call holds its caller: a few quick retries, and never a long Retry-After wait.
_DIRECT_RETRY: Final = RetryConfig(
    max_retries=3, initial_backoff=0.5, max_backoff=8.0, max_retry_after=30.0, max_elapsed=60.0
)


class ApiException(DeliveryError):
    """An upload mParticle did not accept (the official package's exception name).

    Attributes:
        reason: ``rejected`` (never retried) or ``retry_exhausted``.
        status: the HTTP status of the last attempt, None when no response came.
        detail: mParticle's error message or the network error.
        body: the last response's body (mParticle's ``{"errors": [...]}``), or ``b""``.
        headers: the last response's headers, lower-cased.
        retry_after: seconds mParticle asked to wait (429/503), if it said.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        status: int | None = None,
        response: HTTPResult | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, detail, status)
        self.response = response
        self.body = response.body if response is not None else b""
        self.headers: Mapping[str, str] = response.headers if response is not None else {}
        self.retry_after = retry_after


class AuthenticationError(ApiException):
    """mParticle refused the key or secret (401, 403): fix the credentials; never retried."""


class Configuration:
    """Where and how :class:`EventsApi` sends.

    Args:
        api_key: the input's (or feed's) key.
        api_secret: its secret.
        host: the base URL (``https://s2s.mparticle.com`` by default); a trailing ``/v2``, as
            the official package spells it, is accepted.
        pod: ``"us1"``, ``"us2"``, ``"eu1"`` or ``"au1"`` instead of ``host``.
        timeout: seconds to wait for a response. Default 15 (the official package has none).
        connect_timeout: seconds to connect. Default 5.
        max_retries: retries of a failed call (network, 429, 5xx). Default 3. A
            ``Retry-After`` longer than 30 s (``retry.max_retry_after``) is not waited for: the
            call raises at once, with the wait in ``ApiException.retry_after``.
        retry: full retry options (overrides ``max_retries``).
        proxy: an ``http://`` or ``https://`` proxy URL.
        ssl_ca_cert: a CA bundle to verify the server with.
        connection_pool_size: connections kept open. Default 1.
        debug: log each request's endpoint, size and outcome on the ``trackwire`` logger
            (never the key, secret or body).

    Attributes are plain and may be assigned after construction, as with the official package
    (``config.api_key = ...``); :class:`EventsApi` reads them when it is made.
    """

    def __init__(
        self,
        api_key: str = "",
        api_secret: str = "",
        *,
        host: str | None = None,
        pod: str | None = None,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        retry: RetryConfig | None = None,
        proxy: str | None = None,
        ssl_ca_cert: str | None = None,
        connection_pool_size: int = 1,
        debug: bool = False,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.host = host
        self.pod = pod
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry
        self.max_retries = max_retries
        self.proxy = proxy
        self.ssl_ca_cert = ssl_ca_cert
        self.connection_pool_size = connection_pool_size
        self.debug = debug

    def __repr__(self) -> str:
        # Never the key or the secret: a repr ends up in logs and tracebacks.
        return f"Configuration(host={self.host!r}, pod={self.pod!r}, debug={self.debug!r})"


class EventsApi:
    """Direct, synchronous uploads to mParticle's Events API.

    Args:
        configuration: the key, secret, host and timeouts.
        transport: send through this instead of a urllib3 pool (tests).

    Raises:
        ConfigError: the key or secret is missing, or the host or pod is invalid.
    """

    def __init__(
        self, configuration: Configuration | None = None, *, transport: Transport | None = None
    ) -> None:
        config = configuration if configuration is not None else Configuration()
        if not config.api_key or not config.api_secret:
            raise ConfigError("Configuration needs api_key and api_secret (your input's key)")
        self.configuration = config
        self._base = resolve_base_url(config.host, config.pod)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": basic_auth_header(config.api_key, config.api_secret),
        }
        retry = config.retry or dataclasses.replace(_DIRECT_RETRY, max_retries=config.max_retries)
        self._policy = RetryPolicy(retry)
        if config.debug:
            enable_debug_logging()
        self._transport = transport or Urllib3Transport(
            connect_timeout=config.connect_timeout,
            read_timeout=config.timeout,
            proxy=config.proxy,
            ca_certs=config.ssl_ca_cert,
            pool_maxsize=max(1, config.connection_pool_size),
        )

    def upload_events(
        self,
        batch: Batch | Mapping[str, Any],
        callback: Callback | None = None,
        *,
        historical: bool | None = None,
    ) -> HTTPResult | None:
        """Upload one batch (one user) to ``/v2/events``.

        A batch whose events are older than 30 days goes to ``/v2/bulkevents/historical``
        instead (``historical=True`` forces it, ``False`` forbids it).

        Args:
            batch: the batch.
            callback: called as ``callback(error, data, response)`` instead of returning or
                raising: ``error`` None on success, ``data`` the decoded response body (None
                for mParticle's empty 202), ``response`` the last HTTP result.
            historical: None chooses by the events' age.

        Returns:
            The final response (status 202), or None when ``callback`` is given.

        Raises:
            ValidationError: the batch breaks a rule or limit (before anything is sent).
            ApiException: mParticle refused the batch, or every attempt failed
                (:class:`AuthenticationError` for 401/403). Not raised with ``callback``.
        """
        built = build(batch)
        body = encode_batch(built)
        if self._historical([built], historical):
            return self._call(wire.HISTORICAL_PATH, [body], callback, bulk=True)
        return self._call(wire.EVENTS_PATH, [body], callback, bulk=False)

    def bulk_upload_events(
        self,
        batches: Sequence[Batch | Mapping[str, Any]],
        callback: Callback | None = None,
        *,
        historical: bool | None = None,
    ) -> HTTPResult | None:
        """Upload up to 100 batches (up to 100 users) in one ``/v2/bulkevents`` request.

        Same arguments, result and errors as :meth:`upload_events`; a request over
        mParticle's 256 KB is refused before sending (``ValidationError`` on ``batches``).
        """
        if isinstance(batches, Batch | Mapping) or not isinstance(batches, Sequence):
            raise ValidationError("batches", "must be a list of batches")
        if not batches or len(batches) > MAX_BULK_BATCHES:
            raise ValidationError(
                "batches", f"{len(batches)} batches; send 1 to {MAX_BULK_BATCHES} per request"
            )
        built = [build(batch, path=f"[{index}]") for index, batch in enumerate(batches)]
        bodies = [encode_batch(item) for item in built]
        size = sum(map(len, bodies)) + len(bodies) + 1
        if size > MAX_REQUEST_BYTES:
            raise ValidationError(
                "batches",
                f"the request would be {size} bytes, over mParticle's {MAX_REQUEST_BYTES}; "
                "send fewer batches per call, or use trackwire.MParticle, which packs them",
            )
        path = wire.HISTORICAL_PATH if self._historical(built, historical) else wire.BULK_PATH
        return self._call(path, bodies, callback, bulk=True)

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    @staticmethod
    def _historical(built: Sequence[Mapping[str, Any]], forced: bool | None) -> bool:
        if forced is not None:
            return forced
        verdicts = [is_historical(item) for item in built]
        if any(verdicts) and not all(verdicts):
            index = verdicts.index(not verdicts[0])
            raise ValidationError(
                f"[{index}].events",
                "old (over 30 days) and recent batches cannot share a request; upload apart",
            )
        return bool(verdicts) and verdicts[0]

    def _call(
        self, path: str, bodies: list[bytes], callback: Callback | None, *, bulk: bool
    ) -> HTTPResult | None:
        error: ApiException | None = None
        result: HTTPResult | None = None
        try:
            result = self._send(path, bodies, bulk=bulk)
        except ApiException as exc:
            error, result = exc, exc.response
        if callback is None:
            if error is not None:
                raise error
            return result
        data = None
        if result is not None and result.body:
            try:
                data = orjson.loads(result.body)
            except orjson.JSONDecodeError:
                data = result.body.decode("utf-8", "replace")
        callback(error, data, result)
        return None

    def _send(self, path: str, bodies: list[bytes], *, bulk: bool) -> HTTPResult:
        body = wire.bulk_body(bodies) if bulk else bodies[0]
        url = self._base + path
        started = time.monotonic()
        retries = 0
        while True:
            headers = self._headers
            if retries:
                headers = {**headers, "X-Retry-Count": str(retries)}
            result = self._transport.send(HTTPRequest("POST", url, headers, body))
            outcome = wire.outcome(result, time.time(), len(bodies))
            logger.debug(
                "mparticle POST %s: %d batches, %d bytes, attempt %d -> %s",
                path, len(bodies), len(body), retries + 1, result.status or result.error,
            )  # fmt: skip
            if isinstance(outcome, Delivered):
                return result
            if isinstance(outcome, Split):
                half = len(bodies) // 2
                self._send(path, bodies[:half], bulk=True)
                return self._send(path, bodies[half:], bulk=True)
            if isinstance(outcome, Rejected):
                kind = AuthenticationError if result.status in (401, 403) else ApiException
                raise kind("rejected", outcome.reason, result.status, result)
            assert isinstance(outcome, Retry)
            delay = self._policy.next_delay(retries, time.monotonic() - started, outcome.after)
            limit = self._policy.config.max_retry_after
            if outcome.after is not None and outcome.after > limit:
                # Waiting less than asked would only be refused again: the caller decides.
                detail = f"{outcome.reason}; Retry-After {outcome.after:g} s is over {limit:g} s"
                raise ApiException("retry_exhausted", detail, result.status, result, outcome.after)
            if delay is None:
                response = result if result.status is not None else None
                raise ApiException(
                    "retry_exhausted", outcome.reason, result.status, response, outcome.after
                )
            time.sleep(delay)  # this call's own wait: no other client or call is held up
            retries += 1
