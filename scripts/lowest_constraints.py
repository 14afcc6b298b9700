"""Prints the pip constraints `make test-lowest` installs under (scripts/test-lowest.sh):

- `name==floor` for each of ddbvault's runtime dependencies ([project].dependencies in
  pyproject.toml): the lowest versions the package says it works with;
- with `--tools requirements/dev.lock --except requirements/runtime.lock`, also the locked
  version of every other package in dev.lock (the test tools), so only the runtime dependencies
  and what they pull in move away from the lock.

Exits 1, naming the dependency, when one has no `>=` or `==` lower bound: an unbounded
dependency cannot be tested at its floor.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def floors(pyproject: Path) -> list[str]:
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for text in dependencies:
        requirement = Requirement(text)
        lows = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
        if len(lows) != 1:
            raise SystemExit(f"lowest_constraints: {text!r} has no single lower bound (>= or ==). "
                             "Try: give it one in pyproject.toml, the oldest release it is known to work with")
        pins.append(f"{requirement.name}=={lows[0]}")
    return pins


def locked(lock: Path) -> dict[str, str]:
    """Canonical package name -> pinned version, for every `name==version` line of a lock file."""
    return {canonicalize_name(m.group(1)): m.group(2)
            for line in lock.read_text(encoding="utf-8").splitlines() if (m := _PIN.match(line))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=Path, help="a lock whose other pins are kept (dev.lock)")
    parser.add_argument("--except", dest="skip", type=Path, help="a lock whose packages may move (runtime.lock)")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    pins = floors(root / "pyproject.toml")
    if args.tools:
        moving = set(locked(args.skip)) if args.skip else set()
        moving |= {canonicalize_name(p.split("==")[0]) for p in pins}
        pins += [f"{name}=={version}" for name, version in sorted(locked(args.tools).items()) if name not in moving]
    sys.stdout.write("".join(f"{pin}\n" for pin in pins))


if __name__ == "__main__":
    main()
