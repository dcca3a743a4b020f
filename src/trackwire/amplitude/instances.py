"""Named Amplitude clients, as the Node SDK's ``init`` and ``getInstance`` keep them.

``trackwire.amplitude.init(api_key, **options)`` makes the default client;
``init(api_key, instance_name="eu", ...)`` a named one; ``get_instance(name)`` returns it
anywhere in the process. Each instance is an independent :class:`~.client.Amplitude`.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from trackwire.amplitude.client import Amplitude
from trackwire.errors import ConfigError

__all__ = ["DEFAULT_INSTANCE", "get_instance", "init"]

#: The name of the instance ``init`` makes when given none (the Node SDK's).
DEFAULT_INSTANCE: Final = "$default_instance"

_instances: dict[str, Amplitude] = {}
_lock = threading.Lock()


def init(api_key: str, *, instance_name: str = DEFAULT_INSTANCE, **options: Any) -> Amplitude:
    """Create the client called ``instance_name`` (the default one when omitted) and return it.

    Calling ``init`` again for a name returns the client it made the first time, as the Node
    SDK does; shut it down first to replace it.

    Raises:
        ConfigError: an option is invalid, or ``instance_name`` is not a non-empty str.
    """
    if not isinstance(instance_name, str) or not instance_name:
        raise ConfigError(f"instance_name must be a non-empty str, got {instance_name!r}")
    with _lock:
        existing = _instances.get(instance_name)
        if existing is not None and not existing.closed:
            return existing
        client = Amplitude(api_key, **options)
        _instances[instance_name] = client
        return client


def get_instance(name: str = DEFAULT_INSTANCE) -> Amplitude:
    """The client ``init`` made under ``name``.

    Raises:
        ConfigError: no client was made under that name; call ``init`` first.
    """
    with _lock:
        client = _instances.get(name)
    if client is None:
        known = ", ".join(sorted(_instances)) or "none yet"
        raise ConfigError(
            f"no Amplitude instance named {name!r} (known: {known}); "
            f"call trackwire.amplitude.init(api_key, instance_name={name!r}) first"
        )
    return client
