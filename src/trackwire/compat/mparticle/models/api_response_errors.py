"""One error of an error response: its code and message."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["ApiResponseErrors"]


class ApiResponseErrors(Model):
    """One error of an error response: its code and message."""

    code: str | None
    message: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "code": "str",
        "message": "str",
    }
