"""End to end: process exit, fork and shutdown, against a real HTTP server on 127.0.0.1.

Exit and fork run in a child Python process (``python -c``), never in the pytest process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from typing import Any

import pytest

import trackwire
from tests.e2e.helpers import timed
from tests.sink import Action, Sink

WRITE_KEY = "lifecycle-key"
DEAD_RETRY = trackwire.RetryConfig(
    initial_backoff=0.05, max_backoff=0.2, max_retries=1000, max_elapsed=600
)

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def run_script(source: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``source`` with ``python -c`` (argv[1:] = ``args``); fail the test on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWIRE_")}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


DEAD_ENDPOINTS = ["always-503", "hanging", "closed-port"]


def dead_endpoint(sink: Sink, kind: str) -> str:
    """A host that never accepts events: 503s, a first 503 then 3 s silences, or a closed port."""
    unavailable = b'{"code":"unavailable"}'
    if kind == "closed-port":
        return closed_port_url()
    if kind == "hanging":
        sink.script = [Action(503, body=unavailable)]
        sink.default = Action(503, body=unavailable, delay=3)
    else:
        sink.default = Action(503, body=unavailable)
    return sink.url


def delivered_by_user(sink: Sink) -> dict[str, Counter[int]]:
    """For each userId, how many times each ``properties.i`` was delivered."""
    result: dict[str, Counter[int]] = {}
    for message in sink.delivered():
        result.setdefault(message["userId"], Counter())[message["properties"].get("i", -1)] += 1
    return result


# ---------------------------------------------------------------------------- exit


EXIT_WITHOUT_FLUSH = """
    import sys
    import trackwire

    analytics = trackwire.Segment("KEY", host=sys.argv[1], flush_at=1000, flush_interval=60)
    for i in range(1000):
        analytics.track("script", "Exited", {"i": i})
"""


def test_script_that_exits_without_flushing_still_delivers(sink: Sink) -> None:
    """A script that queues 1,000 events and just ends delivers all of them from the exit hook."""
    run_script(EXIT_WITHOUT_FLUSH, sink.url)

    assert sink.event_count == 1000
    counts = delivered_by_user(sink)["script"]
    assert counts == Counter(range(1000))


EXIT_WITH_DEAD_ENDPOINT = """
    import sys
    import time
    import trackwire

    analytics = trackwire.Segment(
        "KEY",
        host=sys.argv[1],
        shutdown_timeout=1,
        flush_at=10,
        retry=trackwire.RetryConfig(initial_backoff=0.05, max_backoff=0.2, max_retries=1000),
    )
    for i in range(100):
        analytics.track("script", "Lost", {"i": i})
    print(time.monotonic(), flush=True)
"""


@pytest.mark.parametrize("endpoint", DEAD_ENDPOINTS)
def test_script_with_a_dead_endpoint_exits_within_shutdown_timeout(
    sink: Sink, endpoint: str
) -> None:
    """With nothing accepting events, the exit hook gives up after ~shutdown_timeout (1 s)."""
    host = dead_endpoint(sink, endpoint)

    proc = run_script(EXIT_WITH_DEAD_ENDPOINT, host)
    exited = time.monotonic()

    # CLOCK_MONOTONIC is system-wide on the platforms that run this suite.
    body_done = float(proc.stdout.strip())
    # Giving up is what is tested: 1,000 retries would take minutes. The margin is for a
    # loaded machine (interpreter exit and process reaping), not a performance bound.
    assert exited - body_done < 1.0 + 4.0, exited - body_done
    if endpoint == "always-503":
        assert len(sink.requests) >= 2, "the exit hook should have kept retrying"
        assert sink.event_count == 0


# ---------------------------------------------------------------------------- fork


FORK_PARENT_AND_CHILD = """
    import json
    import os
    import signal
    import sys
    import trackwire

    url, child_exit = sys.argv[1], sys.argv[2]
    analytics = trackwire.Segment(
        "KEY", host=url, flush_at=10_000, flush_interval=60, send_first_immediately=False
    )
    parent = [analytics.track("parent", "Before Fork", {"i": i}) for i in range(50)]

    pid = os.fork()
    if pid == 0:
        signal.alarm(10)  # a deadlocked child is killed instead of hanging the parent
        child = [analytics.track("child", "In Child", {"i": i}) for i in range(20)]
        if child_exit == "flush":
            ok = analytics.flush(timeout=5) and all(r.ok for r in child)
            os._exit(0 if ok else 3)
        sys.exit(0)  # normal exit: the child's own exit hook sends what it queued

    _, status = os.waitpid(pid, 0)
    parent += [analytics.track("parent", "After Fork", {"i": i}) for i in range(50, 60)]
    flushed = analytics.flush(timeout=5) and all(r.ok for r in parent)
    print(json.dumps({"child": os.waitstatus_to_exitcode(status), "parent": flushed}))
"""


@needs_fork
@pytest.mark.parametrize("child_exit", ["flush", "exit-hook"])
def test_forked_child_and_parent_each_deliver_their_own_events_once(
    sink: Sink, child_exit: str
) -> None:
    """After a fork with 50 events queued, parent and child each deliver exactly their own.

    The child must not inherit (and send) the parent's queued events, whether it flushes and
    ``os._exit``s or ends normally through its exit hook.
    """
    proc = run_script(FORK_PARENT_AND_CHILD, sink.url, child_exit)

    result = json.loads(proc.stdout)
    assert result == {"child": 0, "parent": True}, proc.stderr
    counts = delivered_by_user(sink)
    assert set(counts) == {"parent", "child"}
    assert counts["parent"] == Counter(range(60)), "parent events lost or duplicated"
    assert counts["child"] == Counter(range(20)), "child events lost or duplicated"


FORK_WHILE_HAMMERING = """
    import json
    import os
    import signal
    import sys
    import threading
    import trackwire

    url = sys.argv[1]
    analytics = trackwire.Segment(
        "KEY", host=url, flush_at=100, flush_interval=0.05, max_queue_size=1000
    )
    engine_lock = analytics._engine._lock  # observed only, to know the race was really hit
    held_at_fork = []
    os.register_at_fork(before=lambda: held_at_fork.append(engine_lock.locked()))

    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            analytics.track("hammer", "Hammer", callback=lambda error, message: None)

    thread = threading.Thread(target=hammer)
    thread.start()
    codes = []
    while len(held_at_fork) < 300 and sum(held_at_fork) < 3:
        n = len(held_at_fork)
        pid = os.fork()
        if pid == 0:
            signal.alarm(10)  # a deadlocked child is killed: waitpid below stays bounded
            receipt = analytics.track(f"child-{n}", "In Child", {"i": n},
                                      callback=lambda error, message: None)
            ok = receipt.wait(5) and analytics.flush(timeout=5)
            if not ok:
                os.write(2, f"child {n}: {receipt!r} {receipt.error!r}\\n".encode())
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        codes.append(os.waitstatus_to_exitcode(status))
    stop.set()
    thread.join()
    flushed = analytics.flush(timeout=10)
    print(json.dumps({"codes": codes, "held": sum(held_at_fork), "flushed": flushed}))
"""


@needs_fork
def test_fork_while_another_thread_holds_the_engine_lock(sink: Sink) -> None:
    """Forking while a thread hammers ``track()`` never leaves a child deadlocked.

    Forks repeat until at least three happened while the hammering thread held the engine's
    lock; every child must still track, get its receipt and flush (a child that hangs is
    killed by ``alarm(10)`` and shows up as exit code -14).
    """
    proc = run_script(FORK_WHILE_HAMMERING, sink.url, timeout=50)

    result = json.loads(proc.stdout)
    assert result["held"] >= 1, "no fork happened while the lock was held; the test proved nothing"
    assert set(result["codes"]) == {0}, (Counter(result["codes"]), proc.stderr)
    assert result["flushed"] is True
    children = {
        message["userId"]: message
        for message in sink.delivered()
        if message["userId"].startswith("child-")
    }
    assert len(children) == len(result["codes"])
    per_child = Counter(m["userId"] for m in sink.delivered() if m["userId"].startswith("child-"))
    assert set(per_child.values()) == {1}, "a child's event arrived more than once"


# ---------------------------------------------------------------------------- shutdown


@pytest.mark.parametrize("endpoint", DEAD_ENDPOINTS)
def test_shutdown_returns_on_time_against_a_dead_endpoint(sink: Sink, endpoint: str) -> None:
    """``shutdown(timeout=1)`` returns within ~1 s; what was not sent fails with ``shutdown``.

    That holds whether the batch is between retries or stuck in a request that does not
    answer. Later calls are refused: their receipts fail at once with ``after_close``
    (a :class:`trackwire.ClientClosedError`), counted in ``stats()``.
    """
    host = dead_endpoint(sink, endpoint)
    retried = threading.Event()
    client = trackwire.Segment(WRITE_KEY, host=host, retry=DEAD_RETRY, flush_at=5)
    client.on("retry", lambda report: retried.set())

    receipts = [client.track("u1", "Doomed", {"i": i}) for i in range(20)]
    assert retried.wait(5), "the first batch should be failing and retrying"

    # Returning at all (not after the 600 s of retries the policy allows) is the behaviour;
    # the margin is generous because a shared CI machine may not schedule the worker at once.
    _, elapsed = timed(lambda: client.shutdown(timeout=1), limit=3)
    assert elapsed < 1.0 + 3.0, elapsed

    assert client.closed
    for receipt in receipts:
        assert receipt.done and not receipt.ok
        assert receipt.error is not None and receipt.error.reason == "shutdown"
    stats = client.stats()
    assert stats["failed"].get("shutdown", 0) + stats["dropped"].get("shutdown", 0) == 20
    assert stats["delivered"] == 0

    late = client.track("u1", "Too Late")
    assert late.done and isinstance(late.error, trackwire.ClientClosedError)
    assert late.error.reason == "after_close"
    assert client.stats()["dropped"].get("after_close") == 1


def test_calls_after_shutdown_are_refused_counted_and_reported(sink: Sink) -> None:
    """After ``shutdown()`` every call fails at once with ``after_close`` and nothing is sent."""
    drops: list[trackwire.BatchReport] = []
    callbacks: list[Any] = []
    client = trackwire.Segment(WRITE_KEY, host=sink.url)
    client.on("drop", drops.append)
    delivered = client.track("u1", "Before")
    assert client.shutdown(timeout=5)
    assert delivered.ok
    requests_before = len(sink.requests)

    late = [
        client.track("u1", "After", callback=lambda error, message: callbacks.append(error)),
        client.identify("u1", {"plan": "free"}),
    ]
    for receipt in late:
        assert receipt.done and not receipt.ok
        assert isinstance(receipt.error, trackwire.ClientClosedError)
        assert receipt.error.reason == "after_close"
    assert [type(error) for error in callbacks] == [trackwire.ClientClosedError]
    assert client.stats()["dropped"] == {"after_close": 2}
    assert [report.reason for report in drops] == ["after_close", "after_close"]
    assert client.flush(timeout=1)
    assert len(sink.requests) == requests_before


def test_context_manager_flushes_and_closes(sink: Sink) -> None:
    """``with trackwire.Segment(...)`` delivers what was queued and closes the client on exit."""
    with trackwire.Segment(
        WRITE_KEY, host=sink.url, flush_at=100, flush_interval=60, send_first_immediately=False
    ) as client:
        receipts = [client.track("u1", "Scoped", {"i": i}) for i in range(5)]
    assert client.closed
    assert all(receipt.ok for receipt in receipts)
    assert delivered_by_user(sink)["u1"] == Counter(range(5))


FORK_DURING_FIRST_CONNECTION = """
    import importlib.abc
    import importlib.util
    import os
    import signal
    import sys
    import threading
    import trackwire

    url = sys.argv[1]
    entered, release = threading.Event(), threading.Event()


    class SlowIdna(importlib.abc.MetaPathFinder):
        # Widens to a certainty the window in which the worker's first connection is
        # importing the idna codec (socket.getaddrinfo needs it), so the fork lands inside it.
        def find_spec(self, name, path, target=None):
            if name != "encodings.idna":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            real = spec.loader

            class Loader(importlib.abc.Loader):
                def create_module(self, spec):
                    return real.create_module(spec)

                def exec_module(self, module):
                    entered.set()
                    release.wait(5)
                    real.exec_module(module)

            spec.loader = Loader()
            return spec


    lazy = "encodings.idna" not in sys.modules
    if lazy:
        sys.meta_path.insert(0, SlowIdna())
    analytics = trackwire.Segment("KEY", host=url)
    first = analytics.track("parent", "First")
    if lazy:
        entered.wait(5)
    pid = os.fork()
    if pid == 0:
        signal.alarm(10)
        receipt = analytics.track("child", "In Child")
        ok = receipt.wait(5)
        os.write(2, f"child: delivered={ok} error={receipt.error!r}\\n".encode())
        os._exit(0 if ok else 3)
    release.set()
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), first.wait(5))
"""


@needs_fork
def test_fork_during_the_first_connection_leaves_the_child_able_to_deliver(sink: Sink) -> None:
    """A child forked while the parent's worker opens its first connection can still deliver.

    The first connection imports the ``idna`` codec lazily; a child forked in the middle of that
    import inherits a half-initialised module unless trackwire imported the codec up front.
    """
    proc = run_script(FORK_DURING_FIRST_CONNECTION, sink.url)

    assert proc.stdout.split() == ["0", "True"], proc.stderr
    assert {m["userId"] for m in sink.delivered()} == {"parent", "child"}
