"""Batch triggers and batch sizing at their exact boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackwire._engine.batcher import BatchLimits, due, fit, next_wakeup
from trackwire.segment import wire

SEGMENT = BatchLimits(
    max_count=wire.MAX_BATCH_COUNT,
    max_bytes=wire.MAX_BATCH_BYTES,
    overhead=wire.envelope_overhead(b'"KEY"'),
)


def test_segment_limits_are_the_documented_ones() -> None:
    assert wire.MAX_MESSAGE_BYTES == 32_768
    assert wire.MAX_BATCH_BYTES == 500_000
    assert wire.MAX_BATCH_COUNT == 2_500


def test_envelope_overhead_matches_a_real_envelope() -> None:
    body = wire.envelope([b"{}", b"{}"], b'"KEY"', "2026-11-22T20:48:06.393Z")
    assert len(body) == wire.envelope_overhead(b'"KEY"') + 2 + 2 + 1


def test_count_limit_2500_exactly() -> None:
    assert fit([10] * 2_500, SEGMENT) == 2_500
    assert fit([10] * 2_501, SEGMENT) == 2_500


def test_byte_limit_exact_boundary() -> None:
    # n messages of size s take overhead + n*s + (n-1) commas.
    size = 1_000
    n = (SEGMENT.max_bytes - SEGMENT.overhead + 1) // (size + 1)
    exact = SEGMENT.overhead + n * size + (n - 1)
    assert exact <= SEGMENT.max_bytes
    assert fit([size] * (n + 5), SEGMENT) == n
    # Grow the last message so the body is exactly max_bytes: still fits.
    room = SEGMENT.max_bytes - exact
    assert fit([size] * (n - 1) + [size + room], SEGMENT) == n
    # One byte more and it waits for the next batch.
    assert fit([size] * (n - 1) + [size + room + 1], SEGMENT) == n - 1


def test_largest_messages_fill_a_batch_without_exceeding_500kb() -> None:
    n = fit([wire.MAX_MESSAGE_BYTES] * 40, SEGMENT)
    total = SEGMENT.overhead + n * wire.MAX_MESSAGE_BYTES + (n - 1)
    assert total <= wire.MAX_BATCH_BYTES
    assert total + wire.MAX_MESSAGE_BYTES + 1 > wire.MAX_BATCH_BYTES
    assert n == 15


def test_first_message_always_fits() -> None:
    assert fit([100], BatchLimits(max_count=10, max_bytes=50)) == 1
    assert fit([], SEGMENT) == 0


@pytest.mark.parametrize(
    ("queued", "age", "flush_requested", "first", "expected"),
    [
        (0, None, True, True, False),  # nothing to send
        (19, 9.99, False, False, False),  # below both triggers
        (20, 0.0, False, False, True),  # count trigger, exactly flush_at
        (1, 10.0, False, False, True),  # interval trigger, exactly flush_interval
        (1, 9.999, False, False, False),
        (1, 0.0, True, False, True),  # flush()
        (1, 0.0, False, True, True),  # the very first message
    ],
)
def test_due_table(
    queued: int, age: float | None, flush_requested: bool, first: bool, expected: bool
) -> None:
    assert (
        due(
            queued=queued,
            oldest_age=age,
            flush_at=20,
            flush_interval=10.0,
            flush_requested=flush_requested,
            first_message_pending=first,
        )
        is expected
    )


def test_next_wakeup() -> None:
    assert next_wakeup(None, 10.0) is None
    assert next_wakeup(4.0, 10.0) == 6.0
    assert next_wakeup(12.0, 10.0) == 0.0


def _fit_reference(sizes: list[int], limits: BatchLimits) -> int:
    """The rule written plainly: add messages in order while the body stays within limits."""
    total = limits.overhead
    count = 0
    for size in sizes:
        added = size if count == 0 else size + limits.separator
        if count and (count >= limits.max_count or total + added > limits.max_bytes):
            break
        total += added
        count += 1
    return count


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3_000), max_size=1_200),
    max_count=st.integers(min_value=1, max_value=700),
    max_bytes=st.integers(min_value=1, max_value=400_000),
    overhead=st.integers(min_value=0, max_value=100),
    separator=st.integers(min_value=0, max_value=2),
)
@settings(max_examples=150, deadline=None)
def test_fit_agrees_with_the_plain_rule(
    sizes: list[int], max_count: int, max_bytes: int, overhead: int, separator: int
) -> None:
    limits = BatchLimits(max_count, max_bytes, overhead, separator)
    assert fit(iter(sizes), limits) == _fit_reference(sizes, limits)


def test_fit_reads_no_further_than_a_chunk_past_a_full_batch() -> None:
    sizes = iter([100_000] * 10_000)
    assert fit(sizes, SEGMENT) == 4
    assert len(list(sizes)) >= 10_000 - 300
