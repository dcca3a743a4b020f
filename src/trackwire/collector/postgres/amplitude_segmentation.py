"""Event segmentation in PostgreSQL: one statement per query over the events of a source.

A port of :mod:`trackwire.collector.sqlite.amplitude_segmentation` (owned with the query engine)
with the same plan, branches and answers. What differs is only how a JSON property is read
(:mod:`.property_sql`): SQLite's ``->>`` gives an SQL scalar, here every property stays
``jsonb`` (JSON ``null`` made SQL ``NULL``) and the schema's functions give the readings of
:mod:`trackwire.collector.query.values` that SQLite registers in Python. Uniques of
``_active`` read the ``active_days`` rollup (kept by triggers, see :mod:`.schema`) where
SQLite reads its own.

Made to be fast at 10M events (``bench/pg_segmentation.py``): an event's short properties are
a ``jsonb`` column held, with its user and type, in covering indexes by name and by time, so
a query over one name or over every event is an index-only scan (names longer than
``NAME_INDEX_MAX`` bytes go through an md5 index, rows whose properties are too large through
a small partial one: see :func:`_named`, :mod:`.schema_indexes`); each property is read once
per row (:class:`.property_sql.Reads`); built-in properties (``country``, ``platform``, ...)
are kept at ingest in a ``builtins`` column held in the same indexes (:mod:`.builtins`; rows
without it read them from the payload, see :func:`_variants`); a user property is read once
per user, not per event; uniques per period and over the range come from one pass
(``GROUPING SETS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from trackwire.collector.postgres.ingest import Conn
from trackwire.collector.postgres.property_sql import (
    Reads,
    Sql,
    Stored,
    event_filter,
    json_of,
    pg_path,
    user_join,
    value_of,
)
from trackwire.collector.postgres.schema_indexes import NAME_INDEX_MAX
from trackwire.collector.query import mapping
from trackwire.collector.query.limits import MAX_HITS
from trackwire.collector.query.reader import Hit, Source
from trackwire.collector.query.segmentation import (
    PROPERTY_METRICS,
    USER_METRICS,
    Aggregate,
    Plan,
    bucket_of,
)
from trackwire.collector.sqlite.amplitude_rollups import INACTIVE
from trackwire.errors import ValidationError

__all__ = ["active_users", "event_exists", "event_hits", "pg_path", "segmentation_rows"]

_DAY_MS: Final = 86_400_000


def _bucket(query: Plan, t: str) -> Sql:
    """The period key of the time ``t`` (SQL, milliseconds in the plan's range), as
    :func:`~trackwire.collector.query.segmentation.bucket_of` gives it."""
    if query.interval == "hourly":
        return Sql(f"({t} / 3600000)")
    if query.interval == "daily":
        return Sql(f"({t} / {_DAY_MS})")
    if query.interval == "weekly":
        return Sql(f"(({t} / {_DAY_MS} + 4) / 7)")
    # A month is looked up by day in an array of the range's days (at most ~1,100): a
    # subscript per event, where reading the month from a timestamp took ~0.9 s per 1M events.
    first = query.start_ms // _DAY_MS
    last = (query.end_ms - 1) // _DAY_MS
    months = [bucket_of("monthly", day * _DAY_MS) for day in range(first, last + 1)]
    return Sql(f"(%s::bigint[])[{t} / {_DAY_MS} - %s + 1]", [months, first])


def _match(source: Source, event_type: str) -> list[Sql]:
    """Alternatives that select one event type's rows of a source."""
    if event_type == "_all":
        return [Sql("true")]
    if event_type == "_active":
        inactive = sorted(mapping.INACTIVE_TYPES.get(source.vendor, ()))
        return [Sql("e.type <> ALL(%s)", [inactive])]
    found = []
    for match in mapping.matches_for(source.vendor, event_type):
        name = match.event_name
        sql = Sql("e.event_name IS NULL") if name is None else _named(name)
        if match.types:
            sql.text += " AND e.type <> ALL(%s)" if match.exclude else " AND e.type = ANY(%s)"
            sql.args.append(list(match.types))
        found.append(sql)
    return found


def _named(name: str) -> Sql:
    """The rows of one event name, through the index that holds it: a short name's covering
    index (its condition repeats the index's own, so the planner may use it), else the md5
    one (see :mod:`.schema`)."""
    if len(name.encode("utf-8", "surrogatepass")) <= NAME_INDEX_MAX:
        return Sql(f"e.event_name = %s AND octet_length(e.event_name) <= {NAME_INDEX_MAX}", [name])
    return Sql(
        "md5(e.event_name) = md5(%s) AND e.event_name = %s "
        f"AND octet_length(e.event_name) > {NAME_INDEX_MAX}",
        [name, name],
    )


@dataclass(slots=True)
class _Columns:
    """One source's filter conditions, group and value expressions, and the joins of the
    user properties they read."""

    conditions: list[Sql]
    group: Sql
    value: Sql
    joins: list[Sql] = field(default_factory=list)


def _columns(
    sources: Sequence[Source], source: Source, query: Plan, *, with_filters: bool, stored: Stored
) -> _Columns:
    """The expressions of one source's rows (see the SQLite module)."""
    params = query.params
    conditions: list[Sql] = []
    reads = Reads()
    if with_filters:
        for index, entry in enumerate(params.event.get("filters", [])):
            conditions.append(
                event_filter(
                    sources,
                    source,
                    str(entry.get("subprop_type", "event")),
                    str(entry["subprop_key"]),
                    str(entry["subprop_op"]),
                    entry["subprop_value"],
                    f"e.filters[{index}]",
                    stored,
                    reads,
                )
            )
    for index, segment in enumerate(params.segments):
        conditions.append(
            event_filter(
                sources,
                source,
                "user",
                str(segment["prop"]),
                str(segment["op"]),
                segment["values"],
                f"s[{index}]",
                stored,
                reads,
            )
        )
    joins: list[Sql] = []
    group = Sql("NULL::text")
    if query.group and with_filters:
        join = user_join(sources, query.group, "ug")
        group = value_of(source, query.group, stored, reads, None if join is None else "ug")
        joins += [] if join is None else [join]
    value = Sql("NULL::float8")
    if with_filters and query.value is not None and params.metric in PROPERTY_METRICS:
        join = user_join(sources, query.value, "uv")
        raw = json_of(source, query.value, stored, reads, None if join is None else "uv")
        value = Sql(f"tw_number({raw.text})", raw.args)
        joins += [] if join is None else [join]
    return _Columns(conditions, group, value, joins + reads.laterals)


#: An event's time in a range: its client time, else (none sent) when it was received.
_TIME_BRANCHES: Final = (
    ("e.client_time_ms", "e.client_time_ms >= %s AND e.client_time_ms < %s"),
    (
        "e.received_time_ms",
        "e.client_time_ms IS NULL AND e.received_time_ms >= %s AND e.received_time_ms < %s",
    ),
)


def _variants(fast: _Columns, mid: _Columns, slow: _Columns) -> list[tuple[str | None, _Columns]]:
    """A source's branches by where its rows keep what the query reads (each branch with
    its condition, None: every row): ``fast`` reads the ``props`` and ``builtins`` columns
    (index-only), ``mid`` built-ins from the payload, ``slow`` everything from the payload.
    A branch exists only where the query reads something it reads differently."""
    if fast == slow:
        return [(None, slow)]
    if fast == mid:
        return [("e.props IS NOT NULL", fast), ("e.props IS NULL", slow)]
    if mid == slow:
        return [("e.builtins IS NOT NULL", fast), ("e.builtins IS NULL", slow)]
    return [
        ("e.props IS NOT NULL AND e.builtins IS NOT NULL", fast),
        ("e.props IS NOT NULL AND e.builtins IS NULL", mid),
        ("e.props IS NULL", slow),
    ]


def _selects(
    sources: Sequence[Source],
    query: Plan,
    event_type: str,
    *,
    with_filters: bool,
    hits: bool = False,
    first_seen: bool = True,
    paying: bool = False,
) -> Sql:
    """``SELECT b, g, a, v`` over every source, match and time branch, as one UNION ALL;
    ``hits`` adds ``t`` (the event time), ``f`` (its user's first-seen time, when
    ``first_seen``), ``r`` (its revenue) and ``k`` (its id: of two events in one millisecond
    the one stored first comes first, so both stores order ties alike); ``paying`` keeps
    only events with revenue."""
    person = "e.amplitude_id"
    if len({s.vendor for s in sources}) > 1:
        person = (
            "(SELECT coalesce('u:' || u.user_id, 'a:' || u.amplitude_id::text) FROM users u "
            "WHERE u.amplitude_id = e.amplitude_id)"
        )
    parts: list[str] = []
    args: list[Any] = []
    for source in sources:
        variants = _variants(
            *(
                _columns(sources, source, query, with_filters=with_filters, stored=stored)
                for stored in (Stored(True, True), Stored(True, False), Stored(False, False))
            )
        )
        for split, columns in variants:
            conditions = columns.conditions
            group, value = columns.group, columns.value
            for match in _match(source, event_type):
                for time_column, time_sql in _TIME_BRANCHES:
                    where = ["e.source_id = %s", match.text, time_sql]
                    if paying:
                        where.append("e.revenue IS NOT NULL")
                    if split is not None:
                        where.append(split)
                    where += [c.text for c in conditions]
                    extra = ""
                    if hits:
                        seen = (
                            "(SELECT u.first_seen_ms FROM users u "
                            "WHERE u.amplitude_id = e.amplitude_id)"
                            if first_seen
                            else "NULL::bigint"
                        )
                        extra = f", {time_column} AS t, {seen} AS f, e.revenue AS r, e.id AS k"
                    joins = " ".join(join.text for join in columns.joins)
                    bucket = _bucket(query, time_column)
                    parts.append(
                        f"SELECT {bucket.text} AS b, "
                        f"({group.text})::text AS g, {person} AS a, {value.text} AS v{extra} "
                        f"FROM events e {joins} WHERE {' AND '.join(where)}"
                    )
                    args += [*bucket.args, *group.args, *value.args]
                    for join in columns.joins:
                        args += join.args
                    args += [source.source_id, *match.args]
                    args += [query.start_ms, query.end_ms]
                    for condition in conditions:
                        args += condition.args
    if not parts:
        extra = (
            ", NULL::bigint AS t, NULL::bigint AS f, NULL::float8 AS r, NULL::bigint AS k"
            if hits
            else ""
        )
        return Sql(
            "SELECT NULL::bigint AS b, NULL::text AS g, NULL::bigint AS a, NULL::float8 AS v"
            f"{extra} WHERE false"
        )
    return Sql(" UNION ALL ".join(parts), args)


def _rollup(
    sources: Sequence[Source], query: Plan, *, with_filters: bool = True, every: bool = False
) -> Sql | None:
    """``SELECT b, a`` of ``_active`` users from the ``active_days`` rollup, when it gives the
    same answer as the events (as SQLite's: daily or longer periods, no segment, no filter or
    group-by, one vendor). None otherwise.

    ``every``: the users of ``_all`` instead, that rollup's with those of the inactive events
    (identify, group, alias, ...: the rows it leaves out, by the same types), which are read
    from the events; a pass over the range's index entries, not a count of their distinct
    users (``uniques``/``pct_dau`` of ``_all``: 0.56 s of CPU at 10M events from the events)."""
    params = query.params
    if (
        query.interval == "hourly"
        or params.segments
        or len({s.vendor for s in sources}) != 1
        or (with_filters and (params.event.get("filters") or query.group is not None))
    ):
        return None
    ids = [s.source_id for s in sources]
    bucket = _bucket(query, f"(r.day * {_DAY_MS})")
    found = Sql(
        f"SELECT {bucket.text} AS b, r.amplitude_id AS a "
        "FROM active_days r WHERE r.source_id = ANY(%s) AND r.day >= %s AND r.day < %s",
        [*bucket.args, ids, query.start_ms // _DAY_MS, query.end_ms // _DAY_MS],
    )
    if not every:
        return found
    for column, within in _TIME_BRANCHES:
        bucket = _bucket(query, column)
        found.text += (
            f" UNION ALL SELECT {bucket.text}, e.amplitude_id FROM events e "
            f"WHERE e.source_id = ANY(%s) AND e.type = ANY(%s) AND {within}"
        )
        found.args += [*bucket.args, ids, sorted(INACTIVE), query.start_ms, query.end_ms]
    return found


def segmentation_rows(
    conn: Conn, sources: Sequence[Source], query: Plan, *, rollups: bool = True
) -> list[Aggregate]:
    """Per (period, group) and per group over the range: events, users, value sum/count;
    uniques of ``_active`` from the ``active_days`` rollup when it answers the same."""
    event_type = str(query.params.event["event_type"])
    if (
        rollups
        and event_type in ("_active", "_all")
        and query.params.metric
        in (
            "uniques",
            "pct_dau",
        )
    ):
        rollup = _rollup(sources, query, every=event_type == "_all")
        if rollup is not None:
            sql = (
                f"WITH m AS MATERIALIZED ({rollup.text}) "
                "SELECT b, NULL, 0, count(DISTINCT a), 0.0, 0 FROM m GROUP BY b "
                "UNION ALL SELECT NULL, NULL, 0, count(DISTINCT a), 0.0, 0 FROM m"
            )
            return [Aggregate(*row) for row in conn.execute(sql, rollup.args)]
    inner = _selects(sources, query, str(query.params.event["event_type"]), with_filters=True)
    if query.params.metric in USER_METRICS:
        # Per period and over the range in one pass over the events (GROUPING(b) is 1 in the
        # rows over the range).
        return [
            Aggregate(None if whole else b, g, n, u, float(s), c)
            for b, g, n, u, s, c, whole in conn.execute(
                "SELECT b, g, count(*), count(DISTINCT a), coalesce(sum(v), 0.0), count(v), "
                f"GROUPING(b) FROM ({inner.text}) q GROUP BY GROUPING SETS ((b, g), (g))",
                inner.args,
            )
        ]
    rows = [
        Aggregate(b, g, n, 0, float(s), c)
        for b, g, n, s, c in conn.execute(
            "SELECT b, g, count(*), coalesce(sum(v), 0.0), count(v) "
            f"FROM ({inner.text}) q GROUP BY b, g",
            inner.args,
        )
    ]
    sums: dict[Any, list[float]] = {}
    for row in rows:
        total = sums.setdefault(row.group, [0, 0.0, 0])
        total[0] += row.events
        total[1] += row.value_sum
        total[2] += row.value_count
    collapsed = [Aggregate(None, group, int(t[0]), 0, t[1], int(t[2])) for group, t in sums.items()]
    return rows + collapsed


def active_users(
    conn: Conn, sources: Sequence[Source], query: Plan, *, rollups: bool = True
) -> dict[int | None, int]:
    """Distinct active users per period and (key None) over the range, for ``pct_dau`` (from
    the ``active_days`` rollup when it answers the same)."""
    inner = _rollup(sources, query, with_filters=False) if rollups else None
    if inner is None:
        inner = _selects(sources, query, "_active", with_filters=False)
    sql = (
        f"WITH m AS MATERIALIZED ({inner.text}) "
        "SELECT b, count(DISTINCT a) FROM m GROUP BY b "
        "UNION ALL SELECT NULL, count(DISTINCT a) FROM m"
    )
    return {bucket: users for bucket, users in conn.execute(sql, inner.args)}


def event_hits(
    conn: Conn,
    sources: Sequence[Source],
    query: Plan,
    *,
    first_seen: bool = False,
    paying: bool = False,
) -> list[Hit]:
    """Every matching event of the plan (its event type, filters and segments, in its time
    range) as a :class:`Hit`, in time order, ties in the order they were stored: what funnels,
    retention, new users and LTV are computed from (see :meth:`QueryReader.event_hits`)."""
    inner = _selects(
        sources, query, str(query.params.event["event_type"]), with_filters=True, hits=True,
        first_seen=first_seen, paying=paying,
    )  # fmt: skip
    rows = conn.execute(
        f"SELECT a, t, g, f, r FROM ({inner.text}) q ORDER BY t, k LIMIT %s",
        [*inner.args, MAX_HITS + 1],
    ).fetchall()
    if len(rows) > MAX_HITS:
        raise ValidationError(
            "start", f"the range holds more than {MAX_HITS:,} such events; narrow it"
        )
    return list(map(Hit._make, rows))


def event_exists(conn: Conn, sources: Sequence[Source], event_type: str) -> bool:
    """Whether any source ever stored this event type (``_all``/``_active`` always exist)."""
    if event_type in ("_all", "_active"):
        return True
    for source in sources:
        for match in _match(source, event_type):
            found = conn.execute(
                f"SELECT 1 FROM events e WHERE e.source_id = %s AND {match.text} LIMIT 1",
                [source.source_id, *match.args],
            ).fetchone()
            if found is not None:
                return True
    return False
