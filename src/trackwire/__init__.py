"""trackwire: server-side analytics for Python.

Segment, Amplitude and mParticle calls, delivered in the background, in batches, with retries,
without slowing the caller and without losing events::

    import trackwire

    analytics = trackwire.Segment("WRITE_KEY")
    analytics.track(user_id="019mr8mf4r", event="Item Purchased", properties={"revenue": 39.95})
    analytics.flush(timeout=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trackwire import _logging as _logging
from trackwire._engine.receipts import BatchReport, Receipt
from trackwire._version import __version__
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

if TYPE_CHECKING:
    from trackwire.amplitude.client import Amplitude
    from trackwire.fanout import FanOut
    from trackwire.mparticle.client import MParticle
    from trackwire.segment.client import Segment

#: The vendor clients, imported on first use: ``import trackwire`` stays light, and a program
#: that sends to one vendor never loads the others.
_CLIENTS = {
    "Amplitude": "trackwire.amplitude.client",
    "FanOut": "trackwire.fanout",
    "MParticle": "trackwire.mparticle.client",
    "Segment": "trackwire.segment.client",
}


#: Vendor packages reachable as ``trackwire.amplitude`` after a bare ``import trackwire``.
_PACKAGES = frozenset({"amplitude", "mparticle", "segment", "testing"})


def __getattr__(name: str) -> Any:
    import importlib

    if name in _PACKAGES:
        return importlib.import_module(f"trackwire.{name}")
    module = _CLIENTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trackwire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_CLIENTS})


__all__ = [
    "Amplitude",
    "BatchReport",
    "ClientClosedError",
    "ConfigError",
    "DeliveryConfig",
    "DeliveryError",
    "FanOut",
    "MParticle",
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
