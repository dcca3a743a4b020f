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

A fault configuration comes from Python (:class:`FaultConfig`), from CLI flags
(:func:`add_fault_arguments`) or, in development mode, from ``POST /_faults`` with the JSON of
:meth:`FaultConfig.to_json`.
"""

from __future__ import annotations

import argparse
import math
import random
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

import anyio
import orjson

from trackwire.amplitude import wire as amplitude_wire
from trackwire.errors import ConfigError

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

#: A step of a status sequence that lets the request through untouched.
PASS: Final = 0
#: A step of a status sequence that closes the connection without answering.
DROP: Final = -1

_STEP_NAMES: Final[Mapping[str, int]] = {"ok": PASS, "pass": PASS, "drop": DROP}
#: Any ingestion path, in :attr:`FaultConfig.statuses`.
ANY_PATH: Final = "*"
#: Most bytes of request body read and thrown away before answering a faulted request. Reading
#: the body first lets the client see the answer instead of a reset of a half-sent request.
_DRAIN_LIMIT: Final = 32 * 1024 * 1024


def vendor_of_path(path: str) -> str | None:
    """Which vendor's API a path belongs to, or None for the collector's own paths."""
    if path.startswith("/v1/"):
        return "segment"
    if path.startswith("/v2/"):
        return "mparticle"
    if path in ("/2/httpapi", "/batch", "/identify", "/groupidentify"):
        return "amplitude"
    return None


def _step_text(step: int) -> str:
    return {PASS: "ok", DROP: "drop"}.get(step, str(step))


def _check_status(status: int, what: str) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ConfigError(f"{what}: a status must be an integer from 200 to 599; got {status!r}")
    return status


def _parse_step(value: Any, what: str) -> int:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _STEP_NAMES:
            return _STEP_NAMES[text]
        if not text.isdigit():
            raise ConfigError(f"{what}: {value!r} is not a status, 'ok' or 'drop'")
        value = int(text)
    if value in (PASS, DROP) and not isinstance(value, bool):
        return int(value)
    return _check_status(value, what)


def parse_status_sequence(spec: str) -> tuple[str, tuple[int, ...]]:
    """Parse a CLI status sequence ``PATH=STEP,STEP,...``.

    A step is an HTTP status (``500``), ``ok`` (answer normally) or ``drop`` (close the
    connection). ``*`` as the path means every ingestion path without a sequence of its own.
    Example: ``/v1/batch=500,429,ok`` fails the first two batches and accepts the rest.

    Raises:
        ConfigError: the text does not follow that form.
    """
    path, sep, steps = spec.partition("=")
    path = path.strip()
    if not sep or not path or not steps.strip():
        raise ConfigError(f"fault status {spec!r}: expected PATH=STATUS[,STATUS...]")
    if path != ANY_PATH and not path.startswith("/"):
        raise ConfigError(f"fault status {spec!r}: the path must start with / (or be *)")
    return path, tuple(_parse_step(step, f"fault status {spec!r}") for step in steps.split(","))


def _rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{what} must be a number from 0 to 1; got {value!r}")
    return float(value)


def _seconds(value: Any, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(f"{what} must be a number of seconds >= 0; got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """What to break, and how often. The default breaks nothing.

    Attributes:
        statuses: per path (``"/v1/batch"``, or ``"*"`` for any ingestion path), the steps
            answered to the next requests, one step per request, in order; then the path
            behaves normally. A step is a status, :data:`PASS` or :data:`DROP`.
        failure_rate: fraction of requests (0-1) answered with ``failure_status``.
        failure_status: the status of those random failures; default 500.
        drop_rate: fraction of requests (0-1) whose connection is closed without an answer.
        latency: seconds added before every ingestion request is handled; default 0.
        retry_after: seconds sent as ``Retry-After`` on injected 429 and 503; None sends none.
        seed: seed of the random generator behind the rates; None seeds from the OS.
    """

    statuses: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    failure_rate: float = 0.0
    failure_status: int = 500
    drop_rate: float = 0.0
    latency: float = 0.0
    retry_after: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for path, steps in self.statuses.items():
            if path != ANY_PATH and not path.startswith("/"):
                raise ConfigError(f"fault statuses: path {path!r} must start with / (or be *)")
            for step in steps:
                _parse_step(step, f"fault statuses[{path!r}]")
        _rate(self.failure_rate, "failure_rate")
        _rate(self.drop_rate, "drop_rate")
        _check_status(self.failure_status, "failure_status")
        _seconds(self.latency, "latency")
        if self.retry_after is not None:
            _seconds(self.retry_after, "retry_after")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ConfigError(f"seed must be an integer; got {self.seed!r}")

    @property
    def active(self) -> bool:
        """Whether this configuration injects anything at all."""
        return bool(self.statuses or self.failure_rate or self.drop_rate or self.latency > 0)

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON-ready data, the shape ``POST /_faults`` accepts."""
        return {
            "statuses": {
                path: [_step_text(step) if step <= 0 else step for step in steps]
                for path, steps in self.statuses.items()
            },
            "failure_rate": self.failure_rate,
            "failure_status": self.failure_status,
            "drop_rate": self.drop_rate,
            "latency": self.latency,
            "retry_after": self.retry_after,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Build a configuration from :meth:`to_json`-shaped data; absent fields take defaults.

        Raises:
            ConfigError: an unknown field or a bad value; the message names it.
        """
        if not isinstance(data, dict):
            raise ConfigError("a fault configuration must be a JSON object")
        known = {"statuses", "failure_rate", "failure_status", "drop_rate", "latency"}
        known |= {"retry_after", "seed"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown fault option(s) {sorted(unknown)}; known: {sorted(known)}")
        raw_statuses = data.get("statuses") or {}
        if not isinstance(raw_statuses, dict):
            raise ConfigError('"statuses" must map a path to a list of steps')
        statuses: dict[str, tuple[int, ...]] = {}
        for path, steps in raw_statuses.items():
            if not isinstance(steps, list):
                steps = [steps]
            statuses[str(path)] = tuple(_parse_step(s, f"statuses[{path!r}]") for s in steps)
        options = {key: data[key] for key in known - {"statuses"} if data.get(key) is not None}
        return cls(statuses=statuses, **options)

    def to_arguments(self) -> list[str]:
        """The CLI flags that rebuild this configuration (for a collector subprocess)."""
        args: list[str] = []
        for path, steps in self.statuses.items():
            text = ",".join(_step_text(step) if step <= 0 else str(step) for step in steps)
            args += ["--fault-status", f"{path}={text}"]
        if self.failure_rate:
            args += ["--fault-rate", repr(self.failure_rate)]
        if self.failure_status != 500:
            args += ["--fault-rate-status", str(self.failure_status)]
        if self.drop_rate:
            args += ["--fault-drop-rate", repr(self.drop_rate)]
        if self.latency:
            args += ["--fault-latency", repr(self.latency)]
        if self.retry_after is not None:
            args += ["--fault-retry-after", repr(self.retry_after)]
        if self.seed is not None:
            args += ["--fault-seed", str(self.seed)]
        return args


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--fault-*`` flags to a CLI parser (see :func:`fault_config_from_arguments`)."""
    group = parser.add_argument_group("fault injection (for testing retry handling)")
    group.add_argument(
        "--fault-status",
        action="append",
        default=[],
        metavar="PATH=STEPS",
        help="answer the next requests to PATH with these steps, e.g. /v1/batch=500,429,drop,ok "
        "(* = any ingestion path); repeatable",
    )
    group.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="fail this fraction of requests (0-1)",
    )
    group.add_argument(
        "--fault-rate-status",
        type=int,
        default=500,
        metavar="STATUS",
        help="the status of --fault-rate failures (default 500)",
    )
    group.add_argument(
        "--fault-drop-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="close this fraction of connections without answering (0-1)",
    )
    group.add_argument(
        "--fault-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="add this delay before handling each request",
    )
    group.add_argument(
        "--fault-retry-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="send Retry-After on injected 429/503 answers",
    )
    group.add_argument(
        "--fault-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed the random failures, to replay a run",
    )


def fault_config_from_arguments(args: argparse.Namespace) -> FaultConfig:
    """Build a :class:`FaultConfig` from the flags :func:`add_fault_arguments` added.

    Raises:
        ConfigError: a flag's value is invalid.
    """
    statuses: dict[str, tuple[int, ...]] = {}
    for spec in args.fault_status:
        path, steps = parse_status_sequence(spec)
        statuses[path] = statuses.get(path, ()) + steps
    return FaultConfig(
        statuses=statuses,
        failure_rate=args.fault_rate,
        failure_status=args.fault_rate_status,
        drop_rate=args.fault_drop_rate,
        latency=args.fault_latency,
        retry_after=args.fault_retry_after,
        seed=args.fault_seed,
    )


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request.

    Attributes:
        latency: seconds to wait first.
        status: the status to answer instead of handling the request, or None.
        drop: close the connection without answering.
    """

    latency: float = 0.0
    status: int | None = None
    drop: bool = False


class FaultInjector:
    """Decides, request by request, which fault to inject; thread-safe and reconfigurable.

    Args:
        config: the initial configuration; None injects nothing.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._config = FaultConfig()
        self._remaining: dict[str, list[int]] = {}
        self._random = random.Random()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        """The configuration in force."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration; status sequences start over and the generator is reseeded."""
        with self._lock:
            self._config = config
            self._remaining = {path: list(steps) for path, steps in config.statuses.items()}
            self._random = random.Random(config.seed)

    def decide(self, path: str) -> Fault | None:
        """The fault for the next request to ``path``, or None to handle it normally."""
        config = self._config
        if not config.active:
            return None
        with self._lock:
            steps = self._remaining.get(path) or self._remaining.get(ANY_PATH)
            status: int | None = None
            drop = False
            if steps:
                step = steps.pop(0)
                drop = step == DROP
                status = step if step > 0 else None
            elif config.drop_rate and self._random.random() < config.drop_rate:
                drop = True
            elif config.failure_rate and self._random.random() < config.failure_rate:
                status = config.failure_status
            if config.latency > 0:
                self._count("latency")
            if drop:
                self._count("drop")
            elif status is not None:
                self._count(f"status_{status}")
        if config.latency <= 0 and status is None and not drop:
            return None
        return Fault(latency=config.latency, status=status, drop=drop)

    def _count(self, name: str) -> None:
        self._counts[name] = self._counts.get(name, 0) + 1
        self._counts["total"] = self._counts.get("total", 0) + 1

    def counts(self) -> dict[str, int]:
        """Injected faults by kind (``status_500``, ``drop``, ``latency``) and in ``total``."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def state(self) -> dict[str, Any]:
        """The configuration, the steps still queued per path, and the counts, as JSON data."""
        with self._lock:
            remaining = {
                path: [_step_text(s) if s <= 0 else s for s in steps]
                for path, steps in self._remaining.items()
            }
        return {"config": self._config.to_json(), "remaining": remaining, "counts": self.counts()}


#: Builds the answer to an injected status: ``(vendor, path, status, config, request body)`` ->
#: ``(body, content type, extra headers)``.
FaultBody = Callable[
    [str, str, int, FaultConfig, bytes], tuple[bytes, str, list[tuple[bytes, bytes]]]
]
#: An ASGI application.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
#: Request body bytes kept for building an injected answer (Amplitude's 429 lists the events).
_KEEP_BODY: Final = 2 * 1024 * 1024


def default_fault_body(
    vendor: str, path: str, status: int, config: FaultConfig, request_body: bytes
) -> tuple[bytes, str, list[tuple[bytes, bytes]]]:
    """The injected answer in the vendor's own style (its error body, its throttle headers).

    Args:
        vendor: ``segment``, ``amplitude`` or ``mparticle``.
        path: the request path.
        status: the injected status.
        config: the configuration in force (for ``retry_after``).
        request_body: the request body as received (possibly compressed or cut short).
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status Python has no name for, e.g. 460
        phrase = "Error"
    headers: list[tuple[bytes, bytes]] = []
    if config.retry_after is not None and status in (429, 503):
        headers.append((b"retry-after", str(math.ceil(config.retry_after)).encode()))
    message = f"injected fault: HTTP {status} {phrase}"
    json = "application/json"
    if vendor == "segment":
        if status < 300:
            return b'{"success":true}', json, headers
        body = {"success": False, "code": "injected_fault", "message": message}
        return orjson.dumps(body), json, headers
    if vendor == "amplitude":
        if status == 429:
            return orjson.dumps(_amplitude_throttled(path, request_body)), json, headers
        if path in ("/identify", "/groupidentify"):
            text = b"success" if status < 300 else message.encode()
            return text, "text/plain", headers
        if status < 300:
            return orjson.dumps(amplitude_wire.success_body(0, len(request_body), 0)), json, headers
        return orjson.dumps(amplitude_wire.error_body(status, message)), json, headers
    # mParticle answers 2xx with no body and errors as {"errors": [...]}.
    if status < 300:
        return b"", "", headers
    if status == 429:
        headers.append((b"x-mp-rate-limit-exceeded", b"app"))
    code = phrase.upper().replace(" ", "_")
    return orjson.dumps({"errors": [{"code": code, "message": message}]}), json, headers


def _amplitude_throttled(path: str, request_body: bytes) -> dict[str, Any]:
    """Amplitude's 429 body naming every event of the request and its users and devices."""
    endpoint = "batch" if path == "/batch" else "httpapi"
    threshold = amplitude_wire.DEFAULT_EPS_THRESHOLD[endpoint]
    try:
        decoded = orjson.loads(request_body)
    except orjson.JSONDecodeError:  # compressed or cut short: throttle without details
        decoded = None
    events = decoded.get("events") if isinstance(decoded, dict) else None
    events = events if isinstance(events, list) else []
    users: dict[str, int] = {}
    devices: dict[str, int] = {}
    for event in events:
        if isinstance(event, dict):
            if isinstance(event.get("user_id"), str):
                users[event["user_id"]] = threshold + 1
            if isinstance(event.get("device_id"), str):
                devices[event["device_id"]] = threshold + 1
    return amplitude_wire.throttled_body(
        throttled_events=list(range(len(events))),
        throttled_users=users,
        throttled_devices=devices,
        eps_threshold=threshold,
    )


class FaultMiddleware:
    """ASGI middleware that injects the :class:`FaultInjector`'s faults before the app runs.

    It wraps the whole application, so it holds the server's own ``send``: closing a
    connection without an answer needs the server's transport, which uvicorn exposes as the
    ``transport`` attribute of the request cycle that ``send`` belongs to. Under a server
    without it, a drop becomes a response cut off after its headers.

    Args:
        app: the application to protect.
        injector: decides the faults.
        body: builds the vendor-styled answer to an injected status.
    """

    def __init__(
        self, app: ASGIApp, injector: FaultInjector, body: FaultBody = default_fault_body
    ) -> None:
        self.app = app
        self.injector = injector
        self._body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        vendor = vendor_of_path(scope["path"])
        fault = self.injector.decide(scope["path"]) if vendor is not None else None
        if fault is None or vendor is None:
            await self.app(scope, receive, send)
            return
        if fault.latency > 0:
            await anyio.sleep(fault.latency)
        if fault.drop:
            await _drain(receive)
            await _drop(receive, send)
        elif fault.status is not None:
            request_body = await _drain(receive)
            config = self.injector.config
            body, content_type, headers = self._body(
                vendor, scope["path"], fault.status, config, request_body
            )
            headers = [(b"content-length", str(len(body)).encode()), *headers]
            if content_type:
                headers.append((b"content-type", content_type.encode()))
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:
            await self.app(scope, receive, send)


async def _drain(receive: Any) -> bytes:
    """Read the request body; keep its first :data:`_KEEP_BODY` bytes, discard the rest."""
    kept: list[bytes] = []
    read = 0
    while read <= _DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if read < _KEEP_BODY:
            kept.append(chunk)
        read += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(kept)


async def _drop(receive: Any, send: Any) -> None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    close = getattr(transport, "close", None)
    if close is None:
        # No transport to close: start a response and never finish it; the server cuts it off.
        headers = [(b"content-length", b"1024")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        return
    close()
    # Wait for the server to notice, so it does not try to answer on the closed connection.
    with anyio.move_on_after(5.0):
        while (await receive())["type"] != "http.disconnect":
            pass
