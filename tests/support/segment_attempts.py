"""What the executor tests need to kill a worker mid-segment and check the backup afterwards.

An attempt writes attempts/SSSSSS-<id>.json when it starts, with its host and pid
(format/plan.AttemptRecord): that pid is the process running the segment, so a test can
SIGKILL exactly the worker of a segment that has no result yet.
"""

from __future__ import annotations

import threading
import time

import boto3
import orjson
import pytest

from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.runtime.progress import Progress
from ddbvault.storage import open_store
from ddbvault.storage.destination import parse_destination
from ddbvault.verify import verify_backup
from tests.support.tables import canonical_items, create_table, fill_table, scan_all, wire

SLOW_ITEMS = 120
SLOW_RCU = "2"  # the slow table's read cap, RCU/s: a segment then takes seconds on moto_server


@pytest.fixture(scope="module")
def table(ddb):
    """A table of 300 items with the edge cases: every type, 38 digits, ~400 KB items. (Each
    module starts from a reset moto_server, so the executor modules may share the name.)"""
    create_table(ddb, "executed")
    fill_table(ddb, "executed", 300)
    return "executed"


@pytest.fixture(scope="module")
def slow(ddb):
    """SLOW_ITEMS small items: read at SLOW_RCU (half of it per worker of two), a segment takes
    seconds, so a worker killed as soon as its attempt starts is really killed mid-segment."""
    create_table(ddb, "executed-slow")
    fill_table(ddb, "executed-slow", SLOW_ITEMS, edge_cases=False, payload_bytes=100)
    return "executed-slow"


class CountingProgress(Progress):
    """Adds up what a run reports (from any thread)."""

    def __init__(self):
        self.items, self.capacity_units, self._lock = 0, 0.0, threading.Lock()

    def advance(self, items: int, size_bytes: int, capacity_units: float) -> None:
        with self._lock:
            self.items += items
            self.capacity_units += capacity_units


def backup_store(dest: str):
    """The store of `dest` (a directory or s3://BUCKET/PREFIX), read with the default chain."""
    destination = parse_destination(dest)
    return open_store(destination, session=boto3.Session() if destination.kind == "s3" else None), destination


def running_attempt(dest: str, table: str, timeout: float = 60, alive=None) -> tuple[str, int, int]:
    """(backup root, segment, pid) of an attempt under DEST/TABLE whose segment has no result
    yet, as soon as there is one (and `alive(pid)` holds, when given); AssertionError after
    `timeout` seconds."""
    store, destination = backup_store(dest)
    prefix = f"{destination.prefix}/{table}/".lstrip("/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for key in list(store.list_keys(prefix)):
            root, _, name = key.rpartition("/attempts/")
            if not root or not name.endswith(".json"):
                continue
            record = orjson.loads(store.get(key))
            segment, pid = record["segment"], record["pid"]
            if not store.exists(f"{root}/segments/{segment:06d}.json") and (alive is None or alive(pid)):
                return root, segment, pid
        time.sleep(0.05)
    raise AssertionError(f"no attempt of {table} started within {timeout} s")


def attempts_of(manifest: dict, segment: int) -> int:
    """The attempts the manifest (format 1.4) counted for `segment`."""
    return manifest["segments"][segment]["attempts"]


def read_manifest(dest: str, root: str) -> dict:
    store, _ = backup_store(dest)
    return orjson.loads(store.get(f"{root}/manifest.json"))


def verify_and_restore(ddb, url: str, source: str, target: str) -> None:
    """The backup at `url` verifies, and restored into `target` equals `source`, every
    attribute bit-exact (sets as sorted members)."""
    report = verify_backup(url)
    assert report.ok, report.problems
    restore_backup(url, target, RestoreOptions(write_wcu=100000))
    assert canonical_items(wire(scan_all(ddb, target))) == canonical_items(wire(scan_all(ddb, source)))
