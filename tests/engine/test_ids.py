"""Message ids: the counter's digits, read from a shared block, are the plain hex format."""

from __future__ import annotations

import itertools
import re
import threading

import pytest

from trackwire._engine import ids

UUID_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.mark.parametrize("start", [0, 250, 2**16 - 3, 2**40 - 7, 2**48 - 600])
def test_ids_are_the_prefix_and_the_counter_in_12_hex_digits(
    monkeypatch: pytest.MonkeyPatch, start: int
) -> None:
    monkeypatch.setattr(ids, "_counter", itertools.count(start))
    monkeypatch.setattr(ids, "_block", (-1, ""))
    made = [ids.new_message_id() for _ in range(600)]  # crosses block boundaries
    assert made == [f"{ids._prefix}{n:012x}" for n in range(start, start + 600)]
    assert all(UUID_SHAPE.match(message_id) for message_id in made)


def test_ids_made_by_many_threads_are_unique() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(ids.new_message_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [message_id for out in made for message_id in out]
    assert len(every) == 20_000 and len(set(every)) == 20_000


def test_a_forked_child_gets_a_new_prefix_and_block(monkeypatch: pytest.MonkeyPatch) -> None:
    before = ids.new_message_id()
    monkeypatch.setattr(ids, "_prefix", ids._prefix)
    monkeypatch.setattr(ids, "_counter", ids._counter)
    monkeypatch.setattr(ids, "_block", ids._block)
    ids._renew_after_fork()
    after = ids.new_message_id()
    assert after[:24] != before[:24]
    assert after.endswith("000000000000")
