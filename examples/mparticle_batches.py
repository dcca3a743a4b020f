"""mParticle batches: one user each, with attributes, a screen view and a custom event."""

from __future__ import annotations

import sys

import trackwire
from trackwire import mparticle as mp

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8787"

with trackwire.MParticle(
    "example-key", "example-secret", environment="development", host=url
) as client:
    receipts = []
    for number in range(3):
        batch = mp.Batch(user_identities=mp.UserIdentities(customer_id=f"customer-{number}"))
        batch.user_attributes = {"tier": "gold"}
        batch.add_event(mp.ScreenViewEvent(screen_name="Catalog"))
        batch.add_event(
            mp.AppEvent(
                "Wishlist Added", mp.CustomEventType.transaction, custom_attributes={"sku": "sku-1"}
            )
        )
        receipts.append(client.upload(batch))
    delivered = client.flush(timeout=10)

print(f"{sum(r.ok for r in receipts)} of {len(receipts)} batches delivered")
sys.exit(0 if delivered and all(r.ok for r in receipts) else 1)
