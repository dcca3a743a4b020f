"""The ``trackwire`` command's behaviour: help, exit statuses, messages, ``events`` and ``send``.

Exit statuses: 0 done, 1 not delivered, 2 a usage error. Commands run through ``main()`` in
this process against a real collector on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackwire.cli import build_parser, main
from trackwire.cli.events import COLUMNS, table
from trackwire.collector.server import RunningCollector, start_collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "cli.db", port=0) as running:
        yield running


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def test_bare_trackwire_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2

    out = capsys.readouterr().out
    assert out.startswith("usage: trackwire")
    assert "collector" in out and "events" in out and "send" in out


def test_a_parse_error_shows_the_subcommands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["send", "segment", "track", "--write-key", "k"], capsys)

    assert err.startswith("usage: trackwire send segment track")
    assert "the following arguments are required: --event" in err


def test_a_bad_json_flag_is_a_usage_error_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _usage_error(
        ["send", "amplitude", "track", "--api-key", "k", "--user-id", "user-1", "--event", "E",
         "--properties", "[1]"],
        capsys,
    )  # fmt: skip

    assert err.startswith("usage: trackwire send amplitude track")
    assert "--properties must be a JSON object" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["send", "segment", "track", "--write-key", "k", "--event", "E"],
            "error: --user-id or --anonymous-id is required",
        ),
        (
            ["send", "segment", "track", "--write-key", "k", "--user-id", "u", "--event", "E",
             "--timestamp", "yesterday"],
            "error: argument --timestamp: 'yesterday' is not an ISO-8601 time, like 2024-05-01T12",
        ),
        (
            ["send", "segment", "track", "--write-key", "k", "--user-id", "u", "--event", "E",
             "--message-id", "x" * 101],
            "error: --message-id: must be at most 100 characters",
        ),
        (
            ["send", "segment", "track", "--write-key", "k", "--user-id", "u", "--event", "E",
             "--properties", '{"big": 1e999}'],
            "--properties",
        ),
        (
            ["send", "amplitude", "identify", "--api-key", "k", "--user-properties", "{}"],
            "error: give --user-id or --device-id",
        ),
    ],
)  # fmt: skip
def test_messages_name_flags_not_python_fields(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error([*argv, "--host", f"http://127.0.0.1:{_closed_port()}"], capsys)

    assert message in err
    assert "user_id" not in err.replace("no_user_anon_id", "")
    assert "message_id" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["events", "--limit", str(10**30)], "--limit: must be 1 to 1000"),
        (["events", "--limit", "0"], "--limit: must be 1 to 1000"),
        (["send", "segment", "identify", "--write-key", "k", "--user-id", "u", "--retries", "-1"],
         "--retries: must be 0 or more"),
        (["send", "segment", "identify", "--write-key", "k", "--user-id", "u", "--timeout", "0"],
         "--timeout: must be above 0"),
        (["send", "segment", "identify", "--write-key", "k", "--user-id", "u", "--host", "ftp://x"],
         "error: argument --host: expected an http:// or https:// URL"),
    ],
)  # fmt: skip
def test_out_of_range_values_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _usage_error(argv, capsys)


def _subcommands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, f"{path} {name}".strip())


def _options(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    return {
        action.option_strings[-1]: action.help
        for action in parser._actions
        if action.option_strings and action.help != argparse.SUPPRESS
    }


def test_every_option_of_every_subcommand_has_help() -> None:
    missing = [
        f"{path} {flag}"
        for path, parser in _subcommands(build_parser())
        for flag, text in _options(parser).items()
        if not text
    ]

    assert missing == []


@pytest.mark.parametrize(
    ("path", "present", "absent"),
    [
        (
            "send segment identify",
            {"--traits", "--user-id"},
            {"--event", "--properties", "--group-id", "--name"},
        ),
        (
            "send segment track",
            {"--event", "--properties"},
            {"--traits", "--group-id", "--name", "--previous-id"},
        ),
        (
            "send segment alias",
            {"--previous-id", "--user-id"},
            {"--anonymous-id", "--event", "--traits"},
        ),
        ("send segment page", {"--name", "--category", "--properties"}, {"--event", "--traits"}),
        (
            "send amplitude identify",
            {"--user-properties"},
            {"--event", "--group-type", "--properties"},
        ),
        (
            "send amplitude group-identify",
            {"--group-type", "--group-value"},
            {"--event", "--user-properties"},
        ),
        ("send mparticle screen", {"--event"}, {"--custom-event-type"}),
    ],
)
def test_each_subcommand_lists_only_its_own_options(
    path: str, present: set[str], absent: set[str]
) -> None:
    parsers = dict(_subcommands(build_parser()))
    flags = set(_options(parsers[path]))

    assert present <= flags
    assert not absent & flags


def test_not_delivered_exits_1_naming_the_network_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = _closed_port()
    status = main([
        "send", "segment", "track", "--write-key", "k", "--user-id", "u", "--event", "E",
        "--retries", "0", "--host", f"http://127.0.0.1:{port}",
    ])  # fmt: skip

    assert status == 1
    err = capsys.readouterr().err
    assert f"connection_refused: nothing listens at 127.0.0.1:{port}" in err
    assert "timeout" not in err


def test_events_and_posts_exit_1_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    events = main(["events", "--url", url])
    posted = main(["send", "mparticle", "event", "--key", "k", "--secret", "s", "--event", "E",
                   "--customer-id", "c-1", "--retries", "0", "--host", url])  # fmt: skip

    assert (events, posted) == (1, 1)
    err = capsys.readouterr().err
    assert err.count("connection_refused") == 2


def test_a_short_amplitude_id_is_a_usage_error_naming_the_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _usage_error(["send", "amplitude", "track", "--api-key", "k", "--user-id", "abc",
                        "--event", "E"], capsys)  # fmt: skip

    assert (
        "--user-id: Amplitude keeps ids of 5 characters or more (its min_id_length) and drops "
        "shorter ones; 'abc' has 3"
    ) in err


def test_a_vendor_refusal_exits_1_with_the_reason(
    keyed_collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["send", "mparticle", "event", "--key", "unknown", "--secret", "s",
                   "--customer-id", "c-1", "--event", "E",
                   "--host", keyed_collector.url])  # fmt: skip

    err = capsys.readouterr().err
    assert status == 1, err
    assert "not delivered: mparticle event source_request_id=" in err
    assert "rejected: HTTP 403: check the API key and secret" in err


def test_a_long_enough_amplitude_id_gets_no_hint(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["send", "amplitude", "track", "--api-key", "k", "--user-id", "abcde",
                   "--event", "E", "--host", collector.url])  # fmt: skip

    assert status == 0
    assert "hint" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("vendor_args", "id_flag"),
    [
        (
            ["segment", "track", "--write-key", "k", "--user-id", "u", "--event", "E"],
            "--message-id",
        ),
        (
            ["amplitude", "track", "--api-key", "k", "--user-id", "user-1", "--event", "E"],
            "--insert-id",
        ),
    ],
    ids=["segment", "amplitude"],
)
def test_a_deduplicated_resend_says_so(
    collector: RunningCollector,
    capsys: pytest.CaptureFixture[str],
    vendor_args: list[str],
    id_flag: str,
) -> None:
    argv = ["send", *vendor_args, id_flag, "same-id-1", "--host", collector.url]

    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    second = capsys.readouterr().out

    assert "duplicate" not in first
    assert "a duplicate: the collector already had this id" in second
    assert len(collector.store.events()) == 1


def test_events_fit_80_columns(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "An Event Name That Goes On And On Well Past Any Column Width"
    assert main(["send", "segment", "track", "--write-key", "a-rather-long-write-key-0123",
                 "--user-id", "user-with-a-long-identifier-0001", "--event", long,
                 "--properties", '{"plan": "enterprise", "seats": 250, "note": "x\\ny"}',
                 "--host", collector.url]) == 0  # fmt: skip
    capsys.readouterr()

    assert main(["events", "--url", collector.url, "--width", "80"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert len(lines) == 3  # title, header, one event
    assert all(len(line) <= 80 for line in lines), lines
    header, row = lines[1], lines[2]
    for title in ("id", "received", "vendor", "source", "type", "event", "user", "properties"):
        assert title in header
    assert "An Event" in row and "…" in row and "segment" in row


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_the_table_never_exceeds_its_width_when_it_can_fit(width: int) -> None:
    rows = [("12345", "12-01 10:00:00", "amplitude", "s" * 50, "track", "e" * 80, "u" * 60,
             '{"k": "' + "v" * 300 + '"}')]  # fmt: skip

    lines = table(rows, width)

    narrowest = sum(minimum for _, _, minimum in COLUMNS) + 2 * 7
    assert all(len(line) <= max(width, narrowest) for line in lines)
    assert len(lines) == 2


ADMIN_TOKEN = "admin-token-0123456789abcdef0123456789"


@pytest.fixture
def keyed_collector(tmp_path: Path) -> Iterator[RunningCollector]:
    keys = tmp_path / "keys.json"
    keys.write_text(
        '{"sources": [{"name": "backend", "vendor": "segment", "write_key": "wk-backend",'
        ' "write_key_reads": true},'
        ' {"name": "web", "vendor": "segment", "write_key": "wk-web", "write_key_reads": true}],'
        f' "admin_tokens": ["{ADMIN_TOKEN}"]}}'
    )
    with start_collector(db=tmp_path / "keyed.db", port=0, keys=keys) as running:
        yield running


def _send_to(url: str, key: str, event: str, *extra: str) -> int:
    return main(["send", "segment", "track", "--write-key", key, "--user-id", "u-1",
                 "--event", event, "--host", url, *extra])  # fmt: skip


def test_events_from_a_keyed_collector_need_credentials(
    keyed_collector: RunningCollector,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRACKWIRE_COLLECTOR_TOKEN", raising=False)
    url = keyed_collector.url
    assert _send_to(url, "wk-backend", "Backend Event") == 0
    assert _send_to(url, "wk-web", "Web Event") == 0
    capsys.readouterr()

    assert main(["events", "--url", url]) == 1
    refused = capsys.readouterr().err
    assert main(["events", "--url", url, "--token", ADMIN_TOKEN, "--json"]) == 0
    everything = capsys.readouterr().out
    assert main(["events", "--url", url, "--key", "wk-web", "--json"]) == 0
    own = capsys.readouterr().out
    monkeypatch.setenv("TRACKWIRE_COLLECTOR_TOKEN", ADMIN_TOKEN)
    assert main(["events", "--url", url, "--json"]) == 0
    from_env = capsys.readouterr().out

    assert "reading needs credentials: --token" in refused
    assert ADMIN_TOKEN not in refused
    assert "Backend Event" in everything and "Web Event" in everything
    assert "Web Event" in own and "Backend Event" not in own
    assert from_env == everything


def test_a_deduplicated_resend_to_a_keyed_collector_says_so(
    keyed_collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    url = keyed_collector.url
    assert _send_to(url, "wk-backend", "Once", "--message-id", "keyed-id-1") == 0
    capsys.readouterr()
    assert _send_to(url, "wk-backend", "Once", "--message-id", "keyed-id-1") == 0

    assert "a duplicate: the collector already had this id" in capsys.readouterr().out
