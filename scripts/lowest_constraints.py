"""Prints `name==floor` for each of ddbvault's runtime dependencies ([project].dependencies in
pyproject.toml): the lowest versions the package says it works with. `make test-lowest` installs
exactly those and runs the unit tests, so every lower bound is a tested fact, not a guess.

Exits 1, naming the dependency, when one has no `>=` or `==` lower bound: an unbounded
dependency cannot be tested at its floor.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement


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


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    sys.stdout.write("".join(f"{pin}\n" for pin in floors(root / "pyproject.toml")))
