"""The ingestion front: vendor POSTs in one frame with the full stack's logs, refusals and
errors; the rest through the full stack; flows handed to worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackwire.collector import _workers
from trackwire.collector._workers import in_worker
from trackwire.collector.faults import FaultConfig, FaultInjector
from trackwire.collector.ingest_front import IngestFront, ingest_endpoints
from trackwire.collector.refused import RefusedLog

#: How long a test waits for a thread to act; never reached when it works.
PATIENCE = 10.0


async def _echo_status(request: Request) -> Response:
    body = await request.body()
    status = int(request.headers.get("x-status", "200"))
    return Response(b'{"answer":' + str(len(body)).encode() + b"}", status_code=status)


async def _fails(request: Request) -> Response:
    raise RuntimeError("a bug in the endpoint")


async def _shadow(request: Request) -> Response:
    return Response(b"shadow")


def _app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/batch", _echo_status, methods=["POST"]),
            Route("/2/httpapi", _fails, methods=["POST"]),
            Route("/v2/{anything}", _shadow, methods=["POST"]),  # picked for /v2/events
            Route("/v2/events", _echo_status, methods=["POST"]),
            Route("/health", _echo_status, methods=["POST"]),  # not a vendor path
        ]
    )


class _Full:
    """The full stack's stand-in: answers 299 and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _call(app: Any, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST through ``app`` in a fresh event loop (the body in two chunks): status, body."""
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": raw,
             "query_string": b"", "http_version": "1.1", "scheme": "http"}  # fmt: skip
    messages = [
        {"type": "http.request", "body": body[:3], "more_body": True},
        {"type": "http.request", "body": body[3:], "more_body": False},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    # The failing endpoint's exception is raised on, for the server to log.
    with contextlib.suppress(RuntimeError):
        asyncio.run(run())
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def lines() -> Iterator[list[str]]:
    found: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record.getMessage())

    handler = Keep()
    logger = logging.getLogger("trackwire.collector.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield found
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_only_exact_vendor_posts_the_router_would_pick_take_the_front() -> None:
    found = ingest_endpoints(_app())

    assert {path: vendor for path, (vendor, _) in found.items()} == {
        "/v1/batch": "segment",
        "/2/httpapi": "amplitude",
    }


def test_an_ingest_post_is_answered_logged_and_a_4xx_kept(lines: list[str]) -> None:
    full, refused = _Full(), RefusedLog(keep_bodies=True)
    front = IngestFront(_app(), full, FaultInjector(), refused)

    ok = _call(front, "/v1/batch", b'{"batch": []}', {})
    bad = _call(front, "/v1/batch", b'{"batch": 1}', {"x-status": "400"})

    assert ok == (200, b'{"answer":13}') and bad == (400, b'{"answer":12}')
    assert full.calls == []
    [entry] = refused.entries()
    assert (entry["status"], entry["answer"], entry["body"]) == (400, {"answer": 12}, {"batch": 1})
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        "POST /v1/batch 200 stored=0",
        "POST /v1/batch 400 stored=0",
    ]


def test_an_endpoint_exception_is_a_plain_500_logged(lines: list[str]) -> None:
    front = IngestFront(_app(), _Full(), FaultInjector(), RefusedLog(keep_bodies=True))

    assert _call(front, "/2/httpapi", b"{}", {}) == (500, b"Internal Server Error")
    assert lines[0].startswith("POST /2/httpapi 500 stored=0 ")


@pytest.mark.parametrize("path", ["/v2/events", "/health", "/v1/batch/"])
def test_other_paths_take_the_full_stack(path: str) -> None:
    full = _Full()
    front = IngestFront(_app(), full, FaultInjector(), RefusedLog(keep_bodies=False))

    assert _call(front, path, b"{}", {})[0] == 299
    assert full.calls == [path]


def test_while_faults_are_configured_every_request_takes_the_full_stack() -> None:
    full = _Full()
    faults = FaultInjector(FaultConfig(statuses={"/v1/batch": (500,)}))
    front = IngestFront(_app(), full, faults, RefusedLog(keep_bodies=False))

    assert _call(front, "/v1/batch", b"{}", {})[0] == 299
    faults.configure(FaultConfig())
    assert _call(front, "/v1/batch", b"{}", {})[0] == 200
    assert full.calls == ["/v1/batch"]


def test_in_worker_returns_raises_and_runs_off_the_loop() -> None:
    def double(value: int) -> tuple[int, str]:
        return value * 2, threading.current_thread().name

    def fail(_: int) -> int:
        raise ValueError("bad")

    async def run() -> None:
        result, thread = await in_worker(double, 21)
        assert result == 42 and thread != threading.current_thread().name
        with pytest.raises(ValueError, match="bad"):
            await in_worker(fail, 0)

    asyncio.run(run())


def test_sequential_calls_reuse_one_thread_and_concurrent_ones_run_together() -> None:
    together = threading.Barrier(4, timeout=PATIENCE)

    def name(_: int) -> int:
        return threading.get_ident()

    def meet(_: int) -> int:
        return together.wait()  # all four must be running at once to pass

    async def run() -> None:
        names = {await in_worker(name, 0) for _ in range(20)}
        assert len(names) == 1
        assert sorted(await asyncio.gather(*(in_worker(meet, 0) for _ in range(4)))) == [0, 1, 2, 3]

    asyncio.run(run())


def test_a_cancelled_caller_waits_for_its_call_to_end() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow(_: int) -> int:
        started.set()
        assert release.wait(PATIENCE)
        finished.append(True)
        return 1

    async def run() -> None:
        task = asyncio.create_task(in_worker(slow, 0))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, PATIENCE)
        task.cancel()
        await asyncio.sleep(0)
        assert not task.done()  # still waiting for the call
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished == [True]

    asyncio.run(run())


def test_a_call_raising_stop_iteration_is_a_runtime_error_for_its_caller() -> None:
    def empty(_: int) -> int:
        return next(iter(()))

    async def run() -> None:
        with pytest.raises(RuntimeError, match="StopIteration"):
            await asyncio.wait_for(in_worker(empty, 0), PATIENCE)
        assert await in_worker(lambda n: n + 1, 1) == 2  # the pool still serves

    asyncio.run(run())


def test_idle_threads_stop_and_the_pool_starts_new_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_workers, "IDLE_S", 0.01)

    def thread(_: int) -> threading.Thread:
        return threading.current_thread()

    async def run() -> None:
        first = await in_worker(thread, 0)
        deadline = time.monotonic() + PATIENCE
        while first.is_alive():
            assert time.monotonic() < deadline, "the idle worker never stopped"
            await asyncio.sleep(0.01)
        assert await in_worker(thread, 0) is not first

    asyncio.run(run())
