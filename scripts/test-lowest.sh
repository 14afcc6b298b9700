#!/usr/bin/env bash
# `make test-lowest`: the unit tests against the LOWEST versions of ddbvault's runtime
# dependencies that pyproject.toml allows (its `>=` floors), in a venv of its own (.venv-lowest).
# The test tools come from requirements/dev.lock (hash-checked); then pip resolves ddbvault's
# direct dependencies with each pinned at its floor (scripts/lowest_constraints.py), moving their
# own dependencies to versions that fit; `pip check` proves the result is consistent, and each
# direct dependency is checked to be at its floor.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LOWEST_VENV:-.venv-lowest}
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --require-hashes --no-deps -r requirements/dev.lock
mkdir -p build
"$VENV/bin/python" scripts/lowest_constraints.py > build/lowest-constraints.txt
names=$(cut -d= -f1 build/lowest-constraints.txt)
# shellcheck disable=SC2086  # one argument per dependency name
"$VENV/bin/pip" install --quiet -c build/lowest-constraints.txt $names
"$VENV/bin/pip" install --quiet --no-deps --no-build-isolation -e .
"$VENV/bin/pip" check
# Proof that each one really is at its floor (pip would also accept an already-installed newer one
# if the constraints file were wrong).
"$VENV/bin/python" - build/lowest-constraints.txt <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    name, floor = line.strip().split("==")
    assert version(name) == floor, f"{name} is {version(name)}, not its floor {floor}"
    print(f"  {name}=={floor}")
PY
"$VENV/bin/pytest" tests/unit -q -p no:cacheprovider
