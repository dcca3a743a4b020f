"""What segment-analytics-python's own tests caught: falsy ``on_error``, None ids, silent flush."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import trackwire.compat.segment as analytics
from trackwire.collector.server import start_collector
from trackwire.errors import ConfigError


def closed_port_url() -> str:
    """A loopback URL nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("falsy", [False, 0, ""])
def test_a_falsy_on_error_means_none_as_in_the_official_library(falsy: object) -> None:
    client = analytics.Client("key", on_error=falsy, send=False)  # type: ignore[arg-type]

    assert client.on_error is None
    client.join()


def test_a_truthy_on_error_that_cannot_be_called_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="on_error must be callable"):
        analytics.Client("key", on_error="print")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "args", "keys"),
    [
        ("track", ("u-1", "Clicked"), {"userId": "u-1", "anonymousId": None}),
        (
            "track",
            (None, "Clicked", None, None, None, "a-1"),
            {"userId": None, "anonymousId": "a-1"},
        ),
        ("identify", ("u-1",), {"userId": "u-1", "anonymousId": None}),
        ("group", ("u-1", "g-1"), {"userId": "u-1", "anonymousId": None}),
        ("page", ("u-1",), {"userId": "u-1", "anonymousId": None}),
        ("screen", ("u-1",), {"userId": "u-1", "anonymousId": None}),
        ("alias", ("old", "new"), {"previousId": "old", "userId": "new"}),
    ],
)
def test_the_returned_message_names_both_ids_even_when_one_is_none(
    call: str, args: tuple[object, ...], keys: dict[str, object]
) -> None:
    client = analytics.Client("key", send=False)
    success, message = getattr(client, call)(*args)
    client.join()

    assert success
    assert {key: message[key] for key in keys} == keys
    if call != "alias":
        assert "previousId" not in message


def test_queue_reads_like_the_official_queue() -> None:
    client = analytics.Client("key", host=closed_port_url(), max_queue_size=3)
    client.join()  # stopped: nothing is taken from the queue any more

    assert client.queue.maxsize == 3
    assert client.queue.empty()


def test_with_no_route_the_first_failed_attempt_is_logged_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = closed_port_url()
    client = analytics.Client("wk-secret-42", host=url, max_retries=1, upload_interval=0.01)
    logged = threading.Event()

    class FirstAttempt(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "not delivered (attempt 1 of 2)" in record.getMessage():
                logged.set()

    watcher = FirstAttempt()
    logging.getLogger("trackwire").addHandler(watcher)
    try:
        with caplog.at_level(logging.WARNING, logger="trackwire"):
            client.track("u-1", "Offline")
            assert logged.wait(10), [r.getMessage() for r in caplog.records]
            client.shutdown()
    finally:
        logging.getLogger("trackwire").removeHandler(watcher)

    lines = [r.getMessage() for r in caplog.records if "attempt 1 of 2" in r.getMessage()]
    assert lines, [r.getMessage() for r in caplog.records]
    assert "connection_refused" in lines[0] and url.removeprefix("http://") in lines[0]
    assert not any("wk-secret-42" in r.getMessage() for r in caplog.records)


def test_trackwire_options_reach_the_engine_a_spool_carries_events_over_a_restart(
    tmp_path: Path,
) -> None:
    spool = tmp_path / "spool"
    offline = analytics.Client(
        "spool-key", host=closed_port_url(), trackwire_options={"spool": spool}
    )
    offline.track("spool-user", "Queued Offline")
    offline.segment.shutdown(timeout=0.2)  # the process ends with the event still on disk

    with start_collector() as collector:
        online = analytics.Client(
            "spool-key", host=collector.url, trackwire_options={"spool": spool}
        )
        online.flush()
        online.shutdown()
        events = [e.payload.get("event") for e in collector.store.events()]

    assert events == ["Queued Offline"]


def test_events_queued_when_the_process_exits_are_delivered() -> None:
    script = (
        "import sys\n"
        "import trackwire.compat.segment as analytics\n"
        "analytics.write_key = 'exit-key'\n"
        "analytics.host = sys.argv[1]\n"
        "analytics.upload_interval = 60\n"  # nothing is sent before the exit
        "for n in range(50):\n"
        "    analytics.track('exit-user', 'At Exit', {'n': n})\n"
    )
    with start_collector() as collector:
        done = subprocess.run(
            [sys.executable, "-c", script, collector.url], capture_output=True, timeout=60
        )
        events = [
            e.payload for e in collector.store.events() if e.payload.get("event") == "At Exit"
        ]

    assert done.returncode == 0, done.stderr
    assert sorted(e["properties"]["n"] for e in events) == list(range(50))
