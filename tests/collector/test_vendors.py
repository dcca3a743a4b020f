"""The vendor registry: one entry per vendor API, and the narrow view its routes get."""

from __future__ import annotations

import pytest

from trackwire.collector.counters import RequestCounters
from trackwire.collector.keys import fingerprint, parse_keys
from trackwire.collector.sqlite import SQLiteStore
from trackwire.collector.store import VENDORS, EventRecord
from trackwire.collector.vendors import VENDOR_APIS, Ingestion, vendor_api

KEYS = parse_keys(
    {
        "sources": [
            {"name": "backend", "vendor": "segment", "write_key": "seg-key"},
            {"name": "web", "vendor": "amplitude", "api_key": "amp-key", "secret_key": "s"},
            {"name": "feed", "vendor": "mparticle", "key": "mp-key", "secret": "mp-secret"},
        ]
    }
)


def test_one_entry_per_vendor() -> None:
    assert [api.vendor for api in VENDOR_APIS] == list(VENDORS)
    with pytest.raises(KeyError):
        vendor_api("posthog")


@pytest.mark.parametrize(
    ("vendor", "key", "secret", "found"),
    [
        ("segment", "seg-key", None, "backend"),
        ("segment", "amp-key", None, None),  # another vendor's key finds nothing
        ("amplitude", "amp-key", None, "web"),
        ("mparticle", "mp-key", "mp-secret", "feed"),
        ("mparticle", "mp-key", "wrong", None),
        ("mparticle", "mp-key", None, None),
    ],
)
def test_each_vendor_finds_its_own_sources(
    vendor: str, key: str, secret: str | None, found: str | None
) -> None:
    api = vendor_api(vendor)
    with SQLiteStore(":memory:") as store:
        ingestion = Ingestion(api.vendor, api.find, store, KEYS, RequestCounters(), None)
        assert ingestion.source(key, secret) == found
        development = Ingestion(api.vendor, api.find, store, None, RequestCounters(), None)
        assert development.source(key, secret) == fingerprint(key)


def test_write_counts_under_its_vendor() -> None:
    api = vendor_api("amplitude")
    counters = RequestCounters()
    with SQLiteStore(":memory:") as store:
        ingestion = Ingestion(api.vendor, api.find, store, None, counters, None)
        record = EventRecord("amplitude", "web", "event", "E", "u", None, 1, "k", {"a": 1})
        assert ingestion.write([record, record]).stored == 1
    snapshot = counters.snapshot()
    assert snapshot["stored"]["amplitude"]["events"] == 1
    assert snapshot["duplicates"]["amplitude"]["events"] == 1
