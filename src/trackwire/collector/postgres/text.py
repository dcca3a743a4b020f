"""Text with U+0000 in PostgreSQL: escaped on the way in, restored on the way out.

PostgreSQL's ``text`` cannot hold U+0000, but ids a client sends may (SQLite keeps them, and a
retried request must find them again). Every string this store's connections send is passed
through :func:`encode_text` and every ``text`` value read back through :func:`decode_text`, by
psycopg adapters registered on each connection (:func:`configure`), so no query names the
escape. The escaped form — a U+FFFE mark, then the string as the inside of a JSON string — is
used only for strings that hold U+0000 or start with the mark itself (a noncharacter), so it is
reversible and every other string is stored as it is. JSON text (payloads, properties) never
holds a raw U+0000 (JSON escapes it) nor starts with the mark, so it is never escaped.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import psycopg
from psycopg.types.string import StrDumperUnknown, TextLoader

__all__ = ["configure", "decode_text", "encode_text", "sql_literal"]

_MARK: Final = "\ufffe"


def encode_text(text: str) -> str:
    """``text`` as this store keeps it (itself, unless it holds U+0000 or starts with U+FFFE)."""
    if "\x00" in text or text.startswith(_MARK):
        return _MARK + orjson.dumps(text).decode()[1:-1]
    return text


def decode_text(text: str) -> str:
    """The string :func:`encode_text` was given."""
    if text.startswith(_MARK):
        try:
            decoded: str = orjson.loads(f'"{text[1:]}"')
        except orjson.JSONDecodeError:
            return text  # written by something else: shown as stored
        return decoded
    return text


class _Dumper(StrDumperUnknown):
    def dump(self, obj: str) -> Any:
        return super().dump(encode_text(obj))


class _Loader(TextLoader):
    def load(self, data: Any) -> Any:
        value = super().load(data)
        if isinstance(value, str) and value.startswith(_MARK):
            return decode_text(value)
        return value


def configure(conn: psycopg.Connection[Any]) -> None:
    """Register the escaping adapters on a connection (the pool calls it for each)."""
    conn.adapters.register_dumper(str, _Dumper)
    conn.adapters.register_loader("text", _Loader)


def sql_literal(text: str) -> str:
    """``text`` as an SQL string literal, for statements built in Python (migrations)."""
    return "'" + text.replace("'", "''") + "'"
