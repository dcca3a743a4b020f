"""A process writing to a spool is SIGKILLed at random points: no returned offer is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trackwire._engine.spool import Spool, SpoolConfig

CHILD = r"""
import sys
from trackwire._engine.spool import Spool, SpoolConfig

spool = Spool(SpoolConfig(path=sys.argv[1], segment_bytes=2000, fsync="never"), {"vendor": "t"})
out = sys.stdout
n = 0
while True:
    spool.offer(b"%d" % n, 0.0)
    out.write("o %d\n" % n)
    out.flush()
    n += 1
    if n % 7 == 0:
        batch = spool.take(4)
        numbers = " ".join(item.data.decode() for item in batch)
        out.write("t %s\n" % numbers)
        out.flush()
        spool.ack(batch[::2])  # out of order across batches: every other one
        out.write("a %s\n" % " ".join(item.data.decode() for item in batch[::2]))
        out.flush()
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_loses_no_returned_offer(tmp_path: Path, seed: int) -> None:
    kill_after = random.Random(seed).randrange(50, 3000)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    offered: set[int] = set()
    acked: set[int] = set()
    acking: set[int] = set()
    # Lines keep coming after the kill: what the child wrote before it died is still in the
    # pipe, and all of it counts (the child ran ahead of this reader).
    for lines, line in enumerate(child.stdout, 1):
        if not line.endswith("\n"):
            break  # cut by the kill in the middle of a line
        kind, *numbers = line.split()
        values = {int(n) for n in numbers}
        if kind == "o":
            offered |= values
        elif kind == "t":
            acking |= values
        else:
            acked |= values
        if lines == kill_after:
            os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    spool = Spool(SpoolConfig(path=str(tmp_path)), {"vendor": "t"})
    replayed: list[int] = []
    while len(spool):
        replayed.extend(int(item.data) for item in spool.take(50))
    spool.close()
    assert len(replayed) == len(set(replayed)), "a message replayed twice"
    got = set(replayed)
    must_have = offered - acking  # returned offers never handed to an ack
    assert must_have <= got
    assert not got & acked  # acknowledged ones stay gone
    assert got <= offered | {max(offered, default=-1) + 1}  # at most the offer being written
    assert spool.corrupt <= 1
