"""The ``trackwire`` logger: silent by default, one handler when debugging is asked for."""

from __future__ import annotations

import logging

__all__ = ["enable_debug_logging"]

logger = logging.getLogger("trackwire")
logger.addHandler(logging.NullHandler())

_debug_handler: logging.Handler | None = None


def enable_debug_logging() -> None:
    """Log trackwire's DEBUG lines to stderr; safe to call from every client (adds one handler).

    Nothing trackwire logs contains a write key, API key or secret: requests are logged by
    destination, size and outcome only.
    """
    global _debug_handler
    logger.setLevel(logging.DEBUG)
    if _debug_handler is None:
        _debug_handler = logging.StreamHandler()
        _debug_handler.setFormatter(
            logging.Formatter("%(asctime)s %(name)s %(levelname)s %(threadName)s: %(message)s")
        )
        logger.addHandler(_debug_handler)
