"""gunicorn: the documented hooks build a client in each worker and drain it at worker exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import urllib3

from tests.sink import Sink

ROOT = Path(__file__).resolve().parents[2]


def test_workers_build_their_client_after_fork_and_drain_at_exit(sink: Sink) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {**os.environ, "SINK_URL": sink.url, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "tests/integrations/gunicorn_conf.py",
         "--bind", f"fd://{listener.fileno()}", "tests.integrations.wsgi_app:app"],
        cwd=ROOT, env=env, pass_fds=[listener.fileno()],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    listener.close()
    try:
        http = urllib3.PoolManager(num_pools=1, maxsize=1, retries=False)
        answers = [
            http.request("GET", f"http://127.0.0.1:{port}/r/{n}", headers={"Connection": "close"})
            .json()
            for n in range(12)
        ]  # fmt: skip
        assert all(answer["built"] for answer in answers)
        assert server.pid not in {answer["pid"] for answer in answers}
        assert sink.requests == []  # still queued in the workers
        server.send_signal(signal.SIGTERM)  # graceful stop: workers exit
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    output = server.stdout.read() if server.stdout else ""
    delivered = sorted(m["messageId"] for m in sink.delivered())
    assert delivered == sorted(answer["message_id"] for answer in answers), output
