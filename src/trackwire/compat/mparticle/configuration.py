"""The official ``mparticle.Configuration``: credentials, host and connection settings.

Every official attribute is here and may be assigned after construction. Unlike the official
class it adds no handler to any logger, never turns on ``http.client`` debugging (which printed
the Basic credentials), and adds ``timeout``, ``connect_timeout`` and ``max_retries``, which
the official package lacks (it could wait forever on a silent server).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from trackwire._engine.destination import basic_auth_header
from trackwire._logging import enable_debug_logging

if TYPE_CHECKING:
    from trackwire.compat.mparticle.api_client import ApiClient

__all__ = ["DEFAULT_HOST", "Configuration"]

#: The official default: mParticle's US1 Events API, ``/v2`` included.
DEFAULT_HOST: Final = "https://s2s.mparticle.com/v2"


class Configuration:
    """Where and how :class:`~trackwire.compat.mparticle.EventsApi` sends.

    Attributes:
        host: the Events API base URL with ``/v2`` (``https://s2s.eu1.mparticle.com/v2``
            for EU1).
        api_key: the input's key. api_secret: its secret.
        debug: log each request's endpoint, size and outcome on the ``trackwire`` logger
            (never the key, secret or body).
        ssl_ca_cert: a CA bundle to verify the server with.
        connection_pool_size: accepted; trackwire's worker keeps one pooled connection.
        timeout: seconds to wait for a response (default 15; the official waits forever).
        connect_timeout: seconds to connect (default 5).
        max_retries: retries of a failed request (network, 429, 5xx), default 3.
        sync_timeout: the most seconds a call without ``callback`` waits for its answer,
            retries included (default 60); the batch stays queued if it is exceeded.
        trackwire_options: further :class:`trackwire.MParticle` options (e.g.
            ``{"spool": PATH}`` for a disk queue), read when the first upload is made.
    """

    def __init__(self) -> None:
        self.host = DEFAULT_HOST
        self.api_client: ApiClient | None = None
        self.temp_folder_path: str | None = None
        self.api_key_store: dict[str, str] = {}
        self.api_key_prefix: dict[str, str] = {}
        self.api_key = ""
        self.api_secret = ""
        # The official dict of loggers; here both names point at trackwire's own logger.
        self.logger: dict[str, logging.Logger] = {
            "package_logger": logging.getLogger("trackwire"),
            "urllib3_logger": logging.getLogger("urllib3"),
        }
        self.logger_format = "%(asctime)s %(levelname)s %(message)s"
        self.logger_stream_handler: logging.Handler | None = None
        self.logger_file_handler: logging.Handler | None = None
        self._logger_file: str | None = None
        self._debug = False
        self.verify_ssl = True
        self.ssl_ca_cert: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.connection_pool_size = 1
        self.timeout = 15.0
        self.connect_timeout = 5.0
        self.max_retries = 3
        self.sync_timeout = 60.0
        self.trackwire_options: dict[str, Any] = {}

    @property
    def logger_file(self) -> str | None:
        """A file that also receives the ``trackwire`` logger's records (None: none)."""
        return self._logger_file

    @logger_file.setter
    def logger_file(self, value: str | None) -> None:
        self._logger_file = value
        logger = self.logger["package_logger"]
        if self.logger_file_handler is not None:
            logger.removeHandler(self.logger_file_handler)
            self.logger_file_handler = None
        if value:
            self.logger_file_handler = logging.FileHandler(value)
            self.logger_file_handler.setFormatter(logging.Formatter(self.logger_format))
            logger.addHandler(self.logger_file_handler)

    @property
    def debug(self) -> bool:
        """True logs each request on the ``trackwire`` logger at DEBUG (no credentials)."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = bool(value)
        if self._debug:
            enable_debug_logging()

    def get_api_key_with_prefix(self, identifier: str) -> str | None:
        """The key stored under ``identifier`` in ``api_key_store``, with its prefix."""
        key = self.api_key_store.get(identifier)
        if key is None:
            return None
        prefix = self.api_key_prefix.get(identifier)
        return f"{prefix} {key}" if prefix else key

    def get_basic_auth_token(self) -> str:
        """The ``Authorization`` header value for the key and secret."""
        return basic_auth_header(str(self.api_key), str(self.api_secret))

    def auth_settings(self) -> dict[str, dict[str, Any]]:
        """The official auth table: HTTP Basic in the ``Authorization`` header."""
        return {
            "basic": {
                "type": "basic",
                "in": "header",
                "key": "Authorization",
                "value": self.get_basic_auth_token(),
            }
        }

    def to_debug_report(self) -> str:
        """Versions for a bug report (no credentials)."""
        import platform

        from trackwire._version import __version__

        return (
            f"Python SDK Debug Report:\nOS: {platform.system()}\n"
            f"Python Version: {platform.python_version()}\n"
            f"Version of the API: 1.0.1\nSDK Package Version: trackwire {__version__}"
        )

    def __repr__(self) -> str:
        # Never the key or the secret: a repr ends up in logs and tracebacks.
        return f"Configuration(host={self.host!r}, debug={self._debug!r})"
