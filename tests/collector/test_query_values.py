"""Property values as Amplitude compares and labels them (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from trackwire.collector.query.values import (
    canonical,
    canonical_element,
    canonical_json,
    filter_needles,
    filter_texts,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"), (False, "false"), (None, None), (3, "3"), (3.0, "3"), (3.5, "3.5"),
        (2.0**60, repr(2.0**60)), ("Élodie", "Élodie"), ([1, "a"], '[1,"a"]'),
        ({"a": 1}, '{"a":1}'),
    ],
)  # fmt: skip
def test_canonical(value: Any, text: str | None) -> None:
    assert canonical(value) == text


@pytest.mark.parametrize(
    ("raw", "text"),
    [("true", "true"), ('"a"', "a"), ('"a\\"b"', 'a"b'), ("1.0", "1"), ("null", None),
     (None, None), ("[1,2]", "[1,2]"), ("not json", "not json")],
)  # fmt: skip
def test_canonical_json(raw: str | None, text: str | None) -> None:
    assert canonical_json(raw) == text


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [("true", 1, "true"), ("false", 0, "false"), ("integer", 1, "1"), ("real", 2.0, "2"),
     ("text", "x", "x"), ("null", None, None), ("array", "[1]", "[1]")],
)  # fmt: skip
def test_canonical_element(kind: str, value: Any, text: str | None) -> None:
    assert canonical_element(kind, value) == text


def test_filter_texts_match_numbers_written_either_way() -> None:
    assert filter_texts(["3.0", 3.0, "x", None, True, " 4"]) == ["3.0", "3", "x", "true", " 4"]


def test_needles_fold_every_script() -> None:
    assert filter_needles(["CAFÉ", "Straße", "", None]) == ["café", "strasse"]
