"""The app the batch's data comes from."""

from __future__ import annotations

from typing import ClassVar

from trackwire.compat.mparticle.models._model import Model

__all__ = ["ApplicationInformation"]


class ApplicationInformation(Model):
    """The app the batch's data comes from."""

    application_name: str | None
    application_version: str | None
    install_referrer: str | None
    package: str | None

    swagger_types: ClassVar[dict[str, str]] = {
        "application_name": "str",
        "application_version": "str",
        "install_referrer": "str",
        "package": "str",
    }
