"""The official ``EventsApi``: ``upload_events`` and ``bulk_upload_events``, sync or async.

``EventsApi(configuration)`` and both calls take the official arguments: the body (a
:class:`~trackwire.compat.mparticle.models.batch.Batch`, or a list of them for the bulk call)
and an optional ``callback``. Without it the call waits for mParticle's answer and returns
None (the ``*_with_http_info`` twins return ``(None, status, headers)``) or raises
:class:`~trackwire.compat.mparticle.rest.ApiException`; with it the call returns at once and
``callback`` later gets None (or that tuple) or the exception. Underneath, batches go through
trackwire's engine (see :mod:`trackwire.compat.mparticle.api_client`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackwire.compat.mparticle.api_client import ApiClient, Callback
from trackwire.compat.mparticle.configuration import Configuration
from trackwire.compat.mparticle.models._model import Model
from trackwire.errors import ValidationError

__all__ = ["EventsApi"]

_ALLOWED = frozenset({"callback", "_return_http_data_only", "_preload_content", "_request_timeout"})


class EventsApi:
    """Uploads to mParticle's Events API (the official class, on trackwire's engine).

    Args:
        config: credentials and settings; a new :class:`Configuration` when None (the
            official shares one default between every ``EventsApi()``; here each gets its
            own). Its ``api_client`` is made on first use and kept on it.

    Credentials are read on the first upload, so ``EventsApi()`` may be made before the key
    and secret are set; an upload without them raises a ``ConfigError`` naming them.
    """

    def __init__(self, config: Configuration | None = None) -> None:
        self.config = config if config is not None else Configuration()
        if self.config.api_client is None:
            self.config.api_client = ApiClient(configuration=self.config)
        self.api_client = self.config.api_client

    def upload_events(self, body: Any, **kwargs: Any) -> Any:
        """Send one batch (one user's data and events); queued batches travel in bulk requests.

        Args:
            body: the :class:`Batch`.
            callback: call ``callback(result)`` later instead of waiting.

        Raises:
            ValueError: no body, or a batch that breaks one of mParticle's rules.
            ApiException: (without ``callback``) mParticle did not accept the batch.
            TypeError: an unknown keyword argument.
        """
        return self._upload([_required(body)], kwargs, http_info=False)

    def upload_events_with_http_info(self, body: Any, **kwargs: Any) -> Any:
        """:meth:`upload_events` returning ``(None, status, headers)``."""
        return self._upload([_required(body)], kwargs, http_info=True)

    def bulk_upload_events(self, body: Any, **kwargs: Any) -> Any:
        """Send a list of batches (up to 100 users), as :meth:`upload_events` does one."""
        return self._upload(_batches(body), kwargs, http_info=False)

    def bulk_upload_events_with_http_info(self, body: Any, **kwargs: Any) -> Any:
        """:meth:`bulk_upload_events` returning ``(None, status, headers)``."""
        return self._upload(_batches(body), kwargs, http_info=True)

    def _upload(self, batches: Sequence[Any], kwargs: dict[str, Any], *, http_info: bool) -> Any:
        unknown = sorted(set(kwargs) - _ALLOWED)
        if unknown:
            raise TypeError(f"Got an unexpected keyword argument {unknown[0]!r}")
        callback: Callback | None = kwargs.get("callback")
        if kwargs.get("_return_http_data_only") is False:
            http_info = True
        return self.api_client.upload(batches, callback, http_info=http_info)


def _required(body: Any) -> Any:
    if body is None:
        raise ValidationError("body", "Missing the required parameter `body` (a Batch)")
    return body


def _batches(body: Any) -> list[Any]:
    if body is None:
        raise ValidationError("body", "Missing the required parameter `body` (a list of Batch)")
    if isinstance(body, Model) or not isinstance(body, list | tuple):
        raise ValidationError("body", f"must be a list of Batch, got {type(body).__name__}")
    if not body:
        raise ValidationError("body", "is an empty list; pass at least one Batch")
    return list(body)
