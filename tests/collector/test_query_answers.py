"""Segmentation, user search and export answer as Amplitude documents, over a real collector.

Each test builds its own small dataset through the HTTP V2 API, then reads the exact numbers
back through the query API.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson
import pytest

from tests.collector.query_support import (
    Api,
    api,
    event,
    exported,
    ms,
    query_collector,
    query_store,
    shared_collector,
    shared_store,
    sqlite_only,
)
from trackwire.collector.server import RunningCollector

__all__ = ["api", "query_collector", "query_store", "shared_collector", "shared_store"]

DAY = {"start": "20260105", "end": "20260105"}


def _filter(key: str, op: str, values: list[Any], kind: str = "event") -> dict[str, Any]:
    return {"subprop_type": kind, "subprop_key": key, "subprop_op": op, "subprop_value": values}


def _series(api: Api, e: dict[str, Any], **fields: Any) -> list[list[Any]]:
    series: list[list[Any]] = api.data("/api/2/events/segmentation", e=e, **{**DAY, **fields})[
        "series"
    ]
    return series


@pytest.fixture(scope="module")
def cafe(shared_collector: RunningCollector) -> Api:
    """Six users playing songs whose names are in several scripts and cases."""
    api = Api(shared_collector, "cafe-key")
    names = ["CAFÉ NOIR", "café crème", "Élodie", "straße", "plain", None]
    api.send(
        [
            event("Play", f"user-{n}", ms(5), n, props={"name": name, "live": n % 2 == 0, "n": n})
            for n, name in enumerate(names)
        ]
    )
    return api


@pytest.mark.parametrize(
    ("op", "values", "count"),
    [
        ("contains", ["CAFÉ"], 2),  # folds É/é like E/e
        ("contains", ["élodie"], 1),
        ("contains", ["STRASSE"], 1),  # ß folds to ss
        ("contains", ["noir", "Élo"], 2),
        ("contains", ["zzz"], 0),  # a contains that excludes every event
        ("does not contain", ["café"], 4),  # the unset name counts as not containing
        ("is", ["plain"], 1),
        ("is not", ["plain"], 5),
    ],
)
def test_text_filters_fold_case_in_every_script(
    cafe: Api, op: str, values: list[str], count: int
) -> None:
    e = {"event_type": "Play", "filters": [_filter("name", op, values)]}
    assert _series(cafe, e, m="totals") == [[count]]


@pytest.mark.parametrize(
    ("values", "count"),
    [(["true"], 3), (["false"], 3), ([True], 3), (["1"], 0), (["true", "false"], 6)],
)
def test_boolean_filters_compare_true_and_false(cafe: Api, values: list[Any], count: int) -> None:
    e = {"event_type": "Play", "filters": [_filter("live", "is", values)]}
    assert _series(cafe, e, m="totals") == [[count]]


def test_group_by_a_boolean_shows_true_and_false(cafe: Api) -> None:
    e = {"event_type": "Play", "group_by": [{"type": "event", "value": "live"}]}
    data = cafe.data("/api/2/events/segmentation", e=e, m="totals", **DAY)
    labels = [label for _, label in data["seriesLabels"]]
    assert dict(zip(labels, data["series"], strict=True)) == {"true": [3], "false": [3]}


def test_a_filter_value_3_0_matches_a_stored_3(cafe: Api) -> None:
    for value in (3.0, "3.0", "3", 3):
        e = {"event_type": "Play", "filters": [_filter("n", "is", [value])]}
        assert _series(cafe, e, m="totals") == [[1]], value


def test_set_is_and_set_is_not_on_a_property_never_stored(cafe: Api) -> None:
    for kind in ("event", "user"):
        e = {"event_type": "Play", "filters": [_filter("never", "set is", ["x"], kind)]}
        assert _series(cafe, e, m="totals") == [[0]], kind
        e = {"event_type": "Play", "filters": [_filter("never", "set is not", ["x"], kind)]}
        assert _series(cafe, e, m="totals") == [[6]], kind


def test_two_raw_values_sharing_a_label_add_their_users_once(api: Api) -> None:
    # u1 sends both 1 and 1.0, u2 sends 1: label "1" has two users, not three. null and ""
    # are both "(none)": u3 sends both, u4 one of them.
    api.send(
        [
            event("Play", "user-1", ms(5), 1, props={"k": 1}),
            event("Play", "user-1", ms(5), 2, props={"k": 1.0}),
            event("Play", "user-2", ms(5), 3, props={"k": 1.0}),
            event("Play", "user-3", ms(5), 4, props={"k": None}),
            event("Play", "user-3", ms(5), 5, props={"k": ""}),
            event("Play", "user-4", ms(5), 6, props={"k": ""}),
        ]
    )
    e = {"event_type": "Play", "group_by": [{"type": "event", "value": "k"}]}
    data = api.data("/api/2/events/segmentation", e=e, **DAY)
    assert data["seriesLabels"] == [[0, "(none)"], [0, "1"]]
    assert data["series"] == [[2], [2]]


def test_pct_dau_with_zero_active_users_is_zero(api: Api) -> None:
    api.send([event("Play", "user-1", ms(5), 1)])
    data = api.data(
        "/api/2/events/segmentation", e={"event_type": "Play"}, m="pct_dau",
        start="20260106", end="20260107",
    )  # fmt: skip
    assert data["series"] == [[0, 0]]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 0}]]


@pytest.fixture(scope="module")
def week(shared_collector: RunningCollector) -> Api:
    """Plays and Buys over 2026-01-03..07: Plays 1, 2, 0, 4, 3 events a day (users p0..)."""
    api = Api(shared_collector, "week-key")
    plays = {3: 1, 4: 2, 5: 0, 6: 4, 7: 3}
    events = []
    n = 0
    for day, count in plays.items():
        for k in range(count):
            events.append(event("Play", f"user-p{k}", ms(day), n, props={"price": day}))
            n += 1
    events += [event("Buy", "user-b0", ms(5), 100), event("Buy", "user-b1", ms(5), 101)]
    api.send(events)
    return api


def test_e2_is_a_second_series(week: Api) -> None:
    data = week.data(
        "/api/2/events/segmentation", e={"event_type": "Play"}, e2={"event_type": "Buy"},
        m="totals", start="20260104", end="20260106",
    )  # fmt: skip
    assert data["series"] == [[2, 0, 4], [0, 2, 0]]
    assert data["seriesLabels"] == [0, 1]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 6}], [{"setId": "", "value": 2}]]


def test_e2_of_an_unknown_event_names_e2(week: Api) -> None:
    status, error = week.error(
        "/api/2/events/segmentation", e={"event_type": "Play"}, e2={"event_type": "Nope"},
        start="20260104", end="20260106",
    )  # fmt: skip
    assert status == 400 and "e2" in error


@pytest.mark.parametrize(
    ("fields", "series"),
    [
        # Each day covers itself and the day before (the 3rd lies before the range).
        ({"m": "totals", "rollingWindow": "2"}, [[3, 2, 4, 7]]),
        ({"m": "totals", "rollingWindow": "1"}, [[2, 0, 4, 3]]),
        ({"m": "totals", "rollingAverage": "2"}, [[1.5, 1, 2, 3.5]]),
        # Uniques over three days (the 2nd has none): (0+1+2)/3, (1+2+0)/3, (2+0+4)/3, (0+4+3)/3.
        ({"m": "uniques", "rollingAverage": "3"}, [[1, 1, 2, 2.3333]]),
        # Distinct users of each two-day window: p0 | p0 p1, p0 p1 | -, - | p0..p3, p0..p3 | p0..p2.
        ({"m": "uniques", "rollingWindow": "2"}, [[2, 2, 4, 4]]),
        ({"m": "average", "rollingWindow": "2"}, [[1.5, 1, 1, 1.75]]),
        ({"m": "totals", "n": "active"}, [[2, 0, 4, 3]]),
        ({"m": "totals", "n": "any"}, [[2, 0, 4, 3]]),
    ],
)
def test_n_and_rolling_windows(week: Api, fields: dict[str, str], series: list[Any]) -> None:
    data = week.data(
        "/api/2/events/segmentation", e={"event_type": "Play"}, start="20260104", end="20260107",
        **fields,
    )  # fmt: skip
    assert data["series"] == series


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"n": "new"}, "n"),
        ({"rollingWindow": "2", "m": "pct_dau"}, "rollingWindow"),
        ({"rollingWindow": "0", "m": "totals"}, "rollingWindow"),
        ({"rollingAverage": "x"}, "rollingAverage"),
        ({"rollingAverage": "2", "rollingWindow": "2", "m": "totals"}, "rollingAverage"),
        ({"m": "formula"}, "m"),
        ({"g": "gp:plan", "g2": "country"}, "g2"),
    ],
)
def test_unsupported_options_are_400s_naming_the_parameter(
    week: Api, fields: dict[str, str], field: str
) -> None:
    status, error = week.error(
        "/api/2/events/segmentation", e={"event_type": "Play"}, start="20260104", end="20260107",
        **fields,
    )  # fmt: skip
    assert status == 400
    assert field in error


def test_exported_events_carry_the_users_properties(api: Api) -> None:
    api.send(
        [
            event("Play", "user-1", ms(5, 10), 1, user_props={"$set": {"plan": "free"}}),
            event("Play", "user-1", ms(5, 11), 2),
            event("Play", "user-1", ms(5, 12), 3, user_props={"$set": {"plan": "pro"}}),
            event("Play", "user-2", ms(5, 12), 4),
        ]
    )
    found = {e["$insert_id"]: e["user_properties"] for e in exported(api)}
    # The first event keeps what it set; the others show the user's properties.
    assert found == {"i-1": {"plan": "free"}, "i-2": {"plan": "pro"}, "i-3": {"plan": "pro"},
                     "i-4": {}}  # fmt: skip


def test_export_reads_in_pages_every_event_once(api: Api, query_store: Any) -> None:
    query_store.export_page_size = 2
    api.send([event("Play", f"user-{n % 3}", ms(5), n) for n in range(7)])
    api.send([event("Buy", "user-9", ms(5), 7)])
    ids = [e["$insert_id"] for e in exported(api)]
    assert sorted(ids) == sorted(f"i-{n}" for n in range(8))
    assert len(ids) == 8


def test_user_search_by_device_and_amplitude_id_prefix(api: Api) -> None:
    # Another project's ten users take Amplitude IDs 1 to 10; this one's are 11 and 12.
    api.send([event("Play", f"other-{n}", ms(5), n) for n in range(10)], key="other-key")
    api.send(
        [
            event("Play", "alice-1", ms(5), 1, device_id="dev-apple-1"),
            event("Play", "bob-22", ms(5), 2, device_id="dev-banana-2"),
        ]
    )

    def search(text: str) -> tuple[str, list[Any]]:
        found = orjson.loads(api.get("/api/2/usersearch", user=text).data)
        return found["type"], [(m["user_id"], m["amplitude_id"]) for m in found["matches"]]

    assert search("dev-ban") == ("match_user_prefix", [("bob-22", 12)])
    assert search("dev-apple-1") == ("match_user_or_device_id", [("alice-1", 11)])
    assert search("12") == ("match_amplitude_id", [("bob-22", 12)])
    assert search("1") == ("match_user_prefix", [("alice-1", 11), ("bob-22", 12)])
    assert search("zzz") == ("nomatch", [])


# PostgreSQL's export paging has its own test (test_query_postgres.py).
@sqlite_only()
def test_a_long_export_does_not_hold_back_checkpoints(api: Api, query_store: Any) -> None:
    """Between two pages the export holds no read transaction: a checkpoint can copy every
    frame of the WAL (a whole-export transaction would pin the older frames)."""
    query_store.export_page_size = 2
    api.send([event("Play", f"user-{n}", ms(5), n) for n in range(6)])
    sources = query_store.project_sources(query_store_project(query_store))
    rows = query_store.export_rows(sources, 0, 2**62)
    first = next(rows)
    api.send([event("Play", "user-9", ms(5), 9)])
    conn = sqlite3.connect(query_store._path)
    try:
        # The store's own checkpointer may be running one (busy), and the export's worker may
        # be reading the page after the first (a read of a few ms, then it waits for the
        # reader): try again until neither is.
        deadline = time.monotonic() + 10
        while True:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if (busy, copied) == (0, frames) or time.monotonic() > deadline:
                break
    finally:
        conn.close()
    assert (busy, copied) == (0, frames)
    assert 1 + len(list(rows)) == 7
    assert first.amplitude_id is not None


def query_store_project(store: Any) -> str:
    """The project name the ``api`` fixture's events are stored under."""
    (name,) = [row[0] for row in store._writer.execute("SELECT source FROM sources")]
    return str(name)


def test_an_export_the_client_leaves_is_closed_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing an export waits for the page read under way: the route closes the chain on a
    worker thread when the client goes away mid-archive, never on the event loop's thread."""
    import asyncio
    import threading
    from collections.abc import Iterator

    from tests.collector.query_support import export_range
    from trackwire.collector.routes import amplitude_query as route

    api.send([event("Play", f"user-{n}", ms(5), n) for n in range(5)])
    client_gone, closed = threading.Event(), threading.Event()
    closed_on_loop: list[bool] = []
    real_chunks = route.archive_chunks

    def chunks_until_the_client_leaves(pages: Any, project_id: int) -> Iterator[bytes]:
        chunks = real_chunks(pages, project_id)
        try:
            yield b"PK"  # the archive has begun
            client_gone.wait(10)
            yield from chunks
        finally:
            try:
                asyncio.get_running_loop()
                closed_on_loop.append(True)
            except RuntimeError:  # no loop runs in this thread
                closed_on_loop.append(False)
            chunks.close()
            closed.set()

    monkeypatch.setattr(route, "archive_chunks", chunks_until_the_client_leaves)
    response = api.pool.request(
        "GET",
        api.url + "/api/2/export",
        fields=export_range(),
        headers={"Authorization": api.auth},
        preload_content=False,
    )
    assert response.status == 200
    assert response.read(2) == b"PK"
    response.drain_conn = lambda: None  # type: ignore[method-assign]
    response.close()  # the client goes away mid-archive
    api.pool.clear()
    client_gone.set()
    assert closed.wait(10), "the export was never closed"
    assert closed_on_loop == [False]
