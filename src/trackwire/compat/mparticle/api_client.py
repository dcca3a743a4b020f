"""The official ``mparticle.ApiClient``, sending through :class:`trackwire.MParticle`.

The official client posts each call in the caller's thread (or a new thread per call with
``callback``), with no timeout, no retry and no batching. This one turns each batch into
mParticle's JSON (:func:`~trackwire.compat.mparticle.models._model.wire`) and queues it on a
:class:`trackwire.MParticle` made from the :class:`Configuration` on first use: the engine's
worker packs what is queued into bulk requests, retries with backoff, honours
``Retry-After``, drains at exit and after SIGTERM, and survives ``fork``. A call without
``callback`` waits for its own batches' answer; one with ``callback`` returns at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from trackwire._engine.receipts import Receipt
from trackwire._version import __version__
from trackwire.compat.mparticle.configuration import Configuration
from trackwire.compat.mparticle.models._model import Model, valid_attribute_bag, wire
from trackwire.compat.mparticle.rest import ApiException
from trackwire.errors import ValidationError
from trackwire.mparticle.client import MParticle

__all__ = ["ApiClient", "UploadHandle"]

#: The callback of an asynchronous call: None (or ``(None, status, headers)``) on success,
#: the :class:`ApiException` on failure, as the official calls it.
Callback = Callable[[Any], None]
# The worker sends what waits on its next turn: a synchronous caller is not held for batching.
_NEXT_TURN: Final = 0.001


class ApiClient:
    """Sends batches for :class:`~trackwire.compat.mparticle.EventsApi` (the official name).

    Args:
        host: the Events API base URL with ``/v2``; default ``configuration.host``.
        header_name: a default header's name. header_value: its value. Kept in
            ``default_headers`` for code that reads them; trackwire sends its own headers.
        cookie: kept as ``cookie``; not sent.
        configuration: the credentials and settings (a new :class:`Configuration` if None).
    """

    def __init__(
        self,
        host: str | None = None,
        header_name: str | None = None,
        header_value: str | None = None,
        cookie: str | None = None,
        configuration: Configuration | None = None,
    ) -> None:
        self.configuration = configuration if configuration is not None else Configuration()
        self.host = host
        self.default_headers: dict[str, str] = {}
        if header_name is not None and header_value is not None:
            self.default_headers[header_name] = header_value
        self.cookie = cookie
        self.user_agent = f"trackwire/{__version__} (mparticle compat)"
        self.last_response: Any = None
        self._lock = threading.Lock()
        self._client: MParticle | None = None

    def set_default_header(self, header_name: str, header_value: str) -> None:
        """Remember a default header (kept for code that reads ``default_headers``)."""
        self.default_headers[header_name] = header_value

    @staticmethod
    def validate_attribute_bag_values(custom_attributes: Mapping[str, Any] | None) -> bool:
        """True when every value is None, str, int, float or bool (mParticle's rule)."""
        return valid_attribute_bag(custom_attributes)

    @staticmethod
    def sanitize_for_serialization(obj: Any) -> Any:
        """``obj`` as JSON-ready data: models as objects without None fields, dates as ISO
        text, Decimals as text (the official serialiser's rules)."""
        return wire(obj)

    @property
    def client(self) -> MParticle:
        """The :class:`trackwire.MParticle` underneath (made on first use): ``stats()``,
        ``flush()``, hooks."""
        with self._lock:
            if self._client is None:
                config = self.configuration
                self._client = MParticle(
                    config.api_key,
                    config.api_secret,
                    host=self.host or config.host,
                    timeout=config.timeout,
                    connect_timeout=config.connect_timeout,
                    max_retries=config.max_retries,
                    ca_certs=config.ssl_ca_cert,
                    debug=config.debug,
                    flush_interval=_NEXT_TURN,
                    **config.trackwire_options,
                )
            return self._client

    def upload(self, batches: Sequence[Any], callback: Callback | None, *, http_info: bool) -> Any:
        """Queue ``batches``; wait for their answer, or return a handle and call ``callback``.

        Returns:
            Without ``callback``: None, or ``(None, status, headers)`` with ``http_info``.
            With it: an :class:`UploadHandle` (``join()``, ``is_alive()``, as the official
            returns a thread).

        Raises:
            ValueError: a batch is not a Batch or a dict, or breaks one of mParticle's
                rules (a trackwire ``ValidationError`` naming the field).
            ApiException: without ``callback``, when a batch was not accepted.
        """
        payloads = [_payload(batch, index) for index, batch in enumerate(batches)]
        client = self.client
        receipts = [client.upload(payload) for payload in payloads]
        if callback is not None:
            return UploadHandle(receipts, lambda: callback(self._answer(receipts, http_info)))
        # flush(0) asks the worker to send what is queued now, without waiting out the
        # batching interval; each call then waits for its own batches only.
        client.flush(0)
        deadline = time.monotonic() + self.configuration.sync_timeout
        for receipt in receipts:
            receipt.wait(max(0.0, deadline - time.monotonic()))
        answer = self._answer(receipts, http_info)
        if isinstance(answer, ApiException):
            raise answer
        return answer

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued is delivered or finally failed; True if in time."""
        return self._client.flush(timeout) if self._client is not None else True

    def close(self, timeout: float | None = None) -> bool:
        """Send what is queued (within ``timeout``) and stop; True if all went in time."""
        return self._client.shutdown(timeout) if self._client is not None else True

    def _answer(self, receipts: list[Receipt], http_info: bool) -> Any:
        """What the official returns (or passes to the callback) for these receipts."""
        for receipt in receipts:
            if not receipt.done:
                return ApiException(
                    0,
                    f"no answer within {self.configuration.sync_timeout:g} s (sync_timeout); "
                    "the batch stays queued and is still sent",
                )
            error = receipt.error
            if error is not None:
                response = receipt.response
                return ApiException(
                    error.status or 0,
                    str(error),
                    body=response.body if response is not None else None,
                    headers=response.headers if response is not None else None,
                )
        last = receipts[-1].response if receipts else None
        self.last_response = last
        if not http_info:
            return None
        if last is None:  # send=False-like settling without a request: nothing was answered
            return None, None, None
        return None, last.status, dict(last.headers)


class UploadHandle:
    """What an asynchronous call returns: ``join()`` waits until its callback has run."""

    def __init__(self, receipts: list[Receipt], done: Callable[[], None]) -> None:
        self.receipts = receipts
        self._done = done
        self._left = len(receipts)
        self._lock = threading.Lock()
        self._finished = threading.Event()
        for receipt in receipts:
            receipt.add_done_callback(self._settled)

    def _settled(self, _receipt: Receipt) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            try:
                self._done()
            finally:
                self._finished.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait until every batch is answered and the callback has returned."""
        self._finished.wait(timeout)

    def is_alive(self) -> bool:
        """True while the call's batches wait for their answer."""
        return not self._finished.is_set()


def _payload(batch: Any, index: int) -> dict[str, Any]:
    if isinstance(batch, Model | Mapping):
        payload = wire(batch)
        if isinstance(payload, dict):
            return payload
    raise ValidationError(
        f"[{index}]" if index else "body",
        f"must be a Batch (or a dict in mParticle's JSON shape), got {type(batch).__name__}",
    )
