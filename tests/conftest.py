"""Fixtures for every test package: ``sink``, a real HTTP server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import re
import socketserver
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

# The PostgreSQL server of the store tests (one per session and xdist worker), for every
# package: see tests/collector/store_fixtures.py.
from tests.collector.store_fixtures import pg_reused_url, pg_server, pg_url  # noqa: F401
from tests.sink import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A started :class:`~tests.sink.Sink`, shut down after the test."""
    server = Sink()
    # Poll for shutdown every 50 ms instead of socketserver's 500 ms, so that stopping the sink
    # after each test costs next to nothing.
    server.thread = threading.Thread(
        target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    # Handler threads blocked on a keep-alive connection the client never closes must not hold
    # up the test's teardown.
    server.server.block_on_close = False

    def handle_error(request: Any, client_address: Any) -> None:
        # A client process that exits with a keep-alive connection open resets it: not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        socketserver.BaseServer.handle_error(server.server, request, client_address)

    server.server.handle_error = handle_error  # type: ignore[method-assign]
    with server:
        yield server


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line counting the tests that ran against a real PostgreSQL (they skip, saying what
    is missing, where no server is installed)."""
    outcomes: dict[str, set[str]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            keywords = getattr(report, "keywords", {})
            if re.search(r"[\[-]postgres[\]-]", nodeid) or "postgres" in keywords:
                if outcome == "passed" and getattr(report, "when", "call") != "call":
                    continue
                outcomes.setdefault(outcome, set()).add(nodeid)
    if outcomes:
        counts = ", ".join(f"{len(ids)} {name}" for name, ids in sorted(outcomes.items()))
        terminalreporter.write_line(f"PostgreSQL tests: {counts}")
