"""The README's set-up: `make demo` needs only Python and pip (no root, no apt, no Node), and
`make test`'s system tools are installed as root or named with how to get them, before anything
else is set up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_demo_installs_only_the_package_and_its_demo_extra(tmp_path):
    plan = subprocess.run(["make", "-n", "demo", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    commands = plan.stdout
    # every dependency from the demo lock, hash-checked; then ddbvault itself from the tree
    assert "pip install --quiet --require-hashes --no-deps -r requirements/demo.lock" in commands
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in commands and "ddbvault demo" in commands
    for needs_more in ("apt-get", "npm", "sudo", "test-tools.sh", "dev.lock", "podman"):
        assert needs_more not in commands, needs_more


def test_make_test_checks_its_system_tools_first(tmp_path):
    plan = subprocess.run(["make", "-n", "test", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    lines = plan.stdout.splitlines()
    assert plan.returncode == 0, plan.stderr
    tools = next(i for i, line in enumerate(lines) if "scripts/test-tools.sh" in line)
    assert tools < next(i for i, line in enumerate(lines) if "-r requirements/dev.lock" in line)
    assert tools < next(i for i, line in enumerate(lines) if line.startswith("npm ci"))


def test_missing_test_tools_are_named_with_how_to_get_them(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with none of the tools, and no apt-get to install them
    bin_dir.mkdir()
    (bin_dir / "id").symlink_to(shutil.which("id"))
    done = subprocess.run([shutil.which("bash"), str(ROOT / "scripts" / "test-tools.sh")], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 1 and done.stdout == ""
    for tool, package in (("chromium", "chromium"), ("radosgw", "radosgw ceph-mon ceph-osd"), ("npm", "nodejs npm"),
                          ("podman", "podman runc debootstrap")):
        assert f"  {tool}: for " in done.stderr and f"Try: sudo apt-get install --no-install-recommends {package}" in done.stderr
    assert "make demo does not" in done.stderr


def test_present_test_tools_need_nothing(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "chromium", "radosgw", "npm", "podman", "runc", "debootstrap"):
        (bin_dir / tool).symlink_to(shutil.which("true"))
    done = subprocess.run([shutil.which("bash"), str(ROOT / "scripts" / "test-tools.sh")], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 0 and done.stdout == done.stderr == ""
