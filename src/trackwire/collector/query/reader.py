"""What the query routes need from a store: the :class:`QueryReader` protocol and its values.

:class:`~trackwire.collector.store.EventReader` includes this protocol, so every store answers
Amplitude's query API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

import orjson

from trackwire.collector.query.segmentation import Aggregate, Plan
from trackwire.collector.query.users import FoundUser, UserSummary

__all__ = ["EXPORT_FIELDS", "ExportPage", "ExportRow", "Hit", "QueryReader", "Source"]


@dataclass(frozen=True, slots=True)
class Source:
    """One stored source a query covers: the store's ``source_id`` for it, and its vendor."""

    source_id: int
    vendor: str


class Hit(NamedTuple):
    """One event a funnel, retention, user count or LTV reads (see
    :meth:`QueryReader.event_hits`).

    A named tuple: charts read hundreds of thousands of them, and a tuple is made several
    times faster than a frozen dataclass.

    Attributes:
        person: who did it (the store's user key: one per person across vendors).
        time_ms: the event time (client time, else receipt time).
        group: the group-by value's canonical text (None: not set, or no group-by).
        first_seen_ms: the user's first-seen time (None: no user).
        revenue: the event's revenue (None: none).
    """

    person: Any
    time_ms: int
    group: Any
    first_seen_ms: int | None
    revenue: float | None


# Not frozen: a frozen dataclass's __init__ costs several times a plain one, and the export
# makes one per event.
@dataclass(slots=True)
class ExportRow:
    """One stored event as the export reads it (the store's columns, payload still JSON).

    ``vendor`` comes first, then the columns in the order a store selects them, so a row is
    made as ``ExportRow(vendor, *columns)``. ``context_kind``/``context`` are the event's
    shared request context (see :func:`trackwire.collector.store.expand`), if any;
    ``user_properties`` the JSON of the user's properties now (None: no user).
    """

    vendor: str
    id: int
    source_id: int
    type: str
    event_name: str | None
    user_id: str | None
    device_id: str | None
    amplitude_id: int | None
    session_id: int | None
    client_time_ms: int | None
    received_time_ms: int
    dedup_key: str | None
    groups: str | None
    payload: str | bytes
    context_kind: str | None = None
    context: str | None = None
    user_properties: str | None = None


#: The values of one event in an :class:`ExportPage`'s rows, in order: :class:`ExportRow`'s
#: fields without ``vendor`` and ``source_id`` (the page's source has them), ``payload`` last.
EXPORT_FIELDS: Final = (
    "id",
    "type",
    "event_name",
    "user_id",
    "device_id",
    "amplitude_id",
    "session_id",
    "client_time_ms",
    "received_time_ms",
    "dedup_key",
    "groups",
    "context_kind",
    "context",
    "user_properties",
    "payload",
)
#: Where ``received_time_ms`` and ``id`` are in a decoded row (the keyset order).
RECEIVED_AT: Final = EXPORT_FIELDS.index("received_time_ms")
ID_AT: Final = EXPORT_FIELDS.index("id")


class ExportPage(NamedTuple):
    """Stored events of one source, in receipt order, as the export reads them.

    Each row is one event as a compact JSON array of :data:`EXPORT_FIELDS`, bytes: the texts
    ``groups``, ``context`` and ``user_properties`` as JSON strings, the payload as the JSON
    it is (decoded with the row: one parse per event). SQLite builds a whole page of them in
    one statement, which runs without Python's GIL, so the next page is read on another core
    while this one is written (see
    :meth:`trackwire.collector.query_reads.QueryReads.export_pages`); the export decodes one
    row at a time, and no object is made per event beyond what it writes.
    """

    source: Source
    rows: Sequence[bytes]


def export_row(page_source: Source, row: Sequence[Any]) -> ExportRow:
    """One decoded row of an :class:`ExportPage` as an :class:`ExportRow`."""
    (id_, type_, name, user_id, device_id, amplitude_id, session_id, client_ms, received_ms,
     dedup_key, groups, context_kind, context, user_properties, payload) = row  # fmt: skip
    return ExportRow(
        page_source.vendor, id_, page_source.source_id, type_, name, user_id, device_id,
        amplitude_id, session_id, client_ms, received_ms, dedup_key, groups,
        orjson.dumps(payload).decode(), context_kind, context, user_properties,
    )  # fmt: skip


def row_values(row: ExportRow) -> tuple[Any, ...]:
    """An :class:`ExportRow`'s values in :data:`EXPORT_FIELDS` order, the payload decoded."""
    return (
        row.id, row.type, row.event_name, row.user_id, row.device_id, row.amplitude_id,
        row.session_id, row.client_time_ms, row.received_time_ms, row.dedup_key, row.groups,
        row.context_kind, row.context, row.user_properties, orjson.loads(row.payload),
    )  # fmt: skip


def encoded_row(row: ExportRow) -> bytes:
    """An :class:`ExportRow` as a row of an :class:`ExportPage` (the payload spliced in as it
    is stored)."""
    return orjson.dumps((*row_values(row)[:-1], orjson.Fragment(row.payload)))


class QueryReader(Protocol):
    """Reads behind Amplitude's query API; every method is safe to call from several threads.

    A *project* is every stored source (any vendor) with one name: a keys-file source name, or
    the key itself in development mode.
    """

    def project_sources(self, name: str) -> list[Source]:
        """The stored sources named ``name`` (empty when nothing was stored under it)."""
        ...

    def export_has_rows(self, sources: Sequence[Source], start_ms: int, end_ms: int) -> bool:
        """Whether any event was received in ``[start_ms, end_ms)``."""
        ...

    def export_rows(
        self, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> Iterator[ExportRow]:
        """Events received in ``[start_ms, end_ms)`` in receipt order, read lazily, a page at
        a time: no read transaction lasts the whole export."""
        ...

    def export_pages(
        self, sources: Sequence[Source], start_ms: int, end_ms: int
    ) -> Iterator[ExportPage]:
        """:meth:`export_rows` as pages of JSON rows (what the export archive reads): the
        pages in receipt order, each read in its own short read transaction."""
        ...

    def search_users(self, sources: Sequence[Source], text: str) -> tuple[str, list[FoundUser]]:
        """Amplitude's user search: the match type and the users."""
        ...

    def user_summary(self, sources: Sequence[Source], amplitude_id: int) -> UserSummary | None:
        """One user's state and event aggregates; None when no covered source has the id."""
        ...

    def user_events(
        self, source: Source, amplitude_id: int, *, offset: int, limit: int, latest: bool
    ) -> list[ExportRow]:
        """A page of one user's events, most recent first (``latest``) or earliest first."""
        ...

    def event_exists(self, sources: Sequence[Source], event_type: str) -> bool:
        """Whether the event type was ever stored (``_all``/``_active`` always exist)."""
        ...

    def segmentation(
        self, sources: Sequence[Source], plan: Plan
    ) -> tuple[list[Aggregate], dict[int | None, int] | None]:
        """The plan's aggregates and, for ``pct_dau``, active users per period."""
        ...

    def event_hits(
        self,
        sources: Sequence[Source],
        plan: Plan,
        *,
        first_seen: bool = False,
        paying: bool = False,
    ) -> list[Hit]:
        """Every event the plan selects (its event, filters, segments and group-by, in
        ``[plan.start_ms, plan.end_ms)``), in time order, events of one millisecond in the
        order they were stored (a user's first event decides their group: every store must
        break ties alike); ``first_seen``: with the users' first-seen times (else None);
        ``paying``: only the events with revenue.

        Raises:
            ValidationError: more than :data:`~.limits.MAX_HITS` events (narrow the range).
        """
        ...
