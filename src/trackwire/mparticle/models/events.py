"""The events a batch carries, one class per ``event_type``.

Each event serialises as ``{"data": {...}, "event_type": "..."}``, the envelope mParticle
requires; the type comes from the class, so it can never be wrong (the official Python package
sends a crash report as a commerce event). Fields shared by every event live on
:class:`EventBase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from trackwire.mparticle.models._base import Model
from trackwire.mparticle.models.enums import ApplicationTransitionType, CustomEventType
from trackwire.mparticle.models.user import GeoLocation

__all__ = [
    "AppEvent",
    "ApplicationStateTransitionEvent",
    "BreadcrumbEvent",
    "CrashReportEvent",
    "EventBase",
    "FirstRunEvent",
    "IdentityChange",
    "NetworkPerformanceEvent",
    "OptOutEvent",
    "PushMessageEvent",
    "PushRegistrationEvent",
    "ScreenViewEvent",
    "SessionEndEvent",
    "SessionStartEvent",
    "UninstallEvent",
    "UserAttributeChangeEvent",
    "UserIdentityChangeEvent",
]


@dataclass(kw_only=True, repr=False, slots=True)
class EventBase(Model):
    """Fields every event has (mParticle's common ``data`` fields).

    Attributes:
        timestamp_unixtime_ms: when it happened: a ``datetime`` or epoch milliseconds. Unset,
            mParticle uses the time it received the batch.
        source_message_id: the event's de-duplication id; the client fills a unique one when
            the batch is queued, so leave it unset unless you have your own.
        session_id: the session (the same on a session's start and end events).
        session_uuid: the session as a UUID string (mParticle derives ``session_id`` from it).
        session_start_unixtime_ms: when the event's session started.
        custom_attributes: free-form attributes; values are strings, numbers, booleans or None
            (at most 100, names up to 256 characters, values up to 4096).
        location: where it happened.
        device_current_state: mobile device state (battery, orientation, ...), as sent.
        event_id: accepted for compatibility; assigned by mParticle, never sent.
    """

    event_type: ClassVar[str] = ""

    timestamp_unixtime_ms: Any = None
    source_message_id: str | None = None
    session_id: int | None = None
    session_uuid: str | None = None
    session_start_unixtime_ms: Any = None
    custom_attributes: dict[str, Any] | None = None
    location: GeoLocation | None = None
    device_current_state: dict[str, Any] | None = None
    event_id: int | None = None

    _not_sent: ClassVar[frozenset[str]] = frozenset({"event_id"})

    def to_event(self, path: str = "") -> dict[str, Any]:
        """The event as a batch carries it: ``{"data": {...}, "event_type": "..."}``."""
        return {"data": self.to_dict(f"{path}.data"), "event_type": self.event_type}


@dataclass(repr=False, slots=True)
class AppEvent(EventBase):
    """A custom event (``custom_event``): something the user did, by name and type.

    Args:
        event_name: the name (required, at most 256 characters).
        custom_event_type: a :class:`CustomEventType`; default ``other`` as in the official
            package.
        custom_flags: values for specific integrations (``Google.Category`` ...).
    """

    CustomEventType: ClassVar[type[CustomEventType]] = CustomEventType
    event_type: ClassVar[str] = "custom_event"

    event_name: str | None = None
    custom_event_type: str | None = CustomEventType.other
    custom_flags: dict[str, Any] | None = None

    @classmethod
    def create_attribution_event(cls, publisher: str, campaign: str) -> AppEvent:
        """An install attribution event (stored on the user's profile)."""
        return cls(
            "attribution",
            CustomEventType.attribution,
            custom_attributes={"campaign": campaign, "publisher": publisher},
        )

    @classmethod
    def create_attribution_delete_event(cls) -> AppEvent:
        """The event that deletes the user's install attribution."""
        return cls(
            "attribution", CustomEventType.attribution, custom_attributes={"action": "delete"}
        )


@dataclass(repr=False, slots=True)
class ScreenViewEvent(EventBase):
    """A screen (or page) view (``screen_view``); ``screen_name`` is required."""

    event_type: ClassVar[str] = "screen_view"

    screen_name: str | None = None
    activity_type: str | None = None
    custom_flags: dict[str, Any] | None = None


@dataclass(repr=False, slots=True)
class SessionStartEvent(EventBase):
    """The start of a session (``session_start``); give it the session's id or uuid."""

    event_type: ClassVar[str] = "session_start"


@dataclass(repr=False, slots=True)
class SessionEndEvent(EventBase):
    """The end of a session (``session_end``); the session id must match its start's."""

    event_type: ClassVar[str] = "session_end"

    session_duration_ms: Any = None


@dataclass(kw_only=True, repr=False, slots=True)
class BreadcrumbEvent(EventBase):
    """A breadcrumb (``breadcrumb``): a step leading up to a crash; ``label`` is required."""

    event_type: ClassVar[str] = "breadcrumb"

    label: str | None = None
    session_number: int | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class CrashReportEvent(EventBase):
    """A crash report (``crash_report``); ``severity`` and ``message`` are required."""

    event_type: ClassVar[str] = "crash_report"

    severity: str | None = None
    message: str | None = None
    class_name: str | None = None
    stack_trace: str | None = None
    exception_handled: bool | None = None
    topmost_context: str | None = None
    breadcrumbs: list[Any] | None = None
    pl_crash_report_file_base64: str | None = None
    ios_image_base_address: int | None = None
    ios_image_size: int | None = None
    session_number: int | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class OptOutEvent(EventBase):
    """The user opted out of (or back into) tracking (``opt_out``)."""

    event_type: ClassVar[str] = "opt_out"

    is_opted_out: bool | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class PushRegistrationEvent(EventBase):
    """A push token registered or unregistered (``push_registration``)."""

    event_type: ClassVar[str] = "push_registration"

    register: bool | None = None
    registration_token: str | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class PushMessageEvent(EventBase):
    """A push message sent, received or acted on (``push_message``)."""

    event_type: ClassVar[str] = "push_message"

    push_message_type: str | None = None
    push_message_token: str | None = None
    push_notification_payload: str | None = None
    message: str | None = None
    network: str | None = None
    application_state: str | None = None
    action_identifier: str | None = None
    push_message_behavior: str | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class NetworkPerformanceEvent(EventBase):
    """One HTTP call's performance (``network_performance``); url and response_code required."""

    event_type: ClassVar[str] = "network_performance"

    http_verb: str | None = None
    url: str | None = None
    time_elapsed: int | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    response_code: int | None = None
    data: str | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class ApplicationStateTransitionEvent(EventBase):
    """An install, upgrade, launch, exit or foreground/background change.

    ``application_transition_type`` (required) is an :class:`ApplicationTransitionType`;
    ``is_first_run`` and ``is_upgrade`` go with ``application_initialized``.
    """

    event_type: ClassVar[str] = "application_state_transition"

    application_transition_type: str | None = None
    is_first_run: bool | None = None
    is_upgrade: bool | None = None
    successfully_closed: bool | None = None
    push_notification_payload: str | None = None
    launch_referral: str | None = None

    @classmethod
    def create_install_event(cls) -> ApplicationStateTransitionEvent:
        """The app's first launch."""
        return cls(
            application_transition_type=ApplicationTransitionType.application_initialized,
            is_first_run=True,
            is_upgrade=False,
        )

    @classmethod
    def create_upgrade_event(cls) -> ApplicationStateTransitionEvent:
        """The first launch after an upgrade."""
        return cls(
            application_transition_type=ApplicationTransitionType.application_initialized,
            is_first_run=False,
            is_upgrade=True,
        )

    @classmethod
    def create_foreground_event(cls) -> ApplicationStateTransitionEvent:
        """The app came to the foreground."""
        return cls(application_transition_type=ApplicationTransitionType.application_foreground)

    @classmethod
    def create_background_event(cls) -> ApplicationStateTransitionEvent:
        """The app went to the background."""
        return cls(application_transition_type=ApplicationTransitionType.application_background)


@dataclass(kw_only=True, repr=False, slots=True)
class UserAttributeChangeEvent(EventBase):
    """A user attribute set, changed or deleted (``user_attribute_change``)."""

    event_type: ClassVar[str] = "user_attribute_change"

    user_attribute_name: str | None = None
    new: str | list[str] | None = None
    old: str | list[str] | None = None
    deleted: bool | None = None
    is_new_attribute: bool | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class IdentityChange(Model):
    """One side of a user identity change: the identity, its type, and when it was set."""

    identity_type: str | None = None
    identity: str | None = None
    timestamp_unixtime_ms: Any = None
    created_this_batch: bool | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class UserIdentityChangeEvent(EventBase):
    """A user identity changed (``user_identity_change``): ``old`` and ``new`` are required."""

    event_type: ClassVar[str] = "user_identity_change"

    new: IdentityChange | None = None
    old: IdentityChange | None = None


@dataclass(kw_only=True, repr=False, slots=True)
class FirstRunEvent(EventBase):
    """The app's first run (``first_run``): common fields only."""

    event_type: ClassVar[str] = "first_run"


@dataclass(kw_only=True, repr=False, slots=True)
class UninstallEvent(EventBase):
    """The app was uninstalled (``uninstall``): common fields only."""

    event_type: ClassVar[str] = "uninstall"
