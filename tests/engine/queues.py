"""Every MessageQueue implementation, by name, for the contract suites to run over.

A new queue (the spool) adds its factory here and every contract test runs against it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trackwire._engine.buffer import Buffer
from trackwire._engine.queue import MessageQueue
from trackwire._engine.spool import Spool, SpoolConfig

#: name -> factory(max_items, max_bytes, tmp_path)
QUEUES: dict[str, Callable[[int, int, Path], MessageQueue]] = {
    "memory": lambda max_items, max_bytes, _tmp: Buffer(max_items, max_bytes),
    "spool": lambda max_items, max_bytes, tmp: Spool(
        SpoolConfig(path=str(tmp / "spool"), max_items=max_items, max_bytes=max_bytes),
        {"vendor": "test"},
    ),
}
