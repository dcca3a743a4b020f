"""A ``prometheus_client`` collector for trackwire's counters (extra ``prometheus``).

::

    from prometheus_client import REGISTRY, start_http_server
    from trackwire.metrics.prometheus import TrackwireCollector

    REGISTRY.register(TrackwireCollector({"segment": analytics}))
    start_http_server(9100)

Every scrape reads each client's ``stats()`` at that moment (see :mod:`.samples` for the
names and labels). Without ``prometheus_client``, :func:`~trackwire.metrics.prometheus_text`
writes the same in the text format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from trackwire.metrics.samples import METRICS, Sample, collect

__all__ = ["TrackwireCollector"]


class TrackwireCollector(Collector):
    """Exposes trackwire clients' counters to a ``prometheus_client`` registry.

    Args:
        sources: name -> a trackwire client or a FanOut (the ``client`` label).
        latency: name -> a :class:`~trackwire.metrics.TimedTransport`, for the
            ``trackwire_request_duration_seconds`` histogram.
    """

    def __init__(
        self, sources: Mapping[str, Any], latency: Mapping[str, Any] | None = None
    ) -> None:
        self.sources = dict(sources)
        self.latency = dict(latency or {})

    def collect(self) -> Iterator[Metric]:
        """One metric family per trackwire metric, read now."""
        by_name: dict[str, list[Sample]] = {}
        for sample in collect(self.sources):
            by_name.setdefault(sample.name, []).append(sample)
        for name, samples in by_name.items():
            metric = METRICS[name]
            # One family has one label set: the union, empty where a sample has none.
            keys = sorted({key for sample in samples for key, _ in sample.labels})
            family: CounterMetricFamily | GaugeMetricFamily
            if metric.kind == "counter":
                family = CounterMetricFamily(f"trackwire_{name}", metric.help, labels=keys)
            else:
                family = GaugeMetricFamily(f"trackwire_{name}", metric.help, labels=keys)
            for sample in samples:
                values = dict(sample.labels)
                family.add_metric([values.get(key, "") for key in keys], sample.value)
            yield family
        if self.latency:
            histogram = HistogramMetricFamily(
                "trackwire_request_duration_seconds",
                "Duration of each HTTP request to a vendor.",
                labels=["client"],
            )
            for name, transport in self.latency.items():
                snapshot = transport.latency()
                buckets = [
                    ("+Inf" if bound == float("inf") else f"{bound:g}", float(count))
                    for bound, count in snapshot.cumulative()
                ]
                histogram.add_metric([name], buckets, snapshot.total)
            yield histogram
