"""The service image, built and run: `make image` (scripts/image.sh) builds the Dockerfile with
podman, and the container's `ddbvault serve` runs against moto_server on the host. Checked:
/healthz and /metrics answer, a scheduled backup lands in S3 with its manifest, the process runs
as the image's non-root user with a read-only root filesystem and no writable mount, and SIGTERM
(podman stop) ends it with exit code 0.

Needs podman (scripts/test-tools.sh installs it, with runc and debootstrap, as root). Without it
the test is skipped, which in CI fails the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from ddbvault.devtools.local_servers import free_port
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
IMAGE = "localhost/ddbvault:test"
CONFIG_IN_IMAGE = "/etc/ddbvault/ddbvault.yaml"


def _podman_opts() -> list[str]:
    """The options scripts/podman-opts.sh computes, for `podman run` here."""
    out = subprocess.run(["bash", "-c", ". scripts/podman-opts.sh; printf '%s\\n' \"${PODMAN_OPTS[@]}\""],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/test-tools.sh installs it as root)")
    env = dict(os.environ, IMAGE=IMAGE, PY=str(Path(os.sys.executable)))
    proc = subprocess.run(["bash", "scripts/image.sh"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return IMAGE


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def _podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    assert not check or proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc


def test_the_image_serves_backs_up_and_runs_read_only_as_non_root(image, ddb, s3, aws_env, tmp_path):
    table, bucket = "image-orders", "image-vault"
    create_table(ddb, table)
    fill_table(ddb, table, 30, edge_cases=True)
    s3.create_bucket(Bucket=bucket)
    port = free_port()
    config = tmp_path / "ddbvault.yaml"
    config.write_text(
        "jobs:\n"
        f"  - {{name: orders, table: {table}, interval_seconds: 2, destination: 's3://{bucket}/vault'}}\n"
        f"http: {{host: 127.0.0.1, port: {port}}}\n")
    config.chmod(0o644)
    name = f"ddbvault-test-{uuid.uuid4().hex[:8]}"
    env = {"AWS_ENDPOINT_URL": aws_env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    run = ["run", "--detach", "--name", name, *_podman_opts(), "--network", "host", "--read-only",
           "--volume", f"{config}:{CONFIG_IN_IMAGE}:ro"]
    for key, value in env.items():
        run += ["--env", f"{key}={value}"]
    _podman(*run, image)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while _get(f"{base}/healthz")[0] != 200:
            state = json.loads(_podman("inspect", name).stdout)[0]["State"]
            assert state["Running"] and time.monotonic() < deadline, _podman("logs", name, check=False).stderr[-3000:]
            time.sleep(0.5)
        manifests: list[str] = []
        while not manifests:
            assert time.monotonic() < deadline, "no backup landed: " + _podman("logs", name, check=False).stderr[-3000:]
            listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"vault/{table}/")
            manifests = [o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith("/manifest.json")]
            time.sleep(0.5)
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifests[0])["Body"].read())
        assert manifest["source"]["table_name"] == table and manifest["totals"]["items"] == 30
        status, metrics = _get(f"{base}/metrics")
        assert status == 200 and f'ddbvault_backups_total{{job="orders",table="{table}"}}' in metrics

        inspect = json.loads(_podman("inspect", name).stdout)[0]
        assert inspect["HostConfig"]["ReadonlyRootfs"] is True
        assert [m for m in inspect["Mounts"] if m.get("RW")] == []   # nothing writable mounted
        assert _podman("exec", name, "id", "-u").stdout.strip() == "10001"
        # the image's own HEALTHCHECK command, pointed at this config's port
        health = inspect["Config"]["Healthcheck"]["Test"]
        assert health[0] == "CMD" and "/healthz" in " ".join(health)
        _podman("exec", name, *[part.replace("8080", str(port)) for part in health[1:]])
        denied = _podman("exec", name, "touch", "/opt/ddbvault/probe", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr
        _podman("stop", "--time", "30", name, timeout=60)
        state = json.loads(_podman("inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 0, _podman("logs", name, check=False).stderr[-3000:]
    finally:
        _podman("rm", "--force", name, check=False)
