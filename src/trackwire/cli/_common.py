"""What every ``trackwire`` subcommand shares: exit statuses, flag types, errors, output.

One rule per kind of flag lives here (a URL, a port, a count, seconds, a JSON object), so that
every command accepts and refuses the same input with the same words. Errors a client raises
name Python fields (``user_id``); :func:`flag_text` retells them with the command's flags, from
the table each command declares (``set_defaults(field_flags=...)``), never by rewriting text.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from trackwire.errors import TrackwireError, ValidationError

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_URL",
    "EXIT_NOT_DELIVERED",
    "EXIT_OK",
    "EXIT_USAGE",
    "TOKEN_ENV",
    "UsageError",
    "add_command",
    "basic_auth",
    "count_flag",
    "cut",
    "flag_text",
    "get_json",
    "json_object",
    "network_text",
    "non_negative_int",
    "plain_table",
    "port_flag",
    "positive",
    "read_headers",
    "url_flag",
    "write_lines",
]

#: Where ``send``, ``events`` and the query commands go unless told otherwise: this machine.
DEFAULT_URL: Final = "http://127.0.0.1:8787"
#: Where ``trackwire collector`` (and ``make demo``) keep their database unless told otherwise.
DEFAULT_DB: Final = ".trackwire/collector.db"
#: Where the read commands find a keyed collector's admin token when ``--token`` is not given.
TOKEN_ENV: Final = "TRACKWIRE_COLLECTOR_TOKEN"
#: Exit statuses: done, not delivered (or nothing answered), a usage error.
EXIT_OK: Final = 0
EXIT_NOT_DELIVERED: Final = 1
EXIT_USAGE: Final = 2


class UsageError(Exception):
    """A command-line value is wrong; printed with the subcommand's usage, exit status 2."""


def add_command(
    subcommands: Any, name: str, help: str, handler: Callable[[argparse.Namespace], int] | None
) -> argparse.ArgumentParser:
    """Add a subcommand whose own usage is shown with its errors.

    ``handler`` is None for a group (``send``, ``send segment``): run alone, it asks for one of
    its subcommands by name.
    """
    parser: argparse.ArgumentParser = subcommands.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler, command_parser=parser, field_flags={})
    return parser


# --- flag types (argparse turns ArgumentTypeError into "argument --flag: <message>") ---------


def url_flag(text: str) -> str:
    """An ``http://`` or ``https://`` URL with a host (and a valid port, if any)."""
    parts = urllib.parse.urlsplit(text)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL, like {DEFAULT_URL}; got {text!r}"
        )
    return text.rstrip("/")


url_flag.__name__ = "URL"


def port_flag(text: str) -> int:
    """A TCP port, 0 to 65535 (0 picks a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, got {text}")
    return port


def positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: a finite number above zero (``kind`` is int or float)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def count_flag(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {text}")
        return value

    parse.__name__ = "count"
    return parse


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def json_object(text: str | None, flag: str) -> dict[str, Any] | None:
    """The JSON object a flag holds (None when the flag was not given)."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f'{flag} must be a JSON object, like \'{{"plan": "pro"}}\'')
    return value


# --- errors ------------------------------------------------------------------------------------

_INDEX: Final = re.compile(r"^\[(\d+)\]\.?")


def flag_text(exc: ValidationError, field_flags: Mapping[str, str]) -> str:
    """A client's ValidationError told with the flag that set the field.

    ``field_flags`` maps a field path (``"properties"``, ``"s"``, ``"e.group_by"``) to its flag;
    the longest path that starts the error's field wins, and the rest of the field is shown
    after the flag: ``--properties (at price)``, ``--segment #2 (at op)``.
    """
    field = exc.field
    text = str(exc)
    if field and text.startswith(field + ": "):
        text = text[len(field) + 2 :]
    if not field:
        return text
    for known in sorted(field_flags, key=len, reverse=True):
        if field == known or field.startswith((known + ".", known + "[")):
            where = field_flags[known]
            rest = field[len(known) :].lstrip(".")
            index = _INDEX.match(rest)
            if index:  # a repeated flag: name which one, counting from 1
                where += f" #{int(index.group(1)) + 1}"
                rest = rest[index.end() :]
            return f"{where}{f' (at {rest})' if rest else ''}: {text}"
    return f"{field}: {text}"


def network_text(exc: BaseException, url: str) -> str:
    """A network error as trackwire's transport names it (``connection_refused: ...``)."""
    from trackwire._engine.transport import describe_error, host_port

    code, text = describe_error(exc, host_port(url))
    return f"{code}: {text}"


def basic_auth(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic ``Authorization`` header (urllib3 builds it)."""
    from urllib3.util import make_headers

    return dict(make_headers(basic_auth=f"{user}:{password}"))


def read_headers(token: str | None, key: str | None, secret: str | None) -> dict[str, str]:
    """Credentials for a keyed collector's read endpoints: an admin token, or a source's keys."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if key:
        return basic_auth(key, secret or "")
    return {}


def get_json(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> Any:
    """GET a collector's JSON answer, or raise TrackwireError saying what went wrong."""
    import urllib3

    try:
        response = urllib3.request(
            "GET", url, headers=dict(headers or {}), timeout=timeout, retries=False
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TrackwireError(
            f"cannot reach the collector at {url}: {network_text(exc, url)}"
        ) from None
    if response.status in (401, 403):
        raise TrackwireError(
            f"the collector answered {response.status}: it has a keys file, so reading needs "
            f"credentials: --token (an admin token from the keys file, or ${TOKEN_ENV}) "
            "or --key/--secret of one source"
        )
    if response.status != 200:
        text = response.data.decode("utf-8", "replace")[:300]
        raise TrackwireError(f"the collector answered {response.status}: {text}")
    try:
        return orjson.loads(response.data)
    except orjson.JSONDecodeError:
        raise TrackwireError(f"{url} did not answer JSON; is it a trackwire collector?") from None


# --- plain text output ---------------------------------------------------------------------------


def cut(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters (``…`` marks a cut)."""
    text = " ".join(text.split())  # a newline or tab in a stored value would break the row
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def plain_table(
    titles: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: frozenset[int] = frozenset(),
    max_width: int = 60,
) -> list[str]:
    """Rows as aligned text lines under a header and a rule; cells wider than ``max_width`` are
    cut. Columns in ``right`` are right-aligned (numbers)."""
    widths = [
        min(max_width, max([len(title)] + [len(row[i]) for row in rows]))
        for i, title in enumerate(titles)
    ]
    lines = []
    for row in (titles, ["─" * w for w in widths], *rows):
        cells = [
            cut(cell, w).rjust(w) if i in right else cut(cell, w).ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def write_lines(lines: Sequence[str]) -> None:
    """Print lines to stdout."""
    sys.stdout.write("".join(line + "\n" for line in lines))
