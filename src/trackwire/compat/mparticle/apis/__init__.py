"""The official ``mparticle.apis`` package: :class:`EventsApi`."""

from __future__ import annotations

from trackwire.compat.mparticle.apis.events_api import EventsApi

__all__ = ["EventsApi"]
