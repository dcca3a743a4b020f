"""The official SDKs' own tests, run against trackwire's compat modules with the import changed.

See :mod:`tests.compat.official_suites` for how the suites are fetched (at run time, from the
package index, cached under pytest's cache directory) and run. A suite whose release cannot be
downloaded is skipped with one line saying why. The pass counts are printed (``-s``) and
recorded as junit properties; the assertions hold every selected test to passing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat import official_suites as suites
from trackwire.collector.server import RunningCollector, start_collector

# segment-analytics-python's tests that do not use the public API, each with its reason.
SEGMENT_PRIVATE = [
    # patch segment.analytics.consumer.post / request._session.post (private functions)
    "test_client.py::TestClient::test_user_defined_upload_size",
    "test_client.py::TestClient::test_proxies",
    # read the official Consumer threads' attributes (client.consumers[i].timeout/.retries)
    "test_client.py::TestClient::test_user_defined_timeout",
    "test_client.py::TestClient::test_default_timeout_15",
    "test_init.py::TestInit::test_max_retries",
    "test_client.py::TestClient::test_shutdown",  # consumer.is_alive() of each thread
    "test_client.py::TestClient::test_synchronous",  # no consumer threads in sync mode
]
SEGMENT_FILES = ["test_module.py", "test_init.py", "test_client.py"]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    """A real collector on 127.0.0.1 where the official tests' calls arrive."""
    with start_collector(db=tmp_path_factory.mktemp("official") / "events.db") as running:
        yield running


def _tests(dist: suites.Distribution, config: pytest.Config) -> Path:
    if getattr(config, "cache", None) is not None:
        cache = config.cache.mkdir("official-suites")
    else:  # pytest -p no:cacheprovider: a per-user folder in the temporary directory
        cache = Path(tempfile.gettempdir()) / f"trackwire-official-suites-{os.getuid()}"
    found = suites.fetch(dist, cache)
    if isinstance(found, str):
        pytest.skip(f"official {dist.name} tests unavailable: {found}")
    return found


def _report(
    record: pytest.RecordProperty, name: str, result: suites.SuiteResult, prefix: str
) -> None:
    passed, total = result.count(prefix), result.total(prefix)
    record(f"{name} {prefix}", f"{passed}/{total}")
    print(f"official {name} {prefix}: {passed} of {total} passed")


def test_segment_analytics_python_suite(
    collector: RunningCollector,
    tmp_path: Path,
    pytestconfig: pytest.Config,
    record_property: pytest.RecordProperty,
) -> None:
    tests = _tests(suites.SEGMENT, pytestconfig)
    result = suites.run_suite(
        suites.SEGMENT, tests, tmp_path, collector.url, SEGMENT_FILES, SEGMENT_PRIVATE
    )
    for prefix in SEGMENT_FILES:
        _report(record_property, "segment", result, prefix)
    assert result.total("test_module.py") == 9
    assert result.total("test_client.py") >= 24
    assert result.not_passed() == {}, result.output
    # The calls the tests made arrived at the collector over HTTP.
    assert collector.store.events()


def test_mparticle_suite(
    collector: RunningCollector,
    tmp_path: Path,
    pytestconfig: pytest.Config,
    record_property: pytest.RecordProperty,
) -> None:
    tests = _tests(suites.MPARTICLE, pytestconfig)
    files = sorted(path.name for path in tests.glob("test_*.py"))
    result = suites.run_suite(suites.MPARTICLE, tests, tmp_path, collector.url, files)
    _report(record_property, "mparticle", result, "test_")
    assert len(files) >= 40 and result.total("test_") >= 60
    assert result.not_passed() == {}, result.output
