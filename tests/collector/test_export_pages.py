"""SQLite export pages: each event carries its user's stored properties; pages in receipt order,
read one ahead on a worker thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwire.collector.query import export
from trackwire.collector.query.export import archive_chunks
from trackwire.collector.query.reader import RECEIVED_AT
from trackwire.collector.sqlite import SQLiteStore, amplitude_reads
from trackwire.collector.store import EventRecord

_T0 = 1_767_225_600_000


def _record(n: int, user: str, plan: str | None) -> EventRecord:
    event: dict[str, Any] = {"event_type": "Play", "user_id": user, "time": _T0 + n,
                             "insert_id": f"i-{n}"}  # fmt: skip
    ops: tuple[Any, ...] = ()
    if plan is not None:
        event["user_properties"] = {"$set": {"plan": plan}}
        ops = (("$set", {"plan": plan}),)
    return EventRecord(
        "amplitude", "key", "event", "Play", user, None, _T0 + n, f"i-{n}", event, ops
    )


def test_pages_carry_each_users_properties_as_stored(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest(
            [_record(0, "a", "free"), _record(1, "b", "pro"), _record(2, "c", None),
             _record(3, "a", None), _record(4, "b", "team")],
            received_time_ms=_T0,
        )  # fmt: skip
        store.export_page_size = 2  # pages end between a user's events
        rows = list(store.export_rows(store.project_sources("key"), _T0, _T0 + 1))
    assert [(row.user_id, row.user_properties) for row in rows] == [
        ("a", '{"plan":"free"}'),
        ("b", '{"plan":"team"}'),
        ("c", "{}"),
        ("a", '{"plan":"free"}'),
        ("b", '{"plan":"team"}'),
    ]


def _segment(n: int, user: str) -> EventRecord:
    message = {"type": "track", "event": "Tap", "userId": user, "messageId": f"s-{n}"}
    return EventRecord("segment", "key", "track", "Tap", user, None, _T0 + n, f"s-{n}", message, ())


def test_pages_come_in_receipt_order_whatever_the_storage_order(tmp_path: Path) -> None:
    """Requests stored with receipt times going back (ids and times in opposite orders) and
    ties within a request: every page of the export keeps (receipt time, id) order."""
    with SQLiteStore(tmp_path / "c.db") as store:
        for request in range(4):
            batch = [_record(request * 10 + i, f"u-{i}", None) for i in range(5)]
            store.ingest(batch, received_time_ms=_T0 + 1000 - request)
        store.export_page_size = 3
        rows = list(store.export_rows(store.project_sources("key"), _T0, _T0 + 2000))
    keys = [(row.received_time_ms, row.id) for row in rows]
    assert len(keys) == 20
    assert keys == sorted(keys)
    assert keys[0][0] == _T0 + 997 and keys[-1][0] == _T0 + 1000


def test_a_projects_vendors_are_merged_in_receipt_order(tmp_path: Path) -> None:
    """One project stored through two vendors: pages of each source's runs, in receipt
    order across them, each page carrying its source."""
    with SQLiteStore(tmp_path / "c.db") as store:
        for request in range(6):
            record = _record(request, "a", None) if request % 2 else _segment(request, "b")
            store.ingest([record], received_time_ms=_T0 + request)
        store.export_page_size = 2
        sources = store.project_sources("key")
        pages = list(store.export_pages(sources, _T0, _T0 + 10))
        partly = store.export_pages(sources, _T0, _T0 + 10)
        assert isinstance(partly, Generator)
        assert next(partly) == pages[0] and len(_readers()) == 2  # one per source
        partly.close()
        assert _readers() == []
    assert len(sources) == 2
    assert [page.source.vendor for page in pages] == ["segment", "amplitude"] * 3
    received = [orjson.loads(row)[RECEIVED_AT] for page in pages for row in page.rows]
    assert received == [_T0 + n for n in range(6)]


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "trackwire-export-read"]


def test_closing_an_export_stops_its_page_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest([_record(n, "a", None) for n in range(10)], received_time_ms=_T0)
        store.export_page_size = 2
        pages = store.export_pages(store.project_sources("key"), _T0, _T0 + 1)
        assert isinstance(pages, Generator)
        first = next(pages)
        assert len(first.rows) == 2 and _readers()
        pages.close()  # joins the reader
        assert _readers() == []
        # The archive closes its pages: a client going away stops the reader.
        chunks = archive_chunks(store.export_pages(store.project_sources("key"), _T0, _T0 + 1), 3)
        monkeypatch.setattr(export, "_LINES", 1)
        monkeypatch.setattr(export, "_CHUNK", 1)
        assert isinstance(chunks, Generator)
        assert next(chunks) and _readers()
        chunks.close()
        assert _readers() == []


def test_a_failing_page_read_reaches_the_exporter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = amplitude_reads.export_page
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> list[bytes]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return read(*args, **kwargs)

    monkeypatch.setattr(amplitude_reads, "export_page", failing)
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest([_record(n, "a", None) for n in range(10)], received_time_ms=_T0)
        store.export_page_size = 2
        pages = store.export_pages(store.project_sources("key"), _T0, _T0 + 1)
        assert len(next(pages).rows) == 2
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            next(pages)
    assert _readers() == []


_NASTY = 'q"b\\s/\n\t\r\x01\x1e\x1f\x7f\u2028é😀 end'


def test_every_value_reads_back_exactly_through_a_page(tmp_path: Path) -> None:
    """A page is built as JSON by SQLite and decoded by the export: texts with quotes,
    backslashes, control characters and non-ASCII, nulls and large integers read back as
    the columns hold them."""
    payload = {"event_properties": {_NASTY: [_NASTY, 2**62, -1.5, None, True]}, "n": {}}
    records = [
        EventRecord(
            "amplitude", "key", "event", _NASTY, _NASTY, _NASTY, 2**53 + 1, _NASTY, payload,
            (("$set", {_NASTY: _NASTY}),), groups={"org": [_NASTY]}, session_id=-(2**62),
        ),
        EventRecord("amplitude", "key", "event", None, None, "d", None, None, {}, ()),
    ]  # fmt: skip
    with SQLiteStore(tmp_path / "c.db") as store:
        store.ingest(records, received_time_ms=_T0)
        # A payload written by something else than orjson: whitespace, newlines included.
        store._writer.execute(
            "UPDATE events SET payload = ? WHERE id = 2", ('{\n "a" :\t[ 1 ]\r\n}',)
        )
        rows = list(store.export_rows(store.project_sources("key"), _T0, _T0 + 1))
    conn = sqlite3.connect(tmp_path / "c.db")
    try:
        stored = conn.execute(
            "SELECT e.id, e.type, e.event_name, e.user_id, e.device_id, e.amplitude_id, "
            "e.session_id, e.client_time_ms, e.received_time_ms, e.dedup_key, e.groups, "
            "e.payload, u.properties FROM events e "
            "LEFT JOIN users u ON u.amplitude_id = e.amplitude_id ORDER BY e.id"
        ).fetchall()
    finally:
        conn.close()
    read = [
        (r.id, r.type, r.event_name, r.user_id, r.device_id, r.amplitude_id, r.session_id,
         r.client_time_ms, r.received_time_ms, r.dedup_key, r.groups, orjson.loads(r.payload),
         r.user_properties)
        for r in rows
    ]  # fmt: skip
    assert read == [(*row[:11], orjson.loads(row[11]), row[12]) for row in stored]
    assert read[0][3] == _NASTY and orjson.loads(read[0][12] or "") == {_NASTY: _NASTY}


def test_a_page_longer_than_sqlites_longest_value_is_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large events: a page built as one value would pass SQLite's length limit (1e9 bytes by
    default; 3,000 here): the same rows are read one at a time."""
    with SQLiteStore(tmp_path / "c.db") as store:
        big = [_record(n, f"user-{n}", "x" * 400) for n in range(12)]
        store.ingest(big, received_time_ms=_T0)
        sources = store.project_sources("key")
        whole = list(store.export_rows(sources, _T0, _T0 + 1))
    connect = SQLiteStore._connect

    def limited(self: SQLiteStore) -> sqlite3.Connection:
        conn = connect(self)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 3000)
        return conn

    monkeypatch.setattr(SQLiteStore, "_connect", limited)
    with SQLiteStore(tmp_path / "c.db") as store:
        store.export_page_size = 5
        assert list(store.export_rows(sources, _T0, _T0 + 1)) == whole
    assert len(whole) == 12 and whole[0].user_properties == '{"plan":"' + "x" * 400 + '"}'
