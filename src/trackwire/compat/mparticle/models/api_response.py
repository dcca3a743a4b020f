"""mParticle's error response body: a list of :class:`ApiResponseErrors`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from trackwire.compat.mparticle.models._model import Model

if TYPE_CHECKING:
    from trackwire.compat.mparticle.models.api_response_errors import ApiResponseErrors

__all__ = ["ApiResponse"]


class ApiResponse(Model):
    """mParticle's error response body: a list of :class:`ApiResponseErrors`."""

    errors: list[ApiResponseErrors] | None

    swagger_types: ClassVar[dict[str, str]] = {
        "errors": "list[ApiResponseErrors]",
    }
