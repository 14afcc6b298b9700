"""requirements/*.lock (scripts/lock.sh) against pyproject.toml: every package pinned with hashes,
one version of each package across the three locks, each lock a superset of the one below it,
every declared dependency pinned inside its declared range, and no machine-specific lines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.lowest_constraints import floors

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = ("runtime", "demo", "dev")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$")


def _entries(name: str) -> dict[str, tuple[str, list[str]]]:
    """canonical name -> (version, [sha256 hashes]) of one lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (ROOT / "requirements" / f"{name}.lock").read_text().splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match.group(1))
            assert current not in entries, f"{name}.lock pins {current} twice"
            entries[current] = (match.group(2), [])
        elif line.strip().startswith("--hash=sha256:"):
            assert current is not None, f"{name}.lock: a hash before any pin"
            entries[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"{name}.lock: unexpected line {line!r} (index URLs, find-links and "
                                 "unpinned entries are machine-specific or unhashed)")
    return entries


@pytest.fixture(scope="module")
def locks() -> dict[str, dict[str, tuple[str, list[str]]]]:
    return {name: _entries(name) for name in LOCKS}


def test_every_pin_has_sha256_hashes(locks):
    for name, entries in locks.items():
        assert entries, f"{name}.lock pins nothing"
        for package, (_, hashes) in entries.items():
            assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), (name, package)


def test_one_version_per_package_and_each_lock_contains_the_one_below(locks):
    for lower, upper in (("runtime", "demo"), ("demo", "dev")):
        missing = set(locks[lower]) - set(locks[upper])
        assert not missing, f"{upper}.lock lacks {sorted(missing)} of {lower}.lock"
    for package in set().union(*locks.values()):
        versions = {name: locks[name][package][0] for name in LOCKS if package in locks[name]}
        assert len(set(versions.values())) == 1, f"{package} differs between locks: {versions}"


def _declared(lock: str) -> list[Requirement]:
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    extras = {"runtime": [], "demo": ["demo"], "dev": ["demo", "dask", "dev"]}[lock]
    for extra in extras:
        requirements += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return [r for r in requirements if canonicalize_name(r.name) != "ddbvault"]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_declared_dependency_is_pinned_inside_its_range(locks, lock):
    assert "ddbvault" not in locks[lock], "the project itself is installed from the tree, not a lock"
    for requirement in _declared(lock):
        name = canonicalize_name(requirement.name)
        assert name in locks[lock], f"{lock}.lock does not pin {name}"
        version = locks[lock][name][0]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"{lock}.lock pins {name}=={version}, outside pyproject.toml's {requirement}"


def test_the_editable_installs_find_their_build_backend_in_the_lock(locks):
    backend = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]]
    for lock in ("demo", "dev"):
        for requirement in backend:
            version = locks[lock][canonicalize_name(requirement.name)][0]
            assert requirement.specifier.contains(version), (lock, requirement, version)


def test_every_runtime_dependency_has_a_floor_that_test_lowest_installs():
    pins = floors(ROOT / "pyproject.toml")
    assert [p.split("==")[0] for p in pins] == [Requirement(r).name for r in PROJECT["dependencies"]]
    for pin, text in zip(pins, PROJECT["dependencies"]):
        assert Requirement(text).specifier.contains(pin.split("==")[1])


def test_a_dependency_without_a_floor_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["boto3>=1.35.2", "rich"]\n')
    with pytest.raises(SystemExit, match="'rich' has no single lower bound"):
        floors(tmp_path / "pyproject.toml")
