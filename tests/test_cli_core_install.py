"""The ``trackwire`` command on a core install: only urllib3 and orjson, no collector extra.

Each test runs the command in a fresh interpreter in which the collector extra's modules
cannot be imported (they are poisoned in ``sys.modules`` before trackwire loads), which is
what a plain ``pip install trackwire`` leaves.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import tomllib

from trackwire.collector.server import RunningCollector, start_collector

EXTRA_MODULES = ("starlette", "uvicorn", "anyio", "rich", "h11", "httptools", "uvloop")
RUNNER = (
    "import sys\n"
    f"for name in {EXTRA_MODULES!r}:\n"
    "    sys.modules[name] = None\n"
    "from trackwire.cli import main\n"
    "status = main(sys.argv[1:])\n"
    f"leaked = [n for n in {EXTRA_MODULES!r} if sys.modules.get(n) is not None]\n"
    "assert not leaked, leaked\n"
    "sys.exit(status)\n"
)
ROOT = Path(__file__).resolve().parent.parent


def run_core(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_help_works_without_the_collector_extra() -> None:
    result = run_core("--help")

    assert result.returncode == 0, result.stderr
    assert "collector" in result.stdout and "send" in result.stdout
    assert "Traceback" not in result.stderr


def test_subcommand_help_works_without_the_collector_extra() -> None:
    for args in (["send", "segment", "track", "--help"], ["events", "--help"]):
        result = run_core(*args)
        assert result.returncode == 0, result.stderr


def test_collector_names_the_extra_in_one_line() -> None:
    result = run_core("collector", "--port", "0")

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["trackwire collector: the collector needs the collector extra: "
                     "pip install 'trackwire[collector]'"]  # fmt: skip


def test_send_and_events_work_without_the_collector_extra(collector: RunningCollector) -> None:
    sent = run_core(
        "send", "segment", "track", "--write-key", "core-key", "--user-id", "core-user",
        "--event", "Core Install", "--host", collector.url,
    )  # fmt: skip
    listed = run_core("events", "--url", collector.url, "--width", "80")

    assert sent.returncode == 0, sent.stderr
    assert "delivered: segment track" in sent.stdout
    assert listed.returncode == 0, listed.stderr
    assert "Core Install" in listed.stdout
    assert all(len(line) <= 80 for line in listed.stdout.splitlines())
    (event,) = collector.store.events()
    assert event.user_id == "core-user"


def test_every_module_the_collector_imports_is_declared() -> None:
    """Each third-party import under trackwire.collector is a dependency of the extra."""
    import ast

    declared = {"orjson", "urllib3"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    import_names = {"pyyaml": "yaml"}  # distributions imported under another name
    for requirement in project["optional-dependencies"]["collector"]:
        name = requirement.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        declared.add(import_names.get(name, name))
    imported: set[str] = set()
    for path in (ROOT / "src" / "trackwire" / "collector").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {
        name for name in imported if name not in sys.stdlib_module_names and name != "trackwire"
    }

    assert third_party, "the scan found no imports at all"
    assert third_party <= declared, sorted(third_party - declared)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[RunningCollector]:
    with start_collector(db=tmp_path / "core.db", port=0) as running:
        yield running


def test_collector_help_works_without_the_collector_extra() -> None:
    result = run_core("collector", "--help")

    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout and "--db" in result.stdout
    assert "pip install 'trackwire[collector]'" in result.stdout


def test_the_query_commands_print_plain_text_without_rich(collector: RunningCollector) -> None:
    import trackwire

    with trackwire.Amplitude("core-amp", server_url=collector.url + "/2/httpapi") as amp:
        amp.track({"event_type": "Core Played", "user_id": "core-listener"})
    keys = ["--url", collector.url, "--api-key", "core-amp", "--secret-key", "s"]
    search = run_core("amplitude", "search", "core-listener", *keys)
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    chart = run_core("amplitude", "segmentation", "Core Played", "--start", today,
                     "--end", today, "--metric", "totals", *keys)  # fmt: skip

    assert search.returncode == 0, search.stderr
    assert "core-listener" in search.stdout and "match_user_or_device_id" in search.stdout
    assert chart.returncode == 0, chart.stderr
    assert "whole range" in chart.stdout and "█" in chart.stdout
