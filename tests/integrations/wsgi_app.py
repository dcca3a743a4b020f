"""A WSGI app served by a real gunicorn in test_gunicorn, with the recipe's config file."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson

import trackwire
from trackwire.integrations import ProcessClient

analytics = ProcessClient(
    lambda: trackwire.Segment(
        "gunicorn-key",
        host=os.environ["SINK_URL"],
        flush_at=1000,
        flush_interval=3600,
        send_first_immediately=False,
    )
)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    built_before = analytics.built  # post_fork built it: the request does not
    receipt = analytics.get().track("user-1", "Requested", {"path": environ["PATH_INFO"]})
    body = orjson.dumps(
        {"message_id": receipt.message_id, "pid": os.getpid(), "built": built_before}
    )
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
