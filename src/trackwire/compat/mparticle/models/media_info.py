"""Media playback details of an event."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, one_of

__all__ = ["MediaInfo"]


class MediaInfo(Model):
    """Media playback details of an event."""

    action: str | None
    channel: str | None
    metadata: str | None
    timed_metadata: str | None
    playback_position: float | None
    format: str | None
    quality: str | None
    playback_rate: float | None

    swagger_types: ClassVar[dict[str, str]] = {
        "action": "str",
        "channel": "str",
        "metadata": "str",
        "timed_metadata": "str",
        "playback_position": "float",
        "format": "str",
        "quality": "str",
        "playback_rate": "float",
    }
    checks: ClassVar[dict[str, Any]] = {
        "action": one_of(("unknown", "play", "stop", "update_playback_position", "skip", "rate")),
        "format": one_of(("unknown", "audio", "video")),
        "quality": one_of(("unknown", "low", "sd", "medium", "hd", "ultra_hd")),
    }
