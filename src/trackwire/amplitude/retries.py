"""``on_retry``: the Node SDK's callback after every retry attempt, from the client's hooks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from trackwire._client import Client
from trackwire._engine.receipts import BatchReport
from trackwire._engine.transport import HTTPResult

__all__ = ["OnRetry", "watch_retries"]

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
