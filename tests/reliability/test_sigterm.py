"""The SIGTERM handler: installed only over Python's default, never over the application's,
never from another thread, and not at all with ``handle_sigterm=False``."""

from __future__ import annotations

import signal

from tests.reliability.conftest import Collected, run_child
from trackwire.collector.faults import FaultConfig

OWN_HANDLER = r"""
import os, signal, sys
import trackwire

def mine(signum, frame):
    print("mine", flush=True)
    os._exit(7)

signal.signal(signal.SIGTERM, mine)
client = trackwire.Segment("tw-key", host=sys.argv[1])
assert signal.getsignal(signal.SIGTERM) is mine
os.kill(os.getpid(), signal.SIGTERM)
signal.pause()
"""

TURNED_OFF = r"""
import os, signal, sys
import trackwire

client = trackwire.Segment("tw-key", host=sys.argv[1], flush_interval=30, handle_sigterm=False)
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
for n in range(200):
    client.track("user-1", "Numbered", {"n": n})
os.kill(os.getpid(), signal.SIGTERM)
signal.pause()
"""

OTHER_THREAD = r"""
import signal, sys, threading
import trackwire

made = []
thread = threading.Thread(target=lambda: made.append(trackwire.Segment("k", host=sys.argv[1])))
thread.start()
thread.join()
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
trackwire.Segment("k", host=sys.argv[1])  # the main thread's client installs it
assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
print("ok")
"""


def test_an_application_handler_is_kept(collected: Collected) -> None:
    result = run_child(OWN_HANDLER, collected.url)
    assert (result.returncode, result.stdout) == (7, "mine\n"), result.stderr


def test_handle_sigterm_false_leaves_the_default(collected: Collected) -> None:
    collected.running.app.faults.configure(FaultConfig(latency=1.0))
    result = run_child(TURNED_OFF, collected.url)
    assert result.returncode == -signal.SIGTERM, result.stderr
    collected.running.app.faults.configure(FaultConfig())
    assert len(collected.numbers("segment")) < 200  # Python's default: the queue is lost


def test_only_the_main_thread_installs_it(collected: Collected) -> None:
    result = run_child(OTHER_THREAD, collected.url)
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


SECOND_SIGTERM = r"""
import os, signal, sys
import trackwire
from trackwire._engine import signals

client = trackwire.Segment("tw-key", host=sys.argv[1], shutdown_timeout=120)
for n in range(10):
    client.track("user-1", "Numbered", {"n": n})
os.kill(os.getpid(), signal.SIGTERM)  # the drain starts, and waits for a stalled collector
assert signals._draining
os.kill(os.getpid(), signal.SIGTERM)  # the sender insists: end now
signal.pause()
"""


def test_a_second_sigterm_ends_the_process_at_once(collected: Collected) -> None:
    collected.running.app.faults.configure(FaultConfig(latency=60.0))
    result = run_child(SECOND_SIGTERM, collected.url, timeout=30)  # the drain alone: 120 s
    assert result.returncode == -signal.SIGTERM, result.stderr
