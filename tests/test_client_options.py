"""The one options surface every client shares: names, did-you-mean, types, at construction."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

import trackwire
from trackwire._client import parse_options
from trackwire.testing import RecordingTransport


def make(**options: Any) -> trackwire.Segment:
    options.setdefault("transport", RecordingTransport())
    return trackwire.Segment("KEY", **options)


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("upload_size", "flush_at"),
        ("upload_interval", "flush_interval"),
        ("flushAt", "flush_at"),
        ("flushInterval", "flush_interval"),
        ("send", "enable"),
        ("sync_mode", "flush()"),
        ("maxQueueSize", "max_queue_size"),
        ("thread", "workers"),
        ("flush_at_", "did you mean 'flush_at'"),
        ("max_queue_szie", "did you mean 'max_queue_size'"),
        ("gzip_levl", "did you mean 'gzip_level'"),
    ],
)
def test_unknown_options_name_the_trackwire_option(option: str, says: str) -> None:
    with pytest.raises(trackwire.ConfigError, match=option) as raised:
        make(**{option: 1})
    assert says in str(raised.value)


def test_an_option_nothing_resembles_is_named_without_a_guess() -> None:
    with pytest.raises(trackwire.ConfigError) as raised:
        make(zzz=1)
    assert str(raised.value) == "unknown option 'zzz' for Segment"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"flush_at": "20"}, "flush_at must be an int"),
        ({"flush_at": 0}, "flush_at must be an int >= 1"),
        ({"flush_interval": "10"}, "flush_interval must be a number"),
        ({"flush_interval": float("inf")}, "finite"),
        ({"gzip": "yes"}, "gzip must be True or False"),
        ({"enable": 0}, "enable must be True or False"),
        ({"on_full": "wait"}, "on_full must be one of"),
        ({"retry": {"max_retries": 3}}, "retry must be a trackwire.RetryConfig"),
        ({"max_retries": "3"}, "max_retries must be an int"),
        ({"proxies": 8080}, "proxies must be a proxy URL"),
        ({"proxies": "socks5://x"}, "proxy must be an http"),
        ({"transport": object()}, "transport must have send"),
        ({"on_error": "log"}, "on_error must be callable"),
        ({"middleware": lambda m: m}, "middleware must be a list"),
        ({"middleware": ["x"]}, "a middleware must be a callable"),
        ({"on_middleware_error": "ignore"}, "on_middleware_error must be"),
        ({"ca_certs": 1}, "ca_certs must be a str"),
        ({"host": "https://api.segment.io/v1/batch"}, "pass host='https://api.segment.io'"),
        ({"host": "api.segment.io"}, "host must be an http"),
        ({"region": "mars"}, "region must be one of"),
    ],
)
def test_every_option_is_validated_at_construction(options: dict[str, Any], says: str) -> None:
    with pytest.raises(trackwire.ConfigError) as raised:
        make(**options)
    assert says in str(raised.value)


def test_retry_config_with_a_schedule() -> None:
    retry = trackwire.RetryConfig(delays=[0.1, 0.2])
    assert retry.delays == (0.1, 0.2) and retry.retries_allowed == 2
    with pytest.raises(trackwire.ConfigError, match=r"delays\[1\]"):
        trackwire.RetryConfig(delays=(0.1, -1))


def test_vendor_options_and_renamed_spellings_come_back_to_the_vendor() -> None:
    shared, own = parse_options(
        {"upload_interval": 0.5, "min_id_length": 7, "flush_at": 3},
        vendor="Amplitude",
        own={"min_id_length": 5, "server_zone": "US"},
        renamed={"upload_interval": "flush_interval"},
        defaults={"flush_interval": 1.0},
    )
    assert shared.delivery.flush_interval == 0.5 and shared.delivery.flush_at == 3
    assert own == {"min_id_length": 7, "server_zone": "US"}
    shared, _ = parse_options({}, vendor="Amplitude", defaults={"flush_interval": 1.0})
    assert shared.delivery.flush_interval == 1.0


def test_a_transport_with_only_send_is_completed() -> None:
    class SendOnly:
        def __init__(self) -> None:
            self.inner = RecordingTransport()

        def send(self, request: Any) -> Any:
            return self.inner.send(request)

    transport = SendOnly()
    analytics = trackwire.Segment("KEY", transport=transport, flush_at=1)
    assert analytics.track(user_id="u", event="E").wait(5)
    assert analytics.shutdown(5)
    assert len(transport.inner.requests) == 1


def test_proxies_mapping_picks_the_scheme_of_the_host() -> None:
    shared, _ = parse_options(
        {"proxies": {"https": "http://proxy:3128", "http": "http://other:1"}},
        vendor="Segment",
        url="https://api.segment.io",
    )
    assert shared.delivery.proxy == "http://proxy:3128"


@pytest.mark.parametrize(
    ("proxies", "expected"),
    [
        ({"http": "http://plain:1"}, None),  # no entry for https: no proxy, not the http one
        ({"http": "http://plain:1", "all": "http://every:2"}, "http://every:2"),
        ({}, None),
    ],
)
def test_proxies_without_the_hosts_scheme(proxies: dict[str, str], expected: str | None) -> None:
    shared, _ = parse_options({"proxies": proxies}, vendor="Segment", url="https://api.segment.io")
    assert shared.delivery.proxy == expected


def test_debug_turns_on_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("trackwire")
    level, handlers = logger.level, list(logger.handlers)
    try:
        logger.setLevel(logging.WARNING)
        make(debug=False).shutdown()
        assert not logger.isEnabledFor(logging.DEBUG)
        client = make(debug=True)
        assert logger.isEnabledFor(logging.DEBUG)
        assert any(isinstance(h, logging.StreamHandler) for h in logger.handlers)
        with caplog.at_level(logging.DEBUG, logger="trackwire"):
            client.track(user_id="u", event="E")
            assert client.flush(timeout=10)
        assert any(record.levelno == logging.DEBUG for record in caplog.records)
        client.shutdown()
    finally:
        logger.setLevel(level)
        for handler in logger.handlers[:]:
            if handler not in handlers:
                logger.removeHandler(handler)


def test_the_default_retry_count() -> None:
    assert trackwire.RetryConfig().max_retries == 10
    client = make()
    assert client.retry == trackwire.RetryConfig()
    assert client.retry.retries_allowed == 10
    client.shutdown()
    shared, _ = parse_options({"max_retries": 3}, vendor="Segment")
    assert shared.retry.retries_allowed == 3


def test_ashutdown_returns_a_bool() -> None:
    release = threading.Event()

    class Stuck(RecordingTransport):
        def send(self, request: Any) -> Any:
            release.wait(30)
            return super().send(request)

    async def main() -> tuple[object, object]:
        done = make()
        done.track(user_id="u", event="E")
        stuck = make(transport=Stuck())
        stuck.track(user_id="u", event="E")
        return await done.ashutdown(10), await stuck.ashutdown(0.2)

    try:
        finished, gave_up = asyncio.run(main())
    finally:
        release.set()
    assert finished is True and gave_up is False


def test_shutdown_closes_a_custom_transport() -> None:
    closed: list[int] = []

    class Closing(RecordingTransport):
        def close(self) -> None:
            closed.append(1)

    client = trackwire.MParticle("KEY", "SECRET", transport=Closing(), handle_sigterm=False)
    assert client.shutdown(timeout=5)
    assert closed == [1]


def test_the_per_call_callback_fires_when_middleware_drops_or_fails_the_message() -> None:
    from trackwire import mparticle as mp

    def middleware(batch: dict[str, Any]) -> dict[str, Any] | None:
        if batch["user_attributes"]["kind"] == "fail":
            raise RuntimeError("bug")
        return None if batch["user_attributes"]["kind"] == "drop" else batch

    transport = RecordingTransport()
    client = trackwire.MParticle("KEY", "SECRET", transport=transport, middleware=[middleware])
    settled: list[tuple[str, str | None]] = []
    for kind in ("drop", "fail"):
        batch = mp.Batch(
            "development",
            user_identities=mp.UserIdentities(customer_id="c-1"),
            user_attributes={"kind": kind},
        )
        client.upload(
            batch,
            callback=lambda receipt, kind=kind: settled.append(
                (kind, receipt.error.reason if receipt.error else None)
            ),
        )
    assert settled == [("drop", "filtered"), ("fail", "middleware_error")]
    assert client.shutdown(timeout=5) and transport.requests == []


def test_typed_options_name_exactly_what_the_clients_take() -> None:
    from trackwire._options import _CLIENT_OPTIONS, _DELIVERY_OPTIONS
    from trackwire.amplitude import options as amplitude_options
    from trackwire.config import AmplitudeOptions, SegmentOptions, SharedOptions

    shared = set(SharedOptions.__optional_keys__)
    assert shared == {*_DELIVERY_OPTIONS, *_CLIENT_OPTIONS}
    assert set(AmplitudeOptions.__optional_keys__) - shared == set(amplitude_options.OWN)
    assert set(SegmentOptions.__optional_keys__) - shared == {"host", "region"}


@pytest.mark.parametrize(
    ("vendor", "given", "expected"),
    [
        ("segment", {"upload_size": 5, "send": False, "thread": 2},
         {"flush_at": 5, "enable": False, "workers": 2}),
        ("segment", {"flushInterval": 2500, "disable": True},
         {"flush_interval": 2.5, "enable": False}),
        ("amplitude", {"flush_interval_millis": 50, "flush_max_retries": 1},
         {"flush_interval": 0.05, "max_retries": 1}),
        ("amplitude", {"flush_at": 3, "gzip": True}, {"flush_at": 3, "gzip": True}),
        ("amplitude", {"flush_interval_millis": "soon"}, {"flush_interval": "soon"}),
    ],
)  # fmt: skip
def test_official_spellings_translate_for_the_compat_modules(
    vendor: str, given: dict[str, Any], expected: dict[str, Any]
) -> None:
    from trackwire._official_options import translate

    assert translate(vendor, given) == expected


def test_an_official_spelling_and_trackwires_name_together_are_refused() -> None:
    from trackwire._official_options import translate

    with pytest.raises(trackwire.ConfigError, match="flush_at and upload_size set the same"):
        translate("segment", {"upload_size": 5, "flush_at": 6})
    with pytest.raises(trackwire.ConfigError, match="vendor must be one of"):
        translate("posthog", {})
