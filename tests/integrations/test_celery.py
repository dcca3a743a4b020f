"""Celery: a real prefork worker (filesystem broker) builds a client per pool process, tasks
track without blocking, and the worker's shutdown drains what they queued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sink import Sink

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_env(tmp_path: Path, sink: Sink, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for folder in ("queue", "processed", "results", "control"):
        (tmp_path / folder).mkdir()
    monkeypatch.setenv("CELERY_TEST_DIR", str(tmp_path))
    monkeypatch.setenv("SINK_URL", sink.url)
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_a_prefork_worker_drains_at_shutdown(celery_env: dict[str, str], sink: Sink) -> None:
    sys.modules.pop("tests.integrations.celery_app", None)  # read this test's folders
    from tests.integrations.celery_app import charge

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.integrations.celery_app", "worker",
         "--pool=prefork", "--concurrency=1", "--loglevel=WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=celery_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        results = [charge.delay(f"user-{n}", n) for n in range(5)]
        done = [result.get(timeout=60, interval=0.05) for result in results]
        assert all(item["queued"] for item in done)  # the tasks did not wait for delivery
        assert len({item["pid"] for item in done}) == 1 and done[0]["pid"] != worker.pid
        assert sink.requests == []
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = worker.stdout.read() if worker.stdout else ""
    delivered = sorted(m["messageId"] for m in sink.delivered())
    assert delivered == sorted(item["message_id"] for item in done), output
