"""Flask: the extension builds the client, adds request context and drains it."""

from __future__ import annotations

import pytest
from flask import Flask

import trackwire
from trackwire.errors import ConfigError
from trackwire.integrations.flask import Trackwire
from trackwire.testing import RecordingTransport


def test_init_app_request_context_and_drain() -> None:
    transport = RecordingTransport()
    analytics = Trackwire(
        factory=lambda: trackwire.MParticle(
            "k", "s", environment="development", transport=transport, flush_interval=3600
        )
    )
    app = Flask(__name__)
    analytics.init_app(app)

    @app.post("/play")
    def play() -> str:
        analytics.client.upload(
            {"user_identities": {"customer_id": "user-1"},
             "events": [{"event_type": "custom_event",
                         "data": {"event_name": "Played", "custom_event_type": "other"}}]}
        )  # fmt: skip
        return "ok"

    response = app.test_client().post(
        "/play", headers={"User-Agent": "UA/3"}, environ_base={"REMOTE_ADDR": "192.0.2.5"}
    )
    assert response.status_code == 200
    assert app.extensions["trackwire"] is analytics
    assert analytics.shutdown(timeout=10)
    [batch] = transport.messages()
    assert batch["ip"] == "192.0.2.5"
    assert batch["device_info"] == {"http_header_user_agent": "UA/3"}


def test_config_factory_and_missing_factory() -> None:
    transport = RecordingTransport()
    app = Flask(__name__)
    app.config["TRACKWIRE_FACTORY"] = lambda: trackwire.Segment("k", transport=transport)
    analytics = Trackwire(app)
    with app.test_request_context("/"):
        analytics.client.track("user-1", "Outside a view")
    assert analytics.flush(timeout=10)
    assert [m["event"] for m in transport.messages()] == ["Outside a view"]
    analytics.shutdown(timeout=5)
    with pytest.raises(ConfigError, match="TRACKWIRE_FACTORY"):
        Trackwire(Flask("bare"))
