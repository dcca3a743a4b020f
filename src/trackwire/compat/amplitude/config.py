"""The official ``amplitude.Config``: every field, with the official defaults and checks.

:class:`~trackwire.compat.amplitude.Amplitude` reads it once, when the client is made, and
maps it onto :class:`trackwire.Amplitude`'s options: ``flush_queue_size`` -> ``flush_at``,
``flush_interval_millis`` -> ``flush_interval`` (seconds), ``flush_max_retries`` ->
``max_retries``, ``server_url``/``server_zone``/``use_batch``, ``min_id_length``. ``opt_out``
is read on every call.
"""

from __future__ import annotations

import logging
from typing import Any

from trackwire.compat.amplitude import constants
from trackwire.compat.amplitude.event import EventCallback, IngestionMetadata, Plan
from trackwire.errors import ConfigError

__all__ = ["Config"]


class Config:
    """How an :class:`~trackwire.compat.amplitude.Amplitude` client sends.

    Args:
        api_key: the project's key (``Amplitude(api_key, config)`` sets it too).
        flush_queue_size: send once this many events wait (default 200).
        flush_interval_millis: send at least this often, in ms (default 10,000).
        flush_max_retries: attempts per batch after the first (default 12).
        logger: where the client logs about events (default the ``amplitude`` logger).
        min_id_length: shortest ``user_id``/``device_id`` Amplitude accepts (default 5).
        callback: ``fn(event, code, message)`` for every event once it is settled.
        server_zone: ``"US"`` or ``"EU"``. use_batch: send to the Batch API.
        server_url: an endpoint instead (a proxy or a trackwire collector).
        storage_provider: the official in-memory buffer; trackwire's engine queues instead,
            so only None is accepted (use ``trackwire.Amplitude(..., spool=...)`` for a disk
            queue).
        plan: a :class:`Plan` added to every event. ingestion_metadata: likewise.
        event_log_level: kept for code that reads it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        flush_queue_size: int = constants.FLUSH_QUEUE_SIZE,
        flush_interval_millis: int = constants.FLUSH_INTERVAL_MILLIS,
        flush_max_retries: int = constants.FLUSH_MAX_RETRIES,
        logger: logging.Logger = logging.getLogger(constants.LOGGER_NAME),  # noqa: B008
        min_id_length: int | None = None,
        callback: EventCallback | None = None,
        server_zone: str = constants.DEFAULT_ZONE,
        use_batch: bool = False,
        server_url: str | None = None,
        storage_provider: Any = None,
        plan: Plan | None = None,
        ingestion_metadata: IngestionMetadata | None = None,
        event_log_level: constants.EventLogLevel = constants.EventLogLevel.INFO,
    ) -> None:
        if storage_provider is not None:
            raise ConfigError(
                "storage_provider is not supported: trackwire's engine holds the queue "
                "(pass spool=PATH to trackwire.Amplitude for a disk queue)"
            )
        self.api_key = api_key
        self._flush_queue_size = flush_queue_size
        self.flush_interval_millis = flush_interval_millis
        self.flush_max_retries = flush_max_retries
        self.logger = logger
        self.min_id_length = min_id_length
        self.callback = callback
        self.server_zone = server_zone
        self.use_batch = use_batch
        self._url = server_url
        self.storage_provider = storage_provider
        self.opt_out = False
        self.plan = plan
        self.ingestion_metadata = ingestion_metadata
        self.event_log_level = event_log_level

    @property
    def flush_queue_size(self) -> int:
        """Events that trigger a send."""
        return max(1, self._flush_queue_size)

    @flush_queue_size.setter
    def flush_queue_size(self, size: int) -> None:
        self._flush_queue_size = size

    @property
    def server_url(self) -> str:
        """The endpoint: ``server_url`` if set, else the zone's HTTP V2 (or Batch) URL."""
        if self._url:
            return self._url
        zone = constants.SERVER_URL[self.server_zone]
        return zone[constants.BATCH if self.use_batch else constants.HTTP_V2]

    @server_url.setter
    def server_url(self, url: str | None) -> None:
        self._url = url

    @property
    def options(self) -> dict[str, int] | None:
        """The request's ``options`` object (``min_id_length``), or None."""
        if self.is_min_id_length_valid() and self.min_id_length:
            return {"min_id_length": self.min_id_length}
        return None

    def is_valid(self) -> bool:
        """True with an API key, positive flush size and interval and a valid min_id_length."""
        return bool(
            self.api_key
            and self.flush_queue_size > 0
            and self.flush_interval_millis > 0
            and self.is_min_id_length_valid()
        )

    def is_min_id_length_valid(self) -> bool:
        """True when ``min_id_length`` is None or a positive int."""
        length = self.min_id_length
        return length is None or (isinstance(length, int) and length > 0)
