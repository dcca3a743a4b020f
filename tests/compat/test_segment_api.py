"""``trackwire.compat.segment`` has segment-analytics-python's names, argument order and errors."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import segment.analytics as official
from segment.analytics.client import Client as OfficialClient

import trackwire.compat.segment as analytics
from trackwire.collector.keys import fingerprint
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.errors import ValidationError

CALLS = ("track", "identify", "group", "alias", "page", "screen")
SETTINGS = (
    "write_key", "host", "on_error", "debug", "log_handler", "send", "sync_mode",
    "max_queue_size", "gzip", "timeout", "max_retries",
)  # fmt: skip


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "compat.db", port=0) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_module() -> Iterator[None]:
    """Each test starts from the official defaults and leaves no default client behind."""
    saved = {name: getattr(analytics, name) for name in SETTINGS}
    analytics.shutdown()
    yield
    analytics.shutdown()
    for name, value in saved.items():
        setattr(analytics, name, value)


def test_module_level_names_match_the_official_library() -> None:
    official_names = {
        name
        for name, value in vars(official).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    missing = sorted(name for name in official_names if not hasattr(analytics, name))

    assert missing == []
    for name in SETTINGS:
        assert getattr(analytics, name) == getattr(official, name), name


@pytest.mark.parametrize("method", [*CALLS, "flush", "join", "shutdown"])
def test_positional_order_matches_the_official_client(method: str) -> None:
    ours = list(inspect.signature(getattr(analytics.Client, method)).parameters)
    theirs = list(inspect.signature(getattr(OfficialClient, method)).parameters)

    assert ours == theirs


def test_client_constructor_matches_the_official_client() -> None:
    ours = dict(inspect.signature(analytics.Client.__init__).parameters)
    theirs = inspect.signature(OfficialClient.__init__).parameters
    # One keyword-only addition: further trackwire options (spool, ...), never positional.
    assert ours.pop("trackwire_options").kind is inspect.Parameter.KEYWORD_ONLY

    assert list(ours) == list(theirs)
    assert {n: p.default for n, p in ours.items()} == {n: p.default for n, p in theirs.items()}


def test_settings_are_read_by_the_first_call(collector: RunningCollector) -> None:
    analytics.write_key = "first-call-key"
    analytics.host = collector.url
    analytics.upload_size = 1

    success, message = analytics.track("user-1", "First", {"n": 1})
    analytics.flush()

    assert success is True
    assert message["event"] == "First" and message["userId"] == "user-1"
    assert analytics.default_client is not None
    assert analytics.default_client.write_key == "first-call-key"
    (event,) = collector.store.events()
    # In development mode the collector names a source by a fingerprint of its write key.
    assert (event.source, event.event_name) == (fingerprint("first-call-key"), "First")


def test_a_missing_write_key_is_the_official_assertion_error() -> None:
    with pytest.raises(AssertionError) as info:
        analytics.track("user-1", "E")

    assert isinstance(info.value, ValidationError)
    assert info.value.field == "write_key"


@pytest.mark.parametrize(
    ("call", "args", "field"),
    [
        ("track", ("user-1",), "event"),
        ("track", (None, "E"), "user_id"),
        ("identify", ("user-1", ["not", "a", "dict"]), "traits"),
        ("group", ("user-1",), "group_id"),
        ("alias", (None, "user-1"), "previous_id"),
        ("page", ("user-1", 5), "category"),
    ],
)
def test_bad_arguments_raise_assertion_errors_naming_the_field(
    call: str, args: tuple[Any, ...], field: str
) -> None:
    client = analytics.Client("key", send=False)
    try:
        with pytest.raises(AssertionError) as info:
            getattr(client, call)(*args)
    finally:
        client.shutdown()

    assert isinstance(info.value, ValidationError)
    assert info.value.field == field


def test_an_oversized_message_is_the_official_runtime_error() -> None:
    client = analytics.Client("key", send=False)
    try:
        with pytest.raises(RuntimeError):
            client.track("user-1", "Big", {"blob": "x" * 40_000})
    finally:
        client.shutdown()


def test_a_call_after_shutdown_is_not_a_success() -> None:
    client = analytics.Client("key", send=True, host="http://127.0.0.1:9")
    client.shutdown()

    success, message = client.track("user-1", "Late")

    assert success is False
    assert message["event"] == "Late"


def test_on_error_gets_the_error_and_the_failed_messages(tmp_path: Path) -> None:
    failures: list[tuple[Any, list[dict[str, Any]]]] = []
    client = analytics.Client(
        "key",
        host="http://127.0.0.1:9",
        max_retries=0,
        on_error=lambda error, items: failures.append((error, items)),
    )
    client.track("user-1", "Lost")
    client.shutdown()

    ((error, items),) = failures
    assert error.reason == "retry_exhausted"
    assert error.detail.startswith("connection_refused:")
    assert [item["event"] for item in items] == ["Lost"]


def test_the_next_call_after_module_shutdown_starts_a_new_client(
    collector: RunningCollector,
) -> None:
    analytics.write_key = "key"
    analytics.host = collector.url
    analytics.track("user-1", "Before")
    first = analytics.default_client
    analytics.shutdown()

    analytics.track("user-1", "After")
    analytics.flush()

    assert analytics.default_client is not None and analytics.default_client is not first
    assert {e.event_name for e in collector.store.events()} == {"Before", "After"}


def test_oauth_is_refused_with_a_clear_message() -> None:
    from trackwire.errors import ConfigError

    with pytest.raises(ConfigError, match="OAuth"):
        analytics.Client("key", oauth_client_id="id", oauth_client_key="k", oauth_key_id="kid")
