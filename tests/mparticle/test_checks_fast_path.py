"""The fast check never accepts what the full checks refuse, and does accept common batches."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from trackwire.mparticle import wire
from trackwire.mparticle.models.checks import limit_problems, plainly_valid


def common() -> dict[str, Any]:
    return {
        "environment": "production",
        "source_request_id": "r-1",
        "mpid": 7346244611012968789,
        "user_identities": {"customer_id": "u-1", "email": "a@x.io"},
        "user_attributes": {
            "plan": "pro",
            "tags": ["a", "b"],
            "age": 41,
            "vip": True,
            "gone": None,
        },
        "deleted_user_attributes": ["old"],
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "Hello",
                    "custom_event_type": "navigation",
                    "timestamp_unixtime_ms": 1767225600000,
                    "source_message_id": "m-1",
                    "custom_attributes": {"a": 1, "b": "x", "c": 1.5, "d": False, "e": None},
                    "custom_flags": {"Google.Category": "c"},
                },
            },
            {"event_type": "screen_view", "data": {"screen_name": "Home", "session_id": 3}},
            {"event_type": "session_start", "data": {"session_uuid": "s-1"}},
            {"event_type": "session_end", "data": {"session_duration_ms": 5000}},
        ],
    }


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(batch: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = batch
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(batch: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = batch
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[last]

    return apply


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("environment", _set("environment", "staging")),
    ("no environment", _delete("environment")),
    ("request id type", _set("source_request_id", 5)),
    ("mpid type", _set("mpid", "7")),
    ("mpid bool", _set("mpid", True)),
    ("identity key", _set("user_identities/customerid_x", "1")),
    ("identity value", _set("user_identities/email", 5)),
    ("no user", _set("user_identities", {})),
    ("identities type", _set("user_identities", ["u"])),
    ("user attribute object", _set("user_attributes/o", {"a": 1})),
    ("user attribute list of objects", _set("user_attributes/tags", [{"a": 1}])),
    ("user attribute count", _set("user_attributes", {str(i): i for i in range(101)})),
    ("user attribute name", _set("user_attributes", {"k" * 257: 1})),
    ("user attribute value", _set("user_attributes/plan", "v" * 4097)),
    ("user attribute list length", _set("user_attributes/tags", ["a"] * 1001)),
    ("user attribute list item", _set("user_attributes/tags", ["a" * 513])),
    ("deleted type", _set("deleted_user_attributes", "old")),
    ("deleted item", _set("deleted_user_attributes", [1])),
    ("events type", _set("events", {})),
    ("event not object", _set("events/0", "x")),
    ("event type", _set("events/0/event_type", "custom")),
    ("no event type", _delete("events/0/event_type")),
    ("data type", _set("events/0/data", [])),
    ("no event name", _delete("events/0/data/event_name")),
    ("empty event name", _set("events/0/data/event_name", "")),
    ("event name type", _set("events/0/data/event_name", 5)),
    ("event name length", _set("events/0/data/event_name", "n" * 257)),
    ("custom type", _set("events/0/data/custom_event_type", "shopping")),
    ("no custom type", _delete("events/0/data/custom_event_type")),
    ("timestamp type", _set("events/0/data/timestamp_unixtime_ms", "1")),
    ("timestamp float", _set("events/0/data/timestamp_unixtime_ms", 1.5)),
    ("message id type", _set("events/0/data/source_message_id", 1)),
    ("attribute object", _set("events/0/data/custom_attributes/o", {"a": 1})),
    ("attribute list", _set("events/0/data/custom_attributes/o", [1])),
    ("attribute count", _set("events/0/data/custom_attributes", {str(i): i for i in range(101)})),
    ("attribute name", _set("events/0/data/custom_attributes", {"k" * 257: 1})),
    ("attribute value", _set("events/0/data/custom_attributes/b", "v" * 4097)),
    ("attributes type", _set("events/0/data/custom_attributes", [1])),
    ("flags list", _set("events/0/data/custom_flags/l", ["a"])),
    ("location", _set("events/0/data/location", {"latitude": "x"})),
    ("screen name", _delete("events/1/data/screen_name")),
    ("session id type", _set("events/1/data/session_id", "3")),
    ("duration type", _set("events/3/data/session_duration_ms", 1.5)),
    ("commerce", _set("events/0", {"event_type": "commerce_event", "data": {}})),
    ("device info", _set("device_info", {"platform": "web"})),
    ("ip", _set("ip", "1.2.3.4")),
    ("consent", _set("consent_state", {"ccpa": {}})),
]


def test_common_batches_take_the_fast_path() -> None:
    batch = common()
    assert plainly_valid(batch)
    assert wire.check_batch(batch) == [] and limit_problems(batch) == []


@pytest.mark.parametrize("mutate", [m[1] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_fast_path_accepts_nothing_the_full_checks_refuse(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    batch = copy.deepcopy(common())
    mutate(batch)
    full_ok = not wire.check_batch(batch) and not limit_problems(batch)
    if plainly_valid(batch):
        assert full_ok
