"""A process killed beside a running one: the running one sends what it left, without a restart.

A rolling deploy or a crashed worker leaves a spool whose owner is dead while its neighbours
go on running; they take it over at their next look (every 30 s in production, at every turn
here) instead of leaving it for the next start.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from tests.reliability.conftest import Collected, run_child
from tests.reliability.vendors import make_client
from trackwire._engine import spool as spool_module
from trackwire._engine.receipts import BatchReport

KILLED = r"""
import os, signal, sys
from tests.reliability.vendors import make_client

client, send = make_client(sys.argv[1], sys.argv[2], spool=sys.argv[3], flush_interval=30)
for n in range(1, 301):
    send(n)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("vendor", ["segment", "amplitude"])
def test_a_running_client_sends_what_a_killed_neighbour_left(
    collected: Collected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vendor: str
) -> None:
    monkeypatch.setattr(spool_module, "TAKEOVER_INTERVAL", 0.0)
    spool = str(tmp_path / "spool")
    client, send = make_client(
        vendor, collected.url, spool=spool, flush_interval=0.05, handle_sigterm=False
    )
    delivered = 0
    everything = threading.Event()
    lock = threading.Lock()

    def count(report: BatchReport) -> None:
        nonlocal delivered
        with lock:
            delivered += report.count
            if delivered >= 302:
                everything.set()

    client.on("flush", count)
    try:
        send(0)
        assert client.flush(timeout=10)
        # The neighbour's collector address refuses connections: it sends nothing itself.
        child = run_child(KILLED, vendor, "http://127.0.0.1:9", spool)
        assert child.returncode == -signal.SIGKILL, child.stderr
        send(301)  # the running client's worker looks again, and finds the dead spool
        assert everything.wait(30), f"{delivered} of 302 delivered"
        assert sorted(collected.numbers(vendor)) == list(range(302))
        assert client.stats()["spool_replayed"] == 300
    finally:
        client.shutdown(timeout=5)
