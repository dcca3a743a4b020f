"""Watching trackwire itself: counters for Prometheus and OpenTelemetry, and a logging recipe.

Every client's ``stats()`` is a plain snapshot (enqueued, delivered, retries, batches,
dropped and failed by reason, queued, in flight, spool bytes, ...). This package turns it into:

- :func:`prometheus_text`: Prometheus' text format, no dependency;
- :class:`~trackwire.metrics.prometheus.TrackwireCollector`: a ``prometheus_client``
  collector (extra ``prometheus``);
- :func:`trackwire.metrics.otel.instrument`: OpenTelemetry instruments (extra ``otel``);
- :class:`TimedTransport`: request durations (the batch latency histogram), for all three;
- :func:`log_reports`: one structured log record per batch report.

The exporters live in submodules, so importing this package imports neither library.
"""

from __future__ import annotations

from trackwire.metrics.latency import BUCKETS, LatencySnapshot, TimedTransport
from trackwire.metrics.logs import fields_of, log_reports
from trackwire.metrics.samples import METRICS, Sample, collect, prometheus_text

__all__ = [
    "BUCKETS",
    "METRICS",
    "LatencySnapshot",
    "Sample",
    "TimedTransport",
    "collect",
    "fields_of",
    "log_reports",
    "prometheus_text",
]
