"""One user's data and events: the body of one upload."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Final

from trackwire.compat.mparticle.models._model import Model, one_of
from trackwire.compat.mparticle.models.app_event import AppEvent
from trackwire.compat.mparticle.models.application_state_transition_event import (
    ApplicationStateTransitionEvent,
)
from trackwire.compat.mparticle.models.breadcrumb_event import BreadcrumbEvent
from trackwire.compat.mparticle.models.commerce_event import CommerceEvent
from trackwire.compat.mparticle.models.crash_report_event import CrashReportEvent
from trackwire.compat.mparticle.models.event_base import EventBase
from trackwire.compat.mparticle.models.first_run_event import FirstRunEvent
from trackwire.compat.mparticle.models.network_performance_event import NetworkPerformanceEvent
from trackwire.compat.mparticle.models.opt_out_event import OptOutEvent
from trackwire.compat.mparticle.models.profile_event import ProfileEvent
from trackwire.compat.mparticle.models.push_message_event import PushMessageEvent
from trackwire.compat.mparticle.models.push_registration_event import PushRegistrationEvent
from trackwire.compat.mparticle.models.screen_view_event import ScreenViewEvent
from trackwire.compat.mparticle.models.session_end_event import SessionEndEvent
from trackwire.compat.mparticle.models.session_start_event import SessionStartEvent
from trackwire.compat.mparticle.models.user_attribute_change_event import (
    UserAttributeChangeEvent,
)

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.application_information import ApplicationInformation
    from trackwire.compat.mparticle.models.batch_context import BatchContext
    from trackwire.compat.mparticle.models.consent_state import ConsentState
    from trackwire.compat.mparticle.models.device_information import DeviceInformation
    from trackwire.compat.mparticle.models.user_identities import UserIdentities

__all__ = ["EVENT_TYPES", "Batch"]

#: Each event class and the ``event_type`` it is sent as. The official package sends a
#: CrashReportEvent as "commerce_event" (a bug): here it is "crash_report", as documented.
EVENT_TYPES: Final[dict[type[Model], str]] = {
    AppEvent: "custom_event",
    FirstRunEvent: "first_run",
    SessionStartEvent: "session_start",
    SessionEndEvent: "session_end",
    ApplicationStateTransitionEvent: "application_state_transition",
    ScreenViewEvent: "screen_view",
    PushRegistrationEvent: "push_registration",
    ProfileEvent: "profile",
    OptOutEvent: "opt_out",
    BreadcrumbEvent: "breadcrumb",
    CommerceEvent: "commerce_event",
    PushMessageEvent: "push_message",
    NetworkPerformanceEvent: "network_performance",
    CrashReportEvent: "crash_report",
    UserAttributeChangeEvent: "user_attribute_change",
}


class Batch(Model):
    """One user's data and events: the body of one upload."""

    events: list[EventBase] | None
    source_request_id: str | None
    environment: str | None
    ip: str | None
    schema_version: int | None
    device_info: DeviceInformation | None
    application_info: ApplicationInformation | None
    user_attributes: Any | None
    deleted_user_attributes: list[str] | None
    user_identities: UserIdentities | None
    consent_state: ConsentState | None
    integration_attributes: dict[str, Any] | None
    api_key: str | None
    mpid: int | None
    mp_deviceid: str | None
    context: BatchContext | None

    swagger_types: ClassVar[dict[str, str]] = {
        "events": "list[EventBase]",
        "source_request_id": "str",
        "environment": "str",
        "ip": "str",
        "schema_version": "int",
        "device_info": "DeviceInformation",
        "application_info": "ApplicationInformation",
        "user_attributes": "object",
        "deleted_user_attributes": "list[str]",
        "user_identities": "UserIdentities",
        "consent_state": "ConsentState",
        "integration_attributes": "dict(str, dict(str, str))",
        "api_key": "str",
        "mpid": "int",
        "mp_deviceid": "str",
        "context": "BatchContext",
    }
    order: ClassVar[tuple[str, ...]] = (
        "events",
        "source_request_id",
        "environment",
        "ip",
        "schema_version",
        "device_info",
        "application_info",
        "user_attributes",
        "deleted_user_attributes",
        "user_identities",
        "api_key",
        "mpid",
        "mp_deviceid",
        "consent_state",
        "context",
        "integration_attributes",
    )
    checks: ClassVar[dict[str, Any]] = {
        "environment": one_of(("production", "development")),
    }

    def __setattr__(self, name: str, value: Any) -> None:
        # As the official `events` setter: each event is wrapped as {"event_type", "data"}.
        # Unlike the official constructor, `Batch(events=...)` wraps them too.
        if name == "events" and value is not None:
            value = [_wrap(event, index) for index, event in enumerate(_listed(value))]
        super().__setattr__(name, value)


def _listed(events: Any) -> Iterable[Any]:
    if isinstance(events, Model) or not isinstance(events, list | tuple):
        raise ValueError(f"Batch.events must be a list of events, got {type(events).__name__}")
    return events


def _wrap(event: Any, index: int) -> EventBase:
    if isinstance(event, EventBase):
        return event
    event_type = EVENT_TYPES.get(type(event))
    if event_type is None:
        names = ", ".join(kind.__name__ for kind in EVENT_TYPES)
        raise ValueError(
            f"Invalid event type: {type(event).__name__} at events[{index}] added to batch, "
            f"must be one of {names}"
        )
    return EventBase(data=event, event_type=event_type)
