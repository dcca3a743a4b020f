"""Events from all three vendors' APIs -> the collector -> Amplitude's four query calls.

Events go through trackwire's Segment, Amplitude and mParticle clients to the collector's
ingestion endpoints. Everything is stored under one project name (in development mode, the
key's fingerprint: the same key text for all three), and the query client reads it back.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

import trackwire
from trackwire.amplitude.query import AmplitudeQuery, iter_export_events
from trackwire.amplitude.query.results import empty_user_data
from trackwire.collector.keys import Keys, Source
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.errors import QueryAuthError, QueryBadRequestError

KEY = "proj-key"
SECRET = "proj-secret"


def _ms(day: int, hour: int) -> int:
    return int(datetime(2026, 1, day, hour, tzinfo=timezone.utc).timestamp() * 1000)


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> int:
    response = urllib3.request(
        "POST",
        url,
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
        retries=False,
    )
    return response.status


def _send_everything(url: str) -> None:
    # Segment, through trackwire's client: user-1 (plan pro).
    with trackwire.Segment(KEY, host=url, flush_at=100) as segment:
        segment.identify(
            "user-1", {"plan": "pro"}, timestamp=datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
        )
        segment.track(
            "user-1",
            "Song Played",
            {"genre": "rock", "price": 2},
            timestamp=datetime(2026, 1, 5, 10, tzinfo=timezone.utc),
        )
        segment.track(
            "user-1",
            "Song Played",
            {"genre": "jazz", "price": 3},
            timestamp=datetime(2026, 1, 6, 10, tzinfo=timezone.utc),
        )
        segment.page(
            "user-1", None, "Home", timestamp=datetime(2026, 1, 5, 11, tzinfo=timezone.utc)
        )
        assert segment.flush(timeout=10)
    # Amplitude, through trackwire's client: user-2 twice, and user-1 (same user id).
    events = [
        {"event_type": "Song Played", "user_id": "user-2", "device_id": "device-2",
         "time": _ms(5, 12), "insert_id": "a-1", "session_id": _ms(5, 12),
         "event_properties": {"genre": "rock", "price": 5}, "country": "FR", "platform": "iOS"},
        {"event_type": "Song Played", "user_id": "user-2", "device_id": "device-2",
         "time": _ms(5, 13), "insert_id": "a-2", "session_id": _ms(5, 12),
         "event_properties": {"genre": "rock", "price": 1}, "country": "FR", "platform": "iOS",
         "revenue": 9.99},
        {"event_type": "Song Played", "user_id": "user-1", "time": _ms(7, 8), "insert_id": "a-3",
         "event_properties": {"genre": "rock", "price": 6}},
    ]  # fmt: skip
    with trackwire.Amplitude(KEY, server_url=f"{url}/2/httpapi") as amplitude:
        receipts = amplitude.track(events)
        assert amplitude.flush(timeout=10)
    assert all(receipt.ok for receipt in receipts)
    # mParticle, through trackwire's client: user-3 (plan free), a custom event, a screen view.
    batch = {
        "environment": "development",
        "user_identities": {"customerid": "user-3"},
        "user_attributes": {"plan": "free"},
        "device_info": {"locale_country": "BR"},
        "events": [
            {"event_type": "custom_event",
             "data": {"event_name": "Song Played", "custom_event_type": "other",
                      "timestamp_unixtime_ms": _ms(6, 9), "source_message_id": "m-1",
                      "custom_attributes": {"genre": "pop", "price": 4}}},
            {"event_type": "screen_view",
             "data": {"screen_name": "Settings", "timestamp_unixtime_ms": _ms(6, 9) + 1000,
                      "source_message_id": "m-2"}},
        ],
    }  # fmt: skip
    with trackwire.MParticle(KEY, "mp-secret", environment="development", host=url) as mparticle:
        receipt = mparticle.upload(batch)
        assert mparticle.flush(timeout=10)
    assert receipt.ok, receipt.error


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    db = tmp_path_factory.mktemp("query") / "c.db"
    with start_collector(db=db, port=0) as running:
        _send_everything(running.url)
        yield running


@pytest.fixture
def query(collector: RunningCollector) -> Iterator[AmplitudeQuery]:
    with AmplitudeQuery(KEY, SECRET, query_url=collector.url, timeout=10) as client:
        yield client


DAYS = ("20260105", "20260107")


@pytest.mark.parametrize(
    ("kwargs", "series", "collapsed"),
    [
        ({}, [[2, 2, 1]], [3]),  # user-1 counts once across Segment and Amplitude
        ({"metric": "totals"}, [[3, 2, 1]], [6]),
        ({"metric": "average"}, [[1.5, 1, 1]], [2]),
        ({"metric": "totals", "segments": [{"prop": "gp:plan", "op": "is", "values": ["pro"]}]},
         [[1, 1, 1]], [3]),
        ({"metric": "totals", "segments": [{"prop": "plan", "op": "is not", "values": ["pro"]}]},
         [[2, 1, 0]], [3]),
        ({"metric": "sums", "event": {"event_type": "Song Played",
                                      "group_by": [{"type": "event", "value": "price"}]}},
         [[8, 7, 6]], [21]),
        ({"metric": "totals", "interval": "weekly"}, [[6]], [6]),
        ({"metric": "totals", "event": {"event_type": "Song Played", "filters": [
            {"subprop_type": "event", "subprop_key": "price", "subprop_op": "greater",
             "subprop_value": [3]}]}}, [[1, 1, 1]], [3]),
    ],
)  # fmt: skip
def test_segmentation_numbers(
    query: AmplitudeQuery, kwargs: dict[str, Any], series: list[list[float]], collapsed: list[float]
) -> None:
    event = kwargs.pop("event", "Song Played")
    result = query.event_segmentation(event, *DAYS, **kwargs)
    assert result.series == series
    assert [result.collapsed(i) for i in range(len(series))] == collapsed
    assert result.series_labels == [0]


def test_segmentation_group_by_event_property_and_exact_shape(query: AmplitudeQuery) -> None:
    result = query.event_segmentation(
        "Song Played", *DAYS, metric="totals", group_by={"type": "event", "value": "genre"}
    )
    assert result.raw == {
        "data": {
            "series": [[3, 0, 1], [0, 1, 0], [0, 1, 0]],
            "seriesLabels": [[0, "rock"], [0, "jazz"], [0, "pop"]],
            "seriesCollapsed": [
                [{"setId": "", "value": 4}],
                [{"setId": "", "value": 1}],
                [{"setId": "", "value": 1}],
            ],
            "xValues": ["2026-01-05", "2026-01-06", "2026-01-07"],
        }
    }
    limited = query.event_segmentation(
        "Song Played", *DAYS, metric="totals", group_by={"type": "event", "value": "genre"}, limit=1
    )
    assert limited.series_labels == [[0, "rock"]]


def test_segmentation_group_by_a_built_in_property_of_every_vendor(query: AmplitudeQuery) -> None:
    # Amplitude's country field, mParticle's device_info (kept in the batch's shared context);
    # the Segment events and one Amplitude event carry none.
    result = query.event_segmentation("Song Played", *DAYS, metric="totals", group_by="country")
    assert result.series_labels == [[0, "(none)"], [0, "FR"], [0, "BR"]]
    assert result.series == [[1, 1, 1], [2, 0, 0], [0, 1, 0]]


def test_segmentation_page_and_screen_event_types(query: AmplitudeQuery) -> None:
    assert query.event_segmentation("Viewed Home Page", *DAYS).series == [[1, 0, 0]]
    assert query.event_segmentation("Viewed Settings Screen", *DAYS).series == [[0, 1, 0]]
    # Every active event: identify calls are not active.
    assert query.event_segmentation("_active", *DAYS, metric="totals").series == [[4, 3, 1]]
    assert query.event_segmentation("_all", *DAYS, metric="totals").series == [[5, 3, 1]]


def test_segmentation_hourly_and_pct_dau(query: AmplitudeQuery) -> None:
    hourly = query.event_segmentation("Song Played", "20260105", "20260105", interval="hourly")
    assert len(hourly.x_values) == 24 and hourly.x_values[10] == "2026-01-05T10:00:00"
    assert [hourly.series[0][h] for h in (10, 12, 13)] == [1, 1, 1]
    pct = query.event_segmentation("Song Played", *DAYS, metric="pct_dau")
    assert pct.series == [[100, 100, 100]]


def test_segmentation_of_a_range_without_data_is_zeros(query: AmplitudeQuery) -> None:
    result = query.event_segmentation("Song Played", "20250101", "20250102")
    assert result.series == [[0, 0]]
    assert result.x_values == ["2025-01-01", "2025-01-02"]


def test_unknown_event_is_a_bad_request_with_the_message(query: AmplitudeQuery) -> None:
    with pytest.raises(QueryBadRequestError) as info:
        query.event_segmentation("No Such Event", *DAYS)
    assert info.value.status == 400
    assert "No Such Event" in info.value.message


def test_user_search(query: AmplitudeQuery) -> None:
    exact = query.user_search("user-1")
    assert exact.type == "match_user_or_device_id"
    assert len(exact.matches) == 2  # the Segment user and the Amplitude user
    assert {m.user_id for m in exact.matches} == {"user-1"}
    assert query.user_search("device-2").matches[0].user_id == "user-2"
    prefix = query.user_search("user-")
    assert prefix.type == "match_user_prefix"
    assert {m.user_id for m in prefix.matches} == {"user-1", "user-2", "user-3"}
    by_id = query.user_search(str(exact.matches[0].amplitude_id))
    assert by_id.type == "match_amplitude_id"
    assert query.user_search("nobody").raw == {"matches": [], "type": "nomatch"}


def test_user_activity(query: AmplitudeQuery) -> None:
    amplitude_id = query.user_search("user-2").matches[0].amplitude_id
    activity = query.user_activity(amplitude_id)
    data = activity.user_data
    assert (data.user_id, data.num_events, data.num_sessions) == ("user-2", 2, 1)
    assert (data.purchases, data.revenue) == (1, 9.99)
    assert (data.first_used, data.last_used) == ("2026-01-05", "2026-01-05")
    assert data.device_ids == ["device-2"] and data.last_device_id == "device-2"
    assert (data.raw["country"], data.raw["platform"]) == ("FR", "iOS")
    assert [e["$insert_id"] for e in activity.events] == ["a-2", "a-1"]  # latest first
    assert activity.events[0]["event_properties"] == {"genre": "rock", "price": 1}
    page = query.user_activity(amplitude_id, offset=1, limit=1, direction="latest")
    assert [e["$insert_id"] for e in page.events] == ["a-1"]
    earliest = query.user_activity(amplitude_id, direction="earliest")
    assert [e["$insert_id"] for e in earliest.events] == ["a-1", "a-2"]


def test_user_activity_of_a_segment_user_has_its_traits(query: AmplitudeQuery) -> None:
    match = next(m for m in query.user_search("user-1").matches)
    activity = query.user_activity(match.amplitude_id)
    assert activity.user_data.user_id == "user-1"
    assert activity.events  # either vendor's user has events


def test_user_activity_of_an_unknown_id_is_the_documented_empty_shape(
    query: AmplitudeQuery,
) -> None:
    activity = query.user_activity(987654321)
    assert activity.raw == {"userData": empty_user_data(), "events": []}
    assert not activity.found


# Every export field the reference lists (amplitude.md §3.1).
EXPORT_FIELDS = set(
    [
        "$insert_id",
        "$schema",
        "adid",
        "amplitude_attribution_ids",
        "amplitude_event_type",
        "amplitude_id",
        "app",
        "city",
        "client_event_time",
        "client_upload_time",
        "country",
        "data",
        "device_brand",
        "device_carrier",
        "device_family",
        "device_id",
        "device_manufacturer",
        "device_model",
        "device_type",
        "dma",
        "event_id",
        "event_properties",
        "event_time",
        "event_type",
        "group_properties",
        "groups",
        "idfa",
        "ip_address",
        "is_attribution_event",
        "language",
        "library",
        "location_lat",
        "location_lng",
        "os_name",
        "os_version",
        "paying",
        "platform",
        "processed_time",
        "region",
        "sample_rate",
        "server_received_time",
        "server_upload_time",
        "session_id",
        "start_version",
        "user_creation_time",
        "user_id",
        "user_properties",
        "uuid",
        "version_name",
    ]
)


def test_export(query: AmplitudeQuery, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    seen: list[int] = []
    result = query.export(
        now - timedelta(hours=1), now + timedelta(hours=1), tmp_path / "e.zip",
        progress=lambda done, total: seen.append(done),
    )  # fmt: skip
    assert not result.empty and seen[-1] == result.bytes_written
    names = zipfile.ZipFile(tmp_path / "e.zip").namelist()
    assert names and all(n.endswith("#0.json.gz") and n.count("/") == 1 for n in names)
    events = list(iter_export_events(tmp_path / "e.zip"))
    assert len(events) == 9
    assert all(set(e) >= EXPORT_FIELDS for e in events)
    types = sorted(e["event_type"] for e in events)
    assert types == sorted(
        ["$identify", "Song Played", "Song Played", "Viewed Home Page", "Song Played",
         "Song Played", "Song Played", "Song Played", "Viewed Settings Screen"]
    )  # fmt: skip
    amplitude = next(e for e in events if e["$insert_id"] == "a-1")
    assert amplitude["client_event_time"] == "2026-01-05 12:00:00.000000"
    assert amplitude["event_properties"] == {"genre": "rock", "price": 5}
    assert (amplitude["country"], amplitude["platform"]) == ("FR", "iOS")
    mparticle = next(e for e in events if e["$insert_id"] == "m-1")
    assert mparticle["event_properties"] == {"genre": "pop", "price": 4}
    assert mparticle["user_id"] == "user-3"
    # The upload time is UTC, in Amplitude's format, within the exported hours.
    upload = datetime.strptime(amplitude["server_upload_time"], "%Y-%m-%d %H:%M:%S.%f")
    assert abs(upload.replace(tzinfo=timezone.utc) - now) < timedelta(hours=1)


def test_export_of_a_range_without_data(query: AmplitudeQuery) -> None:
    out = io.BytesIO()
    assert query.export("20200101T00", "20200101T05", out).empty


def _get(url: str, headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", url, headers=headers or {}, retries=False)


@pytest.mark.parametrize(
    "path",
    ["/api/2/export?start=20260105T00&end=20260105T01", "/api/2/usersearch?user=x",
     "/api/2/useractivity?user=1", "/api/2/events/segmentation?e=%7B%7D&start=1&end=2"],
)  # fmt: skip
def test_no_credentials_is_401(collector: RunningCollector, path: str) -> None:
    response = _get(collector.url + path)
    assert response.status == 401
    assert "error" in orjson.loads(response.data)
    assert response.headers["X-Time-Zone"] == "UTC"


def test_bad_parameters_are_400(collector: RunningCollector) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()}
    for path in (
        "/api/2/export?start=2026-01-05&end=20260105T01",
        "/api/2/useractivity?user=abc",
        "/api/2/useractivity?user=1&limit=5000",
        '/api/2/events/segmentation?e={"event_type":"Song Played"}&start=20260105&end=20260101',
        '/api/2/events/segmentation?e={"event_type":"Song Played"}&start=20260105&end=20260106'
        "&m=formula",
    ):
        assert _get(collector.url + path, auth).status == 400, path


def test_keys_mode_checks_the_secret(tmp_path: Path) -> None:
    keys = Keys([Source("web", "amplitude", "amp-key", "amp-secret")])
    with start_collector(db=tmp_path / "k.db", keys=keys) as running:
        events = [{"event_type": "Opened", "user_id": "someone", "insert_id": "k-1"}]
        assert _post(f"{running.url}/2/httpapi", {"api_key": "amp-key", "events": events}) == 200
        wrong = AmplitudeQuery("amp-key", "wrong", query_url=running.url)
        with pytest.raises(QueryAuthError):
            wrong.user_search("someone")
        with AmplitudeQuery("amp-key", "amp-secret", query_url=running.url) as right:
            assert right.user_search("someone").type == "match_user_or_device_id"


# --- the command line -------------------------------------------------------------------------


def _cli(collector: RunningCollector, *args: str) -> list[str]:
    return [args[0], "--url", collector.url, "--api-key", KEY, "--secret-key", SECRET, *args[1:]]


def test_cli_segmentation_table_and_chart(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackwire.cli import main

    argv = _cli(collector, "segmentation", "Song Played", "--start", DAYS[0], "--end", DAYS[1],
                "--metric", "totals", "--group-by-event", "genre")  # fmt: skip
    assert main(["amplitude", *argv]) == 0
    out = capsys.readouterr().out
    assert "2026-01-05" in out and "rock" in out and "jazz" in out
    assert "█" in out  # the chart
    assert "whole range" in out


def test_cli_search_activity_json(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackwire.cli import main

    assert main(["amplitude", *_cli(collector, "search", "user-2")]) == 0
    out = capsys.readouterr().out
    assert "match_user_or_device_id" in out and "user-2" in out
    assert main(["amplitude", *_cli(collector, "search", "user-2", "--json")]) == 0
    amplitude_id = orjson.loads(capsys.readouterr().out)["matches"][0]["amplitude_id"]
    assert main(["amplitude", *_cli(collector, "activity", str(amplitude_id))]) == 0
    out = capsys.readouterr().out
    assert "Song Played" in out and "num_events" in out


def test_cli_export_writes_the_zip(
    collector: RunningCollector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackwire.cli import main

    now = datetime.now(timezone.utc)
    start = (now - timedelta(hours=1)).strftime("%Y%m%dT%H")
    end = (now + timedelta(hours=1)).strftime("%Y%m%dT%H")
    out = tmp_path / "cli.zip"
    argv = _cli(collector, "export", "--start", start, "--end", end, "-o", str(out))
    assert main(["amplitude", *argv]) == 0
    assert len(list(iter_export_events(out))) == 9
    assert "wrote" in capsys.readouterr().out


def test_cli_errors_are_one_line(
    collector: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackwire.cli import main

    argv = _cli(collector, "segmentation", "Nope", "--start", DAYS[0], "--end", DAYS[1])
    assert main(["amplitude", *argv]) == 1
    assert "does not exist" in capsys.readouterr().err
    no_secret = ["amplitude", "search", "x", "--url", collector.url, "--api-key", KEY]
    with pytest.raises(SystemExit) as exited:  # a usage error, shown with the call's usage
        main([*no_secret, "--secret-key", ""])
    assert exited.value.code == 2
    assert "--secret-key is required" in capsys.readouterr().err
    bad_day = _cli(
        collector, "segmentation", "Song Played", "--start", "2026-01-05", "--end", DAYS[1]
    )
    with pytest.raises(SystemExit):
        main(["amplitude", *bad_day])
    assert "YYYYMMDD" in capsys.readouterr().err


def test_raw_answers_say_utc_and_404_for_an_empty_export(collector: RunningCollector) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()}
    found = _get(collector.url + "/api/2/usersearch?user=user-1", auth)
    assert found.status == 200 and found.headers["X-Time-Zone"] == "UTC"
    empty = _get(collector.url + "/api/2/export?start=20200101T00&end=20200101T05", auth)
    assert empty.status == 404
    assert orjson.loads(empty.data) == {"error": "no data in the requested range"}
