"""Tracking plans: loading every accepted shape, seeing each vendor's events, naming violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwire.collector.plan import (
    EventView,
    TrackingPlan,
    Violation,
    load_plan,
    plan_from_data,
    view,
)
from trackwire.errors import ConfigError

SONG = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "seconds": {"type": "number", "minimum": 0}},
    "required": ["title"],
    "additionalProperties": False,
}

CANONICAL_YAML = """
events:
  Song Played:
    properties:
      type: object
      properties:
        title: {type: string}
        seconds: {type: number, minimum: 0}
      required: [title]
      additionalProperties: false
  Signed Up:
    vendors: [segment]
identify:
  type: object
  properties:
    plan: {enum: [free, pro]}
"""


def _canonical() -> TrackingPlan:
    return plan_from_data({"events": {"Song Played": {"properties": SONG}}})


# --- what each vendor's message looks like to a plan ---------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "type", "message", "expected"),
    [
        (
            "segment",
            "track",
            {"event": "Song Played", "properties": {"title": "x"}},
            EventView("track", "Song Played", {"title": "x"}, {}),
        ),
        (
            "segment",
            "page",
            {"name": "Home", "properties": {"path": "/"}},
            EventView("track", "Home", {"path": "/"}, {}),
        ),
        (
            "segment",
            "identify",
            {"traits": {"plan": "pro"}},
            EventView("identify", None, {}, {"plan": "pro"}),
        ),
        ("segment", "alias", {"previousId": "a"}, EventView("other", None, {}, {})),
        (
            "amplitude",
            "event",
            {"event_type": "Song Played", "event_properties": {"title": "x"}},
            EventView("track", "Song Played", {"title": "x"}, {}),
        ),
        (
            "amplitude",
            "identify",
            {"user_properties": {"$set": {"plan": "pro"}, "$setOnce": {"first": 1}, "$add": {}}},
            EventView("identify", None, {}, {"plan": "pro", "first": 1}),
        ),
        (
            "amplitude",
            "identify",
            {"user_properties": {"plan": "pro"}},
            EventView("identify", None, {}, {"plan": "pro"}),
        ),
        (
            "mparticle",
            "custom_event",
            {"events": [{"data": {"event_name": "Play", "custom_attributes": {"a": "1"}}}]},
            EventView("track", "Play", {"a": "1"}, {}),
        ),
        (
            "mparticle",
            "screen_view",
            {"events": [{"data": {"screen_name": "Home"}}]},
            EventView("track", "Home", {}, {}),
        ),
        (
            "mparticle",
            "batch",
            {"events": [], "user_attributes": {"plan": "pro"}},
            EventView("identify", None, {}, {"plan": "pro"}),
        ),
        ("mparticle", "batch", {"events": []}, EventView("other", None, {}, {})),
    ],
)
def test_view_sees_every_vendor_the_same_way(
    vendor: str, type: str, message: dict[str, Any], expected: EventView
) -> None:
    assert view(vendor, type, message) == expected


# --- violations ----------------------------------------------------------------------------------


def test_an_event_that_follows_the_plan_has_no_violation() -> None:
    message = {"event": "Song Played", "properties": {"title": "Hey", "seconds": 3}}
    assert _canonical().check("segment", "track", message) == []


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        (
            {},
            [Violation("Required-Missing", "/properties/title", "'title' is a required property")],
        ),
        (
            {"title": 7},
            [Violation("Datatype-Mismatch", "/properties/title", "7 is not of type 'string'")],
        ),
        (
            {"title": "x", "seconds": -1},
            [Violation("Invalid-Value", "/properties/seconds", "-1 is less than the minimum of 0")],
        ),
        (
            {"title": "x", "extra": 1},
            [
                Violation(
                    "Additional-Properties",
                    "/properties",
                    "Additional properties are not allowed ('extra' was unexpected)",
                )
            ],
        ),
    ],
)
def test_each_kind_of_violation_is_named_with_a_pointer(
    properties: dict[str, Any], expected: list[Violation]
) -> None:
    message = {"event_type": "Song Played", "event_properties": properties}
    assert _canonical().check("amplitude", "event", message) == expected


def test_an_unplanned_event_is_a_violation_unless_allowed() -> None:
    message = {"event": "Mystery", "properties": {}}
    found = _canonical().check("segment", "track", message)
    assert [v.type for v in found] == ["Unplanned-Event"]
    assert "Mystery" in found[0].message
    allowing = plan_from_data({"events": {}, "unplanned_events": "allow"})
    assert allowing.check("segment", "track", message) == []


def test_a_plan_entry_limited_to_a_vendor_does_not_plan_the_others(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(CANONICAL_YAML)
    plan = load_plan(path)
    assert plan.check("segment", "track", {"event": "Signed Up"}) == []
    found = plan.check("amplitude", "event", {"event_type": "Signed Up"})
    assert [v.type for v in found] == ["Unplanned-Event"]


def test_identify_traits_are_checked_against_the_identify_schema(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    path.write_text(CANONICAL_YAML)
    plan = load_plan(path)
    good = {"user_properties": {"$set": {"plan": "pro"}}}
    bad = {"user_properties": {"$set": {"plan": "gold"}}}
    assert plan.check("amplitude", "identify", good) == []
    assert [(v.type, v.path) for v in plan.check("amplitude", "identify", bad)] == [
        ("Invalid-Value", "/traits/plan")
    ]


def test_messages_the_plan_does_not_cover_are_not_checked() -> None:
    assert _canonical().check("segment", "alias", {"previousId": "a", "userId": "b"}) == []
    # No identify schema: traits are free.
    assert _canonical().check("segment", "identify", {"traits": {"anything": 1}}) == []


def test_a_pointer_escapes_slashes_and_tildes() -> None:
    schema = {"type": "object", "properties": {"a/b~c": {"type": "string"}}}
    plan = plan_from_data({"events": {"E": {"properties": schema}}})
    found = plan.check("segment", "track", {"event": "E", "properties": {"a/b~c": 1}})
    assert found[0].path == "/properties/a~1b~0c"


# --- loading the shapes in use -------------------------------------------------------------------


def _segment_rules(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"context": {}, "traits": {}, "properties": properties},
        "required": ["properties"],
    }


def test_a_typewriter_plan_loads(tmp_path: Path) -> None:
    plan = {"events": [{"name": "Song Played", "rules": _segment_rules(SONG)}]}
    path = tmp_path / "plan.json"
    path.write_bytes(orjson.dumps(plan))
    loaded = load_plan(path)
    assert loaded.event_names == ["Song Played"]
    found = loaded.check("segment", "track", {"event": "Song Played", "properties": {}})
    assert [v.type for v in found] == ["Required-Missing"]


def test_a_config_api_plan_loads_with_its_identify_traits() -> None:
    identify = {
        "type": "object",
        "properties": {"traits": {"type": "object", "required": ["email"]}},
    }
    data = {
        "display_name": "Plan",
        "rules": {
            "events": [{"name": "Song Played", "rules": _segment_rules(SONG)}],
            "identify": identify,
        },
    }
    plan = plan_from_data(data)
    found = plan.check("segment", "identify", {"traits": {}})
    assert [(v.type, v.path) for v in found] == [("Required-Missing", "/traits/email")]


def test_a_public_api_rule_list_loads() -> None:
    rules = [
        {"key": "Song Played", "type": "TRACK", "version": 1, "json_schema": _segment_rules(SONG)},
        {"key": "Home", "type": "PAGE", "version": 1, "json_schema": _segment_rules({})},
    ]
    plan = plan_from_data(rules)
    assert plan.event_names == ["Home", "Song Played"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("just text", "a tracking plan is an object"),
        ({"events": 3}, "'events' must map event names"),
        ({"events": {"E": {"properties": {"type": "no-such-type"}}}}, "not a valid JSON Schema"),
        ({"events": {"E": {"vendors": "amplitude"}}}, "'vendors' must be a list"),
        ({"events": {}, "unplanned_events": "maybe"}, "'unplanned_events' is 'violation' or"),
        ({"events": [{"rules": {}}]}, "each event needs a 'name'"),
    ],
)
def test_a_bad_plan_is_one_clear_error(data: Any, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        plan_from_data(data, source="plan.json")


def test_an_unreadable_or_unparsable_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the tracking plan"):
        load_plan(tmp_path / "missing.json")
    broken = tmp_path / "plan.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON or YAML"):
        load_plan(broken)
