"""The spool under the engine, through a client: what differs from the memory queue."""

from __future__ import annotations

import threading
from pathlib import Path

import trackwire
from tests.sink import Sink


def test_a_caller_blocked_on_a_full_spool_resumes_when_a_batch_is_acknowledged(
    sink: Sink, tmp_path: Path
) -> None:
    # Room on disk is freed when a batch is acknowledged, not when it is taken: a blocked
    # caller must be woken then, not at the end of its block_timeout (60 s here).
    client = trackwire.Segment(
        "k",
        host=sink.url,
        spool=str(tmp_path),
        spool_max_bytes=2000,
        on_full="block",
        block_timeout=60,
        flush_at=100,
        flush_interval=0.05,
        send_first_immediately=False,
        handle_sigterm=False,
    )
    done = threading.Event()

    def calls() -> None:
        for n in range(30):  # ~200 bytes each: three times the spool
            client.track("user-1", "Numbered", {"n": n})
        done.set()

    threading.Thread(target=calls, daemon=True).start()
    try:
        assert done.wait(30), "a caller stayed blocked after room was freed"
        assert client.flush(timeout=30)
        assert client.stats()["dropped"] == {}
    finally:
        client.shutdown(timeout=5)
