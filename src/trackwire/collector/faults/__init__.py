"""Fault injection: make the collector misbehave on purpose, reproducibly.

Retry code is only as good as the failures it was tested against. The collector can answer a
scripted sequence of statuses per path, fail a fraction of requests (with a seeded random
generator, so a failing run can be replayed), add latency, close connections without answering,
and answer 429 with the body each vendor sends when it throttles (Amplitude's
``throttled_devices`` map, mParticle's ``X-mp-rate-limit-exceeded`` header, ``Retry-After``).

Faults apply to the vendors' ingestion paths only (``/v1/...``, ``/2/httpapi``, ``/batch``,
``/identify``, ``/groupidentify``, ``/v2/...``); ``/health``, ``/stats``, ``/events`` and the
admin endpoint always answer. A faulted request is answered before its body is parsed, so it
stores nothing. Every injected fault is counted and shown in ``/stats``.

The package splits by job: :mod:`.config` (what to break), :mod:`.injector` (which request
gets which fault), :mod:`.bodies` (the vendors' error answers) and :mod:`.middleware` (the
ASGI layer). A fault configuration comes from Python (:class:`FaultConfig`), from CLI flags
(:func:`add_fault_arguments`) or, in development mode, from ``POST /_faults`` with the JSON of
:meth:`FaultConfig.to_json`.
"""

from trackwire.collector.faults.bodies import FaultBody, default_fault_body
from trackwire.collector.faults.config import (
    ANY_PATH,
    DROP,
    PASS,
    FaultConfig,
    add_fault_arguments,
    fault_config_from_arguments,
    parse_status_sequence,
    vendor_of_path,
)
from trackwire.collector.faults.injector import Fault, FaultInjector
from trackwire.collector.faults.middleware import FaultMiddleware

__all__ = [
    "ANY_PATH",
    "DROP",
    "PASS",
    "Fault",
    "FaultBody",
    "FaultConfig",
    "FaultInjector",
    "FaultMiddleware",
    "add_fault_arguments",
    "default_fault_body",
    "fault_config_from_arguments",
    "parse_status_sequence",
    "vendor_of_path",
]
