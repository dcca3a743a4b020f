"""Retry classification, backoff bounds and Retry-After parsing, as explicit tables."""

from __future__ import annotations

import email.utils

import pytest

from trackwire._engine.retry import (
    Delivered,
    Rejected,
    Retry,
    RetryPolicy,
    Split,
    classify_http,
    parse_retry_after,
)
from trackwire._engine.transport import HTTPResult
from trackwire.config import RetryConfig
from trackwire.errors import ConfigError
from trackwire.segment import wire

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Delivered),
        (201, Delivered),
        (204, Delivered),
        (299, Delivered),
        (400, Rejected),
        (401, Rejected),
        (403, Rejected),
        (404, Rejected),
        (408, Retry),
        (410, Retry),
        (413, Split),
        (422, Rejected),
        (429, Retry),
        (460, Retry),
        (500, Retry),
        (501, Rejected),
        (502, Retry),
        (503, Retry),
        (504, Retry),
        (505, Rejected),
        (599, Retry),
    ],
)
def test_segment_outcome_per_status(status: int, expected: type) -> None:
    result = HTTPResult(status=status, body=b'{"code":"x","message":"why"}')
    assert isinstance(wire.outcome(result, NOW, batch_size=10), expected)


def test_413_on_a_single_message_is_rejected_not_split() -> None:
    outcome = wire.outcome(HTTPResult(status=413), NOW, batch_size=1)
    assert isinstance(outcome, Rejected)
    assert outcome.status == 413


@pytest.mark.parametrize("error", ["timeout", "connection: NewConnectionError"])
def test_network_errors_are_retried(error: str) -> None:
    outcome = wire.outcome(HTTPResult(status=None, error=error), NOW, batch_size=3)
    assert outcome == Retry(reason=error)


def test_rejection_reason_carries_the_vendor_message() -> None:
    result = HTTPResult(status=400, body=b'{"code":"invalid","message":"bad batch"}')
    outcome = wire.outcome(result, NOW, 5)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "HTTP 400: bad batch"
    plain = wire.outcome(HTTPResult(status=400, body=b"Bad Request"), NOW, 5)
    assert isinstance(plain, Rejected) and plain.reason == "HTTP 400: Bad Request"


def test_retry_after_header_is_read_on_429_and_503() -> None:
    for status in (429, 503):
        outcome = classify_http(status, None, "7", NOW, 2)
        assert outcome == Retry(reason=f"HTTP {status}", after=7.0, status=status)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("  30 ", 30.0),
        ("-5", None),
        ("nan", None),
        ("soon", None),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90.0),
        (email.utils.formatdate(NOW - 90, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_backoff_doubles_to_the_cap_within_jitter_bounds() -> None:
    policy = RetryPolicy(RetryConfig(initial_backoff=0.5, max_backoff=8.0, jitter=0.5))
    expected_base = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for retry_number, base in enumerate(expected_base, start=1):
        assert policy.backoff(retry_number, rand=lambda: 0.0) == base
        assert policy.backoff(retry_number, rand=lambda: 0.999999) == pytest.approx(
            base * 0.5, rel=1e-5
        )


def test_zero_jitter_is_deterministic_and_full_jitter_can_reach_zero() -> None:
    fixed = RetryPolicy(RetryConfig(jitter=0.0))
    assert fixed.backoff(3, rand=lambda: 0.9) == 2.0
    full = RetryPolicy(RetryConfig(jitter=1.0))
    assert full.backoff(3, rand=lambda: 1.0) == 0.0


def test_huge_retry_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(RetryConfig(max_backoff=30.0, jitter=0.0))
    assert policy.backoff(10_000) == 30.0


@pytest.mark.parametrize(
    ("retries_done", "elapsed", "retry_after", "expected"),
    [
        (0, 0.0, None, 0.5),  # first retry: initial backoff
        (3, 0.0, None, 4.0),
        (9, 0.0, None, 30.0),  # capped
        (10, 0.0, None, None),  # max_retries reached
        (0, 0.0, 12.0, 12.0),  # Retry-After replaces backoff
        (0, 0.0, 1000.0, 300.0),  # and is capped
        (0, 0.0, 0.0, 0.0),
        (2, 599.0, None, None),  # would end past max_elapsed
        (2, 590.0, 5.0, 5.0),
        (2, 596.0, 5.0, None),
    ],
)
def test_next_delay_table(
    retries_done: int, elapsed: float, retry_after: float | None, expected: float | None
) -> None:
    policy = RetryPolicy(RetryConfig(jitter=0.0))
    assert policy.next_delay(retries_done, elapsed, retry_after) == expected


def test_no_retries_when_max_retries_is_zero() -> None:
    assert RetryPolicy(RetryConfig(max_retries=0)).next_delay(0, 0.0) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"jitter": 1.5},
        {"initial_backoff": -1},
        {"max_elapsed": float("nan")},
    ],
)
def test_invalid_retry_config_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RetryConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "plain", "segment"),
    [
        (200, False, False),
        (400, False, False),
        (404, False, False),
        (408, True, True),
        (410, False, True),
        (413, False, False),
        (429, True, True),
        (460, False, True),
        (500, True, True),
        (501, False, False),
        (503, True, True),
        (505, False, False),
        (599, True, True),
        (600, False, False),
    ],
)
def test_retryable_statuses_are_the_http_rule_plus_the_vendors_own(
    status: int, plain: bool, segment: bool
) -> None:
    from trackwire._engine.retry import is_retryable_status, retryable_statuses
    from trackwire.segment import wire

    assert is_retryable_status(status) is plain
    assert retryable_statuses(())(status) is plain
    assert wire.is_retryable(status) is segment


def test_basic_auth_is_built_by_urllib3_and_refuses_what_it_cannot_carry() -> None:
    import base64

    from trackwire._engine.destination import basic_auth_header
    from trackwire.errors import ConfigError

    assert basic_auth_header("KEY", "") == "Basic " + base64.b64encode(b"KEY:").decode()
    assert basic_auth_header("a:b", "s3cr3t") == "Basic " + base64.b64encode(b"a:b:s3cr3t").decode()
    with pytest.raises(ConfigError, match="key or secret"):
        basic_auth_header("key-\u2603", "")
