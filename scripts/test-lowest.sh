#!/usr/bin/env bash
# `make test-lowest`: the unit tests against the LOWEST versions of ddbvault's runtime
# dependencies that pyproject.toml allows (its `>=` floors), in a venv of its own (.venv-lowest).
#
# pip resolves under constraints from scripts/lowest_constraints.py: each runtime dependency at
# its floor, and every test tool at its dev.lock version; only the runtime dependencies' own
# dependencies are left to pip to fit. Then `pip check` proves the result consistent, each direct
# dependency is checked to be at its floor, and tests/unit runs. This venv tests the floors; it is
# not a reproducible install (that is what the locks are for), so it is not hash-checked.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LOWEST_VENV:-.venv-lowest}
PY=${PY:-.venv/bin/python}
# What tests/unit imports beyond ddbvault's own dependencies (jsonschema: the Kubernetes Job check).
TEST_TOOLS="pytest pytest-timeout hypothesis psutil cryptography packaging python-hcl2 jsonschema"
rm -rf "$VENV"
python3 -m venv "$VENV"
mkdir -p build
# The constraints are computed with the project's venv (`make setup`), which has `packaging`.
"$PY" scripts/lowest_constraints.py > build/lowest-floors.txt
"$PY" scripts/lowest_constraints.py --tools requirements/dev.lock \
  --except requirements/runtime.lock > build/lowest-constraints.txt
"$VENV/bin/pip" install --quiet -c build/lowest-constraints.txt setuptools wheel
# shellcheck disable=SC2046,SC2086  # one argument per package name
"$VENV/bin/pip" install --quiet -c build/lowest-constraints.txt --no-build-isolation -e . $TEST_TOOLS
"$VENV/bin/pip" check
# Proof that each one really is at its floor.
"$VENV/bin/python" - build/lowest-floors.txt <<'PY'
import sys
from importlib.metadata import version
from packaging.version import Version
for line in open(sys.argv[1]):
    name, floor = line.strip().split("==")
    assert Version(version(name)) == Version(floor), f"{name} is {version(name)}, not its floor {floor}"
    print(f"  {name}=={floor}")
PY
"$VENV/bin/pytest" tests/unit -q -p no:cacheprovider
