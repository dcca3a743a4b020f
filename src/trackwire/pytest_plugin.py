"""The ``trackwire_collector`` pytest fixture: a real collector to point any SDK at, and assertions.

Installed with ``trackwire[collector]`` (registered through the ``pytest11`` entry point)::

    def test_signup_is_tracked(trackwire_collector):
        amp = trackwire.Amplitude("KEY", server_url=trackwire_collector.amplitude_url)
        signup(amp, "u1")                       # the code under test
        amp.flush()
        trackwire_collector.expect(vendor="amplitude", event_type="Signed Up", user_id="u1")

One collector runs per test session (per pytest-xdist worker: each worker has its own, on its
own ephemeral port), storing in memory; ``trackwire_collector`` resets it before each test, so a
test sees only what it sent. The official SDKs work against it unchanged
(``segment-analytics-python``'s ``host``, ``amplitude-analytics``'s ``server_url``, mParticle's
``Configuration.host``).

Options (command line, or the ini file without the leading dashes and with underscores):

- ``--trackwire-plan FILE`` / ``trackwire_plan``: a tracking plan every event is checked against
  (see :mod:`trackwire.collector.plan`); ``--trackwire-plan-mode record|enforce``.
- ``--trackwire-db PATH`` / ``trackwire_db``: a SQLite file instead of memory (each xdist worker
  adds its id to the name), to look at after the run.
- ``--trackwire-collector-url URL`` (or ``TRACKWIRE_COLLECTOR_URL``): use a collector already
  running in development mode instead of starting one.

Every helper talks to the collector's ``/_test`` endpoints over HTTP, so the same assertions work
against a collector started any other way. A failed expectation says what was expected and lists
what did arrive, nearest first, with how each differs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import orjson
import pytest
import urllib3

__all__ = ["CollectorHandle", "trackwire_collector", "trackwire_collector_server"]

#: Where a running collector's URL may be given instead of starting one.
URL_ENV: Final = "TRACKWIRE_COLLECTOR_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line and ini options."""
    group = parser.getgroup("trackwire", "trackwire collector fixture")
    group.addoption("--trackwire-plan", metavar="FILE", help="tracking plan to check events with")
    group.addoption(
        "--trackwire-plan-mode",
        choices=("record", "enforce"),
        help="record (default): store and list violations; enforce: refuse violating events",
    )
    group.addoption("--trackwire-db", metavar="PATH", help="SQLite file for the collector")
    group.addoption(
        "--trackwire-collector-url", metavar="URL", help="use this running collector instead"
    )
    parser.addini("trackwire_plan", "tracking plan to check events with")
    parser.addini("trackwire_plan_mode", "record (default) or enforce")
    parser.addini("trackwire_db", "SQLite file for the collector (default: in memory)")
    parser.addini("trackwire_collector_url", "use this running collector instead of starting one")


def _setting(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"--{name.replace('_', '-')}") or config.getini(name)
    return str(value) if value else None


class CollectorHandle:
    """A collector in development mode, seen through its ``/_test`` endpoints.

    Args:
        url: the collector's base URL (``http://127.0.0.1:PORT``).

    Attributes:
        url: the base URL: Segment's ``host``, mParticle's ``host``.
        amplitude_url: Amplitude's ``server_url`` (``URL/2/httpapi``).
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.amplitude_url = f"{self.url}/2/httpapi"
        self._http = urllib3.PoolManager(retries=False)

    def __repr__(self) -> str:
        return f"CollectorHandle({self.url!r})"

    def _get(
        self, path: str, params: Mapping[str, Any] | None = None, timeout: float = 10.0
    ) -> Any:
        query = f"?{urlencode(params)}" if params else ""
        response = self._http.request("GET", f"{self.url}{path}{query}", timeout=timeout)
        return self._json(response, path, ok=(200, 408))

    def _json(self, response: urllib3.BaseHTTPResponse, path: str, ok: tuple[int, ...]) -> Any:
        if response.status not in ok:
            text = response.data[:500].decode("utf-8", "replace")
            raise RuntimeError(f"the collector answered {path} with {response.status}: {text}")
        return orjson.loads(response.data)

    # --- reading -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything stored and refused (the fixture does it before each test)."""
        response = self._http.request("POST", f"{self.url}/_test/reset", timeout=10.0)
        self._json(response, "/_test/reset", ok=(200,))

    def counts(self) -> dict[str, Any]:
        """Stored events by vendor, source, type and event name, and refused counts."""
        counts: dict[str, Any] = self._get("/_test/counts")
        return counts

    def events(self, vendor: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Stored events matching the filters of :meth:`expect` (no waiting), oldest first."""
        found: list[dict[str, Any]] = self._get("/_test/events", _query(vendor, match))["events"]
        return found

    def users(
        self, vendor: str | None = None, *, user_id: str | None = None, device_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The users with this user id (or device id), one per source, with their properties."""
        params = {"vendor": vendor, "user": user_id, "device": device_id}
        found: list[dict[str, Any]] = self._get(
            "/_test/users", {k: v for k, v in params.items() if v is not None}
        )["users"]
        return found

    def bad(self, vendor: str | None = None) -> list[dict[str, Any]]:
        """Refused requests and events, newest first, each with why it was refused."""
        params = {"limit": 1000, **({"vendor": vendor} if vendor else {})}
        found: list[dict[str, Any]] = self._get("/_test/bad", params)["refused"]
        return found

    def violations(self) -> list[dict[str, Any]]:
        """Stored events that break the tracking plan, newest first, with their violations."""
        found: list[dict[str, Any]] = self._get("/_test/violations", {"limit": 1000})["events"]
        return found

    # --- asserting -----------------------------------------------------------------------------

    def expect(
        self,
        vendor: str | None = None,
        *,
        count: int = 1,
        within: float = 2.0,
        **match: Any,
    ) -> list[dict[str, Any]]:
        """Wait until exactly ``count`` stored events match, then return them (oldest first).

        Args:
            vendor: ``"segment"``, ``"amplitude"`` or ``"mparticle"``.
            count: how many matching events must arrive (more is also a failure).
            within: seconds to wait for them.
            **match: ``source``, ``type``, the event name (``event``, ``event_type`` or
                ``event_name``), the user (``user``, ``user_id`` or ``device_id``: an event
                matches when its user id or device id equals it), ``properties`` and ``traits``
                (dicts of values that must be equal).

        Raises:
            AssertionError: fewer than ``count`` arrived in time, or more did; the message lists
                what arrived, nearest first, with how each differs.
        """
        params = {**_query(vendor, match), "count": count, "timeout": within}
        answer = self._get("/_test/expect", params, timeout=within + 10.0)
        matched = answer["matched"]
        if answer["ok"] and matched == count:
            events: list[dict[str, Any]] = answer["events"]
            return events
        if answer["ok"]:
            described = _describe(vendor, match)
            raise AssertionError(
                f"expected {count} {described}, but {matched} arrived:\n"
                + "\n".join(f"  - {_event_line(event)}" for event in answer["events"])
            )
        lines = [
            f"expected {count} {answer['expectation']} within {within:g} s; {matched} matched."
        ]
        nearest = answer["nearest"]
        if not nearest:
            lines.append("Nothing arrived at all: is the client pointed at this collector, and")
            lines.append(f"flushed? (url {self.url}; refused requests: {len(self.bad())})")
        else:
            lines.append("What arrived, nearest first:")
            for item in nearest:
                differs = ", ".join(item["differences"]) or "matches"
                lines.append(f"  - {_event_line(item['event'])}  [differs: {differs}]")
        raise AssertionError("\n".join(lines))

    def check(self) -> None:
        """Fail if anything was refused or breaks the tracking plan.

        Raises:
            AssertionError: listing each refused request or event and each violation.
        """
        problems = [_refused_line(entry) for entry in self.bad()]
        try:
            violating = self.violations()
        except RuntimeError:
            violating = []  # no plan loaded: nothing to break
        for event in violating:
            for violation in event.get("violations", []):
                problems.append(
                    f"{_event_line(event)}: {violation['type']} at "
                    f"{violation['path'] or '/'}: {violation['message']}"
                )
        if problems:
            raise AssertionError("the collector saw problems:\n  - " + "\n  - ".join(problems))


_EVENT_KEYS: Final = ("event", "event_type", "event_name")
_USER_KEYS: Final = ("user", "user_id", "device_id")


def _query(vendor: str | None, match: Mapping[str, Any]) -> dict[str, Any]:
    """``/_test`` query parameters for :meth:`CollectorHandle.expect`'s keyword arguments."""
    params: dict[str, Any] = {"vendor": vendor} if vendor else {}
    for key, value in match.items():
        if value is None:
            continue
        if key in _EVENT_KEYS:
            params["event"] = value
        elif key in _USER_KEYS:
            params["user"] = value
        elif key in ("source", "type"):
            params[key] = value
        elif key in ("properties", "traits") and isinstance(value, Mapping):
            prefix = "prop." if key == "properties" else "trait."
            for name, wanted in value.items():
                params[prefix + name] = orjson.dumps(wanted).decode()
        else:
            raise TypeError(
                f"unknown expectation {key!r}: use source, type, event/event_type/event_name, "
                "user/user_id/device_id, properties or traits"
            )
    return params


def _describe(vendor: str | None, match: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{key}={value!r}" for key, value in match.items() if value is not None)
    return f"{vendor or 'any vendor'} event(s) matching {shown or 'anything'}"


def _event_line(event: Mapping[str, Any]) -> str:
    return (
        f"{event['vendor']} {event['type']} {event.get('event_name')!r} "
        f"user={event.get('user_id')!r} device={event.get('device_id')!r} (id {event['id']})"
    )


def _refused_line(entry: Mapping[str, Any]) -> str:
    if entry["kind"] == "event":
        why = "; ".join(f"{v['type']} at {v['path'] or '/'}" for v in entry["violations"])
        return f"refused {entry['vendor']} event {entry.get('event_name')!r}: {why}"
    where = f"{entry['vendor']} request to {entry['path']} ({entry['status']})"
    return f"refused {where}: {entry['answer']}"


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def trackwire_collector_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorHandle]:
    """One collector for the session (per xdist worker), not reset between tests."""
    url = _setting(pytestconfig, "trackwire_collector_url") or os.environ.get(URL_ENV)
    if url:
        yield CollectorHandle(url)
        return
    try:
        from trackwire.collector.plan import load_plan
        from trackwire.collector.server import start_collector
    except ImportError as exc:  # a core install: the server needs the extra
        raise pytest.UsageError(
            f"the trackwire_collector fixture needs the collector extra ({exc.name} is missing): "
            "pip install 'trackwire[collector]'"
        ) from None
    plan_path = _setting(pytestconfig, "trackwire_plan")
    mode = _setting(pytestconfig, "trackwire_plan_mode") or "record"
    if mode not in ("record", "enforce"):
        raise pytest.UsageError(f"trackwire_plan_mode is record or enforce, not {mode!r}")
    plan = None if plan_path is None else load_plan(Path(pytestconfig.rootpath, plan_path))
    db = _setting(pytestconfig, "trackwire_db") or ":memory:"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if db != ":memory:" and worker:
        path = Path(db)
        db = str(path.with_name(f"{path.stem}-{worker}{path.suffix}"))
    running = start_collector(db, plan=plan, plan_mode="enforce" if mode == "enforce" else "record")
    try:
        yield CollectorHandle(running.url)
    finally:
        running.stop()


@pytest.fixture
def trackwire_collector(trackwire_collector_server: CollectorHandle) -> CollectorHandle:
    """The session's collector, reset before the test: it holds only what the test sends."""
    trackwire_collector_server.reset()
    return trackwire_collector_server
