"""Django: the app builds the client per process, the middleware adds request context, and the
client is drained at worker exit."""

from __future__ import annotations

import multiprocessing
import os

import django
from django.conf import settings

from tests.integrations import django_project

if not settings.configured:
    settings.configure(**django_project.SETTINGS)
    django.setup()

from django.test import Client

from trackwire.integrations import django as integration


def test_a_view_call_carries_the_request_context() -> None:
    response = Client().get(
        "/signup?plan=pro", HTTP_USER_AGENT="UA/4", HTTP_REFERER="http://example.com/"
    )
    assert response.status_code == 200
    assert integration.get_client().flush(timeout=10)
    message = next(m for m in django_project.TRANSPORT.messages() if m["event"] == "Signed Up")
    assert message["properties"] == {"plan": "pro"}
    context = message["context"]
    assert (context["ip"], context["userAgent"]) == ("127.0.0.1", "UA/4")
    assert context["page"] == {
        "url": "http://testserver/signup?plan=pro", "path": "/signup",
        "referrer": "http://example.com/", "search": "?plan=pro",
    }  # fmt: skip


def _in_child(queue: multiprocessing.Queue[object], parent_client_id: int) -> None:
    client = integration.get_client()
    client.track("user-2", "From The Child")
    # The worker's exit: what the atexit hook (or gunicorn's worker_exit) runs.
    drained = integration.shutdown()
    sent = [m["event"] for m in django_project.TRANSPORT.messages()]
    queue.put((id(client) != parent_client_id, os.getpid(), drained, sent))


def test_each_forked_worker_builds_and_drains_its_own_client() -> None:
    parent = integration.get_client()
    queue: multiprocessing.Queue[object] = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_in_child, args=(queue, id(parent)))
    child.start()
    rebuilt, pid, drained, sent = queue.get(timeout=30)  # type: ignore[misc]
    child.join(30)
    assert rebuilt and drained and pid != os.getpid()
    assert "From The Child" in sent
    assert integration.get_client() is parent  # the parent's client is untouched
