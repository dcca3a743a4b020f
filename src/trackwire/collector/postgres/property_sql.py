"""How segmentation reads and compares a property in PostgreSQL: SQL fragments with their
parameters.

An event property is read from the ``props`` column, a built-in one from ``builtins`` (or the
payload and the batch context for rows without them), a user property from the user's row;
each stays ``jsonb`` and is compared through the schema's value functions (``tw_text``,
``tw_fold``, ``tw_number``, ``tw_items``) with the readings of
:mod:`trackwire.collector.query.values`. :mod:`.amplitude_segmentation` builds its statements
from these pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from trackwire.collector.postgres import builtins
from trackwire.collector.query import mapping
from trackwire.collector.query.reader import Source
from trackwire.collector.query.segmentation import Property
from trackwire.collector.query.values import filter_needles, filter_texts
from trackwire.errors import ValidationError

__all__ = [
    "Reads",
    "Sql",
    "Stored",
    "condition",
    "event_filter",
    "json_of",
    "pg_path",
    "user_join",
    "value_of",
]

_NUMERIC_OPS: Final = {
    "less": "<",
    "less or equal": "<=",
    "greater": ">",
    "greater or equal": ">=",
}
#: Negative operators on user properties, computed as "not the positive one".
_NEGATIONS: Final = {"is not": "is", "does not contain": "contains", "set is not": "set is"}


@dataclass(slots=True)
class Sql:
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
class Reads:
    """Values computed once per event row, each in a ``LATERAL`` subquery and named by its
    alias: an expression naming a value twice (``tw_text``, ``tw_fold``, a filter and a group
    on one property) otherwise computes it each time. ``OFFSET 0`` keeps the planner from
    folding a subquery back into every expression that names it: several times faster per
    row.

    The subquery also lets the planner cache its value per distinct input (Memoize: a month
    of events holds a few hundred distinct ``props``), which a one-row function scan
    (``unnest(ARRAY[...])``, parallel-safe where ``OFFSET 0`` is not) did not get: with it
    a ``contains`` filter took 1.9 s instead of 0.3 s at 10M events."""

    laterals: list[Sql] = field(default_factory=list)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    def once(self, sql: Sql) -> Sql:
        """``sql`` (over the row ``e`` and earlier reads) as a column read once per row."""
        key = (sql.text, repr(sql.args))
        alias = self.aliases.get(key)
        if alias is None:
            alias = self.aliases[key] = f"r{len(self.laterals)}"
            self.laterals.append(
                Sql(f"CROSS JOIN LATERAL (SELECT {sql.text} AS once OFFSET 0) {alias}", sql.args)
            )
        return Sql(f"{alias}.once")


@dataclass(frozen=True, slots=True)
class Access:
    """Where a property is: alternatives tried in order, each a template and its path."""

    alternatives: tuple[tuple[str, str], ...]

    def value(self, reads: Reads | None = None) -> Sql:
        """The property as jsonb, JSON ``null`` as SQL ``NULL``; with ``reads``, read once
        per row (inline otherwise: in a subquery over users)."""
        parts = [f"nullif({template}, 'null'::jsonb)" for template, _ in self.alternatives]
        args: list[Any] = [pg_path(path) for _, path in self.alternatives]
        value = Sql(parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})", args)
        return value if reads is None else reads.once(value)


@dataclass(frozen=True, slots=True)
class Stored:
    """Which of an event's columns a branch of the query reads its properties from: the rows
    whose ``props`` (event properties) / ``builtins`` (built-in properties) column is set.
    Where it is not (too large for the indexes, or stored before the column existed), they
    are read from the payload."""

    props: bool
    builtins: bool


_PLACES: Final = {"payload": _PAYLOAD, "context": _CONTEXT}


def event_access(source: Source, kind: str, name: str, stored: Stored) -> Access | None:
    """Where an event's property (or, for ``kind`` "user", a built-in property) is stored,
    in the rows whose columns are ``stored``."""
    if kind == "user":
        path = mapping.built_in_path(source.vendor, name)
        if path is None:
            return None
        if stored.builtins:
            return Access(((_BUILTINS, mapping.column_property_path(name)),))
        # What ingest keeps in ``builtins`` (see .builtins), read where it came from.
        return Access(tuple((_PLACES[place], path) for place in builtins.places(source.vendor)))
    if stored.props:
        return Access(((_PROPS, mapping.column_property_path(name)),))
    paths = mapping.event_property_paths(source.vendor, name)
    return Access(tuple((_PAYLOAD, path) for path in paths))


def condition(
    access: Access | None,
    op: str,
    values: Sequence[Any],
    where: str,
    reads: Reads | None = None,
) -> Sql:
    """``op`` applied to a property (None: the property is never set for this vendor); with
    ``reads``, the property of the event row, read once (see :class:`Reads`).

    Values compare as Amplitude's text (:func:`filter_texts`); ``contains`` compares case
    folded text on both sides, for every script.
    """
    if op in _NUMERIC_OPS:
        try:
            number = float(values[0])
        except (IndexError, TypeError, ValueError, OverflowError):
            raise ValidationError(where, f"{op!r} needs one number, got {list(values)!r}") from None
        if access is None:
            return Sql("false")
        value = access.value(reads)
        return Sql(f"(tw_number({value.text}) {_NUMERIC_OPS[op]} %s)", [*value.args, number])
    if op in ("contains", "does not contain"):
        if access is None:
            return Sql("false" if op == "contains" else "true")
        value = access.value(reads)
        folded = Sql(f"tw_fold(tw_text({value.text}))", value.args)
        if reads is not None:
            text = reads.once(Sql(f"tw_text({value.text})", value.args))
            folded = reads.once(Sql(f"tw_fold({text.text})"))
        needles = filter_needles(values) or [""]
        any_of = " OR ".join(f"strpos({folded.text}, %s) > 0" for _ in needles)
        any_args: list[Any] = []
        for needle in needles:
            any_args += [*folded.args, needle]
        if op == "contains":
            return Sql(f"({any_of})", any_args)
        return Sql(f"({value.text} IS NULL OR NOT ({any_of}))", [*value.args, *any_args])
    texts = filter_texts(values)
    if op in ("is", "is not"):
        if access is None:
            return Sql("false" if op == "is" else "true")
        value = access.value(reads)
        inside = f"tw_text({value.text}) = ANY(%s)"
        if op == "is":
            return Sql(inside, [*value.args, texts])
        return Sql(f"NOT coalesce({inside}, false)", [*value.args, texts])
    # set is / set is not: any element of an array property (or the value itself) is listed.
    if access is None:
        return Sql("false" if op == "set is" else "true")
    value = access.value(reads)
    exists = (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements(tw_items({value.text})) j "
        "WHERE tw_text(j) = ANY(%s))"
    )
    return Sql(exists if op == "set is" else f"NOT {exists}", [*value.args, texts])


def event_filter(
    sources: Sequence[Source],
    source: Source,
    kind: str,
    name: str,
    op: str,
    values: Sequence[Any],
    where: str,
    stored: Stored,
    reads: Reads,
) -> Sql:
    """A filter on one event's property, or on its user's (custom) property."""
    if kind == "user":
        user_path = mapping.user_property_key(name)
        if user_path is not None:
            negated = _NEGATIONS.get(op)
            cond = condition(Access(((_USER, user_path),)), negated or op, values, where)
            ids = [s.source_id for s in sources]
            users = f"FROM users u WHERE u.source_id = ANY(%s) AND {cond.text}"
            if len({s.vendor for s in sources}) == 1:
                # Inside coalesce() the IN stays one hashed subplan, the users read once: as a
                # semi-join the planner, misjudging the condition's selectivity, looped over
                # the matching users, probing each one's events (1.1 s at 10M events).
                sql = Sql(
                    f"coalesce(e.amplitude_id IN (SELECT u.amplitude_id {users}), false)",
                    [ids, *cond.args],
                )
            else:
                sql = Sql(
                    f"(e.amplitude_id IN (SELECT u.amplitude_id {users}) "
                    f"OR e.user_id IN (SELECT u.user_id {users} AND u.user_id IS NOT NULL))",
                    [ids, *cond.args, ids, *cond.args],
                )
            if negated is not None:
                sql.text = f"NOT coalesce({sql.text}, false)"
            return sql
    return condition(event_access(source, kind, name, stored), op, values, where, reads)


def user_join(sources: Sequence[Source], prop: Property | None, alias: str) -> Sql | None:
    """``LEFT JOIN`` of each user's value of a custom user property, read once per user (not
    once per event): ``{alias}.j``; None when ``prop`` is not a custom user property."""
    if prop is None or prop.kind != "user":
        return None
    user_path = mapping.user_property_key(prop.name)
    if user_path is None:
        return None
    # OFFSET 0 keeps the subquery whole: its JSON is parsed per user, then hash joined.
    return Sql(
        f"LEFT JOIN (SELECT u.amplitude_id, nullif({_USER}, 'null'::jsonb) AS j FROM users u "
        f"WHERE u.source_id = ANY(%s) OFFSET 0) {alias} ON {alias}.amplitude_id = e.amplitude_id",
        [pg_path(user_path), [s.source_id for s in sources]],
    )


def json_of(
    source: Source, prop: Property, stored: Stored, reads: Reads, joined: str | None = None
) -> Sql:
    """The jsonb expression of a property's value for one event (NULL: not set);
    ``joined``: the alias of its :func:`user_join`, when it has one."""
    if joined is not None:
        return Sql(f"{joined}.j")
    access = event_access(source, prop.kind, prop.name, stored)
    return Sql("NULL::jsonb") if access is None else access.value(reads)


def value_of(
    source: Source, prop: Property, stored: Stored, reads: Reads, joined: str | None = None
) -> Sql:
    """The group label of a property for one event: its canonical text, one group per label
    (null and "" are both "(none)", 1 and 1.0 both "1")."""
    value = json_of(source, prop, stored, reads, joined)
    return Sql(f"nullif(tw_text({value.text}), '')", value.args)
