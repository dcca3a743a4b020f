"""The official SDKs' callbacks, from the client's receipts and hooks.

``callback(event, code, message)`` once each event is settled (both SDKs), and ``on_retry``
(the Node SDK's ``fn(response, attempt, is_last)`` after every retry attempt).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from trackwire._client import Client
from trackwire._engine.receipts import BatchReport, Receipt
from trackwire._engine.transport import HTTPResult
from trackwire.amplitude.models import BaseEvent, EventCallback

__all__ = ["OnRetry", "event_callback", "watch_retries"]

#: ``fn(response, retry_number, is_last_retry)``.
OnRetry = Callable[[HTTPResult | None, int, bool], Any]


def watch_retries(client: Client, on_retry: OnRetry) -> None:
    """Call ``on_retry`` after every retry attempt of ``client``, as the Node SDK does.

    Retry reports carry their attempt number; the final report of a batch (delivered or
    failed) is matched to its retries by message id, so the attempt that ended it is
    reported too.
    """
    total = client.retry.retries_allowed
    retried: dict[str | None, int] = {}
    lock = threading.Lock()

    def retry(batch: BatchReport) -> None:
        with lock:
            for message_id in batch.message_ids:
                retried[message_id] = batch.attempt
        if batch.attempt >= 2:
            on_retry(batch.response, batch.attempt - 2, False)

    def settled(batch: BatchReport) -> None:
        with lock:
            attempts = [retried.pop(m) for m in batch.message_ids if m in retried]
        if not attempts and batch.attempt < 2:
            return  # settled on its first attempt: no retry happened
        attempt = batch.attempt if batch.attempt >= 2 else max(attempts) + 1
        number = attempt - 2
        on_retry(batch.response, number, batch.kind == "error" or number >= total - 1)

    client.on("retry", retry)
    client.on("flush", settled)
    client.on("error", settled)


def event_callback(
    callback: EventCallback, source: BaseEvent | Mapping[str, Any]
) -> Callable[[Receipt], None]:
    """A receipt callback calling ``callback(event, code, message)`` as the SDKs do.

    ``event`` is what the caller passed, ``code`` the HTTP status of the final attempt (0 when
    none arrived or the event was never sent), ``message`` None on success, else the error.
    """

    def settle(receipt: Receipt) -> None:
        response = receipt.response
        code = response.status if response is not None and response.status is not None else 0
        message = None if receipt.ok else str(receipt.error)
        callback(source, code, message)  # type: ignore[arg-type]

    return settle
