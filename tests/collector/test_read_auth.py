"""Keyed mode guards every read endpoint; development mode stays open and hides keys (issue 7)."""

from __future__ import annotations

import pytest

from tests.collector.conftest import ADMIN_TOKEN, Client, basic
from tests.collector.test_app_segment import _message, _python_sdk_batch
from trackwire.collector.keys import fingerprint, parse_keys
from trackwire.errors import ConfigError

AMP_EVENT = {"event_type": "Played", "user_id": "user-001", "insert_id": "amp-1"}
MP_AUTH = {"Authorization": basic("mp-key", "mp-secret")}


def _fill(client: Client) -> None:
    batch = _python_sdk_batch([_message("track", 1, event="Seg")], key="seg-key")
    assert client.segment("/v1/batch", batch, key="seg-key").status == 200
    amp = client.post("/2/httpapi", {"api_key": "amp-key", "events": [AMP_EVENT]})
    assert amp.status == 200
    mp = client.post("/v2/events", {"environment": "development", "events": []}, headers=MP_AUTH)
    assert mp.status == 202


@pytest.mark.parametrize("path", ["/events", "/stats"])
@pytest.mark.parametrize(
    "auth",
    ["", "Bearer wrong-token-0123456789", basic("nobody"), basic("amp-key", "wrong"), "Basic !!"],
)
def test_keyed_reads_need_a_valid_credential(keyed_client: Client, path: str, auth: str) -> None:
    _fill(keyed_client)

    answer = keyed_client.get(path, auth=auth)

    assert answer.status == 401, answer
    assert b"Played" not in answer.body and b"backend" not in answer.body
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "auth", [f"Bearer {ADMIN_TOKEN}", basic(ADMIN_TOKEN)], ids=["bearer", "basic-user"]
)
def test_admin_token_reads_every_source(keyed_client: Client, auth: str) -> None:
    _fill(keyed_client)

    events = keyed_client.get("/events", auth=auth).json()["events"]
    stats = keyed_client.get("/stats", auth=auth).json()

    assert {e["source"] for e in events} == {"backend", "web", "feed"}
    assert stats["total"] == 3
    assert "requests" in stats


@pytest.mark.parametrize(
    ("auth", "vendor", "name"),
    [
        (basic("seg-key"), "segment", "backend"),
        ("Bearer backend-read-token-0123", "segment", "backend"),
        (basic("backend-read-token-0123"), "segment", "backend"),
        (basic("amp-key", "amp-s"), "amplitude", "web"),
        (basic("mp-key", "mp-secret"), "mparticle", "feed"),
    ],
)
def test_source_credentials_read_only_their_source(
    keyed_client: Client, auth: str, vendor: str, name: str
) -> None:
    _fill(keyed_client)

    events = keyed_client.get("/events", auth=auth).json()["events"]
    stats = keyed_client.get("/stats", auth=auth).json()
    other = keyed_client.get(
        "/events", auth=auth, vendor="segment" if vendor != "segment" else "amplitude"
    )

    assert {(e["vendor"], e["source"]) for e in events} == {(vendor, name)}
    assert [(row["vendor"], row["source"]) for row in stats["by_source"]] == [(vendor, name)]
    assert stats["total"] == 1
    assert "requests" not in stats  # request counters span every source
    assert other.status == 403


def test_health_without_credentials_says_only_up(keyed_client: Client) -> None:
    anonymous = keyed_client.get("/health", auth="")
    admin = keyed_client.get("/health")

    assert anonymous.status == 200
    assert anonymous.json() == {"ok": True}
    assert admin.json()["db"].endswith("keyed.db")
    assert admin.json()["sources"] == 3


def test_development_mode_reads_are_open_and_show_no_raw_key(client: Client) -> None:
    assert (
        client.segment("/v1/batch", _python_sdk_batch([_message("track", 1, event="E")])).status
        == 200
    )

    events = client.get("/events", auth="")
    stats = client.get("/stats", auth="")
    health = client.get("/health", auth="")

    assert events.status == stats.status == health.status == 200
    assert events.json()["events"][0]["source"] == fingerprint("wk")
    assert b'"wk"' not in events.body and b'"wk"' not in stats.body
    assert "db" in health.json()


def test_fingerprint_is_short_stable_and_not_the_key() -> None:
    assert fingerprint("my-secret-write-key") == fingerprint("my-secret-write-key")
    assert fingerprint("my-secret-write-key") != fingerprint("my-secret-write-kez")
    assert "secret" not in fingerprint("my-secret-write-key")
    assert len(fingerprint("x" * 500)) <= 16


@pytest.mark.parametrize("tokens", [["short"], "not-a-list", [""], [1]])
def test_bad_admin_tokens_are_refused_at_start(tokens: object) -> None:
    document = {"admin_tokens": tokens, "sources": []}

    with pytest.raises(ConfigError, match="admin"):
        parse_keys(document)


def test_a_segment_write_key_reads_only_where_the_keys_file_says_so() -> None:
    """A write key is public (it ships in browser code): reading with it is opt-in."""
    document = {
        "sources": [
            {"name": "web", "vendor": "segment", "write_key": "public-wk"},
            {"name": "old", "vendor": "segment", "write_key": "old-wk", "write_key_reads": True},
            {
                "name": "tokened",
                "vendor": "segment",
                "write_key": "wk-3",
                "read_token": "tokened-read-0123456789",
            },
        ]
    }
    keys = parse_keys(document)
    assert keys.reader("public-wk", "") is None
    old = keys.reader("old-wk", "")
    assert old is not None and old.source is not None and old.source.name == "old"
    tokened = keys.reader("tokened-read-0123456789", "")
    assert tokened is not None and tokened.source is not None and tokened.source.name == "tokened"
    assert keys.reader("wk-3", "") is None


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"read_token": "short"}, "read_token must be at least 16 characters"),
        ({"read_token": 5}, "read_token must be a string"),
        ({"write_key_reads": "yes"}, "write_key_reads must be true or false"),
    ],
)
def test_read_options_are_checked(entry: dict[str, object], words: str) -> None:
    source = {"name": "s", "vendor": "segment", "write_key": "k", **entry}
    with pytest.raises(ConfigError, match=words):
        parse_keys({"sources": [source]})


def test_write_key_reads_is_a_segment_option_only() -> None:
    source = {"name": "a", "vendor": "amplitude", "api_key": "k", "secret_key": "s"}
    with pytest.raises(ConfigError, match="unknown field"):
        parse_keys({"sources": [{**source, "write_key_reads": True}]})
