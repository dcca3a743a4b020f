"""Tracking plans: which events and properties a team allows, checked on every stored event.

A plan is a JSON or YAML file. Its canonical form is trackwire's own, one JSON Schema per event
for the event's properties (the shape Segment Protocols, Amplitude Data's taxonomy, Iglu and
mParticle data plans all reduce to)::

    unplanned_events: violation      # or "allow": events the plan does not name are fine
    events:
      Song Played:
        properties:                  # a JSON Schema of the event's properties object
          type: object
          properties:
            title: {type: string}
            duration_s: {type: number, minimum: 0}
          required: [title]
        vendors: [amplitude]         # optional: the plan entry applies to these vendors only
    identify:                        # optional: a JSON Schema of identify traits / user properties
      type: object
      properties:
        plan: {enum: [free, pro]}

Segment's own exports load unchanged: a Typewriter / Config API plan (``{"events": [{"name",
"rules"}]}`` or ``{"rules": {"events": [...], "identify": ...}}``, where an event's property
rules sit at ``rules.properties.properties``) and the Public API's rule list (``[{"key",
"type", "json_schema"}]``).

Every event is first seen the same way whatever its vendor (:func:`view`): its kind (``track``
for an event with a name, ``identify`` for user traits), its name, its properties and its traits:

- Segment: ``track`` → ``event``/``properties``; ``page``/``screen`` → ``name``/``properties``;
  ``identify`` → ``traits``.
- Amplitude: an event → ``event_type``/``event_properties``; ``$identify`` → the values its
  ``user_properties`` set (``$set``, ``$setOnce``, or plain keys).
- mParticle: an event → ``data.event_name`` (``screen_name`` for a screen view) /
  ``data.custom_attributes``; a batch's ``user_attributes`` → traits.

A violation (:class:`Violation`) names its type with RudderStack's names (``Unplanned-Event``,
``Required-Missing``, ``Datatype-Mismatch``, ``Additional-Properties``) plus ``Invalid-Value``
for a value outside an ``enum``, ``pattern``, range or format, a JSON Pointer to the value and a
message. The check is a pure function of the plan and the message, so a stored event's
violations are recomputed whenever they are listed and never go stale with the plan.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import orjson
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from jsonschema.exceptions import ValidationError as SchemaViolation

from trackwire.errors import ConfigError

__all__ = [
    "PLAN_MODES",
    "EventView",
    "PlanMode",
    "TrackingPlan",
    "Violation",
    "load_plan",
    "view",
]

#: ``record`` stores every event and lists its violations; ``enforce`` stores only the events
#: that follow the plan and keeps the others, with their violations, among the refused.
PlanMode = Literal["record", "enforce"]
PLAN_MODES: Final[tuple[PlanMode, ...]] = ("record", "enforce")

ViolationType = Literal[
    "Unplanned-Event",
    "Required-Missing",
    "Datatype-Mismatch",
    "Additional-Properties",
    "Invalid-Value",
]

#: jsonschema keyword → violation type; any other keyword is an invalid value.
_KEYWORD_TYPES: Final[Mapping[str, ViolationType]] = {
    "required": "Required-Missing",
    "type": "Datatype-Mismatch",
    "additionalProperties": "Additional-Properties",
    "unevaluatedProperties": "Additional-Properties",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One way an event breaks the plan.

    Attributes:
        type: ``Unplanned-Event``, ``Required-Missing``, ``Datatype-Mismatch``,
            ``Additional-Properties`` or ``Invalid-Value``.
        path: a JSON Pointer into the event's view (``/properties/title``); ``""`` for the
            event itself.
        message: what is wrong, in words.
    """

    type: ViolationType
    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The violation as JSON-ready data."""
        return {"type": self.type, "path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class EventView:
    """An event as a tracking plan sees it, whatever its vendor.

    Attributes:
        kind: ``"track"`` (an event with a name: Segment track/page/screen, an Amplitude event,
            an mParticle event), ``"identify"`` (user traits) or ``"other"`` (not checked).
        name: the event's name, for ``track``.
        properties: the event's properties (``{}`` when it has none).
        traits: the user traits or properties it sets (``{}`` when none).
    """

    kind: Literal["track", "identify", "other"]
    name: str | None
    properties: Mapping[str, Any]
    traits: Mapping[str, Any]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _amplitude_traits(user_properties: Any) -> Mapping[str, Any]:
    """The values an Amplitude ``user_properties`` sets: ``$set``/``$setOnce`` or plain keys."""
    props = _mapping(user_properties)
    if not any(key.startswith("$") for key in props):
        return props
    return {**_mapping(props.get("$setOnce")), **_mapping(props.get("$set"))}


def view(vendor: str, type: str, message: Mapping[str, Any]) -> EventView:
    """How the plan sees one stored message (its full payload, as ``/events`` lists it).

    Args:
        vendor: ``"segment"``, ``"amplitude"`` or ``"mparticle"``.
        type: the stored type (a Segment call, Amplitude ``event``/``identify``/
            ``groupidentify``, an mParticle event type or ``"batch"``).
        message: the message as received (an mParticle event's batch with that event alone).
    """
    if vendor == "segment":
        if type == "track":
            name = message.get("event")
            return EventView("track", _name(name), _mapping(message.get("properties")), {})
        if type in ("page", "screen"):
            name = message.get("name")
            return EventView("track", _name(name), _mapping(message.get("properties")), {})
        if type == "identify":
            return EventView("identify", None, {}, _mapping(message.get("traits")))
        return EventView("other", None, {}, {})
    if vendor == "amplitude":
        if type == "event":
            props = _mapping(message.get("event_properties"))
            return EventView("track", _name(message.get("event_type")), props, {})
        if type == "identify":
            traits = _amplitude_traits(message.get("user_properties"))
            return EventView("identify", None, {}, traits)
        return EventView("other", None, {}, {})
    if vendor == "mparticle":
        events = message.get("events")
        if type == "batch" or not isinstance(events, list) or not events:
            traits = _mapping(message.get("user_attributes"))
            return EventView("identify", None, {}, traits) if traits else _OTHER
        data = _mapping(_mapping(events[0]).get("data"))
        name = data.get("event_name", data.get("screen_name"))
        if name is None:
            return _OTHER
        return EventView("track", _name(name), _mapping(data.get("custom_attributes")), {})
    return _OTHER


_OTHER: Final = EventView("other", None, {}, {})


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class _EventRule:
    validator: Draft202012Validator
    vendors: frozenset[str] | None


class TrackingPlan:
    """A loaded tracking plan: checks events against it (see the module's documentation).

    Args:
        events: event name → JSON Schema of its properties, and the vendors it applies to
            (None: every vendor).
        identify: a JSON Schema of identify traits, or None to leave traits unchecked.
        unplanned_events: ``"violation"`` (an event the plan does not name is a violation) or
            ``"allow"``.
        source: where the plan came from, for messages.

    Raises:
        ConfigError: a schema is not a valid JSON Schema.
    """

    def __init__(
        self,
        events: Mapping[str, tuple[Mapping[str, Any], Iterable[str] | None]],
        *,
        identify: Mapping[str, Any] | None = None,
        unplanned_events: Literal["violation", "allow"] = "violation",
        source: str = "the plan",
    ) -> None:
        self.source = source
        self.unplanned_events = unplanned_events
        self._events = {
            name: _EventRule(
                _validator(schema, f"{source}: event {name!r}"),
                None if vendors is None else frozenset(vendors),
            )
            for name, (schema, vendors) in events.items()
        }
        self._identify = None if identify is None else _validator(identify, f"{source}: identify")

    @property
    def event_names(self) -> list[str]:
        """The planned events' names, sorted."""
        return sorted(self._events)

    def check(self, vendor: str, type: str, message: Mapping[str, Any]) -> list[Violation]:
        """The ways one message breaks the plan; empty when it follows it.

        Args:
            vendor: the vendor the message came to.
            type: its stored type.
            message: the full message (see :func:`view`).
        """
        seen = view(vendor, type, message)
        if seen.kind == "identify":
            if self._identify is None:
                return []
            return _violations(self._identify, seen.traits, "/traits")
        if seen.kind != "track":
            return []
        rule = self._events.get(seen.name or "")
        if rule is None or (rule.vendors is not None and vendor not in rule.vendors):
            if self.unplanned_events == "allow":
                return []
            text = f"event {seen.name!r} is not in {self.source}"
            return [Violation("Unplanned-Event", "", text)]
        return _violations(rule.validator, seen.properties, "/properties")


def _validator(schema: Mapping[str, Any], where: str) -> Draft202012Validator:
    if not isinstance(schema, Mapping):
        raise ConfigError(f"{where}: a JSON Schema must be an object, got {type(schema).__name__}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(f"{where}: not a valid JSON Schema: {exc.message}") from exc
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _violations(
    validator: Draft202012Validator, value: Mapping[str, Any], root: str
) -> list[Violation]:
    found = sorted(validator.iter_errors(dict(value)), key=lambda error: list(error.path))
    return [_violation(error, root) for error in found]


def _violation(error: SchemaViolation, root: str) -> Violation:
    path = [str(part) for part in error.path]
    required = error.validator_value
    if error.validator == "required" and isinstance(error.instance, Mapping):
        # jsonschema reports a missing key at its parent; the pointer names the key itself.
        names = required if isinstance(required, list) else []
        missing = [key for key in names if key not in error.instance]
        if missing:
            path.append(str(missing[0]))
    pointer = root + "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)
    kind = _KEYWORD_TYPES.get(str(error.validator), "Invalid-Value")
    return Violation(kind, pointer, error.message)


# --- loading -------------------------------------------------------------------------------------


def load_plan(path: str | os.PathLike[str]) -> TrackingPlan:
    """Read a tracking plan file (JSON, or YAML by its ``.yaml``/``.yml`` suffix).

    Raises:
        ConfigError: the file cannot be read or parsed, or is not a plan of a known shape.
    """
    where = os.fspath(path)
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the tracking plan {where}: {exc.strerror}") from exc
    try:
        if Path(path).suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = orjson.loads(text)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"the tracking plan {where} is not valid JSON or YAML: {exc}") from exc
    return plan_from_data(data, source=where)


def plan_from_data(data: Any, *, source: str = "the plan") -> TrackingPlan:
    """A plan from parsed data in any of the shapes the module documents.

    Raises:
        ConfigError: the data is not a plan of a known shape.
    """
    if isinstance(data, list):
        return _from_rule_list(data, source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a tracking plan is an object (or a list of rules)")
    if isinstance(data.get("rules"), Mapping):  # Segment Config API
        rules = data["rules"]
        return _from_segment(rules.get("events", []), rules.get("identify"), data, source)
    events = data.get("events", {})
    if isinstance(events, list):  # Segment Typewriter
        return _from_segment(events, data.get("identify"), data, source)
    if not isinstance(events, Mapping):
        raise ConfigError(f"{source}: 'events' must map event names to their rules")
    planned: dict[str, tuple[Mapping[str, Any], Iterable[str] | None]] = {}
    for name, rule in events.items():
        rule = rule or {}
        if not isinstance(rule, Mapping):
            raise ConfigError(f"{source}: event {name!r} must be an object with 'properties'")
        vendors = rule.get("vendors")
        if vendors is not None and not (
            isinstance(vendors, list) and all(isinstance(v, str) for v in vendors)
        ):
            raise ConfigError(f"{source}: event {name!r}: 'vendors' must be a list of names")
        planned[str(name)] = (rule.get("properties", {}), vendors)
    return TrackingPlan(
        planned,
        identify=data.get("identify"),
        unplanned_events=_unplanned(data, source),
        source=source,
    )


def _unplanned(data: Mapping[str, Any], source: str) -> Literal["violation", "allow"]:
    value = data.get("unplanned_events", "violation")
    if value not in ("violation", "allow"):
        raise ConfigError(f"{source}: 'unplanned_events' is 'violation' or 'allow', not {value!r}")
    return "allow" if value == "allow" else "violation"


def _segment_properties(rules: Any) -> Mapping[str, Any]:
    """The properties schema inside a Segment event rule (``rules.properties.properties``)."""
    slots = _mapping(_mapping(rules).get("properties"))
    return _mapping(slots.get("properties"))


def _from_segment(events: Any, identify: Any, data: Mapping[str, Any], source: str) -> TrackingPlan:
    if not isinstance(events, Sequence):
        raise ConfigError(f"{source}: 'events' must be a list of {{name, rules}}")
    planned: dict[str, tuple[Mapping[str, Any], Iterable[str] | None]] = {}
    for event in events:
        if not isinstance(event, Mapping) or not isinstance(event.get("name"), str):
            raise ConfigError(f"{source}: each event needs a 'name' and 'rules'")
        planned[event["name"]] = (_segment_properties(event.get("rules")), None)
    identify_schema = _segment_traits(identify)
    return TrackingPlan(
        planned, identify=identify_schema, unplanned_events=_unplanned(data, source), source=source
    )


def _segment_traits(identify: Any) -> Mapping[str, Any] | None:
    """The traits schema of a Segment identify rule (``traits`` slot), or the schema itself."""
    if not isinstance(identify, Mapping):
        return None
    slots = _mapping(identify.get("properties"))
    traits = slots.get("traits")
    return _mapping(traits) if isinstance(traits, Mapping) else identify


def _from_rule_list(rules: list[Any], source: str) -> TrackingPlan:
    """Segment's Public API rules: ``[{"key", "type", "json_schema"}]``."""
    planned: dict[str, tuple[Mapping[str, Any], Iterable[str] | None]] = {}
    identify: Mapping[str, Any] | None = None
    for rule in rules:
        if not isinstance(rule, Mapping):
            raise ConfigError(f"{source}: each rule is an object with 'type' and 'json_schema'")
        kind = str(rule.get("type", "")).upper()
        if kind in ("TRACK", "PAGE", "SCREEN") and isinstance(rule.get("key"), str):
            planned[rule["key"]] = (_segment_properties(rule.get("json_schema")), None)
        elif kind == "IDENTIFY":
            identify = _segment_traits(rule.get("json_schema"))
    return TrackingPlan(planned, identify=identify, source=source)
