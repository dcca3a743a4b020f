"""Every program in ``examples/`` runs, against a real collector, and does what it says."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackwire.collector.server import RunningCollector, start_collector

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "examples.db", port=0) as running:
        yield running


def _run(name: str, url: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_every_example_is_listed_and_tested() -> None:
    programs = {path.name for path in EXAMPLES.glob("*.py")}
    listed = (EXAMPLES / "README.md").read_text()
    tested = {"segment_quickstart.py", "amplitude_events_and_query.py", "mparticle_batches.py",
              "seeing_failures.py"}  # fmt: skip

    assert programs == tested
    assert all(f"`{name}`" in listed for name in programs)


def test_segment_quickstart(collector: RunningCollector) -> None:
    out = _run("segment_quickstart.py", collector.url).stdout

    assert "ok=True error=None" in out
    kinds = sorted(event.type for event in collector.store.events())
    assert kinds == ["identify", "page", "track"]


def test_amplitude_events_and_query(collector: RunningCollector) -> None:
    out = _run("amplitude_events_and_query.py", collector.url).stdout

    assert "jazz: 2" in out and "rock: 1" in out
    names = sorted(event.event_name for event in collector.store.events())
    assert names == ["$identify", "Example Played", "Example Played", "Example Played",
                     "revenue_amount"]  # fmt: skip


def test_mparticle_batches(collector: RunningCollector) -> None:
    out = _run("mparticle_batches.py", collector.url).stdout

    assert "3 of 3 batches delivered" in out
    assert len([e for e in collector.store.events() if e.event_name == "Wishlist Added"]) == 3


def test_seeing_failures_tells_why_in_every_place() -> None:
    done = _run("seeing_failures.py", "unused")

    assert "receipt: False retry_exhausted: connection_refused: nothing listens at" in done.stdout
    assert "hook: error 1 retry_exhausted" in done.stdout
    assert "log: trackwire: segment: 1 message(s) not delivered" in done.stderr
