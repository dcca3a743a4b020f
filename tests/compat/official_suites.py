"""Run the official SDKs' own test suites against trackwire's compat modules.

The official tests are never part of this repository: :func:`fetch` downloads the published
distribution from the package index at run time (once; the files are cached) and
:func:`run_suite` copies its test files into a temporary directory and runs them with pytest
in a subprocess whose ``sys.path`` starts with a shim package. The shim makes the official
import name (``segment.analytics``, ``mparticle``) resolve to the compat module, which is the
one-line change a migrating user makes. A harness ``conftest.py`` points the SDKs' default
hosts at a local collector and refuses every connection that is not to loopback.

``amplitude-analytics`` publishes no tests in its wheel or source distribution (its tests
live only in its source repository), so there is no suite to fetch for it here.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

__all__ = ["Distribution", "SuiteResult", "fetch", "run_suite"]


@dataclass(frozen=True)
class Distribution:
    """One published release whose tests are run: where its test files are inside it."""

    name: str
    version: str
    kind: str  # "wheel" or "sdist": the one that ships the tests
    tests_dir: str  # inside the unpacked distribution
    shim: str  # source of the shim package's __init__.py
    shim_package: str


@dataclass
class SuiteResult:
    """What one pytest run of an official suite gave, test by test."""

    outcomes: dict[str, str] = field(default_factory=dict)  # "file::test" -> passed/failed/...
    output: str = ""

    def count(self, prefix: str, outcome: str = "passed") -> int:
        """How many tests whose id starts with ``prefix`` ended as ``outcome``."""
        return sum(1 for k, v in self.outcomes.items() if k.startswith(prefix) and v == outcome)

    def total(self, prefix: str) -> int:
        """How many tests whose id starts with ``prefix`` ran."""
        return sum(1 for k in self.outcomes if k.startswith(prefix))

    def not_passed(self) -> dict[str, str]:
        """Every test that did not pass, with its outcome."""
        return {k: v for k, v in self.outcomes.items() if v != "passed"}


SEGMENT_SHIM = """
import sys
import types

import trackwire.compat.segment as analytics

# `import segment.analytics` and `from segment.analytics.client import Client` both land on
# the compat module: the import change a migrating user makes, nothing more.
sys.modules["segment.analytics"] = analytics
sys.modules["segment.analytics.client"] = analytics
_version = types.ModuleType("segment.analytics.version")
_version.VERSION = analytics.VERSION
sys.modules["segment.analytics.version"] = _version
"""

MPARTICLE_SHIM = """
import importlib
import pkgutil
import sys

import trackwire.compat.mparticle as compat

# Every module of the compat package answers to its official name (mparticle.models.batch,
# mparticle.rest, ...), so `import mparticle...` anywhere gets the compat objects.
PREFIX = compat.__name__
for info in pkgutil.walk_packages(compat.__path__, PREFIX + "."):
    importlib.import_module(info.name)
for name, module in list(sys.modules.items()):
    if name == PREFIX or name.startswith(PREFIX + "."):
        sys.modules["mparticle" + name[len(PREFIX):]] = module
"""

# The harness conftest: network only to 127.0.0.1, the SDKs' default hosts on the collector
# whose URL the parent test passes in OFFICIAL_SUITE_COLLECTOR.
HARNESS_CONFTEST = """
import os
import socket
import sys
import unittest.mock

import trackwire.segment.wire

LOOPBACK = ("127.0.0.1", "::1", "localhost")
_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _host(address):
    return address[0] if isinstance(address, tuple) else address


def guarded_connect(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and _host(address) not in LOOPBACK:
        raise ConnectionRefusedError(f"official-suite harness: loopback only ({address!r})")
    return _connect(sock, address)


def guarded_getaddrinfo(host, *args, **kwargs):
    if host not in LOOPBACK and host is not None:
        raise socket.gaierror(f"official-suite harness: no network but loopback ({host!r})")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = guarded_connect
socket.getaddrinfo = guarded_getaddrinfo

URL = os.environ["OFFICIAL_SUITE_COLLECTOR"]
trackwire.segment.wire.DEFAULT_HOST = URL
if os.environ["OFFICIAL_SUITE_PACKAGE"] == "mparticle":
    import mparticle.configuration  # the shim: trackwire.compat.mparticle.configuration

    assert mparticle.__name__ == "trackwire.compat.mparticle", mparticle.__file__
    mparticle.configuration.DEFAULT_HOST = URL + "/v2"
else:
    import segment.analytics

    assert segment.analytics.__name__ == "trackwire.compat.segment", segment.analytics
# segment-analytics-python's tests import the `mock` backport; the standard library's is it.
sys.modules.setdefault("mock", unittest.mock)
"""

SEGMENT = Distribution(
    name="segment-analytics-python",
    version="2.4.0",
    kind="wheel",
    tests_dir="segment/analytics/test",
    shim=SEGMENT_SHIM,
    shim_package="segment",
)
MPARTICLE = Distribution(
    name="mparticle",
    version="0.16.0",
    kind="sdist",
    tests_dir="mparticle-0.16.0/test",
    shim=MPARTICLE_SHIM,
    shim_package="mparticle",
)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (pytest-xdist workers fetch one at a time)."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch(dist: Distribution, cache: Path) -> Path | str:
    """The directory holding ``dist``'s test files, downloading the release on first use.

    Returns:
        The directory, or a one-line reason (str) when the package index is unreachable.
    """
    cache.mkdir(parents=True, exist_ok=True)
    unpacked = cache / f"{dist.name}-{dist.version}-{dist.kind}"
    with _locked(cache / f"{dist.name}.lock"):
        if not (unpacked / dist.tests_dir).is_dir():
            downloads = cache / "downloads"
            binary = (
                ["--only-binary", ":all:"] if dist.kind == "wheel" else ["--no-binary", ":all:"]
            )
            # Short network timeouts: an unreachable index means a skip, not a long wait.
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                       "--timeout", "10", "--retries", "1", *binary, "-d", str(downloads),
                       f"{dist.name}=={dist.version}"]  # fmt: skip
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=180)
            except subprocess.TimeoutExpired:
                return f"package index did not answer within 180 s for {dist.name}"
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                return f"could not download {dist.name} {dist.version}: {last}"
            archive = _archive(downloads, dist)
            staging = cache / f"{unpacked.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            if dist.kind == "wheel":
                with zipfile.ZipFile(archive) as wheel:
                    wheel.extractall(staging)
            else:
                with tarfile.open(archive) as sdist:
                    sdist.extractall(staging, filter="data")
            shutil.rmtree(unpacked, ignore_errors=True)
            staging.rename(unpacked)
    return unpacked / dist.tests_dir


def _archive(downloads: Path, dist: Distribution) -> Path:
    stem = dist.name.replace("-", "_")
    suffix = ".whl" if dist.kind == "wheel" else ".tar.gz"
    for candidate in downloads.iterdir():
        name = candidate.name.replace("-", "_")
        if name.startswith(f"{stem}_{dist.version}") and name.endswith(suffix):
            return candidate
    raise FileNotFoundError(f"{dist.name} {dist.version}{suffix} not in the download folder")


def run_suite(
    dist: Distribution,
    tests: Path,
    workdir: Path,
    collector_url: str,
    files: Sequence[str],
    deselect: Sequence[str] = (),
) -> SuiteResult:
    """Run the official ``files`` (names inside ``tests``) against the compat module.

    ``deselect`` lists ``file::Class::test`` ids left out, each for a stated reason at the
    caller (they patch the official library's private functions or read its threads).
    """
    shim = workdir / "shim" / dist.shim_package
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(textwrap.dedent(dist.shim))
    suite = workdir / "suite"
    suite.mkdir()
    for name in files:
        shutil.copy(tests / name, suite / name)
    (suite / "conftest.py").write_text(textwrap.dedent(HARNESS_CONFTEST))
    report = workdir / "report.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-o", "addopts=", "-o", "filterwarnings=", "--rootdir", str(suite),
               f"--junitxml={report}", *(f"--deselect={item}" for item in deselect),
               *files]  # fmt: skip
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(workdir / "shim"),
        "OFFICIAL_SUITE_COLLECTOR": collector_url,
        "OFFICIAL_SUITE_PACKAGE": dist.shim_package,
        "NO_PROXY": "*",
        "HOME": str(workdir),
    }
    done = subprocess.run(
        command, cwd=suite, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    result = SuiteResult(output=done.stdout[-6000:] + done.stderr[-3000:])
    if report.exists():
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            module = case.get("classname", "").split(".")[0]
            key = f"{module}.py::{case.get('classname', '').split('.')[-1]}::{case.get('name')}"
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
            result.outcomes[key] = outcome
    return result
