"""Amplitude events, an identify and a revenue event, then Amplitude's segmentation query back.

The collector answers Amplitude's Dashboard API too, so the same client that sent the events
can ask how many were played, grouped by an event property.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import trackwire
from trackwire.amplitude import BaseEvent, EventOptions, Identify, Revenue

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8787"

with trackwire.Amplitude(
    "example-api-key", secret_key="example-secret", server_url=f"{url}/2/httpapi"
) as amp:
    for genre in ("jazz", "jazz", "rock"):
        amp.track(
            BaseEvent("Example Played", user_id="listener-01", event_properties={"genre": genre})
        )
    amp.identify(Identify().set("plan", "pro"), EventOptions(user_id="listener-01"))
    amp.revenue(Revenue(price=9.99, quantity=1, product_id="premium"), user_id="listener-01")
    delivered = amp.flush(timeout=10)

    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    answer = amp.event_segmentation(
        "Example Played",
        today,
        today,
        metric="totals",
        group_by={"type": "event", "value": "genre"},
    )
    for index in range(len(answer.series)):
        print(f"{answer.label(index)}: {answer.collapsed(index):g}")

sys.exit(0 if delivered else 1)
