# The README's two commands: `make demo` and `make test`.
# - `make demo` needs only Python >= 3.11 and pip: a virtualenv with the package and moto_server
#   (the `demo` extra). No root, no apt, no Node.
# - Every Python dependency comes from a lock file in requirements/ (versions and sha256 hashes;
#   `make lock` regenerates them from pyproject.toml), then ddbvault itself, editable, from this
#   tree with the locked build back-end: no other download, nothing resolved at install time.
# - `make test` also needs Debian's chromium (status-page test), Ceph radosgw (real-S3 tests) and
#   npm (dynalite): scripts/test-tools.sh installs them with apt as root, or says what is missing
#   and how to get it; then the dev extras and dynalite from npm.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.ddbvault-demo
STAMP := $(VENV)/.ddbvault-installed
INSTALL_LOCKED = $(PY) -m pip install --quiet --require-hashes --no-deps -r
INSTALL_SELF = $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .

.PHONY: setup demo test test-lowest image lock bench soak clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(DEMO_STAMP): pyproject.toml requirements/demo.lock | $(VENV)/bin/python
	$(INSTALL_LOCKED) requirements/demo.lock
	$(INSTALL_SELF)
	touch $@

$(STAMP): pyproject.toml requirements/dev.lock package.json package-lock.json | $(VENV)/bin/python
	scripts/test-tools.sh
	$(INSTALL_LOCKED) requirements/dev.lock
	$(INSTALL_SELF)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/ddbvault demo

test: setup
	$(VENV)/bin/pytest

# The unit tests with every runtime dependency at the floor pyproject.toml allows (.venv-lowest).
test-lowest: setup
	PY=$(PY) scripts/test-lowest.sh

# The service image, built with podman (docs/image.md); tests/integration/image runs it.
image: $(DEMO_STAMP)
	PY=$(PY) scripts/image.sh

# Regenerate requirements/*.lock from pyproject.toml; UPGRADE=1 moves every pin to the newest.
lock:
	scripts/lock.sh

bench: setup
	$(PY) bench/run.py

# The fault suite (tests/faults, docs/faults.md) with many seeds; SEEDS=1-500 for more.
SEEDS ?= 1-100
soak: setup
	$(PY) bench/soak.py --seeds $(SEEDS)

clean:
	rm -rf $(VENV) .venv-lowest node_modules bench/.work build/image
