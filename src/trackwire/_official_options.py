"""The official SDKs' option names, translated to trackwire's: for the compat modules.

trackwire's own clients take trackwire's names only (``flush_at``, ``flush_interval`` in
seconds, ``enable``, ...) and refuse an official spelling with an error naming trackwire's
(see :func:`trackwire._client.parse_options`). The compat modules, which accept the official
SDKs' constructors as they are, call :func:`translate` to turn what a user passed into
trackwire's options, converting units where the official SDK counted milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from trackwire.errors import ConfigError

__all__ = ["OFFICIAL_OPTIONS", "translate"]


def _same(value: Any) -> Any:
    return value


def _millis(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # left for trackwire's own check, which names the option
    return value / 1000


def _negated(value: Any) -> Any:
    return not value if isinstance(value, bool) else value


#: vendor -> official option name -> (trackwire's name, conversion of the value).
OFFICIAL_OPTIONS: Final[Mapping[str, Mapping[str, tuple[str, Callable[[Any], Any]]]]] = {
    "segment": {
        # analytics-python
        "upload_size": ("flush_at", _same),
        "upload_interval": ("flush_interval", _same),
        "send": ("enable", _same),
        "thread": ("workers", _same),
        # analytics-node
        "flushAt": ("flush_at", _same),
        "flushInterval": ("flush_interval", _millis),
        "maxRetries": ("max_retries", _same),
        "httpRequestTimeout": ("timeout", _millis),
        "errorHandler": ("on_error", _same),
        "disable": ("enable", _negated),
    },
    "amplitude": {
        # amplitude-analytics (Python)
        "flush_queue_size": ("flush_at", _same),
        "flush_interval_millis": ("flush_interval", _millis),
        "flush_max_retries": ("max_retries", _same),
        "max_cached_events": ("max_queue_size", _same),
        "request_timeout": ("timeout", _same),
        "retry_class": ("retry", _same),
        "transport_class": ("transport", _same),
        # @amplitude/analytics-node
        "flushQueueSize": ("flush_at", _same),
        "flushIntervalMillis": ("flush_interval", _millis),
        "flushMaxRetries": ("max_retries", _same),
        "serverUrl": ("server_url", _same),
        "serverZone": ("server_zone", _same),
        "useBatch": ("use_batch", _same),
        "minIdLength": ("min_id_length", _same),
        "optOut": ("opt_out", _same),
    },
    "mparticle": {},
}


def translate(vendor: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with the official SDK's names of ``vendor`` replaced by trackwire's.

    Names that are already trackwire's pass unchanged (the client checks them); a value in
    milliseconds becomes seconds.

    Args:
        vendor: ``"segment"``, ``"amplitude"`` or ``"mparticle"``.
        options: the keyword options a user gave an official-shaped constructor.

    Raises:
        ConfigError: the vendor is unknown, or an official name and trackwire's name for the
            same option were both given.
    """
    table = OFFICIAL_OPTIONS.get(vendor)
    if table is None:
        raise ConfigError(f"vendor must be one of {', '.join(OFFICIAL_OPTIONS)}, got {vendor!r}")
    translated: dict[str, Any] = {}
    official: dict[str, str] = {}
    for name, value in options.items():
        target, convert = table.get(name, (name, _same))
        if target in translated:
            other = official.get(target, target)
            raise ConfigError(f"{name} and {other} set the same option ({target}): pass one")
        translated[target] = convert(value)
        official[target] = name
    return translated
