"""How the Amplitude client delivers: URLs, retries, throttling, splitting, partial 400s.

Faults come from the collector's own fault injection, or from a small forwarding server on
127.0.0.1 placed in front of the collector when a test needs an answer only Amplitude gives
(a 429 naming one user, a 400 naming one event).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import trackwire
from trackwire._engine.transport import HTTPResult
from trackwire._official_options import translate
from trackwire.amplitude import answers
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.testing import RecordingTransport

from .test_amplitude_to_collector import KEY, events_of

OK = HTTPResult(status=200, body=orjson.dumps(answers.success_body(1, 1, 1)))

# --- URL selection ------------------------------------------------------------------------------

URLS: list[tuple[str, dict[str, Any], str]] = [
    ("default", {}, "https://api2.amplitude.com/2/httpapi"),
    ("eu", {"server_zone": "EU"}, "https://api.eu.amplitude.com/2/httpapi"),
    ("eu lower case", {"server_zone": "eu"}, "https://api.eu.amplitude.com/2/httpapi"),
    ("batch", {"use_batch": True}, "https://api2.amplitude.com/batch"),
    ("eu batch", {"server_zone": "EU", "use_batch": True}, "https://api.eu.amplitude.com/batch"),
    ("server_url wins", {"server_url": "http://127.0.0.1:9/x", "use_batch": True},
     "http://127.0.0.1:9/x"),
    ("token endpoint", {"token_endpoint": "https://api.amplitude.com"},
     "https://api.amplitude.com/2/httpapi"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "url"), [c[1:] for c in URLS], ids=[c[0] for c in URLS]
)  # fmt: skip
def test_url_selection(options: dict[str, Any], url: str) -> None:
    transport = RecordingTransport(default=OK)
    with trackwire.Amplitude(KEY, transport=transport, **options) as amp:
        amp.track({"event_type": "e", "user_id": "user-url-1"})
        assert amp.flush(timeout=10)
    assert [r.url for r in transport.requests] == [url]
    body = orjson.loads(transport.requests[0].body)
    assert body["api_key"] == KEY and len(body["events"]) == 1 and "options" not in body


def test_token_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMPLITUDE_TOKEN_ENDPOINT", "https://api2.amplitude.com/")
    transport = RecordingTransport(default=OK)
    with trackwire.Amplitude(KEY, transport=transport, use_batch=True) as amp:
        amp.track({"event_type": "e", "user_id": "user-url-1"})
        assert amp.flush(timeout=10)
    assert transport.requests[0].url == "https://api2.amplitude.com/batch"


def test_min_id_length_goes_in_options() -> None:
    transport = RecordingTransport(default=OK)
    with trackwire.Amplitude(KEY, transport=transport, min_id_length=2) as amp:
        amp.track({"event_type": "e", "user_id": "ab"})
        assert amp.flush(timeout=10)
    assert orjson.loads(transport.requests[0].body)["options"] == {"min_id_length": 2}


OPTION_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"server_zone": "APAC"}, "server_zone"),
    ({"server_url": "ftp://x"}, "server_url"),
    ({"min_id_length": 0}, "min_id_length"),
    ({"retry_timeouts": [100, -1]}, "retry_timeouts"),
    ({"retry_timeouts": [100], "retry": trackwire.RetryConfig()}, "retry_timeouts or retry"),
    ({"log_level": "loud"}, "log_level"),
    ({"upload_intervall": 1}, "upload_interval"),
    ({"user_id": 5}, "user_id"),
]


@pytest.mark.parametrize(("options", "text"), OPTION_ERRORS)
def test_option_errors_name_the_option(options: dict[str, Any], text: str) -> None:
    with pytest.raises((trackwire.ConfigError, trackwire.ValidationError), match=text):
        trackwire.Amplitude(KEY, **options)


def test_official_option_spellings_map_to_trackwire_options() -> None:
    official = {"max_cached_events": 123, "flush_queue_size": 7, "request_timeout": 2.5}
    for name in official:  # the native client names trackwire's option instead
        with pytest.raises(trackwire.ConfigError, match=f"unknown option '{name}'.*calls it"):
            trackwire.Amplitude(KEY, transport=RecordingTransport(default=OK), **{name: 1})
    options = translate("amplitude", {**official, "flushIntervalMillis": 3000})
    amp = trackwire.Amplitude(
        KEY,
        transport=RecordingTransport(default=OK),
        retry_timeouts=[100, 200],
        **options,
    )
    try:
        assert (amp.config.max_queue_size, amp.config.flush_at) == (123, 7)
        assert (amp.config.timeout, amp.config.flush_interval) == (2.5, 3)
        assert amp.retry.delays == (0.1, 0.2)
    finally:
        amp.shutdown()


# --- retries under the collector's fault injection ------------------------------------------------


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "c.db", port=0) as running:
        yield running


def _faults(collector: RunningCollector, statuses: dict[str, list[Any]]) -> None:
    response = urllib3.request(
        "POST", collector.url + "/_faults", body=orjson.dumps({"statuses": statuses})
    )
    assert response.status == 200


def test_retries_call_on_retry_as_documented(collector: RunningCollector) -> None:
    _faults(collector, {"/2/httpapi": [500, 503]})
    calls: list[tuple[int | None, int, bool]] = []

    def on_retry(response: HTTPResult | None, attempt: int, is_last: bool) -> None:
        calls.append((None if response is None else response.status, attempt, is_last))

    url = collector.url + "/2/httpapi"
    with trackwire.Amplitude(
        KEY, server_url=url, retry_timeouts=[1, 1, 1], on_retry=on_retry
    ) as amp:
        receipt = amp.track({"event_type": "retried", "user_id": "user-rt-1"})
        assert amp.flush(timeout=10)
    assert receipt.ok and receipt.response is not None and receipt.response.status == 200
    # The first attempt (500) is not a retry; retry 0 got 503, retry 1 got 200.
    assert calls == [(503, 0, False), (200, 1, False)]
    assert [e["event_name"] for e in events_of(collector.url)] == ["retried"]


def test_retries_exhausted_report_the_last_retry(collector: RunningCollector) -> None:
    _faults(collector, {"/2/httpapi": [503, 502, 200]})
    calls: list[tuple[int | None, int, bool]] = []
    url = collector.url + "/2/httpapi"
    with trackwire.Amplitude(
        KEY,
        server_url=url,
        retry_timeouts=[1],
        on_retry=lambda r, n, last: calls.append((r.status if r else None, n, last)),
    ) as amp:
        receipt = amp.track({"event_type": "lost", "user_id": "user-rt-2"})
        amp.flush(timeout=10)
    assert receipt.error is not None and receipt.error.reason == "retry_exhausted"
    assert calls == [(502, 0, True)]
    assert events_of(collector.url) == []


def test_413_splits_and_every_event_arrives_once(collector: RunningCollector) -> None:
    _faults(collector, {"/2/httpapi": [413]})
    url = collector.url + "/2/httpapi"
    with trackwire.Amplitude(
        KEY, server_url=url, upload_interval=60, send_first_immediately=False
    ) as amp:
        receipts = [amp.track({"event_type": f"e{i}", "user_id": "user-sp-1"}) for i in range(6)]
        assert amp.flush(timeout=10)
    assert all(r.ok for r in receipts)
    assert sorted(e["event_name"] for e in events_of(collector.url)) == [f"e{i}" for i in range(6)]


# --- answers only Amplitude gives: a forwarding server in front of the collector ------------------

Rule = Callable[[dict[str, Any]], "tuple[int, dict[str, Any]] | dict[str, Any] | None"]


class Forwarder:
    """Forwards each POST to the collector unless ``rule(body)`` answers it or rewrites it.

    ``rule`` returns ``(status, body)`` to answer itself, a new body to forward, or None to
    forward unchanged. Every request body it saw is kept in ``seen``.
    """

    def __init__(self, target: str, rule: Rule, headers: dict[str, str] | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        forwarder = self
        pool = urllib3.PoolManager()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = orjson.loads(raw)
                forwarder.seen.append(body)
                decided = rule(body)
                extra: dict[str, str] = {}
                if isinstance(decided, tuple):
                    status, answer = decided[0], orjson.dumps(decided[1])
                    extra = headers or {}
                else:
                    sent = orjson.dumps(decided) if decided is not None else raw
                    response = pool.request(
                        "POST", target + self.path, body=sent,
                        headers={"Content-Type": "application/json"},
                    )  # fmt: skip
                    status, answer = response.status, response.data
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Forwarder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_throttled_user_waits_while_others_flow(collector: RunningCollector) -> None:
    throttled_once: list[bool] = []

    def rule(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        users = [e.get("user_id") for e in body["events"]]
        if "hot-user-1" in users and not throttled_once:
            throttled_once.append(True)
            hot = [i for i, user in enumerate(users) if user == "hot-user-1"]
            return 429, answers.throttled_body(
                throttled_events=hot, throttled_users={"hot-user-1": 45}
            )
        return None

    with Forwarder(collector.url, rule, {"Retry-After": "0.3"}) as proxy:
        amp = trackwire.Amplitude(
            KEY, server_url=proxy.url + "/2/httpapi", upload_interval=60,
            send_first_immediately=False,
        )  # fmt: skip
        with amp:
            users = ["hot-user-1", "cool-user-1", "hot-user-1", "cool-user-2", "hot-user-1"]
            receipts = [
                amp.track({"event_type": f"e{i}", "user_id": user}) for i, user in enumerate(users)
            ]
            assert amp.flush(timeout=10)
    assert all(r.ok for r in receipts)
    stored = events_of(collector.url)
    order = [(e["user_id"], e["event_name"]) for e in stored]
    # The other users' events arrive first; the throttled user's follow, in their own order.
    assert order == [
        ("cool-user-1", "e1"),
        ("cool-user-2", "e3"),
        ("hot-user-1", "e0"),
        ("hot-user-1", "e2"),
        ("hot-user-1", "e4"),
    ]
    assert len(proxy.seen) >= 3 and len(proxy.seen[0]["events"]) == 5


def test_daily_quota_ids_fail_others_arrive(collector: RunningCollector) -> None:
    answered: list[bool] = []

    def rule(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if not answered:
            answered.append(True)
            return 429, answers.throttled_body(
                throttled_events=[0], exceeded_daily_quota_users={"spam-user-1": 500200}
            )
        return None

    with Forwarder(collector.url, rule) as proxy:
        url = proxy.url + "/2/httpapi"
        with trackwire.Amplitude(
            KEY, server_url=url, upload_interval=60, send_first_immediately=False
        ) as amp:
            spam = amp.track({"event_type": "spam", "user_id": "spam-user-1"})
            fine = amp.track({"event_type": "fine", "user_id": "fine-user-1"})
            assert amp.flush(timeout=10)
    assert fine.ok
    assert spam.error is not None and spam.error.reason == "rejected"
    assert [e["event_name"] for e in events_of(collector.url)] == ["fine"]


def test_partial_400_rejects_the_listed_event_and_resends_the_rest(
    collector: RunningCollector,
) -> None:
    def rule(body: dict[str, Any]) -> dict[str, Any]:
        # Without the client's options the collector applies the default minimum id length,
        # so the event with a 3-character id is invalid there: a real, partial 400.
        return {key: value for key, value in body.items() if key != "options"}

    with Forwarder(collector.url, rule) as proxy:
        url = proxy.url + "/2/httpapi"
        with trackwire.Amplitude(
            KEY, server_url=url, min_id_length=3, upload_interval=60, send_first_immediately=False
        ) as amp:
            first = amp.track({"event_type": "valid 1", "user_id": "user-pa-1"})
            bad = amp.track({"event_type": "short id", "user_id": "abc"})
            last = amp.track({"event_type": "valid 2", "user_id": "user-pa-2"})
            assert amp.flush(timeout=10)
    assert first.ok and last.ok
    assert bad.error is not None and bad.error.reason == "rejected"
    assert bad.response is not None and bad.response.status == 400
    # Two requests: the whole batch (answered 400), then the valid events alone (answered 200).
    assert [len(body["events"]) for body in proxy.seen] == [3, 2]
    names = [e["event_name"] for e in events_of(collector.url)]
    # Each valid event exactly once, whether or not the collector stored them from the 400.
    assert sorted(names) == ["valid 1", "valid 2"]
