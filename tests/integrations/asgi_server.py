"""A real uvicorn serving a FastAPI app with trackwire's lifespan; run by test_starlette.

Prints its port, then serves until a signal stops it. Events wait in the queue (no batch is
full, the interval is long), so only the lifespan's drain can deliver them.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI

import trackwire
from trackwire.integrations.starlette import RequestContextMiddleware, get_client, lifespan


def make_client() -> trackwire.Segment:
    return trackwire.Segment(
        "asgi-key",
        host=os.environ["SINK_URL"],
        flush_at=1000,
        flush_interval=3600,
        send_first_immediately=False,
    )


app = FastAPI(lifespan=lifespan(make_client, shutdown_timeout=20))
app.add_middleware(RequestContextMiddleware)


@app.get("/play/{n}")
def play(n: int, analytics: Annotated[trackwire.Segment, Depends(get_client)]) -> dict[str, str]:
    receipt = analytics.track("user-1", "Played", {"n": n})
    return {"message_id": str(receipt.message_id)}


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])
    sys.exit(0)
