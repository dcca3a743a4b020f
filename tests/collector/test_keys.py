"""The keys file and the rule that an open (keyless) collector stays on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwire.collector.keys import Keys, Source, check_bind, is_loopback, load_keys, parse_keys
from trackwire.collector.server import start_collector
from trackwire.errors import ConfigError

DOCUMENT = {
    "sources": [
        {"name": "backend", "vendor": "segment", "write_key": "seg-key"},
        {"name": "web", "vendor": "amplitude", "api_key": "amp-key", "secret_key": "amp-secret"},
        {"name": "feed", "vendor": "mparticle", "key": "mp-key", "secret": "mp-secret"},
    ]
}


def test_lookups_by_vendor_key_and_secret() -> None:
    keys = parse_keys(DOCUMENT)

    assert len(keys) == 3
    assert keys.segment("seg-key") == Source("backend", "segment", "seg-key")
    assert keys.segment("amp-key") is None  # keys are per vendor
    assert keys.amplitude("amp-key") is not None
    assert keys.amplitude_query("amp-key", "amp-secret") is not None
    assert keys.amplitude_query("amp-key", "wrong") is None
    mparticle = keys.mparticle("mp-key", "mp-secret")
    assert mparticle is not None and mparticle.name == "feed"
    assert keys.mparticle("mp-key", "wrong") is None
    assert keys.mparticle("unknown", "mp-secret") is None


def test_a_source_never_prints_its_secret() -> None:
    keys = parse_keys(DOCUMENT)

    assert "mp-secret" not in repr(keys.sources)
    assert "amp-secret" not in repr(keys.sources)


def test_load_keys_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(orjson.dumps(DOCUMENT))

    assert [s.name for s in load_keys(path).sources] == ["backend", "web", "feed"]


def _with(entry: dict[str, Any]) -> dict[str, Any]:
    return {"sources": [entry]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], 'expected an object with a "sources" list'),
        ({"sources": {}}, 'expected an object with a "sources" list'),
        ({"sources": [], "extra": 1}, "unknown top-level field(s) ['extra']"),
        ({"sources": ["x"]}, "sources[0]: expected an object"),
        (_with({"name": "a", "vendor": "posthog"}), "vendor must be one of segment"),
        (_with({"name": "a", "vendor": "segment"}), "sources[0]: write_key must be"),
        (_with({"name": "", "vendor": "segment", "write_key": "k"}), "name must be"),
        (
            _with({"name": "a", "vendor": "segment", "writekey": "k"}),
            "unknown field(s) ['writekey']",
        ),
        (_with({"name": "a", "vendor": "amplitude", "api_key": "k"}), "secret_key must be"),
        (_with({"name": "a", "vendor": "mparticle", "key": "k", "secret": 5}), "secret must be"),
        (
            {"sources": [DOCUMENT["sources"][0], {**DOCUMENT["sources"][0], "write_key": "o"}]},
            "two sources (segment and segment) are named 'backend'",
        ),
        (
            {"sources": [DOCUMENT["sources"][0], {**DOCUMENT["sources"][0], "name": "other"}]},
            "share a key",
        ),
    ],
)
def test_malformed_documents_are_refused_with_the_place(document: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_keys(document, origin="keys.json")

    assert message in str(info.value)
    assert str(info.value).startswith("keys")


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")

    with pytest.raises(ConfigError, match="cannot read the keys file"):
        load_keys(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_keys(bad)


def test_a_name_is_one_source_whatever_the_vendor() -> None:
    """A name is a source's identity: two vendors sharing one mixed their users in queries."""
    document = {
        "sources": [
            {"name": "prod", "vendor": "segment", "write_key": "k"},
            {"name": "prod", "vendor": "amplitude", "api_key": "k", "secret_key": "s"},
        ]
    }

    with pytest.raises(
        ConfigError, match=r"two sources \(segment and amplitude\) are named 'prod'"
    ):
        parse_keys(document)

    document["sources"][1]["name"] = "prod-amplitude"
    keys = parse_keys(document)
    assert keys.segment("k") is not None and keys.amplitude("k") is not None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_without_keys_only_loopback_binds_are_allowed() -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without a keys file"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ConfigError, match="--keys FILE"):
        check_bind("192.168.1.20", None)


def test_with_keys_any_bind_is_allowed() -> None:
    check_bind("0.0.0.0", Keys([]))


def test_start_collector_refuses_a_public_bind_without_keys_before_binding(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="refusing to listen"):
        start_collector(db=tmp_path / "never.db", host="0.0.0.0")

    assert not (tmp_path / "never.db").exists()
