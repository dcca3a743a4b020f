"""Range limits per interval, and who a user is when ids move (the tests the issue lists)."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.collector.query_support import (
    KEY,
    Api,
    api,
    event,
    ms,
    query_collector,
    query_store,
)
from trackwire.amplitude.query.params import segmentation_params
from trackwire.collector.query.segmentation import plan
from trackwire.errors import ValidationError

__all__ = ["api", "query_collector", "query_store"]


@pytest.mark.parametrize(
    ("interval", "start", "end", "allowed"),
    [
        ("hourly", "20260101", "20260107", True),  # 7 days
        ("hourly", "20260101", "20260108", False),
        ("weekly", "20240101", "20251230", True),  # 730 days
        ("weekly", "20240101", "20251231", False),
        ("daily", "20250101", "20251231", True),  # 365 days
        ("daily", "20250101", "20260101", False),
    ],
)
def test_range_limits_per_interval(interval: str, start: str, end: str, allowed: bool) -> None:
    params = segmentation_params("a", start, end, interval=interval)
    if allowed:
        assert plan(params).x_values
    else:
        with pytest.raises(ValidationError) as info:
            plan(params)
        assert info.value.field == "end"


def _segment(api: Api, batch: list[dict[str, object]]) -> None:
    auth = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    response = api.pool.request(
        "POST", api.url + "/v1/batch", body=orjson.dumps({"batch": batch}),
        headers={"Content-Type": "application/json", "Authorization": auth},
    )  # fmt: skip
    assert response.status == 200, response.data


def _uniques(api: Api, event_type: str = "Play") -> int:
    data = api.data("/api/2/events/segmentation", e={"event_type": event_type},
                    start="20260105", end="20260105")  # fmt: skip
    value: int = data["seriesCollapsed"][0][0]["value"]
    return value


def _amplitude_id(api: Api, user_id: str) -> int:
    found = orjson.loads(api.get("/api/2/usersearch", user=user_id).data)
    assert found["type"] == "match_user_or_device_id", found
    value: int = found["matches"][0]["amplitude_id"]
    return value


def test_a_known_device_with_a_different_user_id_is_another_user(api: Api) -> None:
    api.send([event("Play", "alice-1", ms(5, 9), 1, device_id="shared-device")])
    # The store now knows the device (its cache is warm); another person signs in on it.
    api.send([event("Play", "alice-1", ms(5, 10), 2, device_id="shared-device")])
    api.send([event("Play", "bobby-2", ms(5, 11), 3, device_id="shared-device")])
    assert _uniques(api) == 2
    assert _amplitude_id(api, "alice-1") != _amplitude_id(api, "bobby-2")


def test_a_previous_id_after_an_alias_goes_to_the_linked_user(api: Api) -> None:
    def track(user_id: str, n: int) -> dict[str, object]:
        return {"type": "track", "userId": user_id, "event": "Play", "messageId": f"m-{n}",
                "timestamp": "2026-01-05T12:00:00Z"}  # fmt: skip

    _segment(api, [track("visitor-7", 1)])
    _segment(api, [{"type": "alias", "previousId": "visitor-7", "userId": "member-7",
                    "messageId": "m-2", "timestamp": "2026-01-05T12:01:00Z"}])  # fmt: skip
    # A later request still carrying the previous id: the same person.
    _segment(api, [track("visitor-7", 3), track("member-7", 4)])
    # And again, once the store has cached what those requests taught it.
    _segment(api, [track("visitor-7", 5)])
    _segment(api, [track("visitor-7", 6)])
    assert _uniques(api) == 1
