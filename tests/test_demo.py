"""``make demo`` runs end to end: a collector, three vendors' clients, a query."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_demo_delivers_every_vendor_and_queries_back(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trackwire.demo"],
        cwd=tmp_path,  # the demo's database goes under ./.trackwire
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "delivered=1703 failed=0 dropped=0" in done.stdout
    assert "Amplitude: 204 calls: all delivered=True" in done.stdout
    assert "mParticle: 40 batches: all delivered=True" in done.stdout
    assert all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout
    assert "Song Played today by genre: jazz=" in done.stdout
    assert (tmp_path / ".trackwire" / "collector.db").exists()
