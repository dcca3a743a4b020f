"""Starlette/FastAPI: the lifespan opens and drains the client, the dependency finds it, and
calls made during a request carry its context; a real uvicorn stopped by a signal loses
nothing queued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import urllib3
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import trackwire
from tests.sink import Sink
from trackwire.errors import ConfigError
from trackwire.integrations.starlette import (
    RequestContextMiddleware,
    client_lifespan,
    get_client,
    lifespan,
)
from trackwire.testing import RecordingTransport

ROOT = Path(__file__).resolve().parents[2]


def test_fastapi_lifespan_dependency_and_request_context() -> None:
    transport = RecordingTransport()
    clients: list[trackwire.Segment] = []

    def make() -> trackwire.Segment:
        clients.append(trackwire.Segment("k", transport=transport, flush_interval=3600))
        return clients[-1]

    app = FastAPI(lifespan=lifespan(make))
    app.add_middleware(RequestContextMiddleware)

    @app.get("/buy")
    def buy(analytics: Annotated[trackwire.Segment, Depends(get_client)]) -> dict[str, bool]:
        analytics.track("user-1", "Bought")
        return {"ok": True}

    with TestClient(app) as http:
        response = http.get("/buy?item=7", headers={"User-Agent": "UA/2", "Referer": "http://r/"})
        assert response.status_code == 200
    assert clients[0].closed  # the lifespan drained it
    [message] = transport.messages()
    context = message["context"]
    assert context["ip"] == "testclient" and context["userAgent"] == "UA/2"
    assert context["page"] == {
        "url": "http://testserver/buy?item=7", "path": "/buy", "referrer": "http://r/",
        "search": "?item=7",
    }  # fmt: skip


def test_starlette_with_its_own_lifespan_and_no_request() -> None:
    transport = RecordingTransport()
    outside: list[str] = []

    async def root(request: Request) -> JSONResponse:
        return JSONResponse({"client": type(get_client(request)).__name__})

    @asynccontextmanager
    async def own(app: Starlette) -> AsyncIterator[None]:
        async with client_lifespan(app, lambda: trackwire.Amplitude("k", transport=transport)) as c:
            c.track({"event_type": "Started", "device_id": "server-1"})  # outside any request
            outside.append("started")
            yield

    app = Starlette(routes=[Route("/", root)], lifespan=own)
    with TestClient(app) as http:
        assert http.get("/").json() == {"client": "Amplitude"}
    [event] = transport.messages()
    assert "ip" not in event and outside == ["started"]


def test_get_client_without_the_lifespan_says_how() -> None:
    app = Starlette(routes=[Route("/", lambda request: JSONResponse(get_client(request)))])
    with TestClient(app, raise_server_exceptions=True) as http:
        try:
            http.get("/")
        except ConfigError as error:
            assert "lifespan" in str(error)
        else:
            raise AssertionError("get_client() did not refuse")


def test_uvicorn_stopped_by_sigterm_loses_nothing_queued(sink: Sink) -> None:
    env = {**os.environ, "SINK_URL": sink.url, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.integrations.asgi_server"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        http = urllib3.PoolManager(retries=urllib3.Retry(connect=50, backoff_factor=0.05))
        ids = [
            http.request("GET", f"http://127.0.0.1:{port}/play/{n}").json()["message_id"]
            for n in range(20)
        ]
        assert sink.requests == []  # everything is still queued in the server
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert sorted(m["messageId"] for m in sink.delivered()) == sorted(ids), server.stderr.read()
    # uvicorn re-raised SIGTERM after the lifespan ended: the drain happened before that.
    assert server.returncode in (0, -signal.SIGTERM)
