"""``open_store(url)``: the one place that turns a ``--db`` value into a store.

- a plain path, ``:memory:`` or ``sqlite:///PATH`` (``sqlite:////abs/path``,
  ``sqlite:///:memory:``): the embedded SQLite store (:mod:`trackwire.collector.sqlite`);
- ``postgresql://…`` or ``postgres://…``: the PostgreSQL store
  (:mod:`trackwire.collector.postgres`, extra ``trackwire[postgres]``).

Any other ``scheme:`` prefix is refused with one clear error, instead of becoming a folder
named after the scheme. The dialect packages are imported only when chosen.
"""

from __future__ import annotations

import os
import re
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trackwire.collector.store import Store
from trackwire.errors import ConfigError

__all__ = ["StoreURLError", "display_url", "open_store", "store_kind"]

#: ``scheme:`` at the start of a value; two letters at least, so a drive letter is a path.
_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_POSTGRES: Final = ("postgresql", "postgres")


class StoreURLError(ConfigError):
    """A ``--db`` value that names no store trackwire has."""


def store_kind(url: str | os.PathLike[str]) -> tuple[str, str]:
    """Which store a ``--db`` value names, and what that store opens.

    Returns:
        ``("sqlite", path)`` or ``("postgresql", url)``.

    Raises:
        StoreURLError: an unknown scheme, or a ``sqlite:`` URL without ``///``.
    """
    text = os.fspath(url)
    found = _SCHEME.match(text)
    if found is None:
        return "sqlite", text
    scheme = found.group(1).lower()
    if scheme in _POSTGRES:
        return "postgresql", text
    if scheme == "sqlite":
        rest = text[found.end() :]
        if rest in ("", "//", "///:memory:"):
            return "sqlite", ":memory:"
        if not rest.startswith("///"):
            raise StoreURLError(
                f"--db {text!r}: a SQLite URL is sqlite:///relative/path or sqlite:////abs/path"
            )
        return "sqlite", rest[3:]
    raise StoreURLError(
        f"--db: unknown database scheme {scheme!r}; use a SQLite file path, "
        "sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def open_store(url: str | os.PathLike[str]) -> Store:
    """Open the store a ``--db`` value names (see the module docstring).

    Raises:
        StoreURLError: the value names no known store.
        StoreOpenError: the store cannot be opened (or its extra is not installed).
        ConfigError: more specific problems, each with its fix.
    """
    kind, target = store_kind(url)
    if kind == "postgresql":
        from trackwire.collector.postgres import PostgresStore

        return PostgresStore(target)
    from trackwire.collector.sqlite import SQLiteStore

    return SQLiteStore(target)


def display_url(url: str | os.PathLike[str]) -> str:
    """The ``--db`` value fit for a log line or ``/health``: a URL's password (in its
    user part or as a ``password`` parameter) left out."""
    text = os.fspath(url)
    if _SCHEME.match(text) is None:
        return text
    parts = urlsplit(text)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = (f"{parts.username}@" if parts.username else "") + host
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))
