"""Keys in a spool's meta file: a fingerprint on disk, the key itself given again at replay.

A spool outlives its process, and whoever can read its directory (a backup, a support bundle,
another service on the host) should not learn the source's write key from it. So the meta
file (format 2) stores each key of the client's constructor as a placeholder::

    {"secret": "write_key", "fingerprint": "9c1f0e8d2b7a4c55"}

The fingerprint is an HMAC-SHA256 of the key under a random salt kept in the same file: it
proves that the key given to ``trackwire spool replay`` (from ``TRACKWIRE_WRITE_KEY``, see
:func:`env_name`) is the one the messages were queued with. Like the spool's identity digest,
it can only confirm a guess: a vendor's random key cannot be recovered from it (a short,
guessable one could be, as from any digest).
A client that takes over a dead spool needs no placeholder resolved: it has its own key, and
the spool's identity digest already matched it. Meta files of format 1 hold the keys in clear
and are still read as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "MissingSecret",
    "env_name",
    "fingerprint",
    "hide_secrets",
    "is_secret_name",
    "reveal_secrets",
]

#: Constructor parameters whose value is a credential.
_SECRET_SUFFIXES: Final = ("key", "secret", "token")
_ENV_PREFIX: Final = "TRACKWIRE_"


class MissingSecret(Exception):
    """A key the spool needs is not in the environment, or is not the one it was made with."""


def is_secret_name(name: str) -> bool:
    """True for a constructor parameter that holds a credential (``write_key``, ``api_secret``)."""
    return name.endswith(_SECRET_SUFFIXES)


def env_name(name: str) -> str:
    """The environment variable ``spool replay`` reads a key from: ``write_key`` ->
    ``TRACKWIRE_WRITE_KEY``."""
    return _ENV_PREFIX + name.upper()


def fingerprint(salt: str, value: str) -> str:
    """A keyed fingerprint of ``value``: enough to check a key, nothing to recover it."""
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


def _positional_names(client: str, count: int) -> list[str | None]:
    """The parameter names of ``client``'s first ``count`` positional arguments (None: unknown).

    The class is looked up among the modules already imported (it made the spool), never
    imported here.
    """
    module, _, name = client.rpartition(".")
    cls = getattr(sys.modules.get(module), name, None)
    names: list[str] = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if cls is not None:
        try:
            parameters = list(inspect.signature(cls).parameters.values())
        except (TypeError, ValueError):  # no signature to read: every name unknown
            parameters = []
        names = [p.name for p in parameters if p.kind in positional]
    return [names[i] if i < len(names) else None for i in range(count)]


def hide_secrets(
    client: str, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[str, list[Any], dict[str, Any]]:
    """Replace the keys among a constructor's arguments by placeholders.

    Positional strings count as keys unless their parameter's name says otherwise (every
    vendor client takes its keys first); named ones count when :func:`is_secret_name`.

    Returns:
        ``(salt, args, kwargs)`` to store in the meta file.
    """
    salt = secrets.token_hex(16)

    def placeholder(name: str, value: str) -> dict[str, str]:
        return {"secret": name, "fingerprint": fingerprint(salt, value)}

    hidden_args = [
        placeholder(name or f"arg{index}", arg)
        if isinstance(arg, str) and (name is None or is_secret_name(name))
        else arg
        for index, (name, arg) in enumerate(
            zip(_positional_names(client, len(args)), args, strict=True)
        )
    ]
    hidden_kwargs = {
        name: placeholder(name, value) if isinstance(value, str) and is_secret_name(name) else value
        for name, value in kwargs.items()
    }
    return salt, hidden_args, hidden_kwargs


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret", "fingerprint"}


def reveal_secrets(
    meta: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """The constructor arguments of a meta file, each key taken from the environment.

    Raises:
        MissingSecret: a key is not set, or is not the key the spool was made with; the
            message names the environment variable to set.
    """
    args = list(meta.get("args") or [])
    kwargs = dict(meta.get("kwargs") or {})
    if int(meta.get("format") or 1) < 2:
        return args, kwargs  # format 1: the keys are in the file itself
    environ = os.environ if environ is None else environ
    salt = str(meta.get("salt", ""))

    def resolve(value: Any) -> Any:
        if not _is_placeholder(value):
            return value
        name = str(value["secret"])
        variable = env_name(name)
        given = environ.get(variable)
        if not given:
            raise MissingSecret(
                f"the spool does not store its {name} in clear: set {variable} to the "
                f"{name} its client was made with, and run again"
            )
        if not hmac.compare_digest(fingerprint(salt, given), str(value["fingerprint"])):
            raise MissingSecret(
                f"{variable} is not the {name} this spool's messages were queued with "
                "(its fingerprint differs): set the right one, and run again"
            )
        return given

    return [resolve(arg) for arg in args], {name: resolve(v) for name, v in kwargs.items()}
