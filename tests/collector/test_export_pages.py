"""SQLite export pages: each event carries its user's stored properties, read once per page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackwire.collector.sqlite import SQLiteStore
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
