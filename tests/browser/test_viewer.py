"""The collector's web page in a real Chromium: stream, filters, detail, user, charts, keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3
from playwright.sync_api import expect

import trackwire
from tests.browser.conftest import Page
from trackwire.collector.server import RunningCollector, start_collector
from trackwire.mparticle import AppEvent, Batch, UserIdentities

#: One worker runs every browser test (``--dist loadgroup``), so Chromium starts once per run.
pytestmark = pytest.mark.xdist_group("browser")

HTTP = urllib3.PoolManager(retries=False, timeout=15.0)
ADMIN = "admin-token-0123456789abcdef"
WEB_READ = "web-read-token-0123456789"


@pytest.fixture
def collector() -> Iterator[RunningCollector]:
    with start_collector(":memory:") as running:
        yield running


def send_three_vendors(url: str) -> None:
    with trackwire.Segment("write-key", host=url) as analytics:
        analytics.track(user_id="seg-user-1", event="Item Purchased", properties={"sku": "a-1"})
        analytics.identify(user_id="seg-user-1", traits={"plan": "pro"})
        assert analytics.flush(timeout=10)
    with trackwire.Amplitude("amp-key", server_url=url + "/2/httpapi") as amp:
        amp.track({"event_type": "Song Played", "user_id": "amp-user-1",
                   "event_properties": {"title": "Blue"}})  # fmt: skip
        amp.track({"event_type": "Song Played", "user_id": "amp-user-2",
                   "event_properties": {"title": "Red"}})  # fmt: skip
        assert amp.flush(timeout=10)
    with trackwire.MParticle("key", "secret", environment="development", host=url) as mp:
        identities = UserIdentities(customer_id="mp-user-1")
        mp.upload(Batch(user_identities=identities, events=[AppEvent("Screen Tapped")]))
        assert mp.flush(timeout=10)


def rows(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("tr.event-row td.event-name").all_inner_texts()]


def test_events_stream_in_and_every_filter_narrows_the_list(
    collector: RunningCollector, open_page: Any, artifacts: Path
) -> None:
    send_three_vendors(collector.url)
    view: Page = open_page()
    page = view.page
    page.goto(collector.url + "/")
    page.wait_for_selector("tr.event-row")
    assert sorted(rows(page)) == [
        "",
        "Item Purchased",
        "Screen Tapped",
        "Song Played",
        "Song Played",
    ]

    # Live: an event sent now appears within 2 s, without a reload.
    with trackwire.Segment("write-key", host=collector.url) as analytics:
        analytics.track(user_id="seg-user-9", event="Arrived Live")
        assert analytics.flush(timeout=10)
    page.wait_for_selector('tr.event-row:has-text("Arrived Live")', timeout=2000)

    # Each filter, through the form, kept in the URL.
    page.select_option("#f-vendor", "amplitude")
    page.click("text=Apply")
    expect(page).to_have_url(re.compile("vendor=amplitude"))
    expect(page.locator("tr.event-row")).to_have_count(2)
    assert rows(page) == ["Song Played", "Song Played"]
    page.fill("#f-user", "amp-user-2")
    page.click("text=Apply")
    expect(page.locator("tr.event-row")).to_have_count(1)
    page.goto(collector.url + "/#/events?event=Item%20Purchased")
    expect(page.locator("tr.event-row")).to_have_count(1)
    assert rows(page) == ["Item Purchased"]
    page.goto(collector.url + "/#/events?type=identify")
    expect(page.locator("tr.event-row")).to_have_count(1)
    page.goto(collector.url + "/#/events?q=Red")  # text anywhere in the event
    expect(page.locator("tr.event-row")).to_have_count(1)
    later = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp() * 1000)
    page.goto(collector.url + f"/#/events?since={later}")
    page.wait_for_selector("text=No events yet.")
    page.goto(collector.url + "/#/events")
    expect(page.locator("tr.event-row")).to_have_count(6)
    page.screenshot(path=str(artifacts / "events-1280.png"), full_page=True)
    assert view.errors == []


def test_pause_holds_the_list_and_resume_shows_what_arrived(
    collector: RunningCollector, open_page: Any
) -> None:
    view: Page = open_page()
    page = view.page
    page.goto(collector.url + "/")
    page.wait_for_selector("text=No events yet.")
    page.click("#pause")
    with trackwire.Segment("write-key", host=collector.url) as analytics:
        analytics.track(user_id="u-1", event="While Paused")
        assert analytics.flush(timeout=10)
    # The stream delivers it (the count moves) but the list stays as it was.
    expect(page.locator("#count")).to_have_text("paused: 1 new")
    assert rows(page) == []
    page.click("#pause")
    page.wait_for_selector('tr.event-row:has-text("While Paused")')
    assert view.errors == []


def test_event_detail_shows_the_payload_and_what_was_derived(
    collector: RunningCollector, open_page: Any
) -> None:
    send_three_vendors(collector.url)
    view: Page = open_page()
    page = view.page
    page.goto(collector.url + "/#/events?vendor=amplitude&user=amp-user-1")
    expect(page.locator("tr.event-row")).to_have_count(1)
    page.click('tr.event-row a:has-text("Song Played")')
    page.wait_for_selector("#payload")
    payload = orjson.loads(page.inner_text("#payload"))
    assert payload["event_type"] == "Song Played"
    assert payload["event_properties"] == {"title": "Blue"}
    derived = page.inner_text("table.derived")
    assert "amp-user-1" in derived and "Amplitude id" in derived
    assert "Received − client time" in derived
    curl = page.inner_text("#curl")
    assert curl.startswith(f"curl -X POST '{collector.url}/2/httpapi'")
    assert '"event_type":"Song Played"' in curl
    assert view.errors == []


def test_user_page_shows_properties_after_each_identify(
    collector: RunningCollector, open_page: Any
) -> None:
    with trackwire.Amplitude("amp-key", server_url=collector.url + "/2/httpapi") as amp:
        identify = trackwire.amplitude.Identify().set("plan", "free").add("logins", 1)
        amp.identify(identify, user_id="user-42", device_id="device-42")
        assert amp.flush(timeout=10)
        amp.identify(trackwire.amplitude.Identify().set("plan", "pro").add("logins", 2),
                     user_id="user-42")  # fmt: skip
        amp.track({"event_type": "Song Played", "user_id": "user-42"})
        assert amp.flush(timeout=10)
    view: Page = open_page()
    page = view.page
    source = HTTP.request("GET", collector.url + "/events?vendor=amplitude&limit=1")
    source_name = orjson.loads(source.data)["events"][0]["source"]
    page.goto(collector.url + f"/#/user?vendor=amplitude&source={source_name}&user=user-42")
    page.wait_for_selector("#history")
    now = page.inner_text('table[aria-label="Properties now"]')
    assert "plan" in now and '"pro"' in now and "logins" in now and "3" in now
    steps = page.locator("#history > li").all_inner_texts()
    assert len(steps) == 2
    assert '"free"' in steps[0] and '"pro"' in steps[1]
    assert "device device-42" in page.inner_text("#identities")
    # The timeline is the user-activity query's answer.
    page.wait_for_selector('table[aria-label="The user\'s activity, newest first"]')
    activity = page.inner_text('table[aria-label="The user\'s activity, newest first"]')
    assert "Song Played" in activity and "$identify" in activity
    assert view.errors == []


def test_segmentation_chart_numbers_equal_the_query_api(
    collector: RunningCollector, open_page: Any, artifacts: Path
) -> None:
    with trackwire.Amplitude("amp-key", server_url=collector.url + "/2/httpapi") as amp:
        for user, title in [("user-1", "Blue"), ("user-2", "Blue"), ("user-1", "Red")]:
            amp.track({"event_type": "Song Played", "user_id": user,
                       "event_properties": {"title": title}})  # fmt: skip
        assert amp.flush(timeout=10)
    view: Page = open_page()
    page = view.page
    page.goto(collector.url + "/#/charts")
    page.wait_for_selector("#seg-source option", state="attached")
    page.wait_for_selector("#top-events")
    assert "Song Played" in page.inner_text("#top-events")
    page.fill("#seg-event", "Song Played")
    page.select_option("#seg-metric", "totals")
    page.fill("#seg-group", "title")
    page.click("text=Run")
    page.wait_for_selector("#seg-table")
    shown = [
        [int(cell) for cell in row.locator("td.value").all_inner_texts()]
        for row in page.locator("#seg-table tbody tr").all()
    ]
    today = datetime.now(timezone.utc)
    week_ago = today - timedelta(days=6)
    query = {
        "e": orjson.dumps({"event_type": "Song Played",
                           "group_by": [{"type": "event", "value": "title"}]}).decode(),
        "m": "totals",
        "i": "1",
        "start": week_ago.strftime("%Y%m%d"),
        "end": today.strftime("%Y%m%d"),
    }  # fmt: skip
    auth = urllib3.make_headers(basic_auth="amp-key:secret")
    answer = HTTP.request("GET", collector.url + "/api/2/events/segmentation", fields=query,
                          headers=auth)  # fmt: skip
    assert answer.status == 200, answer.data
    assert shown == orjson.loads(answer.data)["data"]["series"]
    assert sum(map(sum, shown)) == 3
    page.screenshot(path=str(artifacts / "charts-1280.png"), full_page=True)
    assert view.errors == []


def test_fault_panel_shows_what_is_active_on_every_page(
    collector: RunningCollector, open_page: Any
) -> None:
    view: Page = open_page()
    page = view.page
    page.goto(collector.url + "/#/faults")
    page.wait_for_selector("#fault-path")
    page.fill("#fault-path", "/2/httpapi")
    page.fill("#fault-steps", "503,503")
    page.click('form[aria-label="Inject faults"] button:has-text("Apply")')
    page.wait_for_selector("#fault-banner:has-text('/2/httpapi: 503, 503')")
    page.goto(collector.url + "/#/events")
    assert page.is_visible("#fault-banner")
    assert orjson.loads(HTTP.request("GET", collector.url + "/_faults").data)["remaining"] == {
        "/2/httpapi": [503, 503]
    }
    page.goto(collector.url + "/#/faults")
    page.click("text=Clear all")
    page.wait_for_selector("#fault-banner", state="hidden")
    assert view.errors == []


def test_a_page_of_another_origin_cannot_change_a_development_collector(
    collector: RunningCollector,
) -> None:
    cross = {"Origin": "http://evil.example", "Content-Type": "application/json"}
    assert HTTP.request("POST", collector.url + "/_faults", body=b'{"failure_rate": 1}',
                        headers=cross).status == 403  # fmt: skip
    assert HTTP.request("POST", collector.url + "/_test/reset", headers=cross).status == 403
    same = {"Origin": collector.url}
    assert HTTP.request("POST", collector.url + "/_test/reset", headers=same).status == 200


def test_narrow_screen_is_readable(
    collector: RunningCollector, open_page: Any, artifacts: Path
) -> None:
    send_three_vendors(collector.url)
    view: Page = open_page(width=390, height=844)
    page = view.page
    page.goto(collector.url + "/")
    page.wait_for_selector("tr.event-row")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "events-390.png"), full_page=True)
    page.goto(collector.url + "/#/charts")
    page.wait_for_selector("#top-events")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "charts-390.png"), full_page=True)
    # Keyboard: the skip link and the first filter are reachable with Tab.
    page.goto(collector.url + "/")
    page.wait_for_selector("tr.event-row")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert view.errors == []


# --- keyed mode ------------------------------------------------------------------------------


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[RunningCollector]:
    keys = tmp_path / "keys.json"
    keys.write_bytes(orjson.dumps({
        "admin_tokens": [ADMIN],
        "sources": [
            {"name": "web", "vendor": "amplitude", "api_key": "amp-key", "secret_key": "amp-s",
             "read_token": WEB_READ},
            {"name": "backend", "vendor": "segment", "write_key": "seg-key"},
        ],
    }))  # fmt: skip
    with start_collector(":memory:", keys=keys) as running:
        with trackwire.Amplitude("amp-key", server_url=running.url + "/2/httpapi") as amp:
            amp.track({"event_type": "Web Event", "user_id": "user-1"})
            assert amp.flush(timeout=10)
        with trackwire.Segment("seg-key", host=running.url) as analytics:
            analytics.track(user_id="user-2", event="Backend Event")
            assert analytics.flush(timeout=10)
        yield running


def test_keyed_mode_refuses_without_a_session_and_scopes_a_source(
    keyed: RunningCollector, open_page: Any
) -> None:
    view: Page = open_page()
    page = view.page
    page.goto(keyed.url + "/")
    page.wait_for_selector("#token")
    assert page.locator("tr.event-row").count() == 0
    # The data endpoints refuse the page without a session.
    status = page.evaluate(
        "fetch('/events', {headers: {'X-Trackwire-Page': '1'}}).then(r => r.status)"
    )
    assert status == 401
    page.fill("#token", "not-a-token-0123456789")
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("text=not an admin token or a source's read token")
    page.fill("#token", WEB_READ)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("tr.event-row")
    assert rows(page) == ["Web Event"]
    assert "keyed mode: amplitude/web" in page.inner_text("#mode")
    cookie = next(c for c in page.context.cookies() if c["name"] == "trackwire_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # Another source's events are refused, even when asked for by name.
    other = page.evaluate(
        "fetch('/events?vendor=segment', {headers: {'X-Trackwire-Page': '1'}}).then(r => r.status)"
    )
    assert other == 403
    # A state change with the cookie but without the CSRF token is refused.
    refused = page.evaluate(
        "fetch('/_viewer/session', {method: 'DELETE', headers: {'X-Trackwire-Page': '1'}})"
        ".then(r => r.status)"
    )
    assert refused == 403
    page.click("#signout")
    page.wait_for_selector("#token")
    assert (
        page.evaluate("fetch('/events', {headers: {'X-Trackwire-Page': '1'}}).then(r => r.status)")
        == 401
    )
    # 401s while signed out are expected; nothing else went wrong.
    assert [e for e in view.errors if "401" not in e and "403" not in e] == []


def test_keyed_mode_admin_sees_every_source(keyed: RunningCollector, open_page: Any) -> None:
    view: Page = open_page()
    page = view.page
    page.goto(keyed.url + "/")
    page.wait_for_selector("#token")
    page.fill("#token", ADMIN)
    page.click("button:has-text('Sign in')")
    expect(page.locator("tr.event-row")).to_have_count(2)
    assert sorted(rows(page)) == ["Backend Event", "Web Event"]
    # A write key is not a read token: it cannot sign in.
    answer = HTTP.request("POST", keyed.url + "/_viewer/session", body=b'{"token": "seg-key"}',
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status == 401
