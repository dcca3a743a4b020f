"""Which keys the collector accepts, and the rule that keeps an open collector on loopback.

A collector that accepts any key is convenient on a laptop and dangerous anywhere else, so the
rule is: with a keys file the collector accepts only the keys it lists and stores each event
under the name of its source; without one it accepts any key (development mode) and then only
when bound to a loopback address. :func:`check_bind` is that rule, and the CLI and
:func:`~trackwire.collector.server.start_collector` both call it before binding.

The keys file is JSON::

    {
      "sources": [
        {"name": "backend", "vendor": "segment", "write_key": "SEGMENT_WRITE_KEY"},
        {"name": "web-prod", "vendor": "amplitude",
         "api_key": "AMPLITUDE_API_KEY", "secret_key": "AMPLITUDE_SECRET_KEY"},
        {"name": "feed", "vendor": "mparticle",
         "key": "MPARTICLE_KEY", "secret": "MPARTICLE_SECRET"}
      ]
    }

An optional top-level ``"admin_tokens": ["..."]`` lists tokens that read every source through
the collector's own endpoints (``Authorization: Bearer TOKEN``) and sign in to its web page.

Reading one source (``/events``, ``/stats``, the web page) takes that source's ``read_token``
(optional, at least 16 characters; ``Bearer TOKEN``), or its credentials when they include a
secret: an Amplitude ``api_key:secret_key``, an mParticle ``key:secret`` (HTTP Basic). A Segment
write key is public — it ships in browser and mobile code — so it reads its source only when
the source says ``"write_key_reads": true`` (for scripts written before read tokens existed);
see :meth:`Keys.reader`.

Each source has a ``name`` (what ``/events`` and ``/stats`` call it), a ``vendor`` and that
vendor's credentials: a Segment ``write_key``; an Amplitude ``api_key`` and ``secret_key`` (the
secret authenticates the query API, which sends ``api_key:secret_key`` as HTTP Basic); an
mParticle ``key`` and ``secret``. Names are unique across the file (a name is the source's one
identity: what ``/events`` lists and what the query API answers for), keys within a vendor. Unknown
fields are refused, so a typo (``"writekey"``) fails at start instead of locking a source out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from trackwire.collector.store import VENDORS
from trackwire.errors import ConfigError

__all__ = [
    "VENDORS",
    "Keys",
    "Reader",
    "Source",
    "check_bind",
    "fingerprint",
    "is_loopback",
    "load_keys",
    "parse_keys",
]


#: The credential fields each vendor's source must carry, in the order they are documented.
_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "segment": ("write_key",),
    "amplitude": ("api_key", "secret_key"),
    "mparticle": ("key", "secret"),
}


@dataclass(frozen=True, slots=True)
class Source:
    """One source from the keys file.

    Attributes:
        name: the source's name; events are stored under it.
        vendor: ``"segment"``, ``"amplitude"`` or ``"mparticle"``.
        key: the public key (Segment write key, Amplitude API key, mParticle key).
        secret: the secret (Amplitude secret key, mParticle secret); ``""`` for Segment.
        read_token: a token that reads this source only; ``""`` for none.
        write_key_reads: a Segment source whose write key may also read it.
    """

    name: str
    vendor: str
    key: str
    secret: str = ""
    read_token: str = ""
    write_key_reads: bool = False

    def __repr__(self) -> str:
        # Never print a secret into a log or a test failure.
        return f"Source(name={self.name!r}, vendor={self.vendor!r}, key={self.key!r})"


#: Shortest admin token accepted: a short token could be guessed.
MIN_ADMIN_TOKEN_LENGTH: Final = 16


# Development mode names every request's source by its key: a client sends the same few keys
# again and again, so the last ones are remembered instead of hashed per request.
@functools.lru_cache(maxsize=256)
def fingerprint(key: str) -> str:
    """A short, non-reversible name for a key: what development mode stores events under.

    Twelve hex digits of SHA-256: enough to tell a few keys apart, useless to send events with.
    """
    return "key-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Reader:
    """Who may read through ``/events`` and ``/stats``: every source, or one.

    Attributes:
        source: the one source readable, or None for an admin token (every source).
    """

    source: Source | None = None

    def scope(self, filters: Mapping[str, Any]) -> dict[str, Any] | None:
        """``filters`` (with ``vendor`` and ``source`` keys) narrowed to what this reader may
        read; None when they name another source than its own."""
        if self.source is None:
            return dict(filters)
        mine = {"vendor": self.source.vendor, "source": self.source.name}
        if any(filters.get(name) not in (None, value) for name, value in mine.items()):
            return None
        return {**filters, **mine}


class Keys:
    """The sources the collector accepts, looked up by key in constant time.

    Args:
        sources: the sources; names must be unique, keys unique per vendor.
        admin_tokens: tokens that may read every source.

    Raises:
        ConfigError: a name or a key appears twice for one vendor, or an admin token is short.
    """

    def __init__(self, sources: Iterable[Source], admin_tokens: Iterable[str] = ()) -> None:
        self.admin_tokens = tuple(admin_tokens)
        for token in self.admin_tokens:
            if len(token) < MIN_ADMIN_TOKEN_LENGTH:
                raise ConfigError(
                    f"keys: admin tokens must be at least {MIN_ADMIN_TOKEN_LENGTH} characters"
                )
        self._by_key: dict[tuple[str, str], Source] = {}
        names: dict[str, str] = {}
        for source in sources:
            if source.name in names:
                # A name is a source's one identity: /events, /stats and the web page list
                # events by it, and Amplitude's query side answers for every source of that
                # name (its project). Two vendors' sources sharing a name mixed their users.
                raise ConfigError(
                    f"keys: two sources ({names[source.name]} and {source.vendor}) are named "
                    f"{source.name!r}; give each source its own name (the query API answers "
                    "for everything stored under one name)"
                )
            if source.read_token and len(source.read_token) < MIN_ADMIN_TOKEN_LENGTH:
                raise ConfigError(
                    f"keys: {source.vendor} source {source.name!r}: read_token must be at "
                    f"least {MIN_ADMIN_TOKEN_LENGTH} characters"
                )
            if (source.vendor, source.key) in self._by_key:
                raise ConfigError(
                    f"keys: {source.vendor} sources {source.name!r} and "
                    f"{self._by_key[(source.vendor, source.key)].name!r} share a key"
                )
            names[source.name] = source.vendor
            self._by_key[(source.vendor, source.key)] = source

    @property
    def sources(self) -> tuple[Source, ...]:
        """Every source, in file order."""
        return tuple(self._by_key.values())

    def _find(self, vendor: str, key: str, secret: str | None = None) -> Source | None:
        """The source whose key (and secret, unless None) match, comparing every one in
        constant time, so the answer's timing says nothing about how much of a key was right."""
        found = None
        for (kind, _), source in self._by_key.items():
            if kind != vendor:
                continue
            same = _same(source.key, key)
            if secret is not None:
                same &= _same(source.secret, secret)
            if same:
                found = source
        return found

    def segment(self, write_key: str) -> Source | None:
        """The Segment source with this write key, or None."""
        return self._find("segment", write_key)

    def amplitude(self, api_key: str) -> Source | None:
        """The Amplitude source with this API key, or None (ingestion needs no secret)."""
        return self._find("amplitude", api_key)

    def amplitude_query(self, api_key: str, secret_key: str) -> Source | None:
        """The Amplitude source when both the API key and the secret key match, else None."""
        return self._find("amplitude", api_key, secret_key)

    def mparticle(self, key: str, secret: str) -> Source | None:
        """The mParticle source when both the key and the secret match, else None."""
        return self._find("mparticle", key, secret)

    def reader(self, user: str, password: str) -> Reader | None:
        """Who the credentials ``user:password`` let read, or None.

        An admin token (as the user, or as a Bearer token with ``password`` empty) reads every
        source; a source's ``read_token`` (the same way), an Amplitude ``api_key:secret_key`` or
        an mParticle ``key:secret`` reads its own source, and so does a Segment write key (any
        password) of a source with ``write_key_reads``.
        """
        admin = False
        for token in self.admin_tokens:
            admin |= _same(token, user)
        if admin:
            return Reader()
        by_token: Source | None = None
        for candidate in self._by_key.values():
            if candidate.read_token and _same(candidate.read_token, user):
                by_token = candidate
        segment = self._find("segment", user)
        if segment is not None and not segment.write_key_reads:
            segment = None
        source = (
            by_token
            or segment
            or self._find("amplitude", user, password)
            or self._find("mparticle", user, password)
        )
        return None if source is None else Reader(source)

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"Keys({len(self)} sources)"


def _same(expected: str, given: str) -> bool:
    # Constant time, so the comparison does not leak how much of a secret was right.
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def parse_keys(document: Any, *, origin: str = "keys") -> Keys:
    """Build :class:`Keys` from a decoded keys document (see the module docstring).

    Args:
        document: the decoded JSON.
        origin: where it came from, for error messages (a file name).

    Raises:
        ConfigError: the document does not follow the format; the message names the entry and
            the field.
    """
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise ConfigError(f'{origin}: expected an object with a "sources" list')
    extra = set(document) - {"sources", "admin_tokens"}
    if extra:
        raise ConfigError(f"{origin}: unknown top-level field(s) {sorted(extra)}")
    tokens = document.get("admin_tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise ConfigError(f"{origin}: admin_tokens must be a list of non-empty strings")
    sources = []
    for index, entry in enumerate(document["sources"]):
        where = f"{origin}: sources[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected an object")
        vendor = entry.get("vendor")
        if not isinstance(vendor, str) or vendor not in _FIELDS:
            raise ConfigError(
                f"{where}: vendor must be one of {', '.join(VENDORS)}; got {vendor!r}"
            )
        fields = _FIELDS[vendor]
        optional = {"read_token", *(("write_key_reads",) if vendor == "segment" else ())}
        unknown = set(entry) - {"name", "vendor", *fields, *optional}
        if unknown:
            raise ConfigError(
                f"{where}: unknown field(s) {sorted(unknown)} for a {vendor} source "
                f"(expected name, vendor, {', '.join(fields)}; optional "
                f"{', '.join(sorted(optional))})"
            )
        read_token = entry.get("read_token", "")
        if not isinstance(read_token, str):
            raise ConfigError(f"{where}: read_token must be a string")
        write_key_reads = entry.get("write_key_reads", False)
        if not isinstance(write_key_reads, bool):
            raise ConfigError(f"{where}: write_key_reads must be true or false")
        values = []
        for field in ("name", *fields):
            value = entry.get(field)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: {field} must be a non-empty string")
            values.append(value)
        name, key, *secret = values
        sources.append(
            Source(
                name=name,
                vendor=vendor,
                key=key,
                secret=secret[0] if secret else "",
                read_token=read_token,
                write_key_reads=write_key_reads,
            )
        )
    return Keys(sources, tokens)


def load_keys(path: str | os.PathLike[str]) -> Keys:
    """Read and parse a keys file.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or does not follow the format.
    """
    origin = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the keys file {origin}: {exc.strerror or exc}") from exc
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{origin}: not valid JSON ({exc})") from exc
    return parse_keys(document, origin=origin)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    A wildcard address (``0.0.0.0``, ``::``) and every other name are not loopback: they can be
    reached from elsewhere.
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: Keys | None) -> None:
    """Refuse a bind that would expose a collector which accepts any key.

    Args:
        host: the address the collector will listen on.
        keys: the accepted keys, or None for development mode.

    Raises:
        ConfigError: ``keys`` is None and ``host`` is not a loopback address.
    """
    if keys is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without a keys file: a collector that accepts any "
            "key must stay on a loopback address (127.0.0.1, ::1, localhost). "
            "Pass --keys FILE to list the accepted sources, or bind 127.0.0.1"
        )
