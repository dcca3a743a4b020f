"""``make demo``: a local collector, realistic streams from all three vendors, and what arrived.

Starts a collector on a free loopback port with its database under ``.trackwire/``, sends a
day of a small shop's events through :class:`trackwire.Segment` (identify, page, screen,
track, group and alias, some with historical timestamps), a music app's through
:class:`trackwire.Amplitude` (events, identify operations, revenue) and a store's batches
through :class:`trackwire.MParticle`; flushes, prints what the clients counted and what the
collector stored, and asks the collector Amplitude's segmentation question back. Needs the
``collector`` extra.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

import trackwire
from trackwire.cli._common import DEFAULT_DB

#: The collector's own default database: ``trackwire collector`` afterwards shows the demo's data.
DB_PATH = Path(DEFAULT_DB)
PRODUCTS = [
    {"product_id": "sku-1001", "name": "Trail Running Shoes", "price": 129.0, "category": "Shoes"},
    {"product_id": "sku-2002", "name": "Rain Jacket", "price": 89.5, "category": "Outerwear"},
    {"product_id": "sku-3003", "name": "Merino Socks", "price": 14.99, "category": "Accessories"},
    {"product_id": "sku-4004", "name": "Headlamp", "price": 39.95, "category": "Gear"},
]
PLANS = ["free", "pro", "enterprise"]
#: Output width: lines are made to fit, never wrapped by the terminal.
_WIDTH = 80


def send_stream(analytics: trackwire.Segment, users: int, rng: random.Random) -> int:
    """Send a realistic session for each of ``users`` users; returns the number of calls."""
    calls = 0
    start = datetime.now(timezone.utc) - timedelta(hours=6)
    for index in range(users):
        user_id = f"user-{index:04d}"
        anonymous_id = f"anon-{rng.getrandbits(48):012x}"
        at = start + timedelta(minutes=rng.randint(0, 300))
        analytics.page(
            anonymous_id=anonymous_id,
            name="Home",
            category="Landing",
            properties={"path": "/", "referrer": "https://search.example"},
            timestamp=at,
        )
        analytics.alias(previous_id=anonymous_id, user_id=user_id, timestamp=at)
        analytics.identify(
            user_id=user_id,
            traits={
                "email": f"{user_id}@example.com",
                "plan": rng.choice(PLANS),
                "created_at": at - timedelta(days=rng.randint(1, 900)),
            },
            context={"ip": f"198.51.100.{index % 250}"},
            timestamp=at,
        )
        analytics.group(
            user_id=user_id,
            group_id=f"org-{index % 7}",
            traits={"name": f"Team {index % 7}", "employees": 10 + index % 7},
        )
        calls += 4
        for step in range(rng.randint(1, 4)):
            product = rng.choice(PRODUCTS)
            at += timedelta(seconds=rng.randint(5, 90))
            analytics.track(
                user_id=user_id, event="Product Viewed", properties=product, timestamp=at
            )
            calls += 1
            if rng.random() < 0.5:
                analytics.track(
                    user_id=user_id,
                    event="Product Added",
                    properties={**product, "quantity": step + 1},
                    timestamp=at,
                )
                calls += 1
        if rng.random() < 0.4:
            total = round(rng.uniform(20, 300), 2)
            analytics.track(
                user_id=user_id,
                event="Order Completed",
                properties={"order_id": f"o-{index:05d}", "revenue": total, "currency": "USD"},
                integrations={"All": True, "Mixpanel": False},
                timestamp=at + timedelta(minutes=2),
            )
            calls += 1
        if index % 5 == 0:
            analytics.screen(user_id=user_id, name="Order History", category="Account")
            calls += 1
    return calls


def send_amplitude(url: str, rng: random.Random) -> tuple[int, bool, Any]:
    """A music app's plays, identifies and purchases; returns (calls, all delivered, answer)."""
    from trackwire.amplitude import EventOptions, Identify, Revenue

    calls = 0
    with trackwire.Amplitude(
        "demo-amplitude-key", server_url=url + "/2/httpapi", secret_key="demo-secret"
    ) as amp:
        for index in range(50):
            user_id = f"listener-{index:03d}"
            amp.identify(
                Identify().set("plan", rng.choice(PLANS)).add("sessions", 1),
                EventOptions(user_id=user_id),
            )
            calls += 1
            for _ in range(rng.randint(1, 5)):
                genre = rng.choice(["jazz", "rock", "folk"])
                amp.track({"event_type": "Song Played", "user_id": user_id,
                           "event_properties": {"genre": genre}})  # fmt: skip
                calls += 1
            if index % 4 == 0:
                amp.revenue(Revenue(price=9.99, quantity=1, product_id="premium"), user_id=user_id)
                calls += 1
        delivered = amp.flush(timeout=30)
        today = datetime.now(timezone.utc).strftime("%Y%m%d")
        answer = amp.event_segmentation(
            "Song Played",
            today,
            today,
            metric="totals",
            group_by={"type": "event", "value": "genre"},
        )
    return calls, delivered, answer


def send_mparticle(url: str, rng: random.Random) -> tuple[int, bool]:
    """A store's batches: identities, attributes, a screen view and a custom event each."""
    from trackwire import mparticle as mp

    with trackwire.MParticle(
        "demo-mparticle-key", "demo-secret", environment="development", host=url
    ) as client:
        for index in range(40):
            batch = mp.Batch(user_identities=mp.UserIdentities(customer_id=f"customer-{index}"))
            batch.user_attributes = {"tier": rng.choice(["bronze", "silver", "gold"])}
            batch.add_event(mp.ScreenViewEvent(screen_name="Catalog"))
            batch.add_event(
                mp.AppEvent("Wishlist Added", mp.CustomEventType.transaction,
                            custom_attributes={"sku": rng.choice(PRODUCTS)["product_id"]})
            )  # fmt: skip
            client.upload(batch)
        return 40, client.flush(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the process exit status."""
    try:
        from rich.console import Console
        from rich.table import Table

        from trackwire.collector.server import start_collector
    except ImportError:
        print("the demo needs the collector extra: pip install 'trackwire[collector]'")
        return 2
    console = Console(width=_WIDTH)

    def say(line: str) -> None:
        print(line, flush=True)  # plain lines, short enough not to wrap in 80 columns

    DB_PATH.parent.mkdir(parents=True, exist_ok=True)
    with start_collector(db=DB_PATH) as collector:
        before = collector.store.stats()["total"]
        say(f"collector: {collector.url}, storing in {DB_PATH}")
        received: list[int] = []
        with trackwire.Segment("demo-write-key", host=collector.url, flush_at=50) as analytics:
            analytics.on("flush", lambda report: received.append(report.count))
            started = time.perf_counter()
            calls = send_stream(analytics, users=200, rng=random.Random(7))
            delivered_all = analytics.flush(timeout=30)
            elapsed = time.perf_counter() - started
            stats = analytics.stats()
        say(
            f"Segment: {calls} calls in {len(received)} batches, flushed in {elapsed * 1000:.0f} ms"
        )
        say(
            f"  delivered={stats['delivered']} failed={sum(stats['failed'].values())} "
            f"dropped={sum(stats['dropped'].values())}"
        )
        amplitude_calls, amplitude_ok, answer = send_amplitude(collector.url, rng=random.Random(8))
        say(f"Amplitude: {amplitude_calls} calls: all delivered={amplitude_ok}")
        mparticle_batches, mparticle_ok = send_mparticle(collector.url, rng=random.Random(9))
        say(f"mParticle: {mparticle_batches} batches: all delivered={mparticle_ok}")
        plays = ", ".join(
            f"{answer.label(i)}={answer.collapsed(i):g}" for i in range(len(answer.series))
        )
        say(f"Amplitude segmentation, Song Played today by genre: {plays}")
        summary = collector.store.stats()
        table = Table(title="Stored (all runs)")
        for column in ("vendor", "source", "type", "count"):
            table.add_column(column, justify="right" if column == "count" else "left")
        for row in summary["by_source"]:
            table.add_row(row["vendor"], row["source"], row["type"], str(row["count"]))
        console.print(table)
        latest = collector.store.events(vendor="segment", type="track", limit=3)
        say("Latest Segment tracks:")
        for event in latest:
            payload: dict[str, Any] = event.payload
            properties = orjson.dumps(payload.get("properties")).decode()
            line = f"  {event.event_name:<15} {event.user_id}  {properties}"
            say(line if len(line) <= _WIDTH else line[: _WIDTH - 1] + "…")
        stored_now = summary["total"] - before
        say(f"stored {stored_now} new events this run ({summary['total']} in all)")
    say(
        "\nKeep a collector running and look at it:\n"
        "  .venv/bin/trackwire collector\n"
        "  .venv/bin/trackwire events --url http://127.0.0.1:8787 --type track\n"
        "  curl http://127.0.0.1:8787/stats\n"
        "  .venv/bin/trackwire amplitude segmentation --help"
    )
    ok = delivered_all and amplitude_ok and mparticle_ok and bool(answer.series)
    if not ok:
        say("not everything sent was stored")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
