"""The pytest plugin, tested as its users run it: test suites that use it, run by pytester.

Each inner suite is an ordinary test file using the ``trackwire_collector`` fixture (loaded
through the ``pytest11`` entry point, as in any project that installs ``trackwire[collector]``).
"""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

TRACKWIRE_AND_ISOLATION = """
import trackwire

def test_segment_and_amplitude(trackwire_collector):
    with trackwire.Segment("write-key", host=trackwire_collector.url) as analytics:
        analytics.identify(user_id="user-1", traits={"plan": "pro"})
        analytics.track(user_id="user-1", event="Song Played", properties={"title": "Hey"})
        assert analytics.flush(timeout=10)
    amp = trackwire.Amplitude("api-key", server_url=trackwire_collector.amplitude_url)
    with amp:
        amp.track({"event_type": "Song Played", "user_id": "user-1"})
        assert amp.flush(timeout=10)
    [event] = trackwire_collector.expect(
        vendor="segment", event="Song Played", user_id="user-1", properties={"title": "Hey"}
    )
    assert event["payload"]["properties"] == {"title": "Hey"}
    trackwire_collector.expect(vendor="amplitude", event_type="Song Played", user_id="user-1")
    assert len(trackwire_collector.events(event="Song Played")) == 2
    [user] = trackwire_collector.users("segment", user_id="user-1")
    assert user["properties"] == {"plan": "pro"}
    assert trackwire_collector.counts()["total"] == 3
    trackwire_collector.check()

def test_the_next_test_starts_empty(trackwire_collector):
    assert trackwire_collector.counts()["total"] == 0
    assert trackwire_collector.events() == []
"""


def test_the_fixture_serves_trackwire_and_resets_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=TRACKWIRE_AND_ISOLATION)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_failed_expectation_lists_what_arrived_nearest_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
import trackwire

def test_typo(trackwire_collector):
    with trackwire.Segment("write-key", host=trackwire_collector.url) as analytics:
        analytics.track(user_id="user-1", event="Logged In")
        analytics.track(user_id="user-1", event="Song Playd")
        assert analytics.flush(timeout=10)
    trackwire_collector.expect(vendor="segment", event="Song Played", user_id="user-1",
                               within=0.2)

def test_too_many(trackwire_collector):
    with trackwire.Segment("write-key", host=trackwire_collector.url) as analytics:
        analytics.track(user_id="user-1", event="Clicked")
        analytics.track(user_id="user-1", event="Clicked")
        assert analytics.flush(timeout=10)
    trackwire_collector.expect(event="Clicked", count=1)

def test_nothing_sent(trackwire_collector):
    trackwire_collector.expect(event="Anything", within=0)
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*expected 1 segment event 'Song Played' for user 'user-1' within 0.2 s; 0 matched.*",
            "*What arrived, nearest first:*",
            "*segment track 'Song Playd' user='user-1'*[differs: event 'Song Playd']*",
            "*segment track 'Logged In' user='user-1'*[differs: event 'Logged In']*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*expected 1 any vendor event(s) matching event='Clicked'*2 arrived*"]
    )
    result.stdout.fnmatch_lines(
        ["*Nothing arrived at all: is the client pointed at this collector*"]
    )


def test_check_fails_on_refused_requests_and_plan_violations(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".json",
        plan='{"events": {"Song Played": {"properties": {"type": "object", '
        '"required": ["title"]}}}}',
    )
    pytester.makeini("[pytest]\ntrackwire_plan = plan.json\n")
    pytester.makepyfile(
        test_inner="""
import urllib3
import trackwire

def test_bad(trackwire_collector):
    urllib3.request("POST", trackwire_collector.url + "/v1/batch", body=b"{oops",
                    headers={"Authorization": "Basic a2V5Og=="})
    with trackwire.Segment("write-key", host=trackwire_collector.url) as analytics:
        analytics.track(user_id="user-1", event="Song Played", properties={})
        assert analytics.flush(timeout=10)
    trackwire_collector.check()
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the collector saw problems:*",
            "*refused segment request to /v1/batch (400)*",
            "*segment track 'Song Played'*Required-Missing at /properties/title*",
        ]
    )


def test_parallel_workers_each_get_their_own_collector(pytester: pytest.Pytester) -> None:
    tests = "\n".join(
        f"""
def test_worker_{i}(trackwire_collector):
    with trackwire.Segment("write-key", host=trackwire_collector.url) as analytics:
        for _ in range({i + 1}):
            analytics.track(user_id="user-{i}", event="Parallel")
        assert analytics.flush(timeout=10)
    trackwire_collector.expect(event="Parallel", count={i + 1})
    assert trackwire_collector.counts()["total"] == {i + 1}
"""
        for i in range(6)
    )
    pytester.makepyfile(test_inner="import trackwire\n" + tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=6)


def test_the_official_sdks_work_against_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
from amplitude import Amplitude, BaseEvent, Config
from segment.analytics import Client as SegmentClient

def test_official(trackwire_collector):
    client = SegmentClient(write_key="seg-key", host=trackwire_collector.url, sync_mode=True)
    client.track(user_id="user-1", event="Item Purchased", properties={"sku": "a-1"})
    client.flush()  # sync_mode: sent already (its shutdown() fails in sync mode)
    trackwire_collector.expect(vendor="segment", event="Item Purchased",
                               properties={"sku": "a-1"})

    amp = Amplitude("amp-key", Config(server_url=trackwire_collector.amplitude_url))
    amp.track(BaseEvent(event_type="Song Played", user_id="user-1"))
    amp.flush()
    trackwire_collector.expect(vendor="amplitude", event_type="Song Played", user_id="user-1",
                               within=10)
    amp.shutdown()
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
