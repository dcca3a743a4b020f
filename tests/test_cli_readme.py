"""The README's Python snippets run as written against a local collector, and deliver.

Each snippet that talks to ``http://127.0.0.1:8787`` runs in a fresh interpreter pointed at a
real collector on an ephemeral port (the only change made to it), in an empty directory.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackwire.collector.server import RunningCollector, start_collector

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = [
    block
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    if "http://127.0.0.1:8787" in block
]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "readme.db", port=0) as running:
        yield running


def test_the_readme_has_snippets_for_every_vendor() -> None:
    text = "\n".join(SNIPPETS)
    for client in ("trackwire.Segment(", "trackwire.Amplitude(", "trackwire.MParticle(",
                   "trackwire.compat.segment", "AmplitudeQuery("):  # fmt: skip
        assert client in text


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.splitlines()[0][:40])
def test_a_readme_snippet_runs_against_a_local_collector(
    snippet: str, collector: RunningCollector, tmp_path: Path
) -> None:
    if "AmplitudeQuery(" in snippet:  # it asks about what the Amplitude snippet sends
        (sender,) = [s for s in SNIPPETS if "trackwire.Amplitude(" in s]
        _run(sender, collector, tmp_path)
    before = collector.store.stats()["total"]

    _run(snippet, collector, tmp_path)

    if "AmplitudeQuery(" not in snippet:
        assert collector.store.stats()["total"] > before


def _run(snippet: str, collector: RunningCollector, cwd: Path) -> None:
    code = snippet.replace("http://127.0.0.1:8787", collector.url)
    # What the snippet queued is delivered by its flush() or at exit (the clients' exit hook).
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not delivered" not in done.stderr, done.stderr
