"""What a response means, and when to try again: pure values and a pure policy.

Each vendor's ``wire`` module turns an :class:`~trackwire._engine.transport.HTTPResult` into one
of the outcome values below; the engine acts on the value and never looks at a status code
itself. :class:`RetryPolicy` decides the wait before the next attempt from the attempt number,
the time already spent and the server's ``Retry-After``; it takes its randomness and clock from
the caller, so it is tested by explicit tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass

from trackwire.config import RetryConfig

__all__ = [
    "Delivered",
    "Outcome",
    "Rejected",
    "Retry",
    "RetryPolicy",
    "Split",
    "Throttled",
    "classify_http",
    "is_retryable_status",
    "parse_retry_after",
    "retryable_statuses",
]


@dataclass(frozen=True, slots=True)
class Delivered:
    """Every message of the batch was accepted."""


@dataclass(frozen=True, slots=True)
class Retry:
    """The batch may succeed later (network trouble, 408, 429, most 5xx).

    Attributes:
        reason: short text for logs and hooks (``"HTTP 503"``, ``"timeout"``).
        after: seconds the server asked us to wait (``Retry-After``), or None.
        status: the HTTP status, or None when no response arrived.
    """

    reason: str
    after: float | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Messages the vendor will never accept; they fail without retry.

    Attributes:
        reason: the vendor's explanation.
        indices: positions (in the batch) of the rejected messages; None means all of them.
        resend_rest: when ``indices`` is given, whether the other messages must be sent again
            (True) or were accepted by this response (False).
        status: the HTTP status.
    """

    reason: str
    indices: Collection[int] | None = None
    resend_rest: bool = False
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Split:
    """The request was too large for the server (413): send each half on its own."""

    reason: str = "payload too large"
    status: int | None = 413


@dataclass(frozen=True, slots=True)
class Throttled:
    """Some senders are throttled (Amplitude's per-user 429): only their messages wait.

    The messages at ``deferred`` wait ``after`` seconds and are sent again, while other traffic
    keeps flowing; those at ``rejected`` fail (e.g. over a daily quota); the rest of the batch
    is sent again at once.

    Attributes:
        reason: short text for logs and hooks.
        after: seconds the deferred messages wait.
        deferred: positions (in the batch) of the messages that wait; None means all of them.
        rejected: positions of the messages that fail for good.
        status: the HTTP status.
    """

    reason: str
    after: float
    deferred: Collection[int] | None = None
    rejected: Collection[int] = ()
    status: int | None = 429


Outcome = Delivered | Retry | Rejected | Split | Throttled


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Parse a ``Retry-After`` header into seconds from ``now`` (a UNIX time).

    Accepts delta-seconds (``"120"``, ``"1.5"``) and an HTTP date. Returns None for a missing or
    unreadable value; a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        import email.utils  # only HTTP-date values need it; it is slow to import

        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0:  # NaN or negative: unreadable
        return None
    return seconds


class RetryPolicy:
    """When to try a batch again, as a pure function of attempts, elapsed time and the server.

    The wait before retry ``n`` (1-based) is ``min(max_backoff, initial_backoff * 2 ** (n - 1))``
    scaled by a random factor in ``[1 - jitter, 1]``; a server's ``Retry-After`` replaces it,
    capped at ``max_retry_after``. No retry is scheduled after ``max_retries`` retries or when
    the wait would end past ``max_elapsed`` seconds after the first attempt.

    Args:
        config: the client's retry options.
    """

    __slots__ = ("config",)

    def __init__(self, config: RetryConfig) -> None:
        self.config = config

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), with jitter, no Retry-After."""
        config = self.config
        if config.delays is not None:
            base = config.delays[min(retry_number, len(config.delays)) - 1]
        else:
            base = min(
                config.max_backoff, config.initial_backoff * (2.0 ** min(retry_number - 1, 62))
            )
        return base * (1.0 - config.jitter * rand())

    def next_delay(
        self,
        retries_done: int,
        elapsed: float,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the batch has to give up.

        Args:
            retries_done: retries already made (0 after the first failed attempt).
            elapsed: seconds since the first attempt started.
            retry_after: the server's ``Retry-After`` in seconds, if it sent one.
            rand: source of uniform numbers in [0, 1), injected by tests.
        """
        config = self.config
        if retries_done >= config.retries_allowed:
            return None
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), config.max_retry_after)
        else:
            delay = self.backoff(retries_done + 1, rand)
        if elapsed + delay > config.max_elapsed:
            return None
        return delay


# The plain HTTP meaning of "try again later": 408 Request Timeout, 429 Too Many Requests, and
# 5xx except 501 (Not Implemented) and 505 (HTTP Version Not Supported), which never change on
# retry. A vendor with its own rules (Segment adds 410 and 460) passes its own predicate.
RETRYABLE_4XX: frozenset[int] = frozenset({408, 429})
NEVER_RETRY_5XX: frozenset[int] = frozenset({501, 505})


def is_retryable_status(status: int) -> bool:
    """True for statuses a later attempt may turn into success, by plain HTTP meaning."""
    if status in RETRYABLE_4XX:
        return True
    return 500 <= status <= 599 and status not in NEVER_RETRY_5XX


def retryable_statuses(also: Collection[int]) -> Callable[[int], bool]:
    """The plain HTTP rule (:func:`is_retryable_status`) plus a vendor's own statuses.

    A vendor's ``wire`` module names only what it adds (Segment: its load balancers' 410 and
    460), so the HTTP meaning of "try again later" is written once, here.
    """
    extra = frozenset(also)

    def is_retryable(status: int) -> bool:
        return status in extra or is_retryable_status(status)

    return is_retryable


def classify_http(
    status: int | None,
    error: str | None,
    retry_after: str | None,
    now: float,
    batch_size: int,
    detail: str = "",
    retryable: Callable[[int], bool] = is_retryable_status,
) -> Outcome:
    """The common meaning of an HTTP answer, for vendors whose API has no per-event results.

    Args:
        status: the HTTP status, or None when no response arrived.
        error: the transport's error text when status is None.
        retry_after: the raw ``Retry-After`` header.
        now: the current UNIX time (to read HTTP-date ``Retry-After``).
        batch_size: messages in the batch (a lone message that is too large cannot be split).
        detail: the vendor's message from the body, for the reason text.
        retryable: which statuses are worth another attempt (the vendor's rule).
    """
    if status is None:
        return Retry(reason=error or "no response")
    if 200 <= status <= 299:
        return Delivered()
    suffix = f": {detail}" if detail else ""
    if status == 413 and batch_size > 1:
        return Split(reason=f"HTTP 413{suffix}", status=status)
    if retryable(status):
        return Retry(
            reason=f"HTTP {status}{suffix}",
            after=parse_retry_after(retry_after, now),
            status=status,
        )
    return Rejected(reason=f"HTTP {status}{suffix}", status=status)
