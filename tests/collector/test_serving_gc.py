"""The collector process's garbage-collector settings (collector/_gc.py)."""

from __future__ import annotations

import gc

import pytest

from trackwire.collector._gc import YOUNG_THRESHOLD, serving_gc


def test_serving_freezes_the_heap_and_raises_the_young_threshold_then_restores() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with serving_gc():
        assert gc.get_threshold() == (max(YOUNG_THRESHOLD, before[0]), *before[1:])
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_are_restored_when_serving_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="stopped"), serving_gc():
        raise RuntimeError("stopped")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_before_serving_stays_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with serving_gc():
            assert gc.get_freeze_count() >= frozen
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()


def test_cyclic_garbage_made_while_serving_is_still_collected_on_its_own() -> None:
    collected: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["collected"])

    class Node:
        partner: object = None

    gc.callbacks.append(record)
    try:
        with serving_gc():
            # Cycles are freed only by a collection: past the threshold one starts by itself.
            for _ in range(YOUNG_THRESHOLD):
                a, b = Node(), Node()
                a.partner, b.partner = b, a
            del a, b
    finally:
        gc.callbacks.remove(record)
    assert sum(collected) > 0
