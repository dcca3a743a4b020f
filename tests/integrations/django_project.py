"""The Django project test_django runs: settings, one view, a client factory."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import path

import trackwire
from trackwire.integrations.django import get_client
from trackwire.testing import RecordingTransport

TRANSPORT = RecordingTransport()

SETTINGS: dict[str, Any] = {
    "SECRET_KEY": "test-only",
    "ALLOWED_HOSTS": ["testserver"],
    "ROOT_URLCONF": __name__,
    "INSTALLED_APPS": ["trackwire.integrations.django.TrackwireConfig"],
    "MIDDLEWARE": ["trackwire.integrations.django.TrackwireMiddleware"],
    "TRACKWIRE": {"CLIENT": f"{__name__}.make_client", "SHUTDOWN_TIMEOUT": 5},
}


def make_client() -> trackwire.Segment:
    return trackwire.Segment("django-key", transport=TRANSPORT, flush_interval=3600)


def signup(request: Any) -> HttpResponse:
    get_client().track("user-1", "Signed Up", {"plan": request.GET.get("plan")})
    return HttpResponse("ok")


urlpatterns = [path("signup", signup)]
