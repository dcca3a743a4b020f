"""Crash: a process sending through a spooled client is SIGKILLed at random points, again and
again; a last process finishes. Every event whose call returned is in the collector, once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.conftest import Collected, run_child
from tests.reliability.vendors import VENDORS
from trackwire.collector.faults import FaultConfig

CHILD = r"""
import sys
from tests.reliability.vendors import make_client

vendor, url, spool = sys.argv[1], sys.argv[2], sys.argv[3]
start, stop = int(sys.argv[4]), int(sys.argv[5])
client, send = make_client(
    vendor, url, spool=spool, flush_at=50, flush_interval=0.1, shutdown_timeout=30
)
out = sys.stdout
for n in range(start, stop):
    send(n)
    out.write("%d\n" % n)  # written only once the call returned
    out.flush()
"""

ROUNDS = 4


@pytest.mark.parametrize("vendor", VENDORS)
def test_sigkill_at_random_points_loses_no_returned_call(
    collected: Collected,
    tmp_path: Path,
    spawn: Callable[..., subprocess.Popen[str]],
    vendor: str,
) -> None:
    rng = random.Random(12)
    spool = str(tmp_path / "spool")
    # A slow collector: each process dies with a good part of its events still queued.
    collected.running.app.faults.configure(FaultConfig(latency=0.05))
    returned: set[int] = set()
    start = 0
    for _ in range(ROUNDS):
        child = spawn(CHILD, vendor, collected.url, spool, str(start), str(start + 100_000))
        assert child.stdout is not None
        kill_after = rng.randrange(200, 1500)
        for count, line in enumerate(child.stdout, 1):
            if not line.endswith("\n"):
                break  # cut by the kill
            returned.add(int(line))
            if count == kill_after:
                os.kill(child.pid, signal.SIGKILL)  # lines written before the kill still come
        assert child.wait(30) == -signal.SIGKILL
        start = max(returned) + 2  # the number being sent at the kill may or may not arrive
    collected.running.app.faults.configure(FaultConfig())
    assert len(collected.numbers(vendor)) < len(returned)  # the kills left work behind

    last = run_child(CHILD, vendor, collected.url, spool, "0", "0")  # only replays
    assert last.returncode == 0, last.stderr
    numbers = collected.numbers(vendor)
    assert returned <= set(numbers)
    assert set(numbers.values()) == {1}  # none twice
    assert not [name for name in os.listdir(spool) if name.startswith("spool-")]  # all settled
