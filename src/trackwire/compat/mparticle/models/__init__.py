"""The official ``mparticle.models`` package: one module per model, each imported here."""

from __future__ import annotations

from trackwire.compat.mparticle.models.api_response import ApiResponse
from trackwire.compat.mparticle.models.api_response_errors import ApiResponseErrors
from trackwire.compat.mparticle.models.app_event import AppEvent
from trackwire.compat.mparticle.models.application_information import ApplicationInformation
from trackwire.compat.mparticle.models.application_state_transition_event import (
    ApplicationStateTransitionEvent,
)
from trackwire.compat.mparticle.models.attribution_info import AttributionInfo
from trackwire.compat.mparticle.models.batch import Batch
from trackwire.compat.mparticle.models.batch_context import BatchContext
from trackwire.compat.mparticle.models.breadcrumb_event import BreadcrumbEvent
from trackwire.compat.mparticle.models.ccpa_consent_state import CCPAConsentState
from trackwire.compat.mparticle.models.commerce_event import CommerceEvent
from trackwire.compat.mparticle.models.consent_state import ConsentState
from trackwire.compat.mparticle.models.crash_report_event import CrashReportEvent
from trackwire.compat.mparticle.models.data_plan_context import DataPlanContext
from trackwire.compat.mparticle.models.device_current_state import DeviceCurrentState
from trackwire.compat.mparticle.models.device_information import DeviceInformation
from trackwire.compat.mparticle.models.event_base import EventBase
from trackwire.compat.mparticle.models.event_data import EventData
from trackwire.compat.mparticle.models.first_run_event import FirstRunEvent
from trackwire.compat.mparticle.models.gdpr_consent_state import GDPRConsentState
from trackwire.compat.mparticle.models.geo_location import GeoLocation
from trackwire.compat.mparticle.models.media_info import MediaInfo
from trackwire.compat.mparticle.models.network_performance_event import NetworkPerformanceEvent
from trackwire.compat.mparticle.models.opt_out_event import OptOutEvent
from trackwire.compat.mparticle.models.product import Product
from trackwire.compat.mparticle.models.product_action import ProductAction
from trackwire.compat.mparticle.models.product_impression import ProductImpression
from trackwire.compat.mparticle.models.profile_event import ProfileEvent
from trackwire.compat.mparticle.models.promotion import Promotion
from trackwire.compat.mparticle.models.promotion_action import PromotionAction
from trackwire.compat.mparticle.models.push_message_event import PushMessageEvent
from trackwire.compat.mparticle.models.push_registration_event import PushRegistrationEvent
from trackwire.compat.mparticle.models.screen_view_event import ScreenViewEvent
from trackwire.compat.mparticle.models.session_end_event import SessionEndEvent
from trackwire.compat.mparticle.models.session_start_event import SessionStartEvent
from trackwire.compat.mparticle.models.shopping_cart import ShoppingCart
from trackwire.compat.mparticle.models.source_information import SourceInformation
from trackwire.compat.mparticle.models.user_attribute_change_event import UserAttributeChangeEvent
from trackwire.compat.mparticle.models.user_identities import UserIdentities

__all__ = [
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
    "ConsentState",
    "CrashReportEvent",
    "DataPlanContext",
    "DeviceCurrentState",
    "DeviceInformation",
    "EventBase",
    "EventData",
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
]
