"""The configuration reference is generated from the code and cannot fall behind it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from trackwire import _options
from trackwire.amplitude import options as amplitude_options

HOOK = Path(__file__).resolve().parent.parent / "docs" / "hooks" / "generated.py"


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generated", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_option_of_every_client_is_in_the_reference(hook: ModuleType) -> None:
    page = hook.options_markdown()

    options = [*_options._DELIVERY_OPTIONS, *_options._CLIENT_OPTIONS, *amplitude_options.OWN]
    options += ["host", "region", "pod", "environment", "historical"]
    missing = [name for name in options if f"| `{name}` |" not in page]
    assert missing == []
    assert "| `debug` | `False` | `TRACKWIRE_DEBUG` |" in page
    assert "| `token_endpoint` | — | `AMPLITUDE_TOKEN_ENDPOINT` |" in page


def test_an_option_no_docstring_describes_stops_the_build(
    hook: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_options, "_CLIENT_OPTIONS", {**_options._CLIENT_OPTIONS, "new_knob": 1})

    with pytest.raises(ValueError, match="new_knob"):
        hook.options_markdown()


def test_the_markers_are_replaced(hook: ModuleType) -> None:
    page = hook.on_page_markdown(f"# Config\n\n{hook.MARKER}\n\n{hook.CHANGELOG_MARKER}\n")

    assert hook.MARKER not in page and hook.CHANGELOG_MARKER not in page
    assert "### Options every client takes" in page and "## [Unreleased]" in page
