"""A collector for the ingest benchmark, in a process of its own.

``--mode sqlite`` is the real collector storing into a SQLite file; ``--mode sink`` is the same
application (HTTP, body reading, JSON parsing, Segment's checks, record building) with a store
that keeps nothing: the ceiling the SQLite store is measured against. Prints its URL on the
first line of stdout and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

import uvicorn

from trackwire.collector.app import create_app
from trackwire.collector.sqlite import SQLiteStore
from trackwire.collector.store import EventRecord, IngestResult


class NullStore:
    """Accepts every record and keeps none (only the parts of Store the ingest path uses)."""

    def ingest(
        self,
        records: Sequence[EventRecord],
        *,
        request_key: str | None = None,
        received_time_ms: int | None = None,
        max_bytes: int | None = None,
    ) -> IngestResult:
        return IngestResult(stored=len(records), duplicates=0)

    def stats(self) -> dict[str, Any]:
        return {"total": 0, "by_source": []}

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("sqlite", "sink"), required=True)
    parser.add_argument("--db", default=":memory:")
    args = parser.parse_args()
    store: Any = SQLiteStore(args.db) if args.mode == "sqlite" else NullStore()
    app = create_app(store, db_path=args.db)
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and without it
    # Nagle holds every keep-alive response for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # clients that connect before the server runs wait in the backlog
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    asyncio.run(server.serve(sockets=[sock]))
    store.close()


if __name__ == "__main__":
    main()
