"""Every MessageQueue implementation, by name, for the contract suites to run over.

A new queue (the spool) adds its factory here and every contract test runs against it;
the engine's contract also runs over the default in-memory queue (``ENGINE_QUEUES``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trackwire._engine.buffer import Buffer
from trackwire._engine.memory_queue import MemoryQueue
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

#: What the engine runs over: every MessageQueue, and the default in-memory queue that binds
#: each receipt to the engine's ledger itself (not a MessageQueue: it has no seq-only ``offer``).
ENGINE_QUEUES: dict[str, Callable[[int, int, Path], MessageQueue | MemoryQueue]] = {
    **QUEUES,
    "default": lambda max_items, max_bytes, _tmp: MemoryQueue(max_items, max_bytes),
}
