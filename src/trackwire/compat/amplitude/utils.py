"""The official ``amplitude.utils``: the time in milliseconds and property truncation."""

from __future__ import annotations

import logging
import time
from typing import Any

from trackwire.compat.amplitude import constants

__all__ = ["current_milliseconds", "truncate"]

logger = logging.getLogger(constants.LOGGER_NAME)


def current_milliseconds() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def truncate(obj: Any) -> Any:
    """``obj`` with every string cut to 1024 characters, in dicts and lists at any depth.

    A dict with more than 1024 keys becomes ``{}`` and an error is logged on the
    ``amplitude`` logger, as the official SDK does (Amplitude would refuse it). Dicts and
    lists are converted in place and returned, as there.
    """
    if isinstance(obj, dict):
        if len(obj) > constants.MAX_PROPERTY_KEYS:
            logger.error(f"Too many properties. {constants.MAX_PROPERTY_KEYS} maximum.")
            return {}
        for key, value in obj.items():
            obj[key] = truncate(value)
    elif isinstance(obj, list):
        for index, element in enumerate(obj):
            obj[index] = truncate(element)
    elif isinstance(obj, str):
        obj = obj[: constants.MAX_STRING_LENGTH]
    return obj
