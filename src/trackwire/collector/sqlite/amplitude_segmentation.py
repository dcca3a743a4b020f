"""Event segmentation in SQLite: one statement per query over the events of a source.

The statement reads each vendor's rows through the mapping of :mod:`.mapping` (event type to
stored type and name, property to JSON path), with every value as a placeholder: only fixed
fragments chosen here enter the SQL text. Rows are picked through the merged keys of
``event_names (source_id, name, time_ms, event_id)`` (time range within one event type), with
the events after the watermark read by id (see :mod:`.event_index`), and aggregated per period
and group in one pass, together with the per-group totals of the whole range. Event properties
are read from the short ``props`` column where the store kept one (in ``event_names``: the
events table is not read) and from the payload elsewhere, in separate branches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from trackwire.collector.query import mapping
from trackwire.collector.query.limits import MAX_HITS
from trackwire.collector.query.reader import Hit, Source
from trackwire.collector.query.segmentation import (
    PROPERTY_METRICS,
    USER_METRICS,
    Aggregate,
    Plan,
    Property,
)
from trackwire.collector.query.values import filter_needles, filter_texts
from trackwire.collector.sqlite import event_index, user_index
from trackwire.collector.sqlite.amplitude_functions import ELEMENT, FOLDED, TEXT
from trackwire.errors import ValidationError

__all__ = ["Source", "active_users", "event_exists", "event_hits", "segmentation_rows"]

_NUMERIC_OPS: Final = {
    "less": "<",
    "less or equal": "<=",
    "greater": ">",
    "greater or equal": ">=",
}


#: Negative operators on user properties, computed as "not the positive one".
_NEGATIONS: Final = {"is not": "is", "does not contain": "contains", "set is not": "set is"}


@dataclass(slots=True)
class _Sql:
    """A SQL fragment and its parameters, built together so they cannot drift apart."""

    text: str = ""
    args: list[Any] = field(default_factory=list)


def _placeholders(count: int) -> str:
    return ", ".join("?" * count) if count else "NULL"


@dataclass(frozen=True, slots=True)
class _Access:
    """Where a property is: alternatives tried in order, each an expression template with
    ``{op}`` (``->>`` for the SQL value, ``->`` for the JSON) and one placeholder, its path."""

    alternatives: tuple[tuple[str, str], ...]

    def _pick(self, op: str) -> _Sql:
        parts = [template.format(op=op) for template, _ in self.alternatives]
        args: list[Any] = [path for _, path in self.alternatives]
        if len(parts) == 1:
            return _Sql(parts[0], args)
        if op == "->":
            # A JSON null is the text 'null' here; the next place may still hold the value.
            parts = [f"nullif({part}, 'null')" for part in parts]
        return _Sql(f"coalesce({', '.join(parts)})", args)

    def value(self) -> _Sql:
        """The property's SQL value (text, number, or JSON text for arrays and objects)."""
        return self._pick("->>")

    def json(self) -> _Sql:
        """The property as JSON (what ``json_each`` reads)."""
        return self._pick("->")

    def text(self, function: str = TEXT) -> _Sql:
        """The property's canonical text (see :mod:`~trackwire.collector.query.values`):
        ``true``/``false`` for booleans, whole numbers without a fraction; ``function``
        :data:`FOLDED` gives it case folded."""
        document = self.json()
        return _Sql(f"{function}({document.text})", document.args)


_PAYLOAD: Final = "e.payload {op} ?"
#: The event's own properties, kept short beside the payload (NULL: read the payload).
_PROPS: Final = "e.props {op} ?"
#: The event's shared request context (an mParticle batch, a Segment envelope).
_CONTEXT: Final = "(SELECT c.body {op} ? FROM contexts c WHERE c.context_id = e.context_id)"
_USER: Final = "u.properties {op} ?"


def _event_access(source: Source, kind: str, name: str, props: bool) -> _Access | None:
    """Where an event's property (or, for ``kind`` "user", a built-in property) is stored;
    ``props``: in the rows whose ``props`` column is set (else in those where it is NULL)."""
    if kind == "user":
        path = mapping.built_in_path(source.vendor, name)
        if path is None:
            return None
        if source.vendor == "amplitude":
            return _Access(((_PAYLOAD, path),))
        if source.vendor == "mparticle":
            # Device and application data belong to the batch: its context (older files: the
            # payload itself held the whole batch).
            return _Access(((_CONTEXT, path), (_PAYLOAD, path)))
        # Segment: the message's own context first, then its batch envelope's.
        return _Access(((_PAYLOAD, path), (_CONTEXT, path)))
    if props:
        return _Access(((_PROPS, mapping.column_property_path(name)),))
    paths = mapping.event_property_paths(source.vendor, name)
    return _Access(tuple((_PAYLOAD, path) for path in paths))


def _condition(access: _Access | None, op: str, values: Sequence[Any], where: str) -> _Sql:
    """``op`` applied to a property (None: the property is never set for this vendor).

    Values compare as Amplitude's text (:func:`filter_texts`); ``contains`` compares case
    folded text on both sides, for every script.
    """
    if op in _NUMERIC_OPS:
        try:
            number = float(values[0])
        except (IndexError, TypeError, ValueError, OverflowError):
            raise ValidationError(where, f"{op!r} needs one number, got {list(values)!r}") from None
        if access is None:
            return _Sql("0")
        value = access.value()
        expr = f"({value.text})"
        return _Sql(
            f"(typeof({expr}) IN ('integer', 'real') AND {expr} {_NUMERIC_OPS[op]} ?)",
            [*value.args, *value.args, number],
        )
    if op in ("contains", "does not contain"):
        if access is None:
            return _Sql("0" if op == "contains" else "1")
        folded = access.text(FOLDED)
        needles = filter_needles(values) or [""]
        any_of = " OR ".join(f"instr({folded.text}, ?) > 0" for _ in needles)
        any_args: list[Any] = []
        for needle in needles:
            any_args += [*folded.args, needle]
        if op == "contains":
            return _Sql(f"({any_of})", any_args)
        return _Sql(f"({folded.text} IS NULL OR NOT ({any_of}))", [*folded.args, *any_args])
    texts = filter_texts(values)
    if op in ("is", "is not"):
        if access is None:
            return _Sql("0" if op == "is" else "1")
        text = access.text()
        inside = f"{text.text} IN ({_placeholders(len(texts))})"
        if op == "is":
            return _Sql(inside, [*text.args, *texts])
        return _Sql(f"NOT coalesce({inside}, 0)", [*text.args, *texts])
    # set is / set is not: any element of an array property (or the value itself) is listed.
    if access is None:
        return _Sql("0" if op == "set is" else "1")
    document = access.json()
    exists = (
        f"EXISTS (SELECT 1 FROM json_each({document.text}) j "
        f"WHERE {ELEMENT}(j.type, j.value) IN ({_placeholders(len(texts))}))"
    )
    return _Sql(exists if op == "set is" else f"NOT {exists}", [*document.args, *texts])


def _user_path(name: str) -> str | None:
    return mapping.user_property_key(name)


def _filter(
    sources: Sequence[Source],
    source: Source,
    kind: str,
    name: str,
    op: str,
    values: Sequence[Any],
    where: str,
    props: bool,
) -> _Sql:
    """A filter on one event's property, or on its user's (custom) property (``props``: see
    :func:`_event_access`)."""
    if kind == "user":
        user_path = _user_path(name)
        if user_path is not None:
            # The users matching the condition, found once; events then probe that set. With
            # several vendors a person is everyone sharing a user id: a positive condition holds
            # when any of their records matches, a negative one when none matches the positive.
            negated = _NEGATIONS.get(op)
            cond = _condition(_Access(((_USER, user_path),)), negated or op, values, where)
            ids = [s.source_id for s in sources]
            users = f"FROM users u WHERE u.source_id IN ({_placeholders(len(ids))}) AND {cond.text}"
            if len({s.vendor for s in sources}) == 1:
                sql = _Sql(f"e.amplitude_id IN (SELECT u.amplitude_id {users})", [*ids, *cond.args])
            else:
                sql = _Sql(
                    f"(e.amplitude_id IN (SELECT u.amplitude_id {users}) "
                    f"OR e.user_id IN (SELECT u.user_id {users} AND u.user_id IS NOT NULL))",
                    [*ids, *cond.args, *ids, *cond.args],
                )
            if negated is not None:
                sql.text = f"NOT coalesce({sql.text}, 0)"
            return sql
    return _condition(_event_access(source, kind, name, props), op, values, where)


def _value(source: Source, prop: Property, props: bool) -> _Sql:
    """The expression of a property's value for one event (group label or summed value)."""
    if prop.kind == "user":
        user_path = _user_path(prop.name)
        if user_path is not None:
            return _Sql(
                f"(SELECT nullif({TEXT}(u.properties -> ?), '') FROM users u "
                "WHERE u.amplitude_id = e.amplitude_id)",
                [user_path],
            )
    access = _event_access(source, prop.kind, prop.name, props)
    if access is None:
        return _Sql("NULL")
    # One group per label: null and "" are both "(none)", 1 and 1.0 both "1".
    text = access.text()
    return _Sql(f"nullif({text.text}, '')", text.args)


def _number(source: Source, prop: Property, props: bool) -> _Sql:
    """The expression of a property's SQL value (numbers stay numbers: ``sums``)."""
    if prop.kind == "user":
        user_path = _user_path(prop.name)
        if user_path is not None:
            return _Sql(
                "(SELECT u.properties ->> ? FROM users u WHERE u.amplitude_id = e.amplitude_id)",
                [user_path],
            )
    access = _event_access(source, prop.kind, prop.name, props)
    return _Sql("NULL") if access is None else access.value()


def _bucket(interval: str, t: str) -> str:
    if interval == "hourly":
        return f"({t} / 3600000)"
    if interval == "daily":
        return f"({t} / 86400000)"
    if interval == "weekly":
        return f"(({t} / 86400000 + 4) / 7)"
    return (
        f"(CAST(strftime('%Y', {t} / 1000, 'unixepoch') AS INTEGER) * 12 "
        f"+ CAST(strftime('%m', {t} / 1000, 'unixepoch') AS INTEGER) - 1)"
    )


def _match(source: Source, event_type: str) -> list[_Sql]:
    """Alternatives that select one event type's rows of a source (``_all``/``_active``:
    every row / every active row)."""
    if event_type == "_all":
        return [_Sql("1")]
    if event_type == "_active":
        inactive = sorted(mapping.INACTIVE_TYPES.get(source.vendor, ()))
        return [_Sql(f"e.type NOT IN ({_placeholders(len(inactive))})", list(inactive))]
    found = []
    for match in mapping.matches_for(source.vendor, event_type):
        if match.event_name is None:
            sql = _Sql("e.event_name IS NULL")
        else:
            sql = _Sql("e.event_name = ?", [match.event_name])
        if match.types:
            negate = "NOT " if match.exclude else ""
            sql.text += f" AND e.type {negate}IN ({_placeholders(len(match.types))})"
            sql.args += list(match.types)
        found.append(sql)
    return found


@dataclass(slots=True)
class _Columns:
    """One source's filter conditions, group and value expressions."""

    conditions: list[_Sql]
    group: _Sql
    value: _Sql


def _columns(
    sources: Sequence[Source], source: Source, query: Plan, *, with_filters: bool, props: bool
) -> _Columns:
    """The expressions of one source's rows; ``props``: for the rows whose event properties
    are in their ``props`` column (else for those where it is NULL)."""
    params = query.params
    conditions: list[_Sql] = []
    if with_filters:
        for index, entry in enumerate(params.event.get("filters", [])):
            conditions.append(
                _filter(
                    sources,
                    source,
                    str(entry.get("subprop_type", "event")),
                    str(entry["subprop_key"]),
                    str(entry["subprop_op"]),
                    entry["subprop_value"],
                    f"e.filters[{index}]",
                    props,
                )
            )
    for index, segment in enumerate(params.segments):
        conditions.append(
            _filter(
                sources,
                source,
                "user",
                str(segment["prop"]),
                str(segment["op"]),
                segment["values"],
                f"s[{index}]",
                props,
            )
        )
    group = _value(source, query.group, props) if query.group and with_filters else _Sql("NULL")
    value = _Sql("NULL")
    if with_filters and query.value is not None and params.metric in PROPERTY_METRICS:
        raw = _number(source, query.value, props)
        # Only numbers count; the expression is evaluated twice, args given twice.
        value = _Sql(
            f"CASE WHEN typeof({raw.text}) IN ('integer', 'real') THEN {raw.text} END",
            [*raw.args, *raw.args],
        )
    return _Columns(conditions, group, value)


def _selects(
    sources: Sequence[Source],
    query: Plan,
    event_type: str,
    *,
    with_filters: bool,
    hits: bool = False,
    first_seen: bool = True,
    paying: bool = False,
) -> _Sql:
    """``SELECT b, g, a, v`` over every source, match and time branch, as one UNION ALL;
    ``hits`` adds ``t`` (the event time), ``f`` (its user's first-seen time, when
    ``first_seen``), ``r`` (its revenue) and ``k`` (its id: of two events in one millisecond
    the one stored first comes first, so both stores order ties alike); ``paying`` keeps
    only events with revenue."""
    # Who counts as one user: the amplitude_id within one vendor; across vendors the user id
    # (each vendor resolves its own amplitude_ids), else the amplitude_id.
    person = "e.amplitude_id"
    if len({s.vendor for s in sources}) > 1:
        person = (
            "(SELECT coalesce('u:' || u.user_id, 'a:' || u.amplitude_id) FROM users u "
            "WHERE u.amplitude_id = e.amplitude_id)"
        )
    parts: list[str] = []
    args: list[Any] = []
    for source in sources:
        short = _columns(sources, source, query, with_filters=with_filters, props=True)
        long = _columns(sources, source, query, with_filters=with_filters, props=False)
        # A query reading event properties runs as two branches: rows with their properties in
        # the props column read only event_names (which carries that column) once merged;
        # the others (long property sets, older rows) read their payload from the table. One
        # payload reference in a single branch would read every row's payload.
        variants = (
            [(None, long)]
            if short == long
            else [("e.props IS NOT NULL", short), ("e.props IS NULL", long)]
        )
        for split, columns in variants:
            conditions = columns.conditions
            group, value = columns.group, columns.value
            for match in _match(source, event_type):
                for time_column, time_sql, ranges, merged in _TIME_BRANCHES:
                    where = ["e.source_id = ?", match.text, time_sql]
                    if paying:
                        where.append("e.revenue IS NOT NULL")
                    if split is not None:
                        where.append(split)
                    where += [c.text for c in conditions]
                    extra = ""
                    if hits:
                        seen = (
                            # As the row holds it: event_hits takes the recent keys in.
                            "(SELECT u.first_seen_ms FROM users u "
                            "WHERE u.amplitude_id = e.amplitude_id)"
                            if first_seen
                            else "NULL"
                        )
                        extra = (
                            f", {time_column} AS t, {seen} AS f, e.revenue AS r, e.id AS k, "
                            "e.amplitude_id AS i"
                        )
                    select = (
                        f"{_bucket(query.interval, time_column)} AS b, {group.text} AS g, "
                        f"{person} AS a, {value.text} AS v{extra}"
                    )
                    condition = " AND ".join(where)
                    parts.append(
                        event_index.merged_branch(select, condition)
                        if merged
                        else f"SELECT {select} FROM events e "
                        f"WHERE {event_index.tail_branch(condition)}"
                    )
                    args += [*group.args, *value.args, source.source_id, *match.args]
                    args += [query.start_ms, query.end_ms] * ranges
                    for sql in conditions:
                        args += sql.args
    if not parts:
        extra = ", NULL AS t, NULL AS f, NULL AS r, NULL AS k, NULL AS i" if hits else ""
        return _Sql(f"SELECT NULL AS b, NULL AS g, NULL AS a, NULL AS v{extra} WHERE 0")
    return _Sql(" UNION ALL ".join(parts), args)


#: How an event type's rows are read in time: ``(time column, range condition, ranges,
#: merged)``. The merged keys (see sqlite/event_index.py) in two branches, each served by the
#: event_names key (source_id, name, time_ms): events with a client time, and events without
#: one (timed at receipt; "+": no index on the receipt time may lead that plan). The events
#: after the watermark in one branch, a single scan by id for both.
_TIME_BRANCHES: Final = (
    ("e.client_time_ms", "e.client_time_ms >= ? AND e.client_time_ms < ?", 1, True),
    (
        "e.received_time_ms",
        "e.client_time_ms IS NULL AND +e.received_time_ms >= ? AND +e.received_time_ms < ?",
        1,
        True,
    ),
    (
        "coalesce(e.client_time_ms, e.received_time_ms)",
        "(e.client_time_ms >= ? AND e.client_time_ms < ? OR e.client_time_ms IS NULL "
        "AND e.received_time_ms >= ? AND e.received_time_ms < ?)",
        2,
        False,
    ),
)


def _rollup(sources: Sequence[Source], query: Plan, *, with_filters: bool = True) -> _Sql | None:
    """``SELECT b, a`` of ``_active`` users from the ``active_days`` rollup, when it gives the
    same answer as the events: daily or longer periods, no segment, no filter or group-by, and
    one vendor (whose ``amplitude_id`` is the person). None otherwise."""
    params = query.params
    if (
        query.interval == "hourly"
        or params.segments
        or len({s.vendor for s in sources}) != 1
        or (with_filters and (params.event.get("filters") or query.group is not None))
    ):
        return None
    day_ms = 86_400_000
    ids = [s.source_id for s in sources]
    return _Sql(
        f"SELECT {_bucket(query.interval, f'(r.day * {day_ms})')} AS b, r.amplitude_id AS a "
        f"FROM active_days r WHERE r.source_id IN ({_placeholders(len(ids))}) "
        "AND r.day >= ? AND r.day < ?",
        [*ids, query.start_ms // day_ms, query.end_ms // day_ms],
    )


def segmentation_rows(
    conn: sqlite3.Connection, sources: Sequence[Source], query: Plan, *, rollups: bool = True
) -> list[Aggregate]:
    """Per (period, group) and per group over the range: events, users, value sum/count.

    Distinct users are counted only for the metrics that show them, and the range's distinct
    users take a second pass over the (index-only, cheap) selection; every other total of the
    range is the sum of its periods. Uniques of ``_active`` read the ``active_days`` rollup
    when it answers the same (``rollups``; see :func:`_rollup`).
    """
    event_type = str(query.params.event["event_type"])
    if rollups and event_type == "_active" and query.params.metric in ("uniques", "pct_dau"):
        rollup = _rollup(sources, query)
        if rollup is not None:
            sql = (
                f"WITH m AS MATERIALIZED ({rollup.text}) "
                "SELECT b, NULL, 0, count(DISTINCT a), 0.0, 0 FROM m GROUP BY b "
                "UNION ALL SELECT NULL, NULL, 0, count(DISTINCT a), 0.0, 0 FROM m"
            )
            return [Aggregate(*row) for row in conn.execute(sql, rollup.args)]
    inner = _selects(sources, query, event_type, with_filters=True)
    distinct = query.params.metric in USER_METRICS
    users = "count(DISTINCT a)" if distinct else "0"
    rows = [
        Aggregate(*row)
        for row in conn.execute(
            f"SELECT b, g, count(*), {users}, total(v), count(v) FROM ({inner.text}) GROUP BY b, g",
            inner.args,
        )
    ]
    if distinct:
        collapsed = [
            Aggregate(None, *row)
            for row in conn.execute(
                f"SELECT g, count(*), count(DISTINCT a), total(v), count(v) FROM ({inner.text}) "
                "GROUP BY g",
                inner.args,
            )
        ]
    else:
        sums: dict[Any, list[float]] = {}
        for row in rows:
            total = sums.setdefault(row.group, [0, 0, 0.0, 0])
            total[0] += row.events
            total[2] += row.value_sum
            total[3] += row.value_count
        collapsed = [
            Aggregate(None, group, int(t[0]), 0, t[2], int(t[3])) for group, t in sums.items()
        ]
    return rows + collapsed


def active_users(
    conn: sqlite3.Connection, sources: Sequence[Source], query: Plan, *, rollups: bool = True
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
    conn: sqlite3.Connection,
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
    columns = "a, t, g, f, r, i" if first_seen else "a, t, g, f, r"
    with user_index.snapshot(conn):
        rows = conn.execute(
            f"SELECT {columns} FROM ({inner.text}) ORDER BY t, k LIMIT ?",
            [*inner.args, MAX_HITS + 1],
        ).fetchall()
        # The users' rows lag by their recent keys (sqlite/user_index.py), read at the same
        # commit. (A lookup of them per event in SQL was left to the planner, which at times
        # scanned them all for each event.)
        pending = user_index.pending_spans(conn) if first_seen and rows else {}
    if len(rows) > MAX_HITS:
        raise ValidationError(
            "start", f"the range holds more than {MAX_HITS:,} such events; narrow it"
        )
    if not first_seen:
        return list(map(Hit._make, rows))
    hits = []
    for person, time_ms, group, seen, revenue, amplitude_id in rows:
        span = pending.get(amplitude_id)
        if span is not None and seen is not None:
            seen = min(seen, span[0])
        hits.append(Hit(person, time_ms, group, seen, revenue))
    return hits


def event_exists(conn: sqlite3.Connection, sources: Sequence[Source], event_type: str) -> bool:
    """Whether any source ever stored this event type (``_all``/``_active`` always exist)."""
    if event_type in ("_all", "_active"):
        return True
    for source in sources:
        for match in _match(source, event_type):
            where = f"e.source_id = ? AND {match.text}"
            found = conn.execute(
                f"SELECT 1 FROM events e WHERE {event_index.tail_branch(where)} "
                f"UNION ALL {event_index.merged_branch('1', where)} LIMIT 1",
                [source.source_id, *match.args] * 2,
            ).fetchone()
            if found is not None:
                return True
    return False
