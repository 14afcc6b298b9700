"""In CI a skipped test fails the run (tests/support/ci_skips.py), proven on a throwaway test tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = {
    "test_skips.py": '''
import shutil, pytest

def test_passes():
    pass

@pytest.mark.skipif(shutil.which("no-such-tool-here") is None, reason="no-such-tool-here is not installed")
def test_needs_a_tool():
    pass

def test_skips_itself():
    pytest.skip("radosgw is not installed")

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure():
    assert False
''',
    "test_module_skip.py": '''
import pytest
pytest.skip("chromium is not installed", allow_module_level=True)
''',
}


def run_pytest(tmp_path: Path, ci: str | None, *files: str) -> subprocess.CompletedProcess:
    for name, text in TESTS.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.support.ci_skips", "-p", "no:cacheprovider",
                           "-rA", *files], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_outside_ci_skips_are_only_skips(tmp_path, ci):
    proc = run_pytest(tmp_path, ci, "test_skips.py", "test_module_skip.py")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in proc.stdout


@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_in_ci_a_skipped_test_fails_the_run(tmp_path, ci):
    proc = run_pytest(tmp_path, ci, "test_skips.py")
    assert proc.returncode == 1, proc.stdout
    # a skip at setup (skipif) reports as an error, one in the test body as a failure
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in proc.stdout
    assert "skipped in CI, which fails the run: no-such-tool-here is not installed" in proc.stdout
    assert "skipped in CI, which fails the run: radosgw is not installed" in proc.stdout


def test_in_ci_a_skipped_module_fails_the_run(tmp_path):
    proc = run_pytest(tmp_path, "true", "test_module_skip.py")
    assert proc.returncode == 1, proc.stdout
    assert "skipped in CI (fails the run)" in proc.stdout and "chromium is not installed" in proc.stdout
