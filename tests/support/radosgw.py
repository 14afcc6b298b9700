"""A throwaway single-node Ceph cluster with radosgw: the one real S3 server the tests can reach.

One monitor, one memstore OSD (objects live in RAM), cephx off, no manager, and radosgw's beast
frontend. The monitor and radosgw listen on 127.0.0.1 on ports found free at start (the OSD binds
its own), and every file (ceph.conf, the monitor's store, sockets, logs) lives in one temporary
directory.

Contract of `radosgw_cluster()`:
- It yields a `RadosGateway` only after each user has made a full S3 round trip: CreateBucket,
  PutObject, GetObject, DeleteObject and DeleteBucket, each with short client timeouts, retried
  until START_TIMEOUT_S. So the pools and placement groups that a first PutObject needs are
  active. Without a manager, PG state cannot be queried, so a real round trip is the readiness
  signal. (The shell script this grew from once saw a PutObject hang on a cluster that answered
  HTTP.) Before that, start() waits until the monitor reports the OSD up.
- Every command and every wait has a timeout. A failure raises `RadosGatewayError` with the tail
  of the daemons' logs.
- A failed start is retried from scratch, up to START_ATTEMPTS starts in all (see there for the
  races this absorbs).
- On exit, and after every failed start, the daemons are stopped in the order radosgw, OSD,
  monitor: SIGTERM, then SIGKILL after STOP_TIMEOUT_S. The logs are copied to `log_dir` (when
  given), and the temporary directory is removed.

Needs the Debian packages radosgw, ceph-mon and ceph-osd. `missing_binaries()` names those that
are absent.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import boto3
from botocore.config import Config

from ddbvault.devtools.local_servers import free_port

log = logging.getLogger(__name__)

BINARIES = ("radosgw", "radosgw-admin", "ceph-mon", "ceph-osd", "ceph", "monmaptool", "ceph-authtool")
START_TIMEOUT_S = 60.0  # per wait; a whole healthy start takes about 2 s here
# A few rare races fail a start (1 of the last 90 starts here). The one seen: a
# client's first monitor command sometimes leaves before the monitor map has arrived, so it
# carries a zero fsid and the monitor answers "wrong fsid". Another: a port that was free when it
# was picked is taken by the time radosgw binds it.
START_ATTEMPTS = 3
COMMAND_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
REGION = "us-east-1"
# The static key of RGW's "testing" KMS backend (SSE-KMS without a KMS server). Its id is an ARN
# so that a generated bucket policy can name it as it would name a real key.
KMS_KEY_ID = "arn:aws:kms:us-east-1:210987654321:key/rgw-test-key-1"
KMS_KEY_MATERIAL = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, base64


class RadosGatewayError(RuntimeError):
    """The cluster could not be started (or a radosgw-admin command failed)."""


@dataclass(frozen=True)
class S3User:
    """An RGW user (in the default, empty tenant) and its S3 keys."""

    uid: str
    access_key: str
    secret_key: str

    @property
    def principal_arn(self) -> str:
        """How a bucket policy names this user in RGW."""
        return f"arn:aws:iam:::user/{self.uid}"


@dataclass(frozen=True)
class RadosGateway:
    endpoint: str
    users: dict[str, S3User]

    def client(self, uid: str, timeout_s: float = 30.0):
        """A boto3 S3 client signed with `uid`'s keys; no retries hide a failure or a hang."""
        user = self.users[uid]
        config = Config(connect_timeout=5, read_timeout=timeout_s, retries={"total_max_attempts": 1},
                        s3={"addressing_style": "path"})
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, config=config,
                            aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key)

    def env_for(self, uid: str) -> dict[str, str]:
        """Environment variables that point boto3's S3 at this gateway as `uid`."""
        user = self.users[uid]
        return {"AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_ACCESS_KEY_ID": user.access_key,
                "AWS_SECRET_ACCESS_KEY": user.secret_key}


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


@contextmanager
def radosgw_cluster(uids: tuple[str, ...] = ("owner", "writer"), *, log_dir: Path | None = None,
                    attempts: int = START_ATTEMPTS) -> Iterator[RadosGateway]:
    """Start a cluster, create one S3 user per uid, yield, then stop it and remove its files.

    A start that fails is retried from scratch (new directory, new ports), up to `attempts`
    starts in all. The logs of a failed start go to `log_dir`/failed-start-N."""
    missing = missing_binaries()
    if missing:
        raise RadosGatewayError(f"missing {', '.join(missing)}: apt-get install --no-install-recommends "
                                "radosgw ceph-mon ceph-osd")
    for attempt in range(1, attempts + 1):
        cluster = _Cluster(Path(tempfile.mkdtemp(prefix="ddbvault-rgw-")),
                           mon_port=free_port(), rgw_port=free_port())
        try:
            gateway = cluster.start_gateway(uids)
            break
        except RadosGatewayError as exc:
            cluster.dispose(log_dir / f"failed-start-{attempt}" if log_dir else None)
            if attempt == attempts:
                raise
            log.warning("radosgw start %d of %d failed, starting again: %s",
                        attempt, attempts, str(exc).splitlines()[0])
        except BaseException:
            cluster.dispose(log_dir)
            raise
    try:
        yield gateway
    finally:
        cluster.dispose(log_dir)


class _Cluster:
    """The daemons of one cluster and the commands that set it up. Not thread-safe."""

    def __init__(self, root: Path, *, mon_port: int, rgw_port: int):
        self.root = root
        self.mon_port = mon_port
        self.rgw_port = rgw_port
        self.conf = root / "ceph.conf"
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def start_gateway(self, uids: tuple[str, ...]) -> RadosGateway:
        self.start()
        users = {uid: self.create_user(uid) for uid in uids}
        gateway = RadosGateway(f"http://127.0.0.1:{self.rgw_port}", users)
        self.wait_for_round_trips(gateway)
        return gateway

    def dispose(self, log_dir: Path | None) -> None:
        """Stop the daemons, keep the logs in `log_dir` (if given), remove the directory."""
        try:
            self.stop()
        finally:
            if log_dir is not None and (self.root / "log").is_dir():
                shutil.copytree(self.root / "log", log_dir, dirs_exist_ok=True)
            shutil.rmtree(self.root, ignore_errors=True)

    def start(self) -> None:
        """Monitor, then OSD (waiting until it is up), then radosgw."""
        for sub in ("mon/ceph-a", "osd/ceph-0", "run", "log", "rgw"):
            (self.root / sub).mkdir(parents=True)
        fsid = str(uuid.uuid4())
        self.conf.write_text(_ceph_conf(self.root, fsid, self.mon_port, self.rgw_port))
        self._run("monmaptool", "--create", "--add", "a", self._mon_addr, "--fsid", fsid,
                  str(self.root / "monmap"))
        self._run("ceph-authtool", "--create-keyring", str(self.root / "mon.keyring"), "--gen-key",
                  "-n", "mon.", "--cap", "mon", "allow *")
        self._run("ceph-mon", "-c", str(self.conf), "--mkfs", "-i", "a", "--monmap",
                  str(self.root / "monmap"), "--keyring", str(self.root / "mon.keyring"))
        self._spawn("mon", "ceph-mon", "-f", "-c", str(self.conf), "-i", "a")
        osd_uuid = str(uuid.uuid4())
        # The first command after the monitor's start also waits for it to form a quorum.
        self._ceph("osd", "new", osd_uuid)
        # Placed here, not by the OSD at boot (see "osd crush update on start" in _ceph_conf).
        self._ceph("osd", "crush", "add", "osd.0", "1.0", "host=localhost", "root=default")
        self._run("ceph-osd", "-c", str(self.conf), "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd", "ceph-osd", "-f", "-c", str(self.conf), "-i", "0")
        self._wait_for_osd_up()
        self._spawn("rgw", "radosgw", "-f", "-c", str(self.conf), "-n", "client.rgw.a")

    def _wait_for_osd_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while json.loads(self._ceph("osd", "stat", "--format", "json")).get("num_up_osds") != 1:
            self._check_alive()
            if time.monotonic() > deadline:
                raise RadosGatewayError(f"the OSD did not come up within {START_TIMEOUT_S:.0f}s\n"
                                        f"{self.log_tail()}")
            time.sleep(0.2)

    @property
    def _mon_addr(self) -> str:
        return f"v1:127.0.0.1:{self.mon_port}"

    def create_user(self, uid: str) -> S3User:
        user = S3User(uid, access_key=secrets.token_hex(10).upper(), secret_key=secrets.token_hex(20))
        # radosgw-admin talks to RADOS directly, as client.admin (so it does not take radosgw's
        # admin socket); the default zone it writes users into is the one radosgw serves.
        self._run("radosgw-admin", "-c", str(self.conf), "user", "create",
                  f"--uid={uid}", f"--display-name={uid}", f"--access-key={user.access_key}",
                  f"--secret-key={user.secret_key}")
        return user

    def wait_for_round_trips(self, gateway: RadosGateway) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        for uid in gateway.users:
            last_error: Exception | None = None
            for attempt in itertools.count():
                self._check_alive()
                try:  # a new bucket each time: an attempt cut short may leave its bucket behind
                    _round_trip(gateway.client(uid, timeout_s=10), f"ready-{uid}-{attempt}".lower())
                    break
                except Exception as exc:  # not ready yet: connection refused, 5xx, timeout
                    last_error = exc
                if time.monotonic() > deadline:
                    raise RadosGatewayError(f"radosgw did not serve S3 for {uid} within "
                                            f"{START_TIMEOUT_S:.0f}s: {last_error}\n{self.log_tail()}")
                time.sleep(0.5)

    def stop(self) -> None:
        """Idempotent: radosgw, then the OSD, then the monitor."""
        for _name, process in reversed(self.processes):
            if process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def _check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RadosGatewayError(f"ceph {name} exited with code {process.returncode}\n"
                                        f"{self.log_tail()}")

    def _spawn(self, name: str, *argv: str) -> None:
        with open(self.root / "log" / f"{name}.out", "ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append((name, process))

    def _ceph(self, *args: str) -> str:
        return self._run("ceph", "-c", str(self.conf), "--connect-timeout",
                         str(int(COMMAND_TIMEOUT_S)), *args)

    def _run(self, *argv: str) -> str:
        """Run a command to completion (or COMMAND_TIMEOUT_S); its stdout."""
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise RadosGatewayError(f"{argv[0]} {argv[-1]} timed out after {COMMAND_TIMEOUT_S:.0f}s\n"
                                    f"{self.log_tail()}") from exc
        if done.returncode != 0:
            raise RadosGatewayError(f"{' '.join(argv[:6])}... failed ({done.returncode}): "
                                    f"{done.stderr.strip()[-2000:]}\n{self.log_tail()}")
        return done.stdout


def _round_trip(client, bucket: str) -> None:
    """Create, write, read and remove one object: what proves the data path works."""
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="probe", Body=b"probe")
    if client.get_object(Bucket=bucket, Key="probe")["Body"].read() != b"probe":
        raise RadosGatewayError("radosgw returned a different probe body")
    client.delete_object(Bucket=bucket, Key="probe")
    client.delete_bucket(Bucket=bucket)


def _ceph_conf(root: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    """ceph.conf for one throwaway node. Paths must be absolute."""
    return f"""[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
run dir = {root}/run
admin socket = {root}/run/$cluster-$name.asok
log file = {root}/log/$name.log
[mon]
mon data = {root}/mon/$cluster-$id
# Commit map changes at once rather than once a second: radosgw creates its pools one by one.
paxos propose interval = 0.05
paxos min wait = 0.01
[osd]
osd objectstore = memstore
memstore device bytes = 1073741824
osd data = {root}/osd/$cluster-$id
osd max object name len = 256
osd max object namespace len = 64
# The OSD would otherwise send CRUSH commands as it boots; now and then (3 of 12 starts here) the
# first one left before the monitor map had arrived, carrying a zero fsid: the monitor answered
# "wrong fsid" and the OSD exited, crashed or hung. start() places the OSD in CRUSH instead.
osd crush update on start = false
osd class update on start = false
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw data = {root}/rgw
# SSE-KMS with static keys, the only SSE that RGW 16 offers without a KMS server.
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = {KMS_KEY_ID}={KMS_KEY_MATERIAL}
"""

