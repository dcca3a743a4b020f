"""The Celery app test_celery runs a real worker for: filesystem broker and results."""

from __future__ import annotations

import os

from celery import Celery

import trackwire
from trackwire.integrations.celery import setup

_ROOT = os.environ.get("CELERY_TEST_DIR", "")

app = Celery("trackwire_test")
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": os.path.join(_ROOT, "queue"),
        "data_folder_out": os.path.join(_ROOT, "queue"),
        "processed_folder": os.path.join(_ROOT, "processed"),
        "control_folder": os.path.join(_ROOT, "control"),
        "polling_interval": 0.05,
    },
    result_backend=f"file://{os.path.join(_ROOT, 'results')}",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

analytics = setup(
    lambda: trackwire.Segment(
        "celery-key",
        host=os.environ["SINK_URL"],
        flush_at=1000,
        flush_interval=3600,
        send_first_immediately=False,
    ),
    shutdown_timeout=20,
)


@app.task
def charge(user_id: str, n: int) -> dict[str, object]:
    """Tracks without waiting: the event is still queued when the task returns."""
    receipt = analytics.get().track(user_id, "Charged", {"n": n})
    return {"message_id": receipt.message_id, "pid": os.getpid(), "queued": not receipt.done}
