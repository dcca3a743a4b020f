"""The query side's contract: SQLite and PostgreSQL give the same answers to the same data.

One seeded, varied event history (three vendors, anonymous and known users, aliases, user and
group operations, properties of every JSON type, events without a client time, shared batch
contexts) is ingested into a SQLite store and a PostgreSQL store with the same receipt times;
every read of :class:`~trackwire.collector.store.EventReader` — listing, stats, users, export,
user search, user activity, event segmentation over many plans — must then answer the same.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from trackwire.amplitude.query.charts import (
    funnel_params,
    ltv_params,
    retention_params,
    users_params,
)
from trackwire.amplitude.query.params import segmentation_params
from trackwire.collector.counters import RequestCounters
from trackwire.collector.keys import fingerprint
from trackwire.collector.postgres import casefold
from trackwire.collector.query import charts
from trackwire.collector.query.reader import Hit, Source
from trackwire.collector.query.segmentation import Aggregate, plan
from trackwire.collector.routes.amplitude_query import QueryRoutes, QueryView
from trackwire.collector.store import EventRecord, SharedContext, Store
from trackwire.collector.store_factory import open_store
from trackwire.collector.viewer.auth import Access, Sessions

pytestmark = pytest.mark.postgres

PROJECT = "proj"
DAY = 86_400_000
START = 1_767_225_600_000  # 2026-01-01 UTC
VALUES: list[Any] = [
    "rock", "Jazz", "élan", 1, 2, 2.5, 3.0, True, False, None, [1, "a"], {"k": 1},
    # The value rules: unicode case folding, "" and null one group, 1 and 1.0 one group,
    # numbers' text (1e-07), nested arrays, strings that read as numbers or booleans.
    "CAFÉ NOIR", "Straße", "STRASSE", "", 1.0, 1e-07, "3", "true", [[2.0, True], None],
]  # fmt: skip


def _history(seed: int) -> list[tuple[list[EventRecord], str | None, int]]:
    """Requests: (records, request key, receipt time)."""
    rnd = random.Random(seed)
    requests: list[tuple[list[EventRecord], str | None, int]] = []
    for number in range(60):
        vendor = rnd.choice(["segment", "amplitude", "mparticle"])
        received = START + rnd.randrange(12) * DAY + rnd.randrange(DAY)
        context = None
        if vendor == "mparticle" and rnd.random() < 0.5:
            context = SharedContext(
                "mparticle_batch", {"device_info": {"platform": rnd.choice(["iOS", "Android"])}}
            )
        records = []
        for _ in range(rnd.randrange(1, 6)):
            user = rnd.choice([None, "u1", "u2", "u3", "u10", "user-ü"])
            device = rnd.choice([None, "d1", "d2", "d3"])
            if user is None and device is None:
                device = "d4"
            name = rnd.choice(["Song Played", "Song Liked", "Viewed Home Page", None])
            props = {
                key: rnd.choice(VALUES) for key in rnd.sample(["genre", "price", "tags", "x"], 2)
            }
            time = None if rnd.random() < 0.1 else START + rnd.randrange(12 * 24) * 3_600_000
            ops: list[Any] = []
            if rnd.random() < 0.3:
                ops = [
                    ("$set", {"plan": rnd.choice(["pro", "free", 3])}),
                    ("$add", {"logins": 1}),
                ]
            if vendor == "amplitude":
                payload: dict[str, Any] = {
                    "event_type": name or "session_start",
                    "event_properties": props,
                    "country": rnd.choice(["FR", "US"]),
                }
                kind = "event"
            elif vendor == "segment":
                payload = {"event": name, "properties": props, "context": {"locale": "fr-FR"}}
                kind = rnd.choice(["track", "track", "identify", "page"])
            else:
                payload = {"data": {"event_name": name, "custom_attributes": props}}
                kind = "custom_event"
            alias = "d1" if vendor == "segment" and user and rnd.random() < 0.05 else None
            records.append(
                EventRecord(
                    vendor=vendor,
                    source=PROJECT,
                    type="alias" if alias else kind,
                    event_name=name,
                    user_id=user,
                    device_id=device,
                    client_time_ms=time,
                    dedup_key=rnd.choice([None, f"m{rnd.randrange(80)}"]),
                    payload=payload,
                    user_ops=ops,
                    session_id=rnd.choice([None, 1, 2]),
                    revenue=rnd.choice([None, None, 1.5]),
                    context=context,
                    alias_of=alias,
                )
            )
        key = f"r{number % 50}" if vendor == "mparticle" else None
        requests.append((records, key, received))
    requests.append((_edges(), None, START + 3 * DAY))
    requests.append((_built_ins(), None, START + 6 * DAY))
    return requests


#: Event names either side of PostgreSQL's covering-index limit (200 bytes; longer ones are
#: found by their md5), and properties short as text (the SQLite column) but too large as
#: jsonb for PostgreSQL's (read from the payload there).
EDGE_NAME = "Edge " + "e" * 195
LONG_NAME = "Long " + "n" * 196
WIDE_PROPS: dict[str, Any] = {"genre": "Jazz", "price": 2, "n": [1] * 240}


def _edges() -> list[EventRecord]:
    """Amplitude events at the edges of PostgreSQL's segmentation indexes."""
    found = []
    for number, (name, props) in enumerate(
        [(EDGE_NAME, {"genre": "rock"}), (LONG_NAME, {"genre": "rock"}), (LONG_NAME, WIDE_PROPS),
         ("Song Played", WIDE_PROPS), ("Song Played", WIDE_PROPS)]
    ):  # fmt: skip
        found.append(
            EventRecord(
                vendor="amplitude", source=PROJECT, type="event", event_name=name,
                user_id=f"u{number % 2 + 1}", device_id=None,
                client_time_ms=START + number * 3_600_000 + 7, dedup_key=None,
                payload={"event_type": name, "event_properties": props, "country": "FR"},
                user_ops=[],
            )
        )  # fmt: skip
    # The last and first millisecond of months: monthly periods split them.
    for number, at in enumerate((31 * DAY - 1, 31 * DAY, 59 * DAY - 1, 59 * DAY)):
        found.append(
            EventRecord(
                vendor="amplitude", source=PROJECT, type="event", event_name="Song Played",
                user_id=f"u{number % 2 + 1}", device_id=None, client_time_ms=START + at,
                dedup_key=None, user_ops=[],
                payload={"event_type": "Song Played", "event_properties": {"genre": "rock"}},
            )
        )  # fmt: skip
    # Two events of one user in one millisecond from different countries: the user's first
    # event (the one stored first) decides their group in funnels and LTV, on both stores.
    for number, (name, country) in enumerate(
        [("Song Played", "DE"), ("Song Played", "FR"), ("Song Liked", "US")]
    ):
        found.append(
            EventRecord(
                vendor="amplitude", source=PROJECT, type="event", event_name=name,
                user_id="tied", device_id=None, dedup_key=None, user_ops=[],
                client_time_ms=START + 5 * DAY + 11 + (number // 2) * 3_600_000,
                payload={"event_type": name, "country": country}, revenue=2.0,
            )
        )  # fmt: skip
    return found


#: Built-in property values of every JSON type. PostgreSQL reads them from the ``builtins``
#: column its ingest fills (from the payload where they are too large for it: LONG_CITY).
BUILT_IN_VALUES: list[Any] = [
    True, 3.0, "CAFÉ NOIR", "", None, [1, "a"], {"k": 1}, "Éire", "café", 7, False, "3",
]  # fmt: skip
LONG_CITY = "Ville " + "x" * 400


def _built_ins() -> list[EventRecord]:
    """Song Played from each vendor carrying built-in properties in each of its places: the
    event itself and its batch's shared context (mParticle's wins, Segment's is the fallback)."""
    envelope = SharedContext(
        "segment_envelope", {"context": {"location": {"country": "NL", "city": "Leiden"}}}
    )
    batch = SharedContext(
        "mparticle_batch",
        {"device_info": {"locale_country": "JP", "platform": "Android"},
         "application_info": {"application_version": "2.0"}},
    )  # fmt: skip
    found = []
    for number, value in enumerate(BUILT_IN_VALUES):
        odd = number % 2 == 1
        common: dict[str, Any] = {
            "source": PROJECT, "event_name": "Song Played", "user_id": f"u{number % 3 + 1}",
            "device_id": None, "dedup_key": None, "user_ops": [],
            "client_time_ms": START + 6 * DAY + number * 3_600_000,
        }  # fmt: skip
        props = {"genre": "rock" if odd else "Jazz"}
        payloads: list[tuple[str, str, dict[str, Any], SharedContext | None]] = [
            ("amplitude", "event", {
                "event_type": "Song Played", "event_properties": props, "country": value,
                "city": LONG_CITY if number == 3 else "Paris", "os_name": "iOS",
                # (An object's keys in jsonb's order, shorter first: as SQLite keeps them.)
                "library": {"v": [1.0], "name": "x"},
            }, None),
            ("segment", "track", {
                "event": "Song Played", "properties": props,
                "context": {"location": {"country": value}} if odd else {"locale": value},
            }, envelope if number % 3 else None),
            ("mparticle", "custom_event", {
                "data": {"event_name": "Song Played", "custom_attributes": props},
                "device_info": {"locale_country": value, "platform": "iOS"},
            }, batch if odd else None),
        ]  # fmt: skip
        for vendor, kind, payload, context in payloads:
            found.append(
                EventRecord(vendor=vendor, type=kind, payload=payload, context=context, **common)
            )
    return found


def ingest_history(stores: Sequence[Any], seed: int = 7) -> None:
    """Store :func:`_history` (``seed``) in every one of ``stores``."""
    for store in stores:
        for records, key, received in _history(seed):
            store.ingest(records, request_key=key, received_time_ms=received)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> Iterator[list[Store]]:
    """The same history in SQLite and PostgreSQL."""
    path: Path = tmp_path_factory.mktemp("contract") / "c.db"
    opened = [open_store(str(path)), open_store(pg_server.new_database())]
    ingest_history(opened)
    yield opened
    for store in opened:
        store.close()


def _same(answers: list[Any]) -> None:
    assert answers[0] == answers[1]


def test_listing_stats_users_groups_and_links(stores: list[Store]) -> None:
    _same([s.events(limit=1000) for s in stores])
    _same([s.events(user_id="u1", type="track", limit=5) for s in stores])
    _same([s.events(event_name="Song Played", since_ms=START + 3 * DAY) for s in stores])
    _same([s.stats() for s in stores])
    for vendor in ("segment", "amplitude", "mparticle"):
        for user in ("u1", "u2", "user-ü"):
            _same([s.user(vendor, PROJECT, user_id=user) for s in stores])
        _same([s.user(vendor, PROJECT, device_id="d2") for s in stores])
        _same([s.links(vendor, PROJECT) for s in stores])
    _same([[s.user("segment", PROJECT, amplitude_id=i) for i in range(1, 30)] for s in stores])


def _sorted(found: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    kind, users = found
    return kind, sorted(users, key=lambda u: (u.user_id or "", u.amplitude_id))


def test_export_search_and_activity(stores: list[Store]) -> None:
    sources = [s.project_sources(PROJECT) for s in stores]
    _same(sources)
    project = sources[0]
    for start, end in ((START, START + 20 * DAY), (START + 2 * DAY, START + 3 * DAY)):
        _same([s.export_has_rows(project, start, end) for s in stores])
        _same([list(s.export_rows(project, start, end)) for s in stores])
    for text in ("u1", "u", "d2", "3", "user-", "nobody", "us"):
        # Users sharing a user id (one per vendor) come in no particular order.
        _same([_sorted(s.search_users(project, text)) for s in stores])
    for amplitude_id in range(1, 25):
        _same([s.user_summary(project, amplitude_id) for s in stores])
        for source in project:
            for latest in (True, False):
                _same(
                    [
                        s.user_events(source, amplitude_id, offset=1, limit=3, latest=latest)
                        for s in stores
                    ]
                )


def _rows(rows: list[Aggregate]) -> list[tuple[Any, ...]]:
    return sorted(
        (r.bucket is None, r.bucket or 0, repr(r.group), r.events, r.users,
         round(r.value_sum, 6), r.value_count)
        for r in rows
    )  # fmt: skip


def _where(event: str, kind: str, key: str, op: str, values: list[Any]) -> dict[str, Any]:
    """An event type with one filter."""
    where = {"subprop_type": kind, "subprop_key": key, "subprop_op": op, "subprop_value": values}
    return {"event_type": event, "filters": [where]}


PLANS: list[dict[str, Any]] = [
    {"event": "_all", "metric": "totals"},
    {"event": "_all", "metric": "uniques", "interval": "weekly"},
    {"event": "_all", "metric": "pct_dau"},
    {"event": "_active", "metric": "uniques", "interval": "weekly"},
    {"event": "Song Played", "metric": "pct_dau"},
    {"event": "Song Played", "metric": "average", "interval": "monthly"},
    {"event": "Viewed Home Page", "metric": "totals", "interval": "hourly", "end": 6},
    {"event": "Song Played", "metric": "uniques", "group_by": {"type": "event", "value": "genre"}},
    {"event": "Song Played", "metric": "totals", "group_by": {"type": "event", "value": "tags"}},
    {"event": "_all", "metric": "totals", "group_by": {"type": "event", "value": "x"}},
    {"event": "_all", "metric": "sums", "group_by": {"type": "event", "value": "price"}},
    {"event": "_all", "metric": "value_avg", "group_by": {"type": "event", "value": "price"}},
    {"event": "_all", "metric": "uniques", "group_by": "gp:plan"},
    {"event": "_all", "metric": "uniques", "group_by": "country"},
    {"event": "_all", "metric": "totals", "group_by": "platform"},
    {"event": "_all", "metric": "totals", "group_by": "language"},
    {"event": EDGE_NAME, "metric": "uniques", "group_by": {"type": "event", "value": "genre"}},
    {"event": LONG_NAME, "metric": "totals", "group_by": {"type": "event", "value": "genre"}},
    {"event": LONG_NAME, "metric": "sums", "group_by": {"type": "event", "value": "price"}},
    {"event": "Song Played", "metric": "totals", "group_by": "country"},
    {"event": "Song Played", "metric": "uniques", "group_by": "city"},
    {"event": "_all", "metric": "totals", "group_by": "library"},
    {"event": "_active", "metric": "uniques", "group_by": "version"},
    {
        "event": _where("Song Played", "user", "os", "is", ["iOS"]),
        "metric": "sums",
        "group_by": {"type": "event", "value": "price"},
    },
    {
        "event": _where("Song Played", "event", "genre", "is", ["rock"]),
        "metric": "uniques",
        "group_by": "country",
    },
    {
        "event": _where("_all", "user", "country", "is not", ["JP"]),
        "metric": "totals",
        "group_by": {"type": "event", "value": "genre"},
    },
]
FILTERS: list[tuple[str, str, str, list[Any]]] = [
    ("event", "genre", "is", ["rock", "Jazz"]),
    ("event", "genre", "is not", ["rock"]),
    ("event", "genre", "contains", ["JA"]),
    ("event", "genre", "does not contain", ["o"]),
    ("event", "price", "greater", [1]),
    ("event", "price", "less or equal", [2.5]),
    ("event", "price", "is", [3, True]),
    ("event", "tags", "set is", ["a", 1]),
    ("event", "tags", "set is not", ["a"]),
    ("user", "gp:plan", "is", ["pro"]),
    ("user", "plan", "is not", ["pro"]),
    ("user", "country", "is", ["FR"]),
    ("user", "platform", "contains", ["io"]),
    ("event", "genre", "contains", ["café"]),
    ("event", "genre", "contains", ["ss"]),
    ("event", "genre", "contains", ["ẞ", "É"]),
    ("event", "genre", "does not contain", ["strasse"]),
    ("event", "genre", "is", ["true"]),
    ("event", "genre", "is", [True]),
    ("event", "genre", "is not", [""]),
    ("event", "price", "is", ["3.0"]),
    ("event", "price", "is", [3.0, 1e-07]),
    ("event", "price", "contains", ["E-"]),
    ("event", "tags", "set is", [True, 2]),
    ("event", "tags", "set is", ["[2.0,true]"]),
    ("event", "x", "is", ['{"k":1}']),
    ("user", "country", "contains", ["café"]),
    ("user", "country", "is", [True]),
    ("user", "country", "is", ["3", '[1,"a"]']),
    ("user", "country", "is not", [""]),
    ("user", "country", "set is", ["a", 7]),
    ("user", "country", "does not contain", ["F"]),
    ("user", "country", "greater", [2]),
    ("user", "city", "contains", ["XXX"]),
    ("user", "version", "is", ["2.0"]),
    ("user", "language", "is", ["café"]),
]
#: Filters whose answer must not be empty: each proves a rule on both stores.
NON_EMPTY: set[tuple[str, str]] = {
    ("genre", "café"), ("genre", "ss"), ("genre", "ẞ"), ("genre", "true"), ("genre", True),
    ("price", "3.0"), ("price", 3.0), ("tags", True), ("tags", "[2.0,true]"), ("x", '{"k":1}'),
    ("country", "café"), ("country", True), ("country", "3"), ("country", "a"), ("city", "XXX"),
    ("version", "2.0"), ("language", "café"),
}  # fmt: skip


@pytest.mark.parametrize("query", PLANS, ids=lambda q: f"{q['event']}-{q['metric']}")
def test_segmentation_plans(stores: list[Store], query: dict[str, Any]) -> None:
    query = dict(query)
    end = query.pop("end", 12)
    params = segmentation_params(start=f"202601{1:02d}", end=f"202601{end:02d}", **query)
    sources = stores[0].project_sources(PROJECT)
    answers = [s.segmentation(sources, plan(params)) for s in stores]
    assert _rows(answers[0][0]) == _rows(answers[1][0])
    assert answers[0][1] == answers[1][1]
    assert answers[0][0], "the plan matched nothing: it tests nothing"


@pytest.mark.parametrize("entry", FILTERS, ids=lambda f: f"{f[1]}-{f[2]}")
def test_segmentation_filters(stores: list[Store], entry: tuple[str, str, str, list[Any]]) -> None:
    kind, key, op, values = entry
    sources = stores[0].project_sources(PROJECT)
    for segment in (False, True):
        if segment:
            if kind != "user":
                continue
            event: Any = "_all"
            segments = [{"prop": key, "op": op, "values": values}]
        else:
            event = {
                "event_type": "_all",
                "filters": [
                    {"subprop_type": kind, "subprop_key": key, "subprop_op": op,
                     "subprop_value": values}
                ],
            }  # fmt: skip
            segments = []
        params = segmentation_params(event, "20260101", "20260112", segments=segments)
        answers = [s.segmentation(sources, plan(params)) for s in stores]
        assert _rows(answers[0][0]) == _rows(answers[1][0])
        if (key, values[0]) in NON_EMPTY and op in ("is", "contains", "set is"):
            assert answers[0][0], "the filter matched nothing: it proves nothing"


def test_properties_too_large_for_the_index_are_read_from_the_payload(
    stores: list[Store],
) -> None:
    with stores[1]._reading() as conn:  # type: ignore[attr-defined]
        wide = conn.execute(
            "SELECT count(*) FROM events WHERE props IS NULL AND payload LIKE '%[1,1,%'"
        ).fetchone()
    assert wide is not None and wide[0] == 3, "the wide properties were kept in the index"
    sources = stores[0].project_sources(PROJECT)
    for event in ("Song Played", LONG_NAME):
        params = segmentation_params(
            {"event_type": event, "filters": [{"subprop_type": "event", "subprop_key": "genre",
             "subprop_op": "is", "subprop_value": ["Jazz"]}]},
            "20260101", "20260112", metric="totals",
        )  # fmt: skip
        answers = [s.segmentation(sources, plan(params))[0] for s in stores]
        assert _rows(answers[0]) == _rows(answers[1])
        assert sum(row.events for row in answers[1] if row.bucket is None) >= 1


def test_built_in_properties_are_kept_beside_the_event(stores: list[Store]) -> None:
    # PostgreSQL's ingest keeps each event's built-ins in a column the indexes cover: every row
    # has it but the one whose city is too large (read from its payload, answering the same
    # in the plans above). Values as the payload gives them.
    with stores[1]._reading() as conn:  # type: ignore[attr-defined]
        missing = conn.execute(
            "SELECT count(*), min(payload) FROM events WHERE builtins IS NULL"
        ).fetchone()
        found = conn.execute(
            "SELECT builtins FROM events WHERE payload LIKE '%%Éire%%' ORDER BY id"
        ).fetchall()
    assert missing is not None and missing[0] == 1 and LONG_CITY in missing[1]
    assert [row[0] for row in found] == [
        {"country": "Éire", "city": "Paris", "os": "iOS", "library": {"v": [1.0], "name": "x"}},
        {"country": "Éire", "city": "Leiden"},  # Segment: the event's own, else its batch's
        {"country": "JP", "platform": "Android", "device_type": "Android", "version": "2.0"},
    ]
    sources = stores[0].project_sources(PROJECT)
    params = segmentation_params("Song Played", "20260107", "20260107", metric="totals",
                                 group_by="country")  # fmt: skip
    answers = [s.segmentation(sources, plan(params))[0] for s in stores]
    assert _rows(answers[0]) == _rows(answers[1])
    totals = {row.group: row.events for row in answers[1] if row.bucket is None}
    assert totals["true"] == 2 and totals["NL"] == 4 and totals["JP"] == 6


def test_months_split_at_their_first_millisecond(stores: list[Store]) -> None:
    sources = stores[0].project_sources(PROJECT)
    for event, metric in (("_all", "totals"), ("_active", "uniques"), ("Song Played", "uniques")):
        params = segmentation_params(event, "20260101", "20260331", metric=metric, interval=30)
        answers = [s.segmentation(sources, plan(params)) for s in stores]
        assert _rows(answers[0][0]) == _rows(answers[1][0])
        assert answers[0][1] == answers[1][1]
        if metric == "totals":
            months = {row.bucket: row.events for row in answers[1][0] if row.bucket is not None}
            # January 2026 is 2026 * 12 + 0; February holds its first and last millisecond.
            assert months[2026 * 12 + 1] == 2 and months[2026 * 12 + 2] == 1


def test_event_exists(stores: list[Store]) -> None:
    sources = stores[0].project_sources(PROJECT)
    for event_type in (
        "Song Played", "Viewed Home Page", "Nope", "_all", "$identify", EDGE_NAME, LONG_NAME,
    ):  # fmt: skip
        _same([s.event_exists(sources, event_type) for s in stores])
    assert stores[0].event_exists([Source(999, "segment")], "Song Played") is False


def test_group_labels_follow_the_value_rules(stores: list[Store]) -> None:
    sources = stores[0].project_sources(PROJECT)
    params = segmentation_params(
        "_all", "20260101", "20260112", metric="totals",
        group_by={"type": "event", "value": "genre"},
    )  # fmt: skip
    answers = [s.segmentation(sources, plan(params))[0] for s in stores]
    assert _rows(answers[0]) == _rows(answers[1])
    labels = {row.group for row in answers[1]}
    # Booleans read true/false, "" joins null, 1.0 is "1"; never 1/0 for a boolean.
    assert {"true", "false", "CAFÉ NOIR", "1", None} <= labels
    assert "" not in labels and "1.0" not in labels


def _series(store: Store, **query: str) -> Any:
    """An answer of /api/2/events/segmentation, computed as the route does (e2, rolling)."""
    routes = QueryRoutes(QueryView(store, Access(None, Sessions()), RequestCounters(), fingerprint))
    return routes._segmentation_work(PROJECT, {"start": "20260101", "end": "20260112", **query})


SERIES: list[dict[str, str]] = [
    {"e": '{"event_type": "Song Played"}', "e2": '{"event_type": "Song Liked"}', "m": "totals"},
    {"e": '{"event_type": "_active"}', "e2": '{"event_type": "Song Played"}'},
    {"e": '{"event_type": "_active"}', "rollingWindow": "3"},
    {"e": '{"event_type": "Song Played"}', "m": "totals", "rollingAverage": "4"},
    {"e": '{"event_type": "_all"}', "n": "active", "rollingWindow": "2"},
    {"e": '{"event_type": "_all", "group_by": [{"type": "event", "value": "genre"}]}',
     "rollingWindow": "2"},
]  # fmt: skip


@pytest.mark.parametrize("query", SERIES, ids=lambda q: "-".join(sorted(q)))
def test_second_event_and_rolling_series(stores: list[Store], query: dict[str, str]) -> None:
    answers = [_series(s, **query) for s in stores]
    _same(answers)
    assert any(any(v for v in row) for row in answers[0]["data"]["series"]), "all zero"


def _hits(hits: list[Hit]) -> list[Hit]:
    # In time order, events of one millisecond in the order they were stored, on both stores.
    return hits


def test_event_hits(stores: list[Store]) -> None:
    sources = stores[0].project_sources(PROJECT)
    for event, options in (
        ({"event_type": "_active"}, {"first_seen": True}),
        ({"event_type": "_all"}, {"paying": True}),
        ({"event_type": "Song Played", "group_by": [{"type": "event", "value": "genre"}]}, {}),
        ({"event_type": "_all", "filters": [{"subprop_type": "event", "subprop_key": "genre",
          "subprop_op": "contains", "subprop_value": ["CAFÉ"]}]}, {}),
    ):  # fmt: skip
        query = plan(segmentation_params(event, "20260101", "20260112"))
        answers = [_hits(s.event_hits(sources, query, **options)) for s in stores]
        _same(answers)
        assert answers[0], f"{event} {options} selected nothing: it tests nothing"


CHARTS: list[tuple[Any, Any]] = [
    (charts.funnel, funnel_params(["Song Played", "Song Liked"], "20260101", "20260112")),
    (charts.funnel, funnel_params(["Viewed Home Page", "Song Played"], "20260101", "20260112",
                                  mode="unordered", conversion_window_s=3 * 86_400)),
    (charts.funnel, funnel_params(["_active", "Song Played"], "20260101", "20260112",
                                  new_users=True, group_by="country")),
    (charts.funnel, funnel_params(["Song Played", "Song Liked"], "20260101", "20260112",
                                  group_by="country")),
    (charts.retention_chart, retention_params("_active", "Song Played", "20260101", "20260112")),
    (charts.retention_chart, retention_params("_new", "_all", "20260101", "20260112",
                                              mode="rolling")),
    (charts.retention_chart, retention_params("Song Played", "_active", "20260101", "20260112",
                                              mode="bracket", brackets=[[0, 2], [2, 5]])),
    (charts.users, users_params("20260101", "20260112")),
    (charts.users, users_params("20260101", "20260112", metric="new", interval="weekly")),
    (charts.revenue_ltv, ltv_params("20260101", "20260112")),
    (charts.revenue_ltv, ltv_params("20260101", "20260112", metric="total", group_by="country")),
]  # fmt: skip


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: f"{c[0].__name__}-{c[1]}"[:60])
def test_charts(stores: list[Store], chart: tuple[Any, Any]) -> None:
    compute, params = chart
    sources = stores[0].project_sources(PROJECT)
    _same([compute(s, sources, params) for s in stores])


def test_casefold_tables_match_python() -> None:
    # The tables PostgreSQL folds with (written out once) are str.casefold's, per character.
    for source, target in zip(casefold.SINGLE_FROM, casefold.SINGLE_TO, strict=True):
        assert source.casefold() == target
    for source, target in casefold.MULTI:
        assert source.casefold() == target
    tabled = set(casefold.SINGLE_FROM) | {source for source, _ in casefold.MULTI}
    untabled = (chr(c) for c in range(0x2FFFF) if not 0xD800 <= c < 0xE000)
    assert all(c in tabled or c.casefold() == c for c in untabled)


def test_unicode_folding_in_postgres(stores: list[Store]) -> None:
    # tw_fold gives str.casefold for every character of the tables, alone and in text mixing
    # scripts, ASCII and many-character foldings.
    texts = ["CAFÉ NOIR", "Straße ẞ", "ΣΊΣΥΦΟΣ", "ǅemal", "İstanbul", "ﬁle", "plain ASCII"]
    texts += list(casefold.SINGLE_FROM) + [source for source, _ in casefold.MULTI]
    texts += ["x" + "".join(casefold.SINGLE_FROM[i::40]) + "ß" for i in range(40)]
    with stores[1]._reading() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            "SELECT array_agg(tw_fold(x) ORDER BY n) FROM unnest(%s::text[]) "
            "WITH ORDINALITY u(x, n)",
            (texts,),
        ).fetchone()
    assert row[0] == [t.casefold() for t in texts]
