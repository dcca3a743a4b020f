"""The query side's covering indexes and what they hold (migrations 5 and 6).

Segmentation reads events through two covering indexes, by (source, event name, time) and by
(source, time), that hold each event's properties (``props``, migration 5) and built-in
properties (``builtins``, migration 6) beside the user and the type, so a query is an
index-only scan. Migration 6 also fills ``builtins`` for the events stored before it, in SQL
that follows the rule the ingest applies in Python (:mod:`.builtins`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from trackwire.collector.postgres import builtins
from trackwire.collector.postgres.text import sql_literal

__all__ = [
    "BUILTINS",
    "BUILTINS_INDEX_MAX",
    "NAME_INDEX_MAX",
    "PROPS_INDEX_MAX",
    "SEGMENTATION_INDEXES",
]

#: Events whose name is at most this many bytes are in the segmentation index by name (a
#: B-tree entry holds at most ~2.7 kB: longer names are found through their md5).
NAME_INDEX_MAX: Final = 200
#: Event properties whose jsonb is at most this many bytes are kept in the ``props`` column
#: (and so in the segmentation indexes, beside a name of at most :data:`NAME_INDEX_MAX`);
#: larger ones are NULL there and read from the payload, as the longer texts the ingest
#: already leaves out (``mapping.PROPERTIES_COLUMN_MAX``).
PROPS_INDEX_MAX: Final = 2000

SEGMENTATION_INDEXES: Final = (
    # Segmentation read every matching event from the table (~2 us a row) and parsed its
    # properties from JSON text for each expression naming one. The properties are now jsonb
    # (parsed once, at ingest), and they, the user and the type sit in two covering indexes,
    # by name and by time (for _all/_active), so those queries are index-only scans (once
    # VACUUM, or autovacuum on an insert-only table, has marked the pages all-visible).
    f"""
    CREATE FUNCTION tw_props(t text) RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN pg_column_size(j) <= {PROPS_INDEX_MAX} THEN j END
        FROM (SELECT tw_json(t) AS j) x
    $$
    """,
    # One value of a stored JSON text, as tw_json(t) #> path gives it, in half the time: the
    # text is scanned as json (no jsonb built) and only the value found becomes jsonb. (json
    # takes a duplicate key's last value, as jsonb does.) Built-in properties are read from
    # the payload this way.
    r"""
    CREATE FUNCTION tw_json_at(t text, path text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE
    PARALLEL SAFE AS $$
        SELECT ((CASE WHEN strpos(t, '\u0000') > 0 THEN replace(t, '\u0000', '\ufffd')
                ELSE t END)::json #> path)::jsonb
    $$
    """,
    "ALTER TABLE events ALTER COLUMN props TYPE jsonb USING tw_props(props)",
    "DROP INDEX events_by_name_time",
    # Only names too long for the covering index are looked up by md5 now.
    f"""
    CREATE INDEX events_by_name_time ON events (source_id, md5(event_name), client_time_ms)
        WHERE octet_length(event_name) > {NAME_INDEX_MAX}
    """,
    f"""
    CREATE INDEX events_segment_by_name ON events (source_id, event_name, client_time_ms)
        INCLUDE (received_time_ms, amplitude_id, type, props)
        WHERE octet_length(event_name) <= {NAME_INDEX_MAX}
    """,
    """
    CREATE INDEX events_segment_by_time ON events (source_id, client_time_ms)
        INCLUDE (received_time_ms, amplitude_id, type, props)
    """,
    # The few rows whose properties are read from the payload, found without a pass over
    # the covering indexes' rows.
    "CREATE INDEX events_long_props ON events (source_id, client_time_ms) WHERE props IS NULL",
    # An index-only scan reads the table for rows on pages not yet marked all-visible, which
    # on an insert-only table autovacuum does after 20% more rows by default: at 10M events,
    # the last 2M (the ones queried most) would be read from the table. Every 100k rows
    # (and 1%) instead; each such vacuum reads only the pages written since the last.
    "ALTER TABLE events SET (autovacuum_vacuum_insert_threshold = 100000, "
    "autovacuum_vacuum_insert_scale_factor = 0.01)",
)

#: Built-in properties whose jsonb is at most this many bytes are kept in ``builtins`` (and
#: so in the covering indexes, whose entries must stay under ~2.7 kB beside a name of at most
#: :data:`NAME_INDEX_MAX` and properties of at most :data:`PROPS_INDEX_MAX`); larger ones are
#: NULL there and read from the payload. (Events carry a dozen short ones at most.)
BUILTINS_INDEX_MAX: Final = 300


def _array(items: Sequence[str]) -> str:
    """``items`` as a ``text[]`` literal (each member double-quoted)."""
    members = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return sql_literal("{" + ",".join(members) + "}") + "::text[]"


def _builtins_expression(vendor: str) -> str:
    """SQL computing a vendor's ``builtins`` from a row of ``events``, as the ingest does in
    Python (:func:`.builtins.builtins_text`, then ``tw_builtins``): for the events stored
    before migration 6."""
    documents = {"payload": "payload", "context": "tw_context_body(context_id)"}
    first, second = ([documents[place] for place in builtins.places(vendor)] + ["NULL"])[:2]
    paths = builtins.paths_of(vendor)
    names = _array([name for name, _ in paths])
    members = _array([_array(parts)[1:-9] for _, parts in paths])
    return f"tw_builtins_capped(tw_builtins_of({first}, {second}, {names}, {members}))"


def _backfill() -> str:
    """A block filling ``builtins`` for every stored event in one rewrite of the table
    (``ALTER COLUMN ... TYPE ... USING``: an UPDATE would leave a dead copy of every row and
    a new entry in every index), by vendor through the sources' ids."""
    steps = []
    for vendor in builtins.VENDORS:
        expression = sql_literal(_builtins_expression(vendor))
        named = sql_literal(vendor)
        steps.append(
            f"SELECT array_agg(source_id) INTO ids FROM sources WHERE vendor = {named};"
            " IF ids IS NOT NULL THEN expr := format('CASE WHEN source_id = ANY(%L::bigint[]) "
            f"THEN %s ELSE %s END', ids, {expression}, expr); END IF;"
        )
    body = "\n        ".join(steps)
    return (
        "DO $backfill$ DECLARE expr text := '''{}''::jsonb'; ids bigint[]; BEGIN\n        "
        f"{body}\n        "
        "EXECUTE 'ALTER TABLE events ALTER COLUMN builtins TYPE jsonb USING ' || expr;\n"
        "    END $backfill$"
    )


BUILTINS: Final = (
    # Built-in properties were read from each event's payload: ~3.5 us an event scanning its
    # JSON (1.4 s of CPU for 300k events grouped by country, at 10M stored). The ingest now
    # keeps them in a small jsonb object beside the event, in the covering indexes.
    f"""
    CREATE FUNCTION tw_builtins_capped(j jsonb) RETURNS jsonb LANGUAGE sql STABLE
    PARALLEL SAFE AS $$
        SELECT CASE WHEN pg_column_size(j) <= {BUILTINS_INDEX_MAX} THEN j END
    $$
    """,
    # The ingest's: the JSON text found in Python (.builtins) as jsonb, NULL when too large.
    """
    CREATE FUNCTION tw_builtins(t text) RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT tw_builtins_capped(tw_json(t))
    $$
    """,
    # The migration's: per name, the first value set and not null at its path in the first
    # document, else in the second, as the queries read them from the payload before.
    # (PL/pgSQL: as an SQL function over unnest() it cost ~150 us a row, ~25 min at 10M.)
    """
    CREATE FUNCTION tw_builtins_of(first text, second text, names text[], paths text[])
    RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE
        a jsonb := tw_json(first);
        b jsonb := tw_json(second);
        found jsonb := '{}';
        v jsonb;
    BEGIN
        FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
            v := coalesce(nullif(a #> paths[i]::text[], 'null'::jsonb),
                          nullif(b #> paths[i]::text[], 'null'::jsonb));
            IF v IS NOT NULL THEN
                found := found || jsonb_build_object(names[i], v);
            END IF;
        END LOOP;
        RETURN found;
    END
    $$
    """,
    """
    CREATE FUNCTION tw_context_body(id bigint) RETURNS text LANGUAGE sql STABLE AS $$
        SELECT c.body FROM contexts c WHERE c.context_id = id
    $$
    """,
    "ALTER TABLE events ADD COLUMN builtins jsonb",
    # Dropped before the rewrite, which would rebuild them only to see them replaced.
    "DROP INDEX events_segment_by_name",
    "DROP INDEX events_segment_by_time",
    _backfill(),
    f"""
    CREATE INDEX events_segment_by_name ON events (source_id, event_name, client_time_ms)
        INCLUDE (received_time_ms, amplitude_id, type, props, builtins)
        WHERE octet_length(event_name) <= {NAME_INDEX_MAX}
    """,
    """
    CREATE INDEX events_segment_by_time ON events (source_id, client_time_ms)
        INCLUDE (received_time_ms, amplitude_id, type, props, builtins)
    """,
    # The few rows whose built-ins are read from the payload (too large for the column).
    "CREATE INDEX events_payload_builtins ON events (source_id, client_time_ms) "
    "WHERE builtins IS NULL",
)
