"""Fixtures of the reliability suite: a real collector and child processes that use trackwire.

Every test here runs the real thing end to end (the collector over HTTP on 127.0.0.1 with an
ephemeral port, real subprocesses, real signals) and checks what arrived in the collector's
database, counted by the number each event carries in its properties.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from trackwire.collector.server import RunningCollector, start_collector
from trackwire.collector.sqlite.store import SQLiteStore

#: Added to a child's environment: trackwire importable, and the child's own output unbuffered.
ROOT = Path(__file__).resolve().parents[2]


class Collected:
    """A running collector and the store behind it."""

    def __init__(self, running: RunningCollector, store: SQLiteStore) -> None:
        self.running = running
        self.store = store
        self.url = running.url

    def numbers(self, vendor: str | None = None) -> Counter[int]:
        """How many stored events carry each number (``properties.n``)."""
        found: Counter[int] = Counter()
        before: int | None = None
        while True:
            page = self.store.events(vendor=vendor, limit=5000, before_id=before)
            for event in page:
                payload: dict[str, Any] = event.payload
                properties = payload.get("properties") or payload.get("event_properties") or {}
                if "events" in payload:  # mParticle: a record is its batch with one event
                    properties = payload["events"][0]["data"].get("custom_attributes") or {}
                if "n" in properties:
                    found[int(properties["n"])] += 1
            if len(page) < 5000:
                return found
            before = page[-1].id


@pytest.fixture
def collected(tmp_path: Path) -> Iterator[Collected]:
    """A development-mode collector with a file database."""
    store = SQLiteStore(tmp_path / "collector.db")
    running = start_collector(db=store)
    try:
        yield Collected(running, store)
    finally:
        running.stop()
        store.close()


def child_env() -> dict[str, str]:
    """The environment of a child process: this checkout's trackwire first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("TRACKWIRE_DISABLE", None)
    return env


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter and wait for it (bounded)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start children (stdout piped); any still running at the end is killed."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
