"""What to break, and how often: :class:`FaultConfig`, from Python, CLI flags or JSON."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from trackwire.errors import ConfigError

#: A step of a status sequence that lets the request through untouched.
PASS: Final = 0
#: A step of a status sequence that closes the connection without answering.
DROP: Final = -1

_STEP_NAMES: Final[Mapping[str, int]] = {"ok": PASS, "pass": PASS, "drop": DROP}
#: Any ingestion path, in :attr:`FaultConfig.statuses`.
ANY_PATH: Final = "*"


def vendor_of_path(path: str) -> str | None:
    """Which vendor's API a path belongs to, or None for the collector's own paths."""
    if path.startswith("/v1/"):
        return "segment"
    if path.startswith("/v2/"):
        return "mparticle"
    if path in ("/2/httpapi", "/batch", "/identify", "/groupidentify"):
        return "amplitude"
    return None


def step_text(step: int) -> str:
    """A status-sequence step as the CLI and JSON write it (``ok``, ``drop`` or the status)."""
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
                path: [step_text(step) if step <= 0 else step for step in steps]
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
            text = ",".join(step_text(step) if step <= 0 else str(step) for step in steps)
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
