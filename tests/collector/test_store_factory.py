"""``open_store(url)``: which store a ``--db`` value opens, and one clear error for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwire.cli import main
from trackwire.collector.sqlite import SQLiteStore
from trackwire.collector.store import StoreOpenError
from trackwire.collector.store_factory import StoreURLError, display_url, open_store, store_kind


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("collector.db", ("sqlite", "collector.db")),
        ("/var/lib/trackwire/c.db", ("sqlite", "/var/lib/trackwire/c.db")),
        (":memory:", ("sqlite", ":memory:")),
        ("C:/data/c.db", ("sqlite", "C:/data/c.db")),  # a drive letter is not a scheme
        ("sqlite:///rel/c.db", ("sqlite", "rel/c.db")),
        ("sqlite:////abs/c.db", ("sqlite", "/abs/c.db")),
        ("sqlite://", ("sqlite", ":memory:")),
        ("sqlite:///:memory:", ("sqlite", ":memory:")),
        ("postgresql://u@h/db", ("postgresql", "postgresql://u@h/db")),
        ("postgres://u@h:5433/db", ("postgresql", "postgres://u@h:5433/db")),
        ("POSTGRESQL://u@h/db", ("postgresql", "POSTGRESQL://u@h/db")),
    ],
)
def test_store_kind(value: str, expected: tuple[str, str]) -> None:
    assert store_kind(value) == expected


@pytest.mark.parametrize("value", ["mysql://u@h/db", "http://x", "sqlite:rel.db"])
def test_unknown_or_malformed_scheme_is_one_clear_error(value: str) -> None:
    with pytest.raises(StoreURLError, match="--db"):
        store_kind(value)


def test_postgresql_prefix_without_slashes_is_still_postgresql() -> None:
    # "postgresql:" alone is the PostgreSQL scheme (libpq fails on it), never a folder name.
    assert store_kind("postgresql:")[0] == "postgresql"


def test_sqlite_url_opens_a_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/nested/c.db")
    try:
        assert isinstance(store, SQLiteStore)
    finally:
        store.close()
    assert (tmp_path / "nested" / "c.db").is_file()


def test_unreachable_postgresql_is_a_store_open_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreOpenError, match="cannot open the PostgreSQL database"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        (
            "postgresql://u@h/db?password=secret&sslmode=require",
            "postgresql://u@h/db?sslmode=require",
        ),
        ("c.db", "c.db"),
    ],
)
def test_display_url_leaves_the_password_out(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_cli_refuses_an_unknown_scheme_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(["collector", "--port", "0", "--db", "mysql://u@h/db"])
    assert status != 0
    assert "unknown database scheme 'mysql'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
