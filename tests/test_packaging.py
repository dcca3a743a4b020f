"""The package as a user gets it: a wheel and an sdist built by ``python -m build``, metadata
that ``twine check`` accepts and that says what trackwire is, and a wheel that installs in a
clean virtual environment and runs.

One module-scoped build serves every test here; the clean install reuses pip's cache.
"""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=300, cwd=cwd
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend (hatchling) is a dev dependency, already installed.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=ROOT)
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("trackwire-*.whl")
    return wheel


def test_build_makes_a_wheel_and_an_sdist_that_twine_accepts(dist: Path) -> None:
    (sdist,) = dist.glob("trackwire-*.tar.gz")
    wheel = _wheel(dist)

    _run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist, cwd=dist)
    names = zipfile.ZipFile(wheel).namelist()
    assert "trackwire/py.typed" in names
    assert "trackwire/cli/__main__.py" in names
    # The collector's web page ships in the wheel: nothing to build, nothing fetched.
    for static in ("index.html", "app.js", "app.css"):
        assert f"trackwire/collector/viewer/static/{static}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    plugins = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "trackwire = trackwire.pytest_plugin" in plugins
    assert not any(name.startswith(("tests/", "bench/", "docs/")) for name in names)


def test_the_metadata_says_what_trackwire_is(dist: Path) -> None:
    wheel = zipfile.ZipFile(_wheel(dist))
    (path,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    metadata = email.message_from_bytes(wheel.read(path))

    summary = metadata["Summary"]
    for word in ("Segment", "Amplitude", "mParticle", "collector"):
        assert word in summary
    assert set(metadata.get_all("Provides-Extra") or []) >= {"collector", "docs", "dev"}
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL") or []} >= {
        "Documentation",
        "Source",
        "Changelog",
    }
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.1") for c in classifiers)
    core = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert sorted(r.split(">")[0] for r in core) == ["orjson", "urllib3"]


def test_the_wheel_installs_in_a_clean_venv_and_runs(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # This interpreter's pip installs into the new one (no pip bootstrap in the clean venv).
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", _wheel(dist),
         cwd=tmp_path)  # fmt: skip

    help_text = _run(venv / "bin" / "trackwire", "--help", cwd=tmp_path)
    where = _run(python, "-c", "import trackwire; print(trackwire.__version__, trackwire.__file__)",
                 cwd=tmp_path)  # fmt: skip

    assert "usage: trackwire" in help_text and "collector" in help_text
    version, location = where.split()
    assert location.startswith(str(venv))
    assert version == _wheel(dist).name.split("-")[1]
