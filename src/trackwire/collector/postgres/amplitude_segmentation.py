"""Event segmentation in PostgreSQL: one statement per query over the events of a source.

A port of :mod:`trackwire.collector.sqlite.amplitude_segmentation` (owned with the query engine)
with the same plan, branches and answers. What differs is only how a JSON property is read:
SQLite's ``->>`` gives an SQL scalar, here every property stays ``jsonb`` (JSON ``null`` made
SQL ``NULL``) and the schema's functions give the readings of
:mod:`trackwire.collector.query.values` that SQLite registers in Python: ``tw_text`` (a
value's canonical text, compared and grouped), ``tw_fold`` (that text case folded in every
script, for ``contains``), ``tw_number`` (what counts as a number) and ``tw_items`` (what
``json_each`` lists). Paths are the dialect-free ones of
:mod:`trackwire.collector.query.mapping`, converted by :func:`pg_path`. Uniques of ``_active``
read the ``active_days`` rollup (kept by triggers, see :mod:`.schema`) where SQLite reads its
own.

Made to be fast at 10M events (``bench/pg_segmentation.py``): an event's short properties are
a ``jsonb`` column held, with its user and type, in covering indexes by name and by time, so
a query over one name or over every event is an index-only scan (names longer than
``NAME_INDEX_MAX`` bytes go through an md5 index, rows whose properties are too large through
a small partial one: see :func:`_named`, :mod:`.schema`); each property is read once per row
(:class:`_Reads`); built-in properties (``country``, ``platform``, ...) are kept at ingest in
a ``builtins`` column held in the same indexes (:mod:`.builtins`; rows without it read them
from the payload through ``tw_json_at``, see :func:`_variants`); a user property is read once
per user, not per event; uniques per period and over the range come from one pass
(``GROUPING SETS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from trackwire.collector.postgres import builtins
from trackwire.collector.postgres.ingest import Conn
from trackwire.collector.postgres.schema_indexes import NAME_INDEX_MAX
from trackwire.collector.query import mapping
from trackwire.collector.query.limits import MAX_HITS
from trackwire.collector.query.reader import Hit, Source
from trackwire.collector.query.segmentation import (
    PROPERTY_METRICS,
    USER_METRICS,
    Aggregate,
    Plan,
    Property,
    bucket_of,
)
from trackwire.collector.query.values import filter_needles, filter_texts
from trackwire.collector.sqlite.amplitude_rollups import INACTIVE
from trackwire.errors import ValidationError

__all__ = ["active_users", "event_exists", "event_hits", "pg_path", "segmentation_rows"]

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


def pg_path(path: str) -> list[str]:
    """A JSON path of :mod:`~trackwire.collector.query.mapping` (``$.a."b c"[0]``) as the
    ``text[]`` that ``#>`` takes (``{a, "b c", 0}``).

    Raises:
        ValueError: not such a path.
    """
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path!r}")
    parts: list[str] = []
    i = 1
    while i < len(path):
        char = path[i]
        if char == "[":
            end = path.index("]", i)
            parts.append(path[i + 1 : end])
            i = end + 1
        elif char == "." and path[i + 1 : i + 2] == '"':
            i += 2
            member: list[str] = []
            while path[i] != '"':
                if path[i] == "\\":
                    i += 1
                member.append(path[i])
                i += 1
            parts.append("".join(member))
            i += 1
        elif char == ".":
            end = i + 1
            while end < len(path) and path[end] not in ".[":
                end += 1
            parts.append(path[i + 1 : end])
            i = end
        else:
            raise ValueError(f"not a JSON path: {path!r}")
    return parts


#: Where a property is read: a jsonb expression with a placeholder for its path.
_PAYLOAD: Final = "tw_json_at(e.payload, %s::text[])"
_PROPS: Final = "e.props #> %s::text[]"
_BUILTINS: Final = "e.builtins #> %s::text[]"
_CONTEXT: Final = (
    "(SELECT tw_json(c.body) #> %s::text[] FROM contexts c WHERE c.context_id = e.context_id)"
)
_USER: Final = "tw_json(u.properties) #> %s::text[]"


@dataclass(slots=True)
class _Reads:
    """Values computed once per event row, each in a ``LATERAL`` subquery and named by its
    alias: an expression naming a value twice (``tw_text``, ``tw_fold``, a filter and a group
    on one property) otherwise computes it each time. ``OFFSET 0`` keeps the planner from
    folding a subquery back into every expression that names it: several times faster per
    row.

    The subquery also lets the planner cache its value per distinct input (Memoize: a month
    of events holds a few hundred distinct ``props``), which a one-row function scan
    (``unnest(ARRAY[...])``, parallel-safe where ``OFFSET 0`` is not) did not get: with it
    a ``contains`` filter took 1.9 s instead of 0.3 s at 10M events."""

    laterals: list[_Sql] = field(default_factory=list)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    def once(self, sql: _Sql) -> _Sql:
        """``sql`` (over the row ``e`` and earlier reads) as a column read once per row."""
        key = (sql.text, repr(sql.args))
        alias = self.aliases.get(key)
        if alias is None:
            alias = self.aliases[key] = f"r{len(self.laterals)}"
            self.laterals.append(
                _Sql(f"CROSS JOIN LATERAL (SELECT {sql.text} AS once OFFSET 0) {alias}", sql.args)
            )
        return _Sql(f"{alias}.once")


@dataclass(frozen=True, slots=True)
class _Access:
    """Where a property is: alternatives tried in order, each a template and its path."""

    alternatives: tuple[tuple[str, str], ...]

    def value(self, reads: _Reads | None = None) -> _Sql:
        """The property as jsonb, JSON ``null`` as SQL ``NULL``; with ``reads``, read once
        per row (inline otherwise: in a subquery over users)."""
        parts = [f"nullif({template}, 'null'::jsonb)" for template, _ in self.alternatives]
        args: list[Any] = [pg_path(path) for _, path in self.alternatives]
        value = _Sql(parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})", args)
        return value if reads is None else reads.once(value)


@dataclass(frozen=True, slots=True)
class _Stored:
    """Which of an event's columns a branch of the query reads its properties from: the rows
    whose ``props`` (event properties) / ``builtins`` (built-in properties) column is set.
    Where it is not (too large for the indexes, or stored before the column existed), they
    are read from the payload."""

    props: bool
    builtins: bool


_PLACES: Final = {"payload": _PAYLOAD, "context": _CONTEXT}


def _event_access(source: Source, kind: str, name: str, stored: _Stored) -> _Access | None:
    """Where an event's property (or, for ``kind`` "user", a built-in property) is stored,
    in the rows whose columns are ``stored``."""
    if kind == "user":
        path = mapping.built_in_path(source.vendor, name)
        if path is None:
            return None
        if stored.builtins:
            return _Access(((_BUILTINS, mapping.column_property_path(name)),))
        # What ingest keeps in ``builtins`` (see .builtins), read where it came from.
        return _Access(tuple((_PLACES[place], path) for place in builtins.places(source.vendor)))
    if stored.props:
        return _Access(((_PROPS, mapping.column_property_path(name)),))
    paths = mapping.event_property_paths(source.vendor, name)
    return _Access(tuple((_PAYLOAD, path) for path in paths))


def _condition(
    access: _Access | None,
    op: str,
    values: Sequence[Any],
    where: str,
    reads: _Reads | None = None,
) -> _Sql:
    """``op`` applied to a property (None: the property is never set for this vendor); with
    ``reads``, the property of the event row, read once (see :class:`_Reads`).

    Values compare as Amplitude's text (:func:`filter_texts`); ``contains`` compares case
    folded text on both sides, for every script.
    """
    if op in _NUMERIC_OPS:
        try:
            number = float(values[0])
        except (IndexError, TypeError, ValueError, OverflowError):
            raise ValidationError(where, f"{op!r} needs one number, got {list(values)!r}") from None
        if access is None:
            return _Sql("false")
        value = access.value(reads)
        return _Sql(f"(tw_number({value.text}) {_NUMERIC_OPS[op]} %s)", [*value.args, number])
    if op in ("contains", "does not contain"):
        if access is None:
            return _Sql("false" if op == "contains" else "true")
        value = access.value(reads)
        folded = _Sql(f"tw_fold(tw_text({value.text}))", value.args)
        if reads is not None:
            text = reads.once(_Sql(f"tw_text({value.text})", value.args))
            folded = reads.once(_Sql(f"tw_fold({text.text})"))
        needles = filter_needles(values) or [""]
        any_of = " OR ".join(f"strpos({folded.text}, %s) > 0" for _ in needles)
        any_args: list[Any] = []
        for needle in needles:
            any_args += [*folded.args, needle]
        if op == "contains":
            return _Sql(f"({any_of})", any_args)
        return _Sql(f"({value.text} IS NULL OR NOT ({any_of}))", [*value.args, *any_args])
    texts = filter_texts(values)
    if op in ("is", "is not"):
        if access is None:
            return _Sql("false" if op == "is" else "true")
        value = access.value(reads)
        inside = f"tw_text({value.text}) = ANY(%s)"
        if op == "is":
            return _Sql(inside, [*value.args, texts])
        return _Sql(f"NOT coalesce({inside}, false)", [*value.args, texts])
    # set is / set is not: any element of an array property (or the value itself) is listed.
    if access is None:
        return _Sql("false" if op == "set is" else "true")
    value = access.value(reads)
    exists = (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements(tw_items({value.text})) j "
        "WHERE tw_text(j) = ANY(%s))"
    )
    return _Sql(exists if op == "set is" else f"NOT {exists}", [*value.args, texts])


def _filter(
    sources: Sequence[Source],
    source: Source,
    kind: str,
    name: str,
    op: str,
    values: Sequence[Any],
    where: str,
    stored: _Stored,
    reads: _Reads,
) -> _Sql:
    """A filter on one event's property, or on its user's (custom) property."""
    if kind == "user":
        user_path = mapping.user_property_key(name)
        if user_path is not None:
            negated = _NEGATIONS.get(op)
            cond = _condition(_Access(((_USER, user_path),)), negated or op, values, where)
            ids = [s.source_id for s in sources]
            users = f"FROM users u WHERE u.source_id = ANY(%s) AND {cond.text}"
            if len({s.vendor for s in sources}) == 1:
                # Inside coalesce() the IN stays one hashed subplan, the users read once: as a
                # semi-join the planner, misjudging the condition's selectivity, looped over
                # the matching users, probing each one's events (1.1 s at 10M events).
                sql = _Sql(
                    f"coalesce(e.amplitude_id IN (SELECT u.amplitude_id {users}), false)",
                    [ids, *cond.args],
                )
            else:
                sql = _Sql(
                    f"(e.amplitude_id IN (SELECT u.amplitude_id {users}) "
                    f"OR e.user_id IN (SELECT u.user_id {users} AND u.user_id IS NOT NULL))",
                    [ids, *cond.args, ids, *cond.args],
                )
            if negated is not None:
                sql.text = f"NOT coalesce({sql.text}, false)"
            return sql
    return _condition(_event_access(source, kind, name, stored), op, values, where, reads)


def _user_join(sources: Sequence[Source], prop: Property | None, alias: str) -> _Sql | None:
    """``LEFT JOIN`` of each user's value of a custom user property, read once per user (not
    once per event): ``{alias}.j``; None when ``prop`` is not a custom user property."""
    if prop is None or prop.kind != "user":
        return None
    user_path = mapping.user_property_key(prop.name)
    if user_path is None:
        return None
    # OFFSET 0 keeps the subquery whole: its JSON is parsed per user, then hash joined.
    return _Sql(
        f"LEFT JOIN (SELECT u.amplitude_id, nullif({_USER}, 'null'::jsonb) AS j FROM users u "
        f"WHERE u.source_id = ANY(%s) OFFSET 0) {alias} ON {alias}.amplitude_id = e.amplitude_id",
        [pg_path(user_path), [s.source_id for s in sources]],
    )


def _json(
    source: Source, prop: Property, stored: _Stored, reads: _Reads, joined: str | None = None
) -> _Sql:
    """The jsonb expression of a property's value for one event (NULL: not set);
    ``joined``: the alias of its :func:`_user_join`, when it has one."""
    if joined is not None:
        return _Sql(f"{joined}.j")
    access = _event_access(source, prop.kind, prop.name, stored)
    return _Sql("NULL::jsonb") if access is None else access.value(reads)


def _value(
    source: Source, prop: Property, stored: _Stored, reads: _Reads, joined: str | None = None
) -> _Sql:
    """The group label of a property for one event: its canonical text, one group per label
    (null and "" are both "(none)", 1 and 1.0 both "1")."""
    value = _json(source, prop, stored, reads, joined)
    return _Sql(f"nullif(tw_text({value.text}), '')", value.args)


_DAY_MS: Final = 86_400_000


def _bucket(query: Plan, t: str) -> _Sql:
    """The period key of the time ``t`` (SQL, milliseconds in the plan's range), as
    :func:`~trackwire.collector.query.segmentation.bucket_of` gives it."""
    if query.interval == "hourly":
        return _Sql(f"({t} / 3600000)")
    if query.interval == "daily":
        return _Sql(f"({t} / {_DAY_MS})")
    if query.interval == "weekly":
        return _Sql(f"(({t} / {_DAY_MS} + 4) / 7)")
    # A month is looked up by day in an array of the range's days (at most ~1,100): a
    # subscript per event, where reading the month from a timestamp took ~0.9 s per 1M events.
    first = query.start_ms // _DAY_MS
    last = (query.end_ms - 1) // _DAY_MS
    months = [bucket_of("monthly", day * _DAY_MS) for day in range(first, last + 1)]
    return _Sql(f"(%s::bigint[])[{t} / {_DAY_MS} - %s + 1]", [months, first])


def _match(source: Source, event_type: str) -> list[_Sql]:
    """Alternatives that select one event type's rows of a source."""
    if event_type == "_all":
        return [_Sql("true")]
    if event_type == "_active":
        inactive = sorted(mapping.INACTIVE_TYPES.get(source.vendor, ()))
        return [_Sql("e.type <> ALL(%s)", [inactive])]
    found = []
    for match in mapping.matches_for(source.vendor, event_type):
        name = match.event_name
        sql = _Sql("e.event_name IS NULL") if name is None else _named(name)
        if match.types:
            sql.text += " AND e.type <> ALL(%s)" if match.exclude else " AND e.type = ANY(%s)"
            sql.args.append(list(match.types))
        found.append(sql)
    return found


def _named(name: str) -> _Sql:
    """The rows of one event name, through the index that holds it: a short name's covering
    index (its condition repeats the index's own, so the planner may use it), else the md5
    one (see :mod:`.schema`)."""
    if len(name.encode("utf-8", "surrogatepass")) <= NAME_INDEX_MAX:
        return _Sql(f"e.event_name = %s AND octet_length(e.event_name) <= {NAME_INDEX_MAX}", [name])
    return _Sql(
        "md5(e.event_name) = md5(%s) AND e.event_name = %s "
        f"AND octet_length(e.event_name) > {NAME_INDEX_MAX}",
        [name, name],
    )


@dataclass(slots=True)
class _Columns:
    """One source's filter conditions, group and value expressions, and the joins of the
    user properties they read."""

    conditions: list[_Sql]
    group: _Sql
    value: _Sql
    joins: list[_Sql] = field(default_factory=list)


def _columns(
    sources: Sequence[Source], source: Source, query: Plan, *, with_filters: bool, stored: _Stored
) -> _Columns:
    """The expressions of one source's rows (see the SQLite module)."""
    params = query.params
    conditions: list[_Sql] = []
    reads = _Reads()
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
                    stored,
                    reads,
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
                stored,
                reads,
            )
        )
    joins: list[_Sql] = []
    group = _Sql("NULL::text")
    if query.group and with_filters:
        join = _user_join(sources, query.group, "ug")
        group = _value(source, query.group, stored, reads, None if join is None else "ug")
        joins += [] if join is None else [join]
    value = _Sql("NULL::float8")
    if with_filters and query.value is not None and params.metric in PROPERTY_METRICS:
        join = _user_join(sources, query.value, "uv")
        raw = _json(source, query.value, stored, reads, None if join is None else "uv")
        value = _Sql(f"tw_number({raw.text})", raw.args)
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
) -> _Sql:
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
                for stored in (_Stored(True, True), _Stored(True, False), _Stored(False, False))
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
        return _Sql(
            "SELECT NULL::bigint AS b, NULL::text AS g, NULL::bigint AS a, NULL::float8 AS v"
            f"{extra} WHERE false"
        )
    return _Sql(" UNION ALL ".join(parts), args)


def _rollup(
    sources: Sequence[Source], query: Plan, *, with_filters: bool = True, every: bool = False
) -> _Sql | None:
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
    found = _Sql(
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
