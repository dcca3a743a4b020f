"""One receipt per FanOut call, resolving per destination.

``receipt.results["amplitude"]`` is a :class:`~trackwire.Receipt` like any client's; a call
that became several messages for one vendor (a ``group`` is two Amplitude events) gets one
receipt that settles when all of them have, failed if any failed. Destinations the call was not
sent to are in ``receipt.skipped`` with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from trackwire._engine.receipts import Receipt, settle_all
from trackwire.errors import DeliveryError

__all__ = ["FanOutReceipt", "failed_receipt", "joined_receipt"]


def failed_receipt(message_id: str | None, error: DeliveryError) -> Receipt:
    """A receipt settled at once as failed (a destination refused the mapped payload)."""
    receipt = Receipt(message_id)
    settle_all([receipt], error)
    return receipt


def joined_receipt(message_id: str | None, parts: Sequence[Receipt]) -> Receipt:
    """One receipt for several: delivered when all are, failed with the first error."""
    if len(parts) == 1:
        return parts[0]
    joined = Receipt(message_id)
    left = [len(parts)]
    lock = threading.Lock()

    def one_done(_: Receipt) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        error = next((part.error for part in parts if part.error is not None), None)
        if error is None and not all(part.ok for part in parts):
            error = DeliveryError("internal", "a part settled without delivery or error")
        settle_all([joined], error, parts[-1].response)

    for part in parts:
        part.add_done_callback(one_done)
    return joined


class FanOutReceipt:
    """What became of one FanOut call, per destination.

    Attributes:
        message_id: the call's messageId (also Amplitude's ``insert_id`` and mParticle's
            ``source_request_id``, so each vendor can de-duplicate it).
        results: destination name -> the :class:`~trackwire.Receipt` of what was sent there.
        skipped: destination name -> why nothing was sent there (``filtered``,
            ``no_mapping``, ``integrations``).
    """

    __slots__ = ("message_id", "results", "skipped")

    def __init__(
        self, message_id: str, results: Mapping[str, Receipt], skipped: Mapping[str, str]
    ) -> None:
        self.message_id = message_id
        self.results = dict(results)
        self.skipped = dict(skipped)

    def __repr__(self) -> str:
        states = {name: repr(receipt) for name, receipt in self.results.items()}
        return f"<FanOutReceipt {self.message_id} {states} skipped={self.skipped}>"

    @property
    def done(self) -> bool:
        """True once every destination's receipt is settled."""
        return all(receipt.done for receipt in self.results.values())

    @property
    def ok(self) -> bool:
        """True once every destination it was sent to has it delivered."""
        return all(receipt.ok for receipt in self.results.values())

    @property
    def errors(self) -> dict[str, DeliveryError]:
        """The destinations that failed so far, with their errors."""
        return {
            name: receipt.error
            for name, receipt in self.results.items()
            if receipt.error is not None
        }

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every destination within one ``timeout``; True if all delivered."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for receipt in self.results.values():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            receipt.wait(left)
        return self.ok

    def add_done_callback(self, fn: Callable[[FanOutReceipt], None]) -> None:
        """Call ``fn(self)`` once every destination's receipt is settled."""
        left = [len(self.results)]
        lock = threading.Lock()
        if not left[0]:
            fn(self)
            return

        def one_done(_: Receipt) -> None:
            with lock:
                left[0] -= 1
                if left[0]:
                    return
            fn(self)

        for receipt in self.results.values():
            receipt.add_done_callback(one_done)

    def __await__(self) -> Generator[Any, None, bool]:
        """``await receipt`` waits for every destination without blocking the loop."""
        for receipt in self.results.values():
            yield from receipt.__await__()
        return self.ok
