"""The `ddbvault` console script imports the CLI only when called (ddbvault/console.py), so the
children of `backup --processes P`, which re-run the parent's main script on start ("spawn"),
do not load it. Checked on a fresh interpreter, and on the installed script's entry point."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_console_entry_module_imports_neither_the_cli_nor_click():
    probe = ("import sys, ddbvault.console; "
             "print(sorted(m for m in ('ddbvault.cli', 'click', 'ddbvault.backup') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_console_script_is_the_light_entry_in_pyproject_and_as_installed():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"ddbvault": "ddbvault.console:main"}
    installed = importlib.metadata.entry_points(group="console_scripts", name="ddbvault")
    assert [e.value for e in installed] == ["ddbvault.console:main"]  # reinstall (make setup) if this fails


def test_the_console_script_runs_the_cli_and_exits_with_its_code(tmp_path):
    script = Path(sys.executable).with_name("ddbvault")
    run = subprocess.run([str(script), "backup", "orders", "--to", "ftp://somewhere"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert run.returncode == 2 and "ftp://somewhere" in run.stderr and "Traceback" not in run.stderr
