"""The query client against a real HTTP server on 127.0.0.1 that answers from a script."""

from __future__ import annotations

import base64
import gzip
import io
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from trackwire.amplitude.query import (
    AmplitudeQuery,
    QueryMethods,
    default_query_url,
    iter_export_events,
)
from trackwire.errors import (
    ConfigError,
    QueryAuthError,
    QueryBadRequestError,
    QueryRateLimitError,
    QueryServerError,
    ValidationError,
)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


class Server:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.paths: list[tuple[str, dict[str, str], str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                server.paths.append((parts.path, query, self.headers.get("Authorization", "")))
                answer = server.answers.pop(0) if server.answers else Answer()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    thread.join()


@pytest.fixture
def query(server: Server) -> Iterator[AmplitudeQuery]:
    with AmplitudeQuery("API", "SECRET", query_url=server.url, timeout=5) as client:
        yield client


def _zip(members: dict[str, list[dict[str, object]]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, events in members.items():
            lines = b"".join(orjson.dumps(e) + b"\n" for e in events)
            archive.writestr(name, gzip.compress(lines))
    return out.getvalue()


@pytest.mark.parametrize(
    ("server_url", "zone", "expected"),
    [
        (None, "US", "https://amplitude.com"),
        (None, "EU", "https://analytics.eu.amplitude.com"),
        (None, "eu", "https://analytics.eu.amplitude.com"),
        ("https://api2.amplitude.com/2/httpapi", "US", "https://amplitude.com"),
        ("https://api.eu.amplitude.com/2/httpapi", "US", "https://analytics.eu.amplitude.com"),
        ("http://127.0.0.1:8787/2/httpapi", "US", "http://127.0.0.1:8787"),
        ("https://collector.example:9000/batch", "EU", "https://collector.example:9000"),
    ],
)
def test_default_query_url(server_url: str | None, zone: str, expected: str) -> None:
    assert default_query_url(server_url, zone) == expected


@pytest.mark.parametrize("secret", [None, ""])
def test_missing_secret_key_is_a_clear_config_error(secret: str | None) -> None:
    with pytest.raises(ConfigError, match="secret_key is required"):
        AmplitudeQuery("API", secret)


@pytest.mark.parametrize(
    "kwargs",
    [{"server_zone": "APAC"}, {"query_url": "ftp://x"}, {"timeout": 0}, {"server_url": "nope"}],
)
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        AmplitudeQuery("API", "SECRET", **kwargs)  # type: ignore[arg-type]


def test_repr_hides_keys() -> None:
    assert "SECRET" not in repr(AmplitudeQuery("API", "SECRET"))


def test_user_search_sends_basic_auth(server: Server, query: AmplitudeQuery) -> None:
    server.answers.append(
        Answer(body=b'{"matches":[{"user_id":"u1","amplitude_id":3}],"type":"match_user_prefix"}')
    )
    result = query.user_search("u")
    path, params, auth = server.paths[0]
    assert (path, params) == ("/api/2/usersearch", {"user": "u"})
    assert auth == "Basic " + base64.b64encode(b"API:SECRET").decode()
    assert result.type == "match_user_prefix"
    assert result.matches[0].amplitude_id == 3


def test_user_activity_params(server: Server, query: AmplitudeQuery) -> None:
    server.answers.append(Answer(body=b'{"userData":{"num_events":0},"events":[]}'))
    query.user_activity(42, offset=5, limit=10, direction="earliest")
    assert server.paths[0][:2] == (
        "/api/2/useractivity",
        {"user": "42", "offset": "5", "limit": "10", "direction": "earliest"},
    )


@pytest.mark.parametrize(
    "kwargs", [{"offset": -1}, {"limit": 0}, {"limit": 1001}, {"direction": "up"}]
)
def test_user_activity_refuses_bad_arguments(
    query: AmplitudeQuery, kwargs: dict[str, object]
) -> None:
    with pytest.raises(QueryBadRequestError):
        query.user_activity(1, **kwargs)  # type: ignore[arg-type]


def test_segmentation_params_on_the_wire(server: Server, query: AmplitudeQuery) -> None:
    server.answers.append(
        Answer(
            body=b'{"data":{"series":[[1,2]],"seriesLabels":[0],'
            b'"seriesCollapsed":[[{"setId":"","value":3}]],'
            b'"xValues":["2026-01-01","2026-01-02"]}}'
        )
    )
    result = query.event_segmentation("Buy", "20260101", "20260102", metric="totals")
    path, params, _ = server.paths[0]
    assert path == "/api/2/events/segmentation"
    assert params == {
        "e": '{"event_type":"Buy"}',
        "start": "20260101",
        "end": "20260102",
        "m": "totals",
        "i": "1",
        "limit": "100",
    }
    assert result.series == [[1, 2]]
    assert result.x_values == ["2026-01-01", "2026-01-02"]


def test_segmentation_checks_before_sending(server: Server, query: AmplitudeQuery) -> None:
    with pytest.raises(ValidationError):
        query.event_segmentation("Buy", "20260102", "20260101")
    assert server.paths == []


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(401, b'{"error":"Invalid API key"}'), QueryAuthError),
        (Answer(403, b"Forbidden"), QueryAuthError),
        (Answer(429, b'{"error":"Too many requests"}', {"Retry-After": "30"}), QueryRateLimitError),
        (Answer(400, b'{"error":"Event type not found"}'), QueryBadRequestError),
        (Answer(500, b"oops"), QueryServerError),
        (Answer(504, b""), QueryServerError),
    ],
)
def test_errors(
    server: Server, query: AmplitudeQuery, answer: Answer, error: type[Exception]
) -> None:
    server.answers.append(answer)
    with pytest.raises(error) as info:
        query.user_search("x")
    assert getattr(info.value, "status", None) == answer.status
    if isinstance(info.value, QueryRateLimitError):
        assert info.value.retry_after == 30.0
    if isinstance(info.value, QueryBadRequestError):
        assert info.value.message == "Event type not found"
        assert "Event type not found" in str(info.value)


def test_unreachable_is_a_server_error() -> None:
    srv = Server()  # bound but never served, then closed: connection refused
    url = srv.url
    srv.httpd.server_close()
    with pytest.raises(QueryServerError, match="cannot reach"):
        AmplitudeQuery("API", "SECRET", query_url=url, timeout=2).user_search("x")


def test_non_json_answer_is_a_server_error(server: Server, query: AmplitudeQuery) -> None:
    server.answers.append(Answer(200, b"<html>"))
    with pytest.raises(QueryServerError, match="not JSON"):
        query.user_search("x")


def test_export_streams_to_a_file(server: Server, query: AmplitudeQuery, tmp_path: Path) -> None:
    body = _zip(
        {
            "187520/187520_2026-01-05_10#0.json.gz": [{"event_type": "c"}],
            "187520/187520_2026-01-05_9#0.json.gz": [{"event_type": "a"}, {"event_type": "b"}],
        }
    )
    server.answers.append(Answer(200, body, {"Content-Type": "application/zip"}))
    seen: list[tuple[int, int | None]] = []
    result = query.export(
        "20260105T09",
        "20260105T10",
        tmp_path / "out.zip",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert server.paths[0][:2] == ("/api/2/export", {"start": "20260105T09", "end": "20260105T10"})
    assert result.bytes_written == len(body) and not result.empty
    assert seen[-1] == (len(body), len(body))
    assert not (tmp_path / "out.zip.part").exists()
    # Hour 9 sorts before hour 10 although its name sorts after as text.
    assert [e["event_type"] for e in iter_export_events(tmp_path / "out.zip")] == ["a", "b", "c"]


def test_export_to_a_stream_and_no_data(server: Server, query: AmplitudeQuery) -> None:
    server.answers.append(Answer(404, b'{"error":"no data"}'))
    out = io.BytesIO()
    result = query.export("20260105T09", "20260105T10", out)
    assert result.empty
    out.seek(0)
    assert list(iter_export_events(out)) == []


def test_export_errors_leave_no_file(server: Server, query: AmplitudeQuery, tmp_path: Path) -> None:
    server.answers.append(Answer(401, b""))
    with pytest.raises(QueryAuthError):
        query.export("20260105T09", "20260105T10", tmp_path / "out.zip")
    assert list(tmp_path.iterdir()) == []


class _Client(QueryMethods):
    def __init__(self, secret: str | None, server_url: str) -> None:
        self._init_query("API", secret, server_url=server_url)


def test_query_methods_mixin(server: Server) -> None:
    server.answers.append(Answer(body=b'{"type":"nomatch","matches":[]}'))
    client = _Client("SECRET", f"{server.url}/2/httpapi")
    assert client.query.query_url == server.url
    assert client.user_search("nobody").type == "nomatch"
    with pytest.raises(ConfigError, match="secret_key is required"):
        _Client(None, f"{server.url}/2/httpapi").user_search("x")
