"""Segment's calls through trackwire, to a local collector: each returns a receipt at once."""

from __future__ import annotations

import sys

import trackwire

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8787"

with trackwire.Segment("example-write-key", host=url) as analytics:
    analytics.identify(user_id="019mr8mf4r", traits={"email": "mbolton@example.com"})
    receipt = analytics.track(
        user_id="019mr8mf4r", event="Item Purchased", properties={"revenue": 39.95}
    )
    analytics.page(user_id="019mr8mf4r", category="Docs", name="Python Library")
    delivered = analytics.flush(timeout=10)
    print(f"Item Purchased: messageId={receipt.message_id} ok={receipt.ok} error={receipt.error}")
    print("stats:", analytics.stats()["delivered"], "delivered")

sys.exit(0 if delivered and receipt.ok else 1)
