"""Which fault the next request gets: :class:`FaultInjector`, thread-safe and reconfigurable."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from trackwire.collector.faults.config import ANY_PATH, DROP, FaultConfig, step_text


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
                path: [step_text(s) if s <= 0 else s for s in steps]
                for path, steps in self._remaining.items()
            }
        return {"config": self._config.to_json(), "remaining": remaining, "counts": self.counts()}
