"""MkDocs hook: parts of pages generated from the code and the repository, so they cannot drift.

Every option a client accepts is read from the code (the shared option table every client
parses, each vendor's own options and defaults), its description from the docstring that
documents it, and its environment variable from that description. An option the code accepts
but no docstring describes stops the build, so the page cannot fall behind the code.

``<!-- trackwire:options -->`` in a page is replaced by the tables, and
``<!-- trackwire:changelog -->`` by the repository's ``CHANGELOG.md``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

MARKER = "<!-- trackwire:options -->"
CHANGELOG_MARKER = "<!-- trackwire:changelog -->"
_ROOT = Path(__file__).resolve().parents[2]

#: Options a client takes that no config dataclass attribute describes: where they are told.
#: (The text lives in the client's own docs; a line here only names the fact.)
_CLIENT_ONLY = {
    "proxies": 'a proxy URL for every request, or ``{"https": url}`` as ``requests`` takes',
    "retry": "the whole retry policy, a ``trackwire.RetryConfig`` (``max_retries`` and the "
    "backoff); ``max_retries`` alone changes only the count",
    "transport": "anything with ``send(HTTPRequest) -> HTTPResult``; "
    "``trackwire.testing.RecordingTransport`` for tests",
    "middleware": "callables ``message -> message | None`` run on every message before encoding",
    "on_error": "``fn(error, messages)`` called when messages finally fail",
    "on_middleware_error": '``"drop"`` (fail closed: a broken scrubber must not leak) or '
    '``"skip"`` the failing middleware',
    "spool": "a directory: keep the queue on disk, so a killed process loses nothing",
    "handle_sigterm": "drain the queue at SIGTERM when the process has no handler of its own",
}
#: Spool options are SpoolConfig attributes with a ``spool_`` prefix.
_SPOOL_PREFIX = "spool_"
_ENV = re.compile(r"``((?:TRACKWIRE|AMPLITUDE|SEGMENT|MPARTICLE)_[A-Z_]+)``")


def _section(doc: str | None, title: str) -> dict[str, str]:
    """``name: text`` entries of a Google-style docstring section (``Args:``, ``Attributes:``)."""
    entries: dict[str, str] = {}
    lines = inspect.cleandoc(doc or "").splitlines()
    inside = False
    name = ""
    for line in lines:
        if line.strip() == f"{title}:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        entry = re.match(r"^ {4}(\*\*)?(\w+)(?: \([^)]*\))?: ?(.*)$", line)
        if entry:
            name = entry.group(2)
            entries[name] = entry.group(3).strip()
        elif name and line.strip():
            entries[name] += " " + line.strip()
    return entries


def _environment_names(module_doc: str | None) -> dict[str, str]:
    """Option -> environment variable, from a module docstring's ``NAME`` ... ``like option=``."""
    found: dict[str, str] = {}
    text = inspect.cleandoc(module_doc or "")
    for match in re.finditer(r"``([A-Z_]+)``\s*\n\s+[^\n]*?like ``(\w+)=", text):
        found[match.group(2)] = match.group(1)
    return found


def _default(value: Any) -> str:
    if value is None:
        return "—"
    if value == ():
        return "`()`"
    mib = 1024 * 1024
    if isinstance(value, int) and not isinstance(value, bool) and value >= mib and value % mib == 0:
        return f"`{value // mib} MiB`"
    return f"`{value!r}`"


def _markdown(text: str) -> str:
    """reST literals to Markdown, one line, ``|`` escaped for the table."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`").replace("|", "\\|")


def _row(name: str, default: Any, text: str, env: str | None) -> str:
    found = _ENV.search(text)
    env = env or (found.group(1) if found else None)
    return f"| `{name}` | {_default(default)} | {f'`{env}`' if env else '—'} | {_markdown(text)} |"


def _shared_rows() -> Iterator[tuple[str, Any, str, str | None]]:
    from trackwire import _options, config

    described = {
        **_section(config.RetryConfig.__doc__, "Attributes"),
        **_section(config.DeliveryConfig.__doc__, "Attributes"),
        **_CLIENT_ONLY,
    }
    spool = _section(config.SpoolConfig.__doc__, "Attributes")
    env = _environment_names(config.__doc__)
    options = {**_options._DELIVERY_OPTIONS, **_options._CLIENT_OPTIONS}
    missing = []
    for name, default in options.items():
        text = described.get(name)
        if text is None and name.startswith(_SPOOL_PREFIX):
            text = spool.get(name[len(_SPOOL_PREFIX) :])
        if not text:
            missing.append(name)
            continue
        yield name, default, text, env.get(name)
    if missing:
        raise ValueError(f"options with no description in any docstring: {missing}")


def _own_rows(
    client: Callable[..., Any], own: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, Any, str, str | None]]:
    """A vendor client's own options: keyword parameters of its constructor (or its table)."""
    described = _section(client.__doc__, "Args")
    if own is None:
        signature = inspect.signature(client)
        own = {
            p.name: None if p.default is inspect.Parameter.empty else p.default
            for p in signature.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
    missing = [name for name in own if not described.get(name)]
    if missing:
        name = getattr(client, "__name__", repr(client))
        raise ValueError(f"{name} options with no description in its docstring: {missing}")
    for name, default in own.items():
        yield name, default, described[name], None


def _table(rows: Iterator[tuple[str, Any, str, str | None]]) -> str:
    head = "| option | default | environment | meaning |\n| --- | --- | --- | --- |\n"
    return head + "\n".join(_row(*row) for row in rows) + "\n"


def options_markdown() -> str:
    """The configuration reference's tables, as Markdown."""
    from trackwire.amplitude import options as amplitude_options
    from trackwire.amplitude.client import Amplitude
    from trackwire.mparticle import client as mparticle_client
    from trackwire.segment.client import Segment

    parts = [
        "### Options every client takes\n",
        "Keyword arguments of `trackwire.Segment`, `trackwire.Amplitude` and "
        "`trackwire.MParticle`, validated when the client is made.\n",
        _table(_shared_rows()),
        "### Segment's own options\n",
        _table(_own_rows(Segment)),
        "### Amplitude's own options\n",
        "Amplitude's defaults for shared options differ: "
        + ", ".join(f"`{k}={v!r}`" for k, v in amplitude_options.DEFAULTS.items())
        + ". The official SDKs' option names (`flush_queue_size`, `server_zone`, …) are taken "
        "by `trackwire.compat.amplitude`'s `Config`.\n",
        _table(_own_rows(Amplitude, amplitude_options.OWN)),
        "### mParticle's own options\n",
        "mParticle's defaults for shared options differ: "
        + ", ".join(f"`{k}={v!r}`" for k, v in mparticle_client._DEFAULTS.items())
        + ".\n",
        _table(_own_rows(mparticle_client.MParticle)),
    ]
    return "\n".join(parts)


#: A Sphinx role before a code span in rendered docstrings (``:class:`~x.Y``` reads ``x.Y``).
_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|exc|obj):(<code[^>]*>)~?")


def on_page_content(html: str, **_: Any) -> str:
    """MkDocs event: the docstrings' Sphinx roles shown as plain code, not as ``:class:``."""
    return _ROLE.sub(r"\1", html)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: put the generated parts where a page asks for them."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, options_markdown())
    if CHANGELOG_MARKER in markdown:
        changelog = (_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
        # The file's own title is the page's: keep what follows it.
        body = changelog.split("\n", 1)[1] if changelog.startswith("# ") else changelog
        markdown = markdown.replace(CHANGELOG_MARKER, body)
    return markdown


__all__ = [
    "CHANGELOG_MARKER",
    "MARKER",
    "on_page_content",
    "on_page_markdown",
    "options_markdown",
]
