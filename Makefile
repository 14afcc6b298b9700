# The README's two commands: `make demo` and `make test`. Both set up everything they need
# (a virtualenv with the package and its dev extras, and dynalite from npm) on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ddbvault-installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml package.json package-lock.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP)

demo: setup
	$(VENV)/bin/ddbvault demo

test: setup
	$(VENV)/bin/pytest

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) node_modules bench/.work
