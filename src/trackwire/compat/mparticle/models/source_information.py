"""Where the batch's data came from."""

from __future__ import annotations

from typing import Any, ClassVar

from trackwire.compat.mparticle.models._model import Model, one_of

__all__ = ["SourceInformation"]


class SourceInformation(Model):
    """Where the batch's data came from."""

    channel: str | None
    partner: str | None
    replay_request_id: str | None
    replay_job_id: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "channel": "str",
        "partner": "str",
        "replay_request_id": "str",
        "replay_job_id": "str",
    }
    checks: ClassVar[dict[str, Any]] = {
        "channel": one_of(
            (
                "unknown",
                "native",
                "javascript",
                "pixel",
                "desktop",
                "partner",
                "server_to_server",
                "All",
            )
        ),
    }
