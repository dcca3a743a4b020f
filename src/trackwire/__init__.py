"""trackwire: server-side analytics for Python.

Segment, Amplitude and mParticle calls, delivered in the background, in batches, with retries,
without slowing the caller and without losing events::

    import trackwire

    analytics = trackwire.Segment("WRITE_KEY")
    analytics.track(user_id="019mr8mf4r", event="Item Purchased", properties={"revenue": 39.95})
    analytics.flush(timeout=5)
"""

from __future__ import annotations

from trackwire import _logging as _logging
from trackwire._engine.receipts import BatchReport, Receipt
from trackwire._version import __version__
from trackwire.amplitude.client import Amplitude
from trackwire.config import DeliveryConfig, RetryConfig
from trackwire.errors import (
    ClientClosedError,
    ConfigError,
    DeliveryError,
    MessageTooLargeError,
    QueryError,
    TrackwireError,
    ValidationError,
)
from trackwire.middleware import Middleware
from trackwire.segment.client import Segment

__all__ = [
    "Amplitude",
    "BatchReport",
    "ClientClosedError",
    "ConfigError",
    "DeliveryConfig",
    "DeliveryError",
    "MessageTooLargeError",
    "Middleware",
    "QueryError",
    "Receipt",
    "RetryConfig",
    "Segment",
    "TrackwireError",
    "ValidationError",
    "__version__",
]
