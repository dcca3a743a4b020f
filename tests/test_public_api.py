"""The public surface is pinned, and the one-way import rules hold."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import trackwire

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "trackwire"


def test_public_names_are_pinned() -> None:
    assert trackwire.__all__ == [
        "Amplitude",
        "BatchReport",
        "ClientClosedError",
        "ConfigError",
        "DeliveryConfig",
        "DeliveryError",
        "FanOut",
        "MParticle",
        "MessageTooLargeError",
        "Middleware",
        "QueryError",
        "Receipt",
        "RetryConfig",
        "Segment",
        "TrackwireError",
        "ValidationError",
        "__version__",
    ]
    assert trackwire.__all__ == sorted(trackwire.__all__)
    for name in trackwire.__all__:
        assert getattr(trackwire, name) is not None


def imports_of(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name.startswith("trackwire")}


def test_engine_imports_no_vendor_and_the_sdk_never_imports_the_collector() -> None:
    for path in (SRC / "_engine").glob("*.py"):
        for name in imports_of(path):
            assert name.startswith(
                ("trackwire._engine", "trackwire.config", "trackwire.errors", "trackwire._version")
            ), f"{path.name} imports {name}"
    for package in ("segment", "amplitude", "mparticle", "_engine"):
        for path in (SRC / package).glob("*.py"):
            for name in imports_of(path):
                assert not name.startswith(("trackwire.collector", "trackwire.cli")), (
                    f"{package}/{path.name} imports {name}"
                )


def test_vendor_packages_import_only_the_client_layer_and_their_own_package() -> None:
    shared = (
        "trackwire._client",
        "trackwire._engine",
        "trackwire._logging",
        "trackwire._version",
        "trackwire.config",
        "trackwire.errors",
        "trackwire.middleware",
    )
    for package in ("segment", "amplitude", "mparticle"):
        for path in (SRC / package).rglob("*.py"):
            for name in imports_of(path):
                assert name.startswith((*shared, f"trackwire.{package}")) or name == "trackwire", (
                    f"{package}/{path.name} imports {name}"
                )


def test_import_trackwire_stays_light() -> None:
    code = (
        "import sys, trackwire; heavy = {'starlette', 'uvicorn', 'rich', 'sqlite3', "
        "'trackwire.collector', 'trackwire.cli'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
