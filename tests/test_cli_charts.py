"""``trackwire amplitude funnels|retention|users|ltv`` against a real collector, exact numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

import trackwire
from trackwire.cli import main
from trackwire.collector.server import RunningCollector, start_collector

KEY = ["--api-key", "chart-key", "--secret-key", "chart-secret"]
DAY = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    """Three users: all sign up on day 0; two play a song (one the next day); one pays 5."""
    path = tmp_path_factory.mktemp("charts") / "charts.db"
    with start_collector(db=path, port=0) as running:
        amp = trackwire.Amplitude("chart-key", server_url=running.url + "/2/httpapi")
        with amp:
            for user in ("user-a", "user-b", "user-c"):
                amp.track({"event_type": "Signed Up", "user_id": user, "time": _ms(DAY)})
            amp.track({"event_type": "Song Played", "user_id": "user-a",
                       "time": _ms(DAY + timedelta(minutes=10))})  # fmt: skip
            amp.track({"event_type": "Song Played", "user_id": "user-b",
                       "time": _ms(DAY + timedelta(days=1))})  # fmt: skip
            paid = _ms(DAY + timedelta(hours=1))
            amp.track({"event_type": "Purchased", "user_id": "user-a", "revenue": 5.0,
                       "price": 5.0, "quantity": 1, "time": paid})  # fmt: skip
            assert amp.flush(timeout=10)
        yield running


def _run(collector: RunningCollector, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["amplitude", *argv, "--url", collector.url, *KEY])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_funnels_table_and_json(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    span = ["--start", "20260302", "--end", "20260304"]
    out = _run(collector, capsys, "funnels", "Signed Up", "Song Played", *span)
    lines = [line.split() for line in out.splitlines()]
    signed = next(line for line in lines if line[:2] == ["1", "Signed"])
    played = next(line for line in lines if line[:2] == ["2", "Song"])
    assert signed[3] == "3" and played[3] == "2"  # users at each step
    assert played[4] == "66.7%"
    raw = orjson.loads(
        _run(collector, capsys, "funnels", "Signed Up", "Song Played", *span, "--json")
    )
    assert raw["data"][0]["cumulativeRaw"] == [3, 2]


def test_users_new_and_active(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    span = ["--start", "20260302", "--end", "20260303"]
    raw = orjson.loads(_run(collector, capsys, "users", *span, "--json"))
    assert raw["data"]["series"] == [[3, 1]]
    out = _run(collector, capsys, "users", *span, "--metric", "new")
    assert "new users, daily (UTC)" in out
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("2026-03-0")] == [
        "3",
        "0",
    ]


def test_retention_counts_the_user_who_came_back(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    span = ["--start", "20260302", "--end", "20260302"]
    out = _run(collector, capsys, "retention", "Signed Up", "Song Played", *span)
    rows = {" ".join(line.split()[:-3]): line.split()[-3:-1] for line in out.splitlines()[3:]}
    assert rows["cohort"] == ["3", "3"]
    assert rows["day 1"] == ["1", "3"]  # user-b played the next day


def test_ltv_of_the_new_users(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    span = ["--start", "20260302", "--end", "20260302"]
    raw = orjson.loads(_run(collector, capsys, "ltv", *span, "--metric", "total", "--json"))
    cohort = raw["data"]["series"][0]["values"]["2026-03-02"]
    assert cohort["r1d"] == 5.0 and cohort["count"] == 3 and cohort["paid"] == 1
    out = _run(collector, capsys, "ltv", *span, "--metric", "total")
    assert "LTV (total)" in out and "5.00" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["funnels", "Only One"], "at least two EVENT steps"),
        (["retention", "A", "B", "--bracket", "2-7"], "--bracket goes with --mode bracket"),
        (["retention", "A", "B", "--mode", "bracket", "--bracket", "x"], "--bracket 'x'"),
        (["users", "--segment", "{oops"], "--segment #1 is not valid JSON"),
    ],
)
def test_chart_flags_are_checked_before_a_request(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["amplitude", *argv, "--start", "20260302", "--end", "20260303",
              "--url", "http://127.0.0.1:9", *KEY])  # fmt: skip
    assert info.value.code == 2
    assert words in capsys.readouterr().err
