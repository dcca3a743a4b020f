"""Property values as Amplitude compares, searches and labels them: one text per value.

Amplitude treats every property value as text when it filters (``is``, ``contains``, ``set
is``) and groups: ``true`` is ``"true"`` (never ``1``), the number ``3.0`` is ``"3"`` (so a
filter value of 3.0 matches a stored 3), and ``contains`` ignores case in every script. A
store applies :func:`canonical_json` to each stored value (SQLite registers it as a function)
and compares with :func:`filter_texts` of the request, so both sides are written once, here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

import orjson

__all__ = [
    "canonical",
    "canonical_element",
    "canonical_json",
    "filter_needles",
    "filter_texts",
    "fold",
]

#: Largest whole float written without a fraction (beyond it floats are not exact integers).
_EXACT: Final = 2.0**53


def _number(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < _EXACT:
        return str(int(value))
    return repr(value)


def canonical(value: Any) -> str | None:
    """The text of a decoded JSON value; None for null (a property that is not set).

    Booleans are ``true``/``false``, whole numbers have no fraction, strings are themselves,
    arrays and objects their compact JSON.
    """
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    return orjson.dumps(value).decode()


def canonical_json(raw: str | bytes | None) -> str | None:
    """:func:`canonical` of a value given as JSON text (what SQLite's ``->`` returns)."""
    if raw is None:
        return None
    # The common cases without decoding: plain strings without escapes and the literals.
    if isinstance(raw, str):
        if raw == "true" or raw == "false":
            return raw
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and "\\" not in raw:
            return raw[1:-1]
    try:
        return canonical(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return raw if isinstance(raw, str) else raw.decode("utf-8", "replace")


def canonical_element(kind: str | None, value: Any) -> str | None:
    """:func:`canonical` of one element as SQLite's ``json_each`` gives it (its ``type`` and
    ``value``: booleans come as 1/0 with type ``true``/``false``)."""
    if kind == "true":
        return "true"
    if kind == "false":
        return "false"
    if kind == "null" or value is None:
        return None
    if kind in ("array", "object"):
        return canonical_json(value)
    return canonical(value)


def fold(text: str | None) -> str | None:
    """The text as ``contains`` compares it: case folded for every script."""
    return None if text is None else text.casefold()


def filter_texts(values: Iterable[Any]) -> list[str]:
    """The texts a stored value may have to match one of ``values`` (``is``, ``set is``).

    A value that reads as a number also matches that number's text, so ``"3.0"`` and ``3.0``
    match a stored ``3``, and ``"3"`` a stored ``3.0``. Nulls match nothing.
    """
    texts: list[str] = []
    for value in values:
        text = canonical(value)
        if text is None:
            continue
        texts.append(text)
        if isinstance(value, str) and value.strip() == value and value:
            try:
                number = float(value)
            except ValueError:
                continue
            alternative = _number(number)
            if alternative != text and math.isfinite(number):
                texts.append(alternative)
    return list(dict.fromkeys(texts))


def filter_needles(values: Iterable[Any]) -> list[str]:
    """The folded texts ``contains``/``does not contain`` look for (an empty list: none)."""
    return list(dict.fromkeys(fold(t) or "" for t in (canonical(v) for v in values) if t))
