"""Servers: a pre-fork gunicorn and an asyncio uvicorn app, each tracking an event per request.

A bounded load is sent, the server is stopped gracefully, and every event is in the collector
exactly once. The uvicorn run has the collector stalled while requests come in: a tracking
call that waited for the network would hold the event loop, and requests would time out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import urllib3

from tests.reliability.conftest import Collected, child_env
from trackwire.collector.faults import FaultConfig

REQUESTS = 400

WSGI_APP = r"""
import os
import trackwire

spool = {"spool": os.environ["TW_SPOOL"]} if os.environ.get("TW_SPOOL") else {}
client = trackwire.Segment(
    "tw-key", host=os.environ["TW_URL"], flush_at=20, flush_interval=0.2, shutdown_timeout=20,
    **spool
)

def app(environ, start_response):
    n = int(environ["QUERY_STRING"].partition("=")[2])
    client.track("user-%d" % (n % 9), "Request", {"n": n, "pid": os.getpid()})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""

ASGI_APP = r"""
import asyncio
import os
import trackwire

client = trackwire.Segment(
    "tw-key", host=os.environ["TW_URL"], flush_at=20, flush_interval=0.2, shutdown_timeout=20
)

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        # uvicorn ends the process by re-raising the signal with its default disposition
        # after a graceful stop, so no exit hook runs: shut the client down here, as any
        # resource the app holds.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(client.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return
    n = int(scope["query_string"].decode().partition("=")[2])
    client.track("user-%d" % (n % 9), "Request", {"n": n})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def _serve(
    tmp_path: Path, source: str, command: list[str], url: str, spool: str = ""
) -> subprocess.Popen[str]:
    (tmp_path / "twapp.py").write_text(source)
    env = child_env()
    env["TW_SPOOL"] = spool
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    env["TW_URL"] = url
    return subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )


def _address(server: subprocess.Popen[str], pattern: str) -> str:
    """Read the server's log until it says where it listens."""
    assert server.stderr is not None
    for line in server.stderr:
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    raise AssertionError(f"the server ended without listening (status {server.wait(5)})")


def _load(address: str) -> None:
    """``REQUESTS`` requests from 4 threads; each must be answered within 3 s."""
    pool = urllib3.PoolManager(maxsize=4, timeout=urllib3.Timeout(total=3), retries=False)

    def one(n: int) -> int:
        return pool.request("GET", f"{address}/?n={n}").status

    with ThreadPoolExecutor(4) as executor:
        assert set(executor.map(one, range(REQUESTS))) == {200}


def _stop(server: subprocess.Popen[str], signum: int) -> int:
    server.send_signal(signum)
    assert server.stderr is not None
    server.stderr.read()  # keep the pipe drained until it exits
    return server.wait(60)


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for server in started:
        if server.poll() is None:
            server.kill()
            server.wait(10)


@pytest.mark.parametrize("spooled", [False, True], ids=["memory", "spool"])
def test_prefork_gunicorn_delivers_every_event_once(
    collected: Collected, tmp_path: Path, servers: list[subprocess.Popen[str]], spooled: bool
) -> None:
    # --preload: the client is made in the master, before the fork (each worker then gets a
    # fresh queue, or a spool of its own under the same directory).
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    command = [gunicorn, "--preload", "-w", "3", "-b", "127.0.0.1:0", "twapp:app"]
    spool = str(tmp_path / "spool") if spooled else ""
    server = _serve(tmp_path, WSGI_APP, command, collected.url, spool)
    servers.append(server)
    address = _address(server, r"Listening at: (http://\S+)")
    _load(address)
    assert _stop(server, signal.SIGTERM) == 0  # gunicorn's graceful stop
    numbers = collected.numbers("segment")
    assert sorted(numbers) == list(range(REQUESTS))
    assert set(numbers.values()) == {1}
    pids = {event.payload["properties"]["pid"] for event in collected.store.events(limit=1000)}
    assert len(pids) > 1  # really served by several forked workers
    if spooled:  # every worker's spool was emptied and removed at its exit
        assert not [name for name in os.listdir(spool) if name.startswith("spool-")]


def test_uvicorn_app_never_blocks_the_loop_and_delivers_everything(
    collected: Collected, tmp_path: Path, servers: list[subprocess.Popen[str]]
) -> None:
    # Stalled collector: a track() that touched the network would hold each request 2 s.
    collected.running.app.faults.configure(FaultConfig(latency=2.0))
    command = [sys.executable, "-m", "uvicorn", "twapp:app", "--port", "0", "--no-access-log"]
    server = _serve(tmp_path, ASGI_APP, command, collected.url)
    servers.append(server)
    address = _address(server, r"running on (http://\S+)")
    _load(address)
    collected.running.app.faults.configure(FaultConfig())
    # uvicorn's graceful stop (the app's lifespan shuts the client down), then it ends the
    # process with the signal it got.
    assert _stop(server, signal.SIGTERM) in (0, -signal.SIGTERM)
    numbers = collected.numbers("segment")
    assert sorted(numbers) == list(range(REQUESTS))
    assert set(numbers.values()) == {1}
