"""The read side both stores share: :class:`StoreReads`, the :class:`EventReader` methods.

Each store keeps its SQL in its own ``queries`` module (SQLite's and PostgreSQL's differ in
placeholders, JSON and text handling); what is the same is the work around it — check the
arguments, borrow a read connection for the call, run the dialect's query. A store inherits
:class:`StoreReads`, names its ``queries`` module and lends connections through ``_reading()``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Final, Protocol

from trackwire.collector.store import IdentityLink, StoredEvent, UserState

__all__ = ["ReadQueries", "StoreReads"]

#: Stored events by vendor, source, type and event name; the same SQL in both dialects.
_EVENT_COUNTS: Final = (
    "SELECT s.vendor, s.source, c.type, c.event_name, c.n FROM (SELECT source_id, "
    "type, event_name, count(*) AS n FROM events "
    "GROUP BY source_id, type, event_name) AS c JOIN sources s USING (source_id) "
    "ORDER BY s.vendor, s.source, c.type, c.event_name"
)


class ReadQueries(Protocol):
    """A dialect's ``queries`` module: the read queries, each on a borrowed connection."""

    def events(
        self,
        conn: Any,
        *,
        vendor: str | None,
        source: str | None,
        type: str | None,
        user_id: str | None,
        event_name: str | None,
        since_ms: int | None,
        until_ms: int | None,
        limit: int,
        before_id: int | None,
    ) -> list[StoredEvent]:
        """Stored events, newest first."""
        ...

    def stats(self, conn: Any) -> dict[str, Any]:
        """Event counts in total and per vendor, source and type."""
        ...

    def user(
        self,
        conn: Any,
        vendor: str,
        source: str,
        *,
        user_id: str | None,
        device_id: str | None,
        amplitude_id: int | None,
    ) -> UserState | None:
        """One user, found by one of its ids."""
        ...

    def group(
        self, conn: Any, vendor: str, source: str, group_type: str, group_value: str
    ) -> dict[str, Any] | None:
        """A group's properties."""
        ...

    def links(
        self, conn: Any, vendor: str, source: str, *, user_id: str | None
    ) -> list[IdentityLink]:
        """The aliases of one source."""
        ...


class StoreReads:
    """The :class:`~trackwire.collector.store.EventReader` methods of a store that names its
    dialect's ``queries`` module and lends read connections through ``_reading()``."""

    _queries: ClassVar[ReadQueries]
    _reading: Callable[[], AbstractContextManager[Any]]

    def events(
        self,
        *,
        vendor: str | None = None,
        source: str | None = None,
        type: str | None = None,
        user_id: str | None = None,
        event_name: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[StoredEvent]:
        """Stored events, newest first; see :meth:`EventReader.events`.

        Raises:
            ValueError: ``limit`` is negative.
        """
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, got {limit}")
        with self._reading() as conn:
            return self._queries.events(
                conn,
                vendor=vendor,
                source=source,
                type=type,
                user_id=user_id,
                event_name=event_name,
                since_ms=since_ms,
                until_ms=until_ms,
                limit=limit,
                before_id=before_id,
            )

    def stats(self) -> dict[str, Any]:
        """Event counts in total and per vendor, source and type; see :meth:`EventReader.stats`."""
        with self._reading() as conn:
            return self._queries.stats(conn)

    def user(
        self,
        vendor: str,
        source: str,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        amplitude_id: int | None = None,
    ) -> UserState | None:
        """One user; see :meth:`EventReader.user`.

        Raises:
            ValueError: none of ``user_id``, ``device_id`` and ``amplitude_id`` is given.
        """
        if amplitude_id is None and user_id is None and device_id is None:
            raise ValueError("user() needs one of user_id, device_id or amplitude_id")
        with self._reading() as conn:
            return self._queries.user(
                conn, vendor, source, user_id=user_id, device_id=device_id,
                amplitude_id=amplitude_id,
            )  # fmt: skip

    def group(
        self, vendor: str, source: str, group_type: str, group_value: str
    ) -> dict[str, Any] | None:
        """A group's properties; see :meth:`EventReader.group`."""
        with self._reading() as conn:
            return self._queries.group(conn, vendor, source, group_type, group_value)

    def links(self, vendor: str, source: str, *, user_id: str | None = None) -> list[IdentityLink]:
        """The aliases of one source; see :meth:`EventReader.links`."""
        with self._reading() as conn:
            return self._queries.links(conn, vendor, source, user_id=user_id)

    def event_counts(self) -> list[dict[str, Any]]:
        """Stored events by vendor, source, type and event name (the ``/_test`` endpoints')."""
        with self._reading() as conn:
            rows = conn.execute(_EVENT_COUNTS).fetchall()
        return [
            {"vendor": vendor, "source": source, "type": kind, "event": name, "count": count}
            for vendor, source, kind, name, count in rows
        ]
