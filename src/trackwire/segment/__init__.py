"""Segment: the client and the Tracking API's wire rules."""

from __future__ import annotations

from trackwire.segment.client import Segment

__all__ = ["Segment"]
