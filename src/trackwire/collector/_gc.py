"""The garbage collector's settings while the collector process serves.

CPython starts a young-generation collection whenever the number of container objects
(dicts, lists, ...) allocated and not yet freed since the last one passes 700. A collector
request of a few hundred events parses into thousands of such objects that live until the
request is stored, and eight requests are in flight at once: collections ran every few
requests, traversed the requests' live objects again and again and promoted them into the old
generations, whose collections traverse everything the process ever imported. Under the
ingest benchmark that was about 5 µs of CPU per stored event, a tenth of the collector's CPU.

While :func:`serving_gc` is active, a young collection starts only once 50,000 more
containers are alive than at the last one: a request's objects, freed when it is answered,
no longer count, while cyclic garbage is still collected (a few MB of it at most). The objects
that exist when serving starts (modules, routes, the store) are frozen out of collections
(:func:`gc.freeze`), so the rare full collection does not walk them.

Only the collector's own process (``trackwire collector``, :func:`~.server.serve`) does this:
a collector started inside another program (:func:`~.server.start_collector`) leaves that
program's collector settings alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["YOUNG_THRESHOLD", "serving_gc"]

#: Net new container objects that start a young-generation collection while serving.
YOUNG_THRESHOLD: Final = 50_000


@contextmanager
def serving_gc() -> Iterator[None]:
    """Within: today's objects frozen, young collections after :data:`YOUNG_THRESHOLD`
    containers; the previous thresholds and an unfrozen heap again on exit."""
    previous = gc.get_threshold()
    # Something frozen before (a pre-forking parent, the embedding program) stays frozen: the
    # heap can only be unfrozen whole, so it is unfrozen on exit only if nothing was before.
    was_frozen = gc.get_freeze_count() > 0
    # Collect first, so that what is frozen is what is alive, not garbage kept forever.
    gc.collect()
    gc.freeze()
    # (CPython 3.11-3.12's generational collector; the threshold keeps its meaning there.)
    gc.set_threshold(max(YOUNG_THRESHOLD, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        if not was_frozen:
            gc.unfreeze()
