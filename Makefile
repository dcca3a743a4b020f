# Every target creates .venv when it is missing and installs what it needs; all are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench docs/hooks examples
	$(BIN)/ruff format --check src tests bench docs/hooks examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n auto

# The documentation site, warnings as errors (mkdocs.yml: strict), into build/site.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet

test: lint typecheck docs unit

demo: $(STAMP)
	$(BIN)/python -m trackwire.demo

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .trackwire .pytest_cache .mypy_cache .ruff_cache build dist
