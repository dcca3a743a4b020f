# Every target creates .venv when it is missing and installs what it needs; all are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit docs bench clean browser

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

# The browser tests drive Debian's Chromium; install it when it is missing and this is root on
# a Debian machine (CI is), else they skip with one line saying so.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      >/dev/null) || echo "could not install chromium: the browser tests will skip"; \
	  else echo "no chromium and no root to install it: the browser tests will skip"; fi; }

unit: $(STAMP) browser
	$(BIN)/pytest -q -n auto --dist loadgroup

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
