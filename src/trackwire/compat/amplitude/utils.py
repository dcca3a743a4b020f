"""The official ``amplitude.utils``: the time in milliseconds and property truncation."""

from __future__ import annotations

import logging
import time
from typing import Any

from trackwire.compat.amplitude import constants

__all__ = ["current_milliseconds", "truncate", "truncated_copy"]

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


def truncated_copy(obj: Any) -> Any:
    """What :func:`truncate` returns, built as new dicts and lists: ``obj`` is left as it is.

    One pass instead of a deep copy and then :func:`truncate`; used for event bodies, whose
    property objects belong to the caller.
    """
    if isinstance(obj, dict):
        if len(obj) > constants.MAX_PROPERTY_KEYS:
            logger.error(f"Too many properties. {constants.MAX_PROPERTY_KEYS} maximum.")
            return {}
        return {key: truncated_copy(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [truncated_copy(element) for element in obj]
    if isinstance(obj, str):
        return obj[: constants.MAX_STRING_LENGTH]
    return obj
