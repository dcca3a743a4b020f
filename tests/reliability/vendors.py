"""Each vendor's client, made the same way in every child process of the reliability suite.

``make_client(vendor, url, **options)`` returns the client and ``send(n)``, which tracks one
event carrying the number ``n`` (``Collected.numbers`` reads it back from the collector).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trackwire

#: Every vendor client the suite drives.
VENDORS = ("segment", "amplitude", "mparticle")
#: The key each vendor's client is made with.
KEYS = {"segment": "tw-key", "amplitude": "tw-amplitude-key", "mparticle": "tw-mparticle-key"}


def make_client(vendor: str, url: str, **options: Any) -> tuple[Any, Callable[[int], Any]]:
    """The vendor's client pointed at the collector at ``url``, and its ``send(n)``."""
    if vendor == "segment":
        segment = trackwire.Segment(KEYS["segment"], host=url, **options)
        return segment, lambda n: segment.track(f"user-{n % 7}", "Numbered", {"n": n})
    if vendor == "amplitude":
        amplitude = trackwire.Amplitude(KEYS["amplitude"], token_endpoint=url, **options)

        def send_amplitude(n: int) -> Any:
            event = {"event_type": "Numbered", "user_id": f"user-{n % 7}"}
            return amplitude.track({**event, "event_properties": {"n": n}})

        return amplitude, send_amplitude
    if vendor == "mparticle":
        mparticle = trackwire.MParticle(
            KEYS["mparticle"], "tw-secret", environment="development", host=url, **options
        )

        def send_mparticle(n: int) -> Any:
            event = {
                "event_type": "custom_event",
                "data": {
                    "event_name": "Numbered",
                    "custom_event_type": "other",
                    "custom_attributes": {"n": n},
                },
            }
            batch = {"user_identities": {"customer_id": f"user-{n % 7}"}, "events": [event]}
            return mparticle.upload(batch)

        return mparticle, send_mparticle
    raise ValueError(f"unknown vendor {vendor!r}")
