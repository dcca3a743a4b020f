"""The command line's checks and output: every flag checked before a request, by one rule per
kind of flag, errors named by flag, usage errors exit 2, output safe to pipe."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import trackwire
from trackwire.amplitude.query.results import parse_segmentation
from trackwire.cli import build_parser, main
from trackwire.cli._common import DEFAULT_DB, flag_text
from trackwire.cli.amplitude import cell, chart
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.errors import ValidationError

ROOT = Path(__file__).resolve().parent.parent
QUERY = ["--api-key", "proj-key", "--secret-key", "proj-secret"]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "checks.db", port=0) as running:
        yield running


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


# --- one rule for every URL flag -----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["events", "--url"],
        ["send", "segment", "track", "--write-key", "k", "--user-id", "u", "--event", "E",
         "--host"],
        ["send", "amplitude", "track", "--api-key", "k", "--user-id", "user-1", "--event", "E",
         "--host"],
        ["amplitude", "search", "someone", *QUERY, "--url"],
    ],
    ids=["events", "send-segment", "send-amplitude", "amplitude-search"],
)  # fmt: skip
@pytest.mark.parametrize("bad", ["not-a-url", "ftp://x", "http://", "http://host:99999"])
def test_every_url_flag_refuses_the_same_input_the_same_way(
    argv: list[str], bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error([*argv, bad], capsys)

    assert f"expected an http:// or https:// URL, like http://127.0.0.1:8787; got {bad!r}" in err
    assert "Warning" not in err and "resolve" not in err


# --- usage errors name the flag, exit 2, and come before any request -----------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["send", "--bogus"], "unrecognized arguments: --bogus"),
        (["send"], "choose a VENDOR: segment, amplitude, mparticle"),
        (["events", "--vendor", "foo"], "argument --vendor: invalid choice: 'foo'"),
        (["amplitude", "activity", "12", *QUERY, "--limit", "0"], "--limit: must be 1 to 1000"),
        (["amplitude", "activity", "12", *QUERY, "--offset", "-1"], "--offset: must be 0 or more"),
        (["amplitude", "segmentation", "E", "--start", "20260101", "--end", "20260102", *QUERY,
          "--interval", "yearly"], "argument --interval: invalid choice: 'yearly'"),
        (["amplitude", "segmentation", "E", "--start", "20260101", "--end", "20260102", *QUERY,
          "--metric", "formula"], "argument --metric: invalid choice: 'formula'"),
        (["amplitude", "segmentation", "E", "--start", "20260101", "--end", "20260102", *QUERY,
          "--segment", '{"prop": "country", "op": "equals", "values": ["FR"]}'],
         "error: --segment #1 (at op): expected one of"),
        (["amplitude", "segmentation", "E", "--start", "20260102", "--end", "20260101", *QUERY],
         "error: --end: 2026-01-01 is before start 2026-01-02"),
        (["amplitude", "segmentation", "E", "--start", "20260101", "--end", "20260102", *QUERY,
          "--metric", "sums"], "--metric sums adds up an event property: give --group-by-event"),
        (["amplitude", "export", "--start", "20260102T00", "--end", "20260101T00", *QUERY,
          "-o", "x.zip"], "--end 20260101T00 is before --start 20260102T00"),
        (["amplitude", "export", "--start", "2026-01-01", "--end", "20260101T00", *QUERY,
          "-o", "x.zip"], "error: --start: expected YYYYMMDDTHH"),
        (["amplitude", "export", "--start", "20260101T00", "--end", "20260101T05", *QUERY,
          "-o", "/no/such/folder/x.zip"], "-o: the folder /no/such/folder does not exist"),
        (["send", "mparticle", "event", "--key", "k", "--secret", "s", "--customer-id", "c",
          "--event", "E", "--custom-event-type", "bogus"],
         "argument --custom-event-type: invalid choice: 'bogus'"),
    ],
)  # fmt: skip
def test_usage_errors_name_the_flag_before_any_request(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens at the URL: an error that is not a usage error would say so, exit 1.
    url = _closed_url()
    where = ["--host", url] if argv[0] == "send" and len(argv) > 2 else []
    if argv[0] == "amplitude":
        where = ["--url", url]
    err = _usage_error([*argv, *where], capsys)

    error = err.strip().splitlines()[-1]
    assert message in error
    assert "connection_refused" not in err
    assert "--m:" not in error and "--i:" not in error and "e.group_by" not in error


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fault-rate", "2"], "error: --fault-rate: must be a number from 0 to 1; got 2.0"),
        (["--fault-rate-status", "99"], "error: --fault-rate-status: a status must be an integer"),
        (["--fault-latency", "-1"], "error: --fault-latency: must be a number of seconds >= 0"),
        (["--fault-status", "x=500"], "error: --fault-status: fault status 'x=500': the path"),
    ],
)
def test_fault_flags_are_named_as_flags(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(["collector", "--port", "0", "--db", str(tmp_path / "f.db"), *flags], capsys)

    assert message in err
    assert "failure_rate" not in err and "failure_status" not in err
    assert not (tmp_path / "f.db").exists()  # refused before the collector started


def test_send_to_the_default_url_with_no_collector_says_how_to_start_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackwire.cli import send

    url = _closed_url()  # stands in for the default URL, where nothing listens in this test
    monkeypatch.setattr(send, "DEFAULT_URL", url)
    status = main(["send", "segment", "track", "--write-key", "k", "--user-id", "u",
                   "--event", "E", "--retries", "0", "--host", url])  # fmt: skip

    err = capsys.readouterr().err
    assert status == 1
    assert "connection_refused: nothing listens at" in err
    assert "hint: no collector runs here: start one with 'trackwire collector'" in err


def test_a_query_to_nothing_says_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    url = _closed_url()

    assert main(["amplitude", "search", "someone", *QUERY, "--url", url]) == 1
    err = capsys.readouterr().err

    assert f"cannot reach {url}: connection_refused: nothing listens at 127.0.0.1:" in err
    assert "urllib3" not in err and "NewConnectionError" not in err


@pytest.mark.parametrize(
    ("field", "flags", "expected"),
    [
        ("m", {"m": "--metric"}, "--metric: bad"),
        ("s[1].op", {"s": "--segment"}, "--segment #2 (at op): bad"),
        ("e.group_by[0]", {"e": "EVENT", "e.group_by": "--group-by-event"},
         "--group-by-event #1: bad"),
        ("properties.price", {"properties": "--properties"}, "--properties (at price): bad"),
        ("propertiesX", {"properties": "--properties"}, "propertiesX: bad"),
        ("", {}, "bad"),
    ],
)  # fmt: skip
def test_flag_text_tells_a_field_by_its_flag(
    field: str, flags: dict[str, str], expected: str
) -> None:
    assert flag_text(ValidationError(field, "bad"), flags) == expected


# --- output ------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_output_cut_short_by_its_reader_ends_quietly(
    collector: RunningCollector, as_json: bool
) -> None:
    with trackwire.Segment("pipe-key", host=collector.url) as segment:
        for n in range(30):
            segment.track(user_id=f"user-{n}", event="Piped", properties={"n": n})
    argv = ["events", "--url", collector.url, "--limit", "30", *(["--json"] if as_json else [])]
    process = subprocess.Popen(
        [sys.executable, "-m", "trackwire.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line is written
    err = process.stderr.read().decode()
    status = process.wait(timeout=60)

    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert status == 141


def test_events_says_none_match_when_filters_found_nothing(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    with trackwire.Segment("filter-key", host=collector.url) as segment:
        segment.track(user_id="user-1", event="Only Segment")

    assert main(["events", "--url", collector.url, "--vendor", "amplitude"]) == 0
    filtered = capsys.readouterr().out
    assert main(["events", "--url", collector.url]) == 0
    everything = capsys.readouterr().out

    assert "0 most recent events" in filtered and "(none match)" in filtered
    assert "none stored yet" not in filtered
    assert "Only Segment" in everything


def test_export_to_stdout_writes_the_archive_and_talks_on_stderr(
    collector: RunningCollector,
) -> None:
    with trackwire.Amplitude("proj-key", server_url=collector.url + "/2/httpapi") as amp:
        amp.track({"event_type": "Exported", "user_id": "user-exported"})
    hour = datetime.now(timezone.utc).strftime("%Y%m%dT%H")
    done = subprocess.run(
        [sys.executable, "-m", "trackwire.cli", "amplitude", "export", "--start", hour,
         "--end", hour, *QUERY, "--url", collector.url, "-o", "-"],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"PK")  # the zip archive, nothing else
    assert b"wrote" in done.stderr and b"to stdout" in done.stderr
    assert not Path(ROOT, "-").exists()


def test_activity_times_are_shown_to_the_millisecond() -> None:
    assert cell("2026-01-05 10:00:00.204000") == "2026-01-05 10:00:00.204"
    assert cell("2026-01-05 10:00:00") == "2026-01-05 10:00:00"
    assert cell({"a": 1}) == '{"a":1}'
    assert cell(None) == ""


def test_chart_series_differ_without_colour() -> None:
    result = parse_segmentation(
        {"data": {"series": [[3, 1], [1, 2]], "seriesLabels": [[0, "jazz"], [0, "rock"]],
                  "seriesCollapsed": [[{"setId": "", "value": 4}], [{"setId": "", "value": 3}]],
                  "xValues": ["2026-01-05", "2026-01-06"]}}
    )  # fmt: skip

    lines = chart(result, "Song Played: totals, daily (UTC)")

    bars = [line for line in lines if line.startswith(("2026-01-05 ", "2026-01-06 ", " "))]
    jazz = [line for line in bars if "█" in line]
    rock = [line for line in bars if "▓" in line]
    assert len(jazz) == 2 and len(rock) == 2
    assert "█ jazz  ▓ rock" in lines
    assert any(line.startswith("whole range") and "4" in line and "3" in line for line in lines)
    assert all("\x1b" not in line for line in lines)


# --- one default database ----------------------------------------------------------------------


def test_one_default_database_everywhere() -> None:
    from trackwire import demo

    collector = dict(_subparsers(build_parser()))["collector"]
    readme = (ROOT / "README.md").read_text()

    assert collector.get_default("db") == DEFAULT_DB
    assert str(demo.DB_PATH) == DEFAULT_DB
    assert DEFAULT_DB in readme
    for other in (".trackwire/events.db", ".trackwire/demo.db"):
        assert other not in readme


def _subparsers(parser: object) -> Iterator[tuple[str, object]]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


# --- send goes through the clients -------------------------------------------------------------


def test_send_group_identify_and_an_mparticle_resend(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    group = main(["send", "amplitude", "group-identify", "--api-key", "amp", "--user-id",
                  "user-42", "--group-type", "org", "--group-value", "acme",
                  "--group-properties", '{"seats": 40}', "--host", collector.url])  # fmt: skip
    resend = ["send", "mparticle", "screen", "--key", "mk", "--secret", "ms", "--customer-id",
              "c-1", "--event", "Catalog", "--message-id", "screen-1",
              "--host", collector.url]  # fmt: skip

    assert group == 0
    assert main(resend) == 0
    first = capsys.readouterr().out
    assert main(resend) == 0
    second = capsys.readouterr().out

    assert "duplicate" not in first
    assert "a duplicate: the collector already had this id" in second
    stored = [(event.vendor, event.type) for event in collector.store.events()]
    assert sorted(stored) == [("amplitude", "groupidentify"), ("mparticle", "screen_view")]
