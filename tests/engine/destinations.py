"""Every destination the engine contract suite runs over, by name.

A destination here is made from a URL; the suite scripts its transport with answers whose
meaning is the same for every vendor (2xx delivered, 503 retried, 400 rejected, 413 split). A
new vendor adds its destination factory here and every contract test runs against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from trackwire._engine.batcher import BatchLimits
from trackwire._engine.destination import Destination, HTTPDestination
from trackwire._engine.retry import Outcome, classify_http
from trackwire._engine.transport import HTTPResult
from trackwire.mparticle.client import destination as mparticle_destination
from trackwire.segment.destination import destination as segment_destination


def generic_destination(url: str) -> Destination:
    """A vendor-less JSON API: ``{"batch": [...]}``, plain HTTP meanings."""

    def envelope(messages: Sequence[bytes]) -> bytes:
        return b'{"batch":[' + b",".join(messages) + b"]}"

    def outcome(result: HTTPResult, messages: Sequence[bytes]) -> Outcome:
        return classify_http(
            result.status,
            result.error,
            result.headers.get("retry-after"),
            time.time(),
            len(messages),
        )

    return HTTPDestination(
        name="generic",
        url=url + "/ingest",
        limits=BatchLimits(max_count=100, max_bytes=100_000, overhead=12),
        envelope=envelope,
        outcome=outcome,
        retry_header="X-Retry-Count",
    )


#: name -> factory(base_url); each sends bodies shaped ``{"batch": [...], ...}`` or, for
#: mParticle's bulk endpoint, a JSON array of the messages.
DESTINATIONS: dict[str, Callable[[str], Destination]] = {
    "generic": generic_destination,
    "segment": lambda url: segment_destination("WRITE_KEY", url, 5.0),
    "mparticle": lambda url: mparticle_destination(url + "/v2/bulkevents", "KEY", "SECRET", 5.0),
}
