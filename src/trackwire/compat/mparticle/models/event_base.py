"""An event as sent: ``{"event_type": ..., "data": {...}}``."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, one_of

__all__ = ["EventBase"]


class EventBase(Model):
    """An event as sent: ``{"event_type": ..., "data": {...}}``."""

    data: Model | None  # the event itself (AppEvent, CommerceEvent, ...)
    event_type: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "data": "EventData",
        "event_type": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "event_type": one_of(
            (
                "unknown",
                "session_start",
                "session_end",
                "screen_view",
                "custom_event",
                "crash_report",
                "opt_out",
                "first_run",
                "pre_attribution",
                "push_registration",
                "application_state_transition",
                "push_message",
                "network_performance",
                "breadcrumb",
                "profile",
                "push_reaction",
                "commerce_event",
                "user_attribute_change",
            )
        ),
    }
