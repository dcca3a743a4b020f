"""A logging recipe with structured fields: every batch report as one log record.

::

    import logging
    from trackwire.metrics import log_reports

    log_reports(analytics, name="segment")  # logs on the "trackwire.reports" logger

Each record's message is short and fixed (``"trackwire delivered 20 message(s)"``) and its
fields ride in ``record.trackwire`` (``destination``, ``kind``, ``count``, ``reason``,
``status``, ``attempt``, ``retry_in``, ``last_attempt``), so a JSON formatter or structlog's
``ProcessorFormatter`` can emit them as columns::

    class JSONFormatter(logging.Formatter):
        def format(self, record):
            return json.dumps({"msg": record.getMessage(), **getattr(record, "trackwire", {})})

No message body, key or message id is logged. Deliveries log at DEBUG, retries at INFO, drops
and failures at WARNING.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from trackwire._engine.receipts import BatchReport

__all__ = ["fields_of", "log_reports"]

_LEVELS: Final = {
    "flush": logging.DEBUG,
    "retry": logging.INFO,
    "drop": logging.WARNING,
    "error": logging.WARNING,
}
_VERBS: Final = {"flush": "delivered", "retry": "will retry", "drop": "dropped", "error": "failed"}


def fields_of(report: BatchReport, destination: str) -> dict[str, Any]:
    """The structured fields of one report (no bodies, keys or ids)."""
    fields: dict[str, Any] = {"destination": destination, "kind": report.kind,
                              "count": report.count, "attempt": report.attempt}  # fmt: skip
    if report.reason:
        # A retry's reason is the failure text (status or transport error), never a body.
        fields["reason"] = report.reason
    if report.status is not None:
        fields["status"] = report.status
    if report.retry_in is not None:
        fields["retry_in"] = round(report.retry_in, 3)
    if report.kind in ("retry", "error"):
        fields["last_attempt"] = report.last_attempt
    return fields


def log_reports(client: Any, *, name: str, logger: logging.Logger | None = None) -> None:
    """Log every batch report of ``client`` (any trackwire client or a FanOut) with
    structured fields in ``record.trackwire``.

    Args:
        client: the client to watch.
        name: the ``destination`` field for a plain client (a FanOut names its own).
        logger: where to log; ``logging.getLogger("trackwire.reports")`` by default.
    """
    log = logger or logging.getLogger("trackwire.reports")

    def emit(destination: str, report: BatchReport) -> None:
        level = _LEVELS[report.kind]
        if log.isEnabledFor(level):
            log.log(
                level,
                "trackwire %s %s message(s)",
                _VERBS[report.kind],
                report.count,
                extra={"trackwire": fields_of(report, destination)},
            )

    from trackwire.fanout import FanOut

    for kind in _LEVELS:
        if isinstance(client, FanOut):
            client.on(kind, emit)
        else:
            client.on(kind, lambda report: emit(name, report))
