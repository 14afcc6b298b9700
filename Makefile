# The README's two commands: `make demo` and `make test`. Both set up everything they need on
# first use: Debian's chromium (status-page test) and Ceph radosgw (real-S3 tests), with apt as
# root; a virtualenv with the package and its dev extras; and dynalite from npm.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ddbvault-installed

.PHONY: setup demo test bench soak clean

$(STAMP): pyproject.toml package.json package-lock.json
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the status-page test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v radosgw >/dev/null || { echo "installing Debian's Ceph radosgw for the real-S3 tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends radosgw ceph-mon ceph-osd >/dev/null; }
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

# The fault suite (tests/faults, docs/faults.md) with many seeds; SEEDS=1-500 for more.
SEEDS ?= 1-100
soak: setup
	$(PY) bench/soak.py --seeds $(SEEDS)

clean:
	rm -rf $(VENV) node_modules bench/.work
