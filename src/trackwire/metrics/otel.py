"""trackwire's counters as OpenTelemetry metrics (extra ``otel``).

::

    from trackwire.metrics import TimedTransport
    from trackwire.metrics.otel import instrument

    timed = TimedTransport()
    analytics = trackwire.Segment("WRITE_KEY", transport=timed)
    instrument({"segment": analytics}, latency={"segment": timed})

Counters (``trackwire.enqueued``, ``trackwire.delivered``, ``trackwire.retries``,
``trackwire.dropped`` with attribute ``reason``, ...) are observable instruments read from each
client's ``stats()`` when the SDK collects; gauges (``trackwire.queued``,
``trackwire.spool_bytes``, ...) likewise; ``trackwire.request.duration`` is a histogram in
seconds recorded as each request ends. Attributes are the labels of :mod:`.samples`
(``client``, ``destination``, ``reason``, ``route``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from trackwire._version import __version__
from trackwire.metrics.samples import METRICS, collect

__all__ = ["instrument"]


def _callback(
    sources: Mapping[str, Any], name: str
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(sample.value, dict(sample.labels))
            for sample in collect(sources)
            if sample.name == name
        ]

    return observe


def instrument(
    sources: Mapping[str, Any],
    *,
    latency: Mapping[str, Any] | None = None,
    meter_provider: MeterProvider | None = None,
) -> Meter:
    """Register trackwire's instruments with OpenTelemetry.

    Args:
        sources: name -> a trackwire client or a FanOut (the ``client`` attribute).
        latency: name -> a :class:`~trackwire.metrics.TimedTransport` whose requests are
            recorded in ``trackwire.request.duration``.
        meter_provider: the provider to use; the global one by default.

    Returns:
        The ``trackwire`` meter the instruments belong to.
    """
    provider = meter_provider or metrics.get_meter_provider()
    meter = provider.get_meter("trackwire", __version__)
    sources = dict(sources)
    for name, metric in METRICS.items():
        unit = "By" if metric.unit == "bytes" else "{message}"
        if name in ("batches", "retries"):
            unit = "{batch}"
        elif name == "spool_segments":
            unit = "{segment}"
        elif name in ("refused", "skipped", "middleware_errors", "spool_write_errors"):
            unit = "{event}"
        callbacks = [_callback(sources, name)]
        if metric.kind == "counter":
            meter.create_observable_counter(
                f"trackwire.{name}", callbacks, unit=unit, description=metric.help
            )
        else:
            meter.create_observable_gauge(
                f"trackwire.{name}", callbacks, unit=unit, description=metric.help
            )
    if latency:
        histogram = meter.create_histogram(
            "trackwire.request.duration", unit="s", description="Duration of each vendor request."
        )
        for client, transport in latency.items():
            attributes = {"client": client}
            transport.add_listener(
                lambda seconds, attributes=attributes: histogram.record(seconds, attributes)
            )
    return meter
