"""Every way a process ends delivers what it queued (1,000 events each, in subprocesses).

Without a spool, the exit hook (or the SIGTERM handler) drains the queue. With a spool, even an
end that runs no Python code at all (``os._exit``, SIGKILL) loses nothing: the next process
that opens the same spool delivers what was left.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.reliability.conftest import Collected, run_child
from trackwire.collector.faults import FaultConfig

EVENTS = 1000

CHILD = r"""
import os, signal, sys, threading
from tests.reliability.vendors import make_client

# A shell that ignores SIGINT (a background job) passes SIG_IGN on, and Python then installs
# no KeyboardInterrupt handler: the child restores the default one itself, so the SIGINT
# ending is the same whoever started the suite.
signal.signal(signal.SIGINT, signal.default_int_handler)
vendor, mode, url = sys.argv[1], sys.argv[2], sys.argv[3]
spool = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
count = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
options = {"spool": spool} if spool else {}
client, send = make_client(
    vendor, url, flush_at=100, flush_interval=30, shutdown_timeout=20, **options
)
for n in range(count):
    send(n)
if mode == "return":
    pass
elif mode == "sys_exit":
    sys.exit(3)
elif mode == "exception":
    raise RuntimeError("unhandled, on purpose")
elif mode in ("sigint", "sigterm"):
    os.kill(os.getpid(), signal.SIGINT if mode == "sigint" else signal.SIGTERM)
    threading.Event().wait(60)  # the process ends while it waits here
    sys.exit(99)
elif mode == "os_exit":
    os._exit(4)
elif mode == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


ENDINGS = [
    ("segment", "return", 0),
    ("segment", "sys_exit", 3),
    ("segment", "exception", 1),
    ("segment", "sigint", -signal.SIGINT),
    ("segment", "sigterm", -signal.SIGTERM),
    # The ending is the engine's business, the same for every vendor: the other clients are
    # checked on the two that need trackwire's own handling.
    ("amplitude", "return", 0),
    ("amplitude", "sigterm", -signal.SIGTERM),
    ("mparticle", "return", 0),
    ("mparticle", "sigterm", -signal.SIGTERM),
]


@pytest.mark.parametrize(("vendor", "mode", "status"), ENDINGS)
def test_each_ending_delivers_everything(
    collected: Collected, vendor: str, mode: str, status: int
) -> None:
    child = run_child(CHILD, vendor, mode, collected.url)
    assert child.returncode == status, child.stderr
    numbers = collected.numbers(vendor)
    assert sorted(numbers) == list(range(EVENTS))
    assert set(numbers.values()) == {1}


@pytest.mark.parametrize(
    ("vendor", "mode", "status"),
    [
        ("segment", "os_exit", 4),
        ("segment", "sigkill", -signal.SIGKILL),
        ("amplitude", "sigkill", -signal.SIGKILL),
        ("mparticle", "sigkill", -signal.SIGKILL),
    ],
)
def test_with_a_spool_the_next_process_delivers_what_was_left(
    collected: Collected, tmp_path: Path, vendor: str, mode: str, status: int
) -> None:
    spool = str(tmp_path / "spool")
    # A slow collector, so the first process surely ends with most events still queued.
    collected.running.app.faults.configure(FaultConfig(latency=0.5))
    child = run_child(CHILD, vendor, mode, collected.url, spool)
    assert child.returncode == status, child.stderr
    assert len(collected.numbers(vendor)) < EVENTS  # the ending really lost the queue...
    collected.running.app.faults.configure(FaultConfig())
    heir = run_child(CHILD, vendor, "return", collected.url, spool, "0")
    assert heir.returncode == 0, heir.stderr
    numbers = collected.numbers(vendor)
    assert sorted(numbers) == list(range(EVENTS))  # ...and the next process delivered it
    assert set(numbers.values()) == {1}
