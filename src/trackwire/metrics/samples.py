"""Every client's ``stats()`` as named, labelled samples: the one table every exporter reads.

A sample is one number with its labels: ``client`` (the name you gave the source), and for a
FanOut ``destination``; ``reason`` for drops, failures and skips; ``route="historical"`` for
mParticle's historical endpoint. :func:`prometheus_text` writes them in Prometheus' text
format; :mod:`.prometheus` and :mod:`.otel` hand them to those libraries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["METRICS", "Metric", "Sample", "collect", "prometheus_text"]

Kind = Literal["counter", "gauge"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: the ``stats()`` key it reads, its kind, help text and label (if any)."""

    key: str
    kind: Kind
    help: str
    label: str | None = None  # the stats value is a {label value: count} dict
    unit: str = ""


#: Metric name (without the ``trackwire_`` prefix) -> how to read it from ``stats()``.
METRICS: Final[Mapping[str, Metric]] = {
    "enqueued": Metric("enqueued", "counter", "Messages accepted for delivery."),
    "delivered": Metric("delivered", "counter", "Messages the vendor accepted."),
    "retries": Metric("retries", "counter", "Batch attempts that failed and were retried."),
    "batches": Metric("batches", "counter", "Batches delivered."),
    "sent_bytes": Metric("bytes_sent", "counter", "Request body bytes sent.", unit="bytes"),
    "dropped": Metric("dropped", "counter", "Messages never sent, by reason.", "reason"),
    "failed": Metric("failed", "counter", "Messages sent but not accepted, by reason.", "reason"),
    "middleware_errors": Metric("middleware_errors", "counter", "Middleware failures."),
    "skipped": Metric("skipped", "counter", "FanOut calls not sent to a destination.", "reason"),
    "refused": Metric("refused", "counter", "FanOut calls a destination's client refused."),
    "queued": Metric("queued", "gauge", "Messages waiting in the queue."),
    "queued_bytes": Metric("queued_bytes", "gauge", "Bytes waiting in the queue.", unit="bytes"),
    "in_flight": Metric("in_flight", "gauge", "Messages being sent now."),
    "spool_bytes": Metric("spool_bytes", "gauge", "Message bytes in the disk spool.", unit="bytes"),
    "spool_segments": Metric("spool_segments", "gauge", "Segment files in the disk spool."),
    "spool_corrupt": Metric("spool_corrupt", "counter", "Corrupt spool records skipped."),
    "spool_replayed": Metric("spool_replayed", "counter", "Messages replayed from the spool."),
    "spool_write_errors": Metric("spool_write_errors", "counter", "Failed spool writes."),
}

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One number of one metric, with its labels (sorted ``(name, value)`` pairs)."""

    name: str
    value: float
    labels: Labels


def _flatten(stats: Mapping[str, Any], labels: dict[str, str]) -> Iterable[Sample]:
    for name, metric in METRICS.items():
        value = stats.get(metric.key)
        if value is None:
            continue
        if metric.label is None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield Sample(name, float(value), tuple(sorted(labels.items())))
            continue
        if isinstance(value, Mapping):
            for label_value, count in value.items():
                pairs = {**labels, metric.label: str(label_value)}
                yield Sample(name, float(count), tuple(sorted(pairs.items())))
    historical = stats.get("historical")
    if isinstance(historical, Mapping):  # mParticle's second route
        yield from _flatten(historical, {**labels, "route": "historical"})


def _is_fanout(stats: Mapping[str, Any]) -> bool:
    return bool(stats) and all(
        isinstance(value, Mapping) and "enqueued" in value for value in stats.values()
    )


def collect(sources: Mapping[str, Any]) -> list[Sample]:
    """Read ``stats()`` of every source now.

    Args:
        sources: name -> a trackwire client or a FanOut (its destinations become the
            ``destination`` label).
    """
    samples: list[Sample] = []
    for name, source in sources.items():
        stats = source.stats()
        if _is_fanout(stats):
            for destination, inner in stats.items():
                samples.extend(_flatten(inner, {"client": name, "destination": destination}))
        else:
            samples.extend(_flatten(stats, {"client": name}))
    return samples


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels_text(labels: Labels, extra: str = "") -> str:
    parts = [f'{key}="{_escape(value)}"' for key, value in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def prometheus_text(sources: Mapping[str, Any], latency: Mapping[str, Any] | None = None) -> str:
    """The sources' counters in Prometheus' text exposition format (version 0.0.4).

    Serve it from any endpoint with ``Content-Type: text/plain; version=0.0.4``; no Prometheus
    library needed. Counters are named ``trackwire_<name>_total``, gauges ``trackwire_<name>``.

    Args:
        sources: name -> a trackwire client or a FanOut.
        latency: name -> a :class:`~trackwire.metrics.TimedTransport`, for the
            ``trackwire_request_duration_seconds`` histogram.
    """
    by_name: dict[str, list[Sample]] = {}
    for sample in collect(sources):
        by_name.setdefault(sample.name, []).append(sample)
    lines: list[str] = []
    for name, samples in by_name.items():
        metric = METRICS[name]
        family = f"trackwire_{name}"
        lines.append(f"# HELP {family} {metric.help}")
        lines.append(f"# TYPE {family} {metric.kind}")
        suffix = "_total" if metric.kind == "counter" else ""
        for sample in samples:
            lines.append(f"{family}{suffix}{_labels_text(sample.labels)} {sample.value:g}")
    if latency:
        family = "trackwire_request_duration_seconds"
        lines.append(f"# HELP {family} Duration of each HTTP request to a vendor.")
        lines.append(f"# TYPE {family} histogram")
        for name, transport in latency.items():
            snapshot = transport.latency()
            labels = (("client", name),)
            for bound, count in snapshot.cumulative():
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                bucket = _labels_text(labels, 'le="' + le + '"')
                lines.append(f"{family}_bucket{bucket} {count}")
            lines.append(f"{family}_sum{_labels_text(labels)} {snapshot.total:g}")
            lines.append(f"{family}_count{_labels_text(labels)} {snapshot.count}")
    return "\n".join(lines) + "\n"
