# The README's two commands: `make demo` and `make test`.
# - `make demo` needs only Python >= 3.11 and pip: a virtualenv with the package and moto_server
#   (the `demo` extra). No root, no apt, no Node.
# - `make test` also needs Debian's chromium (status-page test), Ceph radosgw (real-S3 tests) and
#   npm (dynalite): scripts/test-tools.sh installs them with apt as root, or says what is missing
#   and how to get it; then the dev extras and dynalite from npm.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.ddbvault-demo
STAMP := $(VENV)/.ddbvault-installed

.PHONY: setup demo test bench soak clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(STAMP): pyproject.toml package.json package-lock.json | $(VENV)/bin/python
	scripts/test-tools.sh
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/ddbvault demo

test: setup
	$(VENV)/bin/pytest

bench: setup
	$(PY) bench/run.py

# The fault suite (tests/faults, docs/faults.md) with many seeds; SEEDS=1-500 for more.
SEEDS ?= 1-100
soak: setup
	$(PY) bench/soak.py --seeds $(SEEDS)

clean:
	rm -rf $(VENV) node_modules bench/.work
