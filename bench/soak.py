"""The fault suite's soak: tests/faults with many more seeds than CI runs, then its totals.

    .venv/bin/python bench/soak.py                 # seeds 1-100 (`make soak`)
    .venv/bin/python bench/soak.py --seeds 1-500
    .venv/bin/python bench/soak.py --seeds 17      # replay one seed

Runs pytest on the seeded tests of tests/faults/test_fault_suite.py (not the fixed single-fault
cases, which CI runs) with DDBVAULT_FAULT_SEEDS set (see
docs/faults.md), prints the suite's totals line and the failing seeds, and exits with pytest's
status. The totals are also kept in $DDBVAULT_TEST_LOGS/fault-totals.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-100", help="e.g. 1-100, 3,17 or 42 [default: 1-100]")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args()
    logs = Path(os.environ.get("DDBVAULT_TEST_LOGS", "/tmp/ddbvault-test-logs"))
    env = {**os.environ, "DDBVAULT_FAULT_SEEDS": args.seeds, "DDBVAULT_TEST_LOGS": str(logs)}
    totals = logs / "fault-totals.json"
    totals.unlink(missing_ok=True)
    status = subprocess.call([sys.executable, "-m", "pytest", "tests/faults/test_fault_suite.py", "-q",
                              "-p", "no:cacheprovider", "-k", "under_faults or kill_9", *args.pytest_args],
                             cwd=ROOT, env=env)
    if totals.exists():
        print(json.loads(totals.read_text())["line"])
    return status


if __name__ == "__main__":
    sys.exit(main())
