"""trackwire.metrics: stats() as samples, the Prometheus text format and collector, the
OpenTelemetry instruments, request latency and the structured-logging recipe."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import trackwire
from trackwire.metrics import TimedTransport, collect, log_reports, prometheus_text
from trackwire.metrics.otel import instrument
from trackwire.metrics.prometheus import TrackwireCollector
from trackwire.testing import HTTPResult, RecordingTransport


@pytest.fixture
def used() -> Iterator[tuple[trackwire.Segment, TimedTransport]]:
    """A client that delivered 3 messages (one 503 retried), then dropped one after close."""
    timed = TimedTransport(
        RecordingTransport([HTTPResult(status=503, body=b"{}")]),
    )
    client = trackwire.Segment(
        "k", transport=timed, retry=trackwire.RetryConfig(initial_backoff=0, max_backoff=0)
    )
    for n in range(3):
        client.track("user-1", "Played", {"n": n})
    assert client.flush(timeout=10)
    assert client.shutdown(timeout=10)
    client.track("user-1", "Too Late")
    yield client, timed


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_samples_read_stats(used: tuple[trackwire.Segment, TimedTransport]) -> None:
    client, _ = used
    samples = {(s.name, s.labels): s.value for s in collect({"seg": client})}
    assert samples[("delivered", (("client", "seg"),))] == 3
    assert samples[("enqueued", (("client", "seg"),))] == 3
    assert samples[("retries", (("client", "seg"),))] >= 1
    assert samples[("dropped", (("client", "seg"), ("reason", "after_close")))] == 1
    assert samples[("queued", (("client", "seg"),))] == 0


def test_text_format_parses_and_carries_latency(
    used: tuple[trackwire.Segment, TimedTransport],
) -> None:
    client, timed = used
    text = prometheus_text({"seg": client}, latency={"seg": timed})
    values = _values(text)
    assert values[("trackwire_delivered_total", (("client", "seg"),))] == 3
    assert values[("trackwire_dropped_total", (("client", "seg"), ("reason", "after_close")))] == 1
    requests = timed.latency().count
    assert requests >= 2  # the 503 and the retry
    assert values[("trackwire_request_duration_seconds_count", (("client", "seg"),))] == requests
    inf = (("client", "seg"), ("le", "+Inf"))
    assert values[("trackwire_request_duration_seconds_bucket", inf)] == requests


def test_prometheus_client_collector_with_a_fanout() -> None:
    fanout = trackwire.FanOut(
        segment=trackwire.Segment("k", transport=RecordingTransport()),
        mparticle=trackwire.MParticle("k", "s", transport=RecordingTransport()),
        filters={"mparticle": {"identify"}},
    )
    fanout.track("user-1", "Played")
    assert fanout.shutdown(timeout=10)
    registry = CollectorRegistry()
    registry.register(TrackwireCollector({"app": fanout}))
    values = _values(generate_latest(registry).decode())
    labels = (("client", "app"), ("destination", "segment"))
    assert values[("trackwire_delivered_total", labels)] == 1
    skipped = (("client", "app"), ("destination", "mparticle"), ("reason", "filtered"))
    assert values[("trackwire_skipped_total", skipped)] == 1


def test_opentelemetry_instruments(used: tuple[trackwire.Segment, TimedTransport]) -> None:
    client, timed = used
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrument({"seg": client}, latency={"seg": timed}, meter_provider=provider)
    timed.record(0.02)  # one more request, recorded into the histogram now
    data = reader.get_metrics_data()
    assert data is not None
    found = {
        metric.name: metric.data.data_points
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    [delivered] = found["trackwire.delivered"]
    assert delivered.value == 3 and dict(delivered.attributes or {}) == {"client": "seg"}
    [dropped] = found["trackwire.dropped"]
    assert dict(dropped.attributes or {}) == {"client": "seg", "reason": "after_close"}
    [duration] = found["trackwire.request.duration"]
    assert duration.count == 1  # type: ignore[union-attr]
    provider.shutdown()


def test_log_reports_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    transport = RecordingTransport([HTTPResult(status=500, body=b"secret-body")])
    client = trackwire.Segment(
        "write-key-123", transport=transport,
        retry=trackwire.RetryConfig(initial_backoff=0, max_backoff=0),
    )  # fmt: skip
    log_reports(client, name="segment")
    with caplog.at_level(logging.DEBUG, logger="trackwire.reports"):
        client.track("user-1", "Played", {"card": "4111"})
        assert client.shutdown(timeout=10)
    records = [r for r in caplog.records if r.name == "trackwire.reports"]
    kinds = [r.trackwire["kind"] for r in records]  # type: ignore[attr-defined]
    assert kinds == ["retry", "flush"]
    retry = records[0].trackwire  # type: ignore[attr-defined]
    assert retry["destination"] == "segment" and retry["status"] == 500
    assert retry["attempt"] == 1 and retry["last_attempt"] is False
    assert records[1].getMessage() == "trackwire delivered 1 message(s)"
    for secret in ("4111", "write-key-123", "secret-body"):
        assert secret not in caplog.text


class _Stats:
    def __init__(self, stats: dict[str, object]) -> None:
        self._stats = stats

    def stats(self) -> dict[str, object]:
        return self._stats


def test_mparticle_historical_route_and_spool_are_labelled() -> None:
    source = _Stats({
        "enqueued": 2, "delivered": 1, "dropped": {}, "spool_bytes": 512,
        "historical": {"enqueued": 1, "delivered": 1, "failed": {"rejected": 1}},
    })  # fmt: skip
    text = prometheus_text({"mp": source})
    values = _values(text)
    assert values[("trackwire_delivered_total", (("client", "mp"),))] == 1
    route = (("client", "mp"), ("route", "historical"))
    assert values[("trackwire_delivered_total", route)] == 1
    assert values[("trackwire_failed_total", (*route[:1], ("reason", "rejected"), route[1]))] == 1
    assert values[("trackwire_spool_bytes", (("client", "mp"),))] == 512
    registry = CollectorRegistry()
    registry.register(TrackwireCollector({"mp": source}))
    from_client = _values(generate_latest(registry).decode())
    assert from_client[("trackwire_delivered_total", (("client", "mp"), ("route", "")))] == 1
    assert from_client[("trackwire_delivered_total", route)] == 1
