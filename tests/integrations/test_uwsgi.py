"""uWSGI: the documented recipe (``--enable-threads``, ``postfork``, ``uwsgi.atexit``) builds a
client in each worker and drains it when the workers end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson

from tests.sink import Sink

ROOT = Path(__file__).resolve().parents[2]
UWSGI = Path(sys.executable).with_name("uwsgi")


def _ready_workers(listener: socket.socket, count: int) -> set[int]:
    """The pids of ``count`` workers, each announced by its postfork hook (30 s at most)."""
    listener.settimeout(30)
    pids = set()
    for _ in range(count):
        conn, _ = listener.accept()
        with conn:
            pids.add(int(conn.recv(64)))
    return pids


def _get(path: str) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(path)
        conn.sendall(b"GET /r HTTP/1.0\r\nHost: test\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return orjson.loads(data.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


def test_workers_build_their_client_after_fork_and_drain_at_exit(
    sink: Sink, tmp_path: Path
) -> None:
    ready = socket.socket(socket.AF_UNIX)
    ready.bind(str(tmp_path / "ready.sock"))
    ready.listen(4)
    listen = str(tmp_path / "http.sock")
    fifo = str(tmp_path / "master.fifo")
    env = {**os.environ, "SINK_URL": sink.url, "READY_SOCKET": str(tmp_path / "ready.sock"),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    server = subprocess.Popen(
        [str(UWSGI), "--master", "--processes", "2", "--enable-threads",
         "--need-app", "--disable-logging", "--http-socket", listen, "--master-fifo", fifo,
         "--module", "tests.integrations.uwsgi_app:app", "--home", str(UWSGI.parent.parent)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        workers = _ready_workers(ready, 2)
        answers = [_get(listen) for _ in range(8)]
        assert all(answer["built"] for answer in answers)
        assert {answer["pid"] for answer in answers} <= workers
        assert sink.requests == []  # still queued in the workers
        with open(fifo, "w") as control:
            control.write("q")  # the master FIFO's graceful shutdown
        server.wait(timeout=60)
    finally:
        ready.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    output = server.stdout.read() if server.stdout else ""
    delivered = sorted(m["messageId"] for m in sink.delivered())
    assert delivered == sorted(str(answer["message_id"]) for answer in answers), output
