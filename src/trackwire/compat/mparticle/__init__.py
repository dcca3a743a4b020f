"""mParticle's official Python package (``mparticle``) on trackwire's engine.

Change the import and keep the code::

    import trackwire.compat.mparticle as mparticle   # was: import mparticle

    configuration = mparticle.Configuration()
    configuration.api_key = "REPLACE WITH API KEY"
    configuration.api_secret = "REPLACE WITH API SECRET"
    api_instance = mparticle.EventsApi(configuration)

    batch = mparticle.Batch()
    batch.environment = "development"
    batch.user_identities = mparticle.UserIdentities()
    batch.user_identities.customerid = "123456"
    batch.events = [mparticle.AppEvent(event_name="Hello World", custom_event_type="navigation")]
    api_instance.upload_events(batch)

The layout is the official one (``mparticle.models.app_event.AppEvent``, ``mparticle.rest``,
``mparticle.apis.events_api``), and so are the models' fields, checks and ``to_dict()``.
Underneath, :class:`trackwire.MParticle` batches, retries and drains at exit. Differences:
``customerid`` is sent as the documented ``customer_id``; a ``CrashReportEvent`` is sent as
``crash_report`` (not ``commerce_event``); ``Batch(events=...)`` wraps the events as the
``events`` setter does; model checks also run in constructors; requests time out.
"""

from __future__ import annotations

from trackwire.compat.mparticle import apis, models, rest
from trackwire.compat.mparticle.api_client import ApiClient
from trackwire.compat.mparticle.apis.events_api import EventsApi
from trackwire.compat.mparticle.configuration import Configuration
from trackwire.compat.mparticle.models import (
    ApiResponse,
    ApiResponseErrors,
    AppEvent,
    ApplicationInformation,
    ApplicationStateTransitionEvent,
    AttributionInfo,
    Batch,
    BatchContext,
    BreadcrumbEvent,
    CCPAConsentState,
    CommerceEvent,
    ConsentState,
    CrashReportEvent,
    DataPlanContext,
    DeviceCurrentState,
    DeviceInformation,
    EventBase,
    EventData,
    FirstRunEvent,
    GDPRConsentState,
    GeoLocation,
    MediaInfo,
    NetworkPerformanceEvent,
    OptOutEvent,
    Product,
    ProductAction,
    ProductImpression,
    ProfileEvent,
    Promotion,
    PromotionAction,
    PushMessageEvent,
    PushRegistrationEvent,
    ScreenViewEvent,
    SessionEndEvent,
    SessionStartEvent,
    ShoppingCart,
    SourceInformation,
    UserAttributeChangeEvent,
    UserIdentities,
)
from trackwire.compat.mparticle.rest import ApiException

__all__ = [
    "ApiClient",
    "ApiException",
    "ApiResponse",
    "ApiResponseErrors",
    "AppEvent",
    "ApplicationInformation",
    "ApplicationStateTransitionEvent",
    "AttributionInfo",
    "Batch",
    "BatchContext",
    "BreadcrumbEvent",
    "CCPAConsentState",
    "CommerceEvent",
    "Configuration",
    "ConsentState",
    "CrashReportEvent",
    "DataPlanContext",
    "DeviceCurrentState",
    "DeviceInformation",
    "EventBase",
    "EventData",
    "EventsApi",
    "FirstRunEvent",
    "GDPRConsentState",
    "GeoLocation",
    "MediaInfo",
    "NetworkPerformanceEvent",
    "OptOutEvent",
    "Product",
    "ProductAction",
    "ProductImpression",
    "ProfileEvent",
    "Promotion",
    "PromotionAction",
    "PushMessageEvent",
    "PushRegistrationEvent",
    "ScreenViewEvent",
    "SessionEndEvent",
    "SessionStartEvent",
    "ShoppingCart",
    "SourceInformation",
    "UserAttributeChangeEvent",
    "UserIdentities",
    "apis",
    "models",
    "rest",
]
