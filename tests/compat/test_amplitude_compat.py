"""``trackwire.compat.amplitude`` against amplitude-analytics 1.3, side by side.

amplitude-analytics publishes no tests in its wheel or sdist, so the proof here is
differential: the same calls on the official classes and on the compat ones must give the same
event bodies, the same refusals and the same signatures; and the compat client must deliver
through trackwire's engine to a real collector on 127.0.0.1.
"""

from __future__ import annotations

import enum
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import amplitude as official
import trackwire.compat.amplitude as compat
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.errors import ConfigError


class Color(enum.Enum):
    RED = "red"


@pytest.fixture(scope="module")
def collector() -> Iterator[RunningCollector]:
    with start_collector() as running:
        yield running


def both(build: Callable[[Any], Any]) -> tuple[Any, Any]:
    """``build`` run with the official module and with the compat one."""
    return build(official), build(compat)


EVENTS: dict[str, Callable[[Any], Any]] = {
    "plain": lambda m: m.BaseEvent("Song Played", user_id="user-1", event_properties={"n": 1}),
    "positional": lambda m: m.BaseEvent("E", "user-1", "device-1", 1700000000000, {"p": 1}),
    "wrong types ignored": lambda m: m.BaseEvent("E", user_id=12345, time="now", price=3),
    "enum and none props": lambda m: m.BaseEvent(
        "E", user_id="user-1", event_properties={"c": Color.RED, "gone": None, "k": [1, "a"]}
    ),
    "invalid props object": lambda m: m.BaseEvent(
        "E", user_id="user-1", event_properties={"nested": [[1]]}
    ),
    "long strings": lambda m: m.BaseEvent(
        "E" * 2000, user_id="user-1", event_properties={"s": "x" * 3000, "l": ["y" * 1500]}
    ),
    "too many keys": lambda m: m.BaseEvent(
        "E", user_id="user-1", event_properties={f"k{i}": i for i in range(1100)}
    ),
    "plan and metadata": lambda m: m.BaseEvent(
        "E",
        user_id="user-1",
        plan=m.Plan(branch="main", version_id="v9", source=7),
        ingestion_metadata=m.IngestionMetadata("etl", "2.0"),
        product_id="sku-1",
        revenue_type="purchase",
    ),
    "identify event": lambda m: m.IdentifyEvent(
        user_id="user-1", identify_obj=m.Identify().set("plan", "pro").unset("old")
    ),
    "group identify": lambda m: m.GroupIdentifyEvent(
        groups={"org": "acme"}, identify_obj=m.Identify().set_once("tier", "gold")
    ),
    "revenue event": lambda m: m.RevenueEvent(
        user_id="user-1", revenue_obj=m.Revenue(price=3.99, quantity=2, properties={"a": 1})
    ),
    "identify rules": lambda m: m.IdentifyEvent(
        user_id="user-1",
        identify_obj=m.Identify()
        .set("a", 1)
        .set("a", 2)
        .add("n", "x")
        .append("l", [1, {"k": "v"}])
        .pre_insert("p", [[1]])
        .clear_all(),
    ),
    "options loaded": lambda m: _loaded(m),
}


def _loaded(m: Any) -> Any:
    event = m.BaseEvent("E", user_id="user-0", event_properties={"x": 1})
    event.load_event_options(m.EventOptions(user_id="user-9", country="NL", session_id=7))
    event["unknown_key"] = 1
    event["groups"] = {"org": "acme"}
    return event


@pytest.mark.parametrize("name", list(EVENTS))
def test_event_bodies_are_the_official_ones(name: str) -> None:
    theirs, ours = both(EVENTS[name])

    assert ours.get_event_body() == theirs.get_event_body()
    assert str(ours) == str(theirs)
    for key in ("user_id", "time", "price", "event_type", "missing"):
        assert (key in ours, ours[key]) == (key in theirs, theirs[key])


def test_wrong_types_are_logged_on_the_amplitude_logger_as_the_official_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="amplitude"):
        official.BaseEvent("E", user_id=12345)
        theirs = [record.getMessage() for record in caplog.records]
        caplog.clear()
        compat.BaseEvent("E", user_id=12345)
        ours = [record.getMessage() for record in caplog.records]

    assert ours == theirs and ours


def test_revenue_rules_are_the_official_ones() -> None:
    for price, quantity in [(3.99, 1), (3, 1), (3.5, 0), (2.0, 2.0)]:
        theirs, ours = both(lambda m, p=price, q=quantity: m.Revenue(price=p, quantity=q))
        assert ours.is_valid() == theirs.is_valid()
        assert ours.get_event_properties() == theirs.get_event_properties()


@pytest.mark.parametrize(
    "name",
    ["EventOptions", "BaseEvent", "IdentifyEvent", "GroupIdentifyEvent", "RevenueEvent",
     "Revenue", "Plan", "IngestionMetadata", "Config"],
)  # fmt: skip
def test_constructors_take_the_official_parameters_in_order(name: str) -> None:
    theirs = list(inspect.signature(getattr(official, name)).parameters)
    ours = list(inspect.signature(getattr(compat, name)).parameters)

    assert ours == theirs


def test_the_package_exports_what_the_official_one_does() -> None:
    # Classes and enums; of the official modules, those user code reads (not its internals:
    # worker, processor, storage, timeline, http_client, exception).
    public = {
        name
        for name, value in vars(official).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    } | {"constants", "utils", "event", "config", "plugin", "client"}

    assert sorted(public - set(vars(compat))) == []
    for method in ("track", "identify", "group_identify", "revenue", "set_group", "flush",
                   "add", "remove", "shutdown"):  # fmt: skip
        theirs = list(inspect.signature(getattr(official.Amplitude, method)).parameters)
        assert list(inspect.signature(getattr(compat.Amplitude, method)).parameters) == theirs
    assert compat.constants.SERVER_URL == official.constants.SERVER_URL


def test_the_client_delivers_every_call_and_calls_back_with_the_status(
    collector: RunningCollector,
) -> None:
    settled: list[tuple[str, int, str | None]] = []
    done = threading.Event()

    def callback(event: Any, code: int, message: str | None) -> None:
        settled.append((event.event_type, code, message))
        if len(settled) == 6:
            done.set()

    config = compat.Config(server_url=collector.url + "/2/httpapi", callback=callback,
                           flush_queue_size=3, plan=compat.Plan(branch="main"))  # fmt: skip
    client = compat.Amplitude("compat-amplitude-key", config)
    options = compat.EventOptions(user_id="amp-user-1")
    client.track(compat.BaseEvent("Song Played", user_id="amp-user-1", event_properties={"n": 1}))
    client.identify(compat.Identify().set("plan", "pro"), options)
    client.group_identify("org", "acme", compat.Identify().set("tier", "gold"), options)
    client.revenue(compat.Revenue(price=3.99, quantity=2, product_id="sku-1"), options)
    client.set_group("org", "acme", options)
    client.track(compat.BaseEvent("Too Short", user_id="abc"))  # refused by min_id_length 5
    [future] = client.flush()

    assert future.result(timeout=10) is True
    assert done.wait(10)
    client.shutdown()
    assert sorted(settled) == [
        ("$groupidentify", 200, None), ("$identify", 200, None), ("$identify", 200, None),
        ("Song Played", 200, None), ("Too Short", 400, settled_message(settled, "Too Short")),
        ("revenue_amount", 200, None),
    ]  # fmt: skip
    stored = [e.payload for e in collector.store.events() if e.payload["user_id"] == "amp-user-1"]
    assert len(stored) == 5
    assert all(p["plan"] == {"branch": "main"} and p["insert_id"] for p in stored)
    revenue = next(p for p in stored if p["event_type"] == "revenue_amount")
    assert revenue["event_properties"] == {"$productId": "sku-1", "$quantity": 2, "$price": 3.99}


def settled_message(settled: list[tuple[str, int, str | None]], event_type: str) -> str | None:
    message = next(m for t, _, m in settled if t == event_type)
    assert message is not None and "user_id" in message
    return message


def test_plugins_run_in_the_official_order_and_destinations_get_copies(
    collector: RunningCollector,
) -> None:
    seen: list[str] = []

    class Tagger(compat.EventPlugin):
        def track(self, event: Any) -> Any:
            if event.event_type == "Drop Me":
                return None
            event.event_properties = {**(event.event_properties or {}), "tagged": True}
            return event

    class Recorder(compat.DestinationPlugin):
        def execute(self, event: Any) -> None:
            seen.append(event.event_type)
            event.event_type = "changed in the copy"

    client = compat.Amplitude(
        "compat-plugins", compat.Config(server_url=collector.url + "/2/httpapi")
    )
    client.add(Tagger(compat.PluginType.ENRICHMENT)).add(Recorder())
    client.track(compat.BaseEvent("Kept", user_id="amp-plugin-1"))
    client.track(compat.BaseEvent("Drop Me", user_id="amp-plugin-1"))
    assert all(future.result(10) for future in client.flush())
    client.shutdown()
    client.track(compat.BaseEvent("After Shutdown", user_id="amp-plugin-1"))

    assert seen == ["Kept"]
    stored = [e.payload for e in collector.store.events() if e.payload["user_id"] == "amp-plugin-1"]
    assert [(p["event_type"], p["event_properties"]) for p in stored] == [
        ("Kept", {"tagged": True})
    ]


def test_a_custom_storage_provider_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="storage_provider"):
        compat.Config(storage_provider=object())


@pytest.mark.parametrize(
    "properties",
    [{4: "4"}, {"t": ["4", [5, 6]]}, {"t": ["4", set()]}, {"t": ["4", {"ok": True}]},
     {"t": ["a", "c", 3, True]}, {"t": {"nested": {"deep": 1.5}}}, {"t": object()}],
    ids=["int key", "nested list", "set in list", "object in list", "scalars", "objects",
         "object value"],
)  # fmt: skip
def test_property_values_are_accepted_or_refused_as_the_official_does(properties: Any) -> None:
    def build(m: Any) -> Any:
        event = m.BaseEvent("E", user_id="user-1")
        event["event_properties"] = properties
        return event

    theirs, ours = both(build)

    assert ("event_properties" in ours) == ("event_properties" in theirs)


def test_event_options_read_and_write_as_the_official_ones() -> None:
    def build(m: Any) -> Any:
        options = m.EventOptions(user_id="test_user_id")
        options.retry += 1
        options["id_device"] = "x"
        options["time"] = 98.6
        options.event_id = 10
        return options

    theirs, ours = both(build)

    assert ours.retry == theirs.retry == 1
    assert str(ours) == str(theirs) == '{"event_id": 10, "user_id": "test_user_id"}'
    assert ours["id_device"] is None and "time" not in ours
    assert [type(e).__name__ for e in both(lambda m: m.RevenueEvent())] == [
        "RevenueEvent", "RevenueEvent"
    ]  # fmt: skip
    assert ours.get_event_body() == {"user_id": "test_user_id", "event_id": 10}


def test_trackwire_options_reach_the_client_underneath(
    collector: RunningCollector, tmp_path: Path
) -> None:
    config = compat.Config(server_url=collector.url + "/2/httpapi")
    client = compat.Amplitude("compat-spool", config, trackwire_options={"spool": tmp_path})
    client.track(compat.BaseEvent("Spooled", user_id="amp-spool-1"))
    [future] = client.flush()

    assert future.result(10) is True
    assert "spool_bytes" in client.native.stats()
    client.shutdown()
