"""Point-in-time restore benchmark: `restore DEST/TABLE --at T` of C changes on top of an N-item base.

    python bench/pitr.py                               # 100,000 items, 100,000 changes
    python bench/pitr.py --items 5000 --changes 5000   # a quick look

Starts dynalite (ddbvault.devtools.local_servers: realistic capacity, faster than moto; it has no
streams, and none is needed), fills a table with N items (~300 B), backs it up (scan) into a
local directory vault, then writes a change log of C changes by hand with format/change_log's
builders (segments of 10,000 records, one shard, one second per 1,000 changes; a quarter of the
changes are deletes, the rest puts over the base's keys and new ones), and restores the table as
of the last change into a new table. Prints one JSON object: the base restore's seconds, the
whole restore's, and so the log's share (reading and checking segments, keeping one change per
key, BatchWriteItem of the changes). Not a test: nothing asserts a target.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import boto3  # noqa: E402
import orjson  # noqa: E402

from ddbvault import BackupOptions, backup_table  # noqa: E402
from ddbvault.devtools.demo import load_items  # noqa: E402
from ddbvault.devtools.local_servers import dynalite, local_aws_env  # noqa: E402
from ddbvault.format import change_log as cl  # noqa: E402
from ddbvault.restore import RestoreOptions, restore_backup  # noqa: E402
from ddbvault.restore.point_in_time import restore_at  # noqa: E402
from ddbvault.storage.local import LocalStore  # noqa: E402
from ddbvault.vault.change_log import ChangeLog, seconds_of, utc_text  # noqa: E402
from ddbvault.vault.reader import open_backup  # noqa: E402

TABLE = "bench-pitr"
LABEL = "2026-01-01T00:00:00.000"
SEGMENT = 10_000
STREAM_ARN = f"arn:aws:dynamodb:us-east-1:000000000000:table/{TABLE}/stream/{LABEL}"


def item(n: int, version: int) -> dict:
    return {"pk": {"S": f"k{n:08d}"}, "v": {"N": str(version)}, "pad": {"S": "x" * 250}}


def change_line(seq: int, t: int, n: int, delete: bool) -> bytes:
    body = {"ApproximateCreationDateTime": t, "Keys": {"pk": {"S": f"k{n:08d}"}}, "SequenceNumber": str(seq),
            "SizeBytes": 300, "StreamViewType": "NEW_IMAGE"}
    if not delete:
        body["NewImage"] = item(n, seq)
    return orjson.dumps({"eventID": str(seq), "eventName": "REMOVE" if delete else "MODIFY", "eventVersion": "1.1",
                         "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": body})


def write_log(store: LocalStore, items: int, changes: int, start: int) -> int:
    """The change log, from `start` on; returns the time of the last change."""
    store.put_new(cl.start_key("", TABLE, LABEL), cl.start_object(
        cl.StartRecord(TABLE, STREAM_ARN, "NEW_IMAGE", start - 60, start - 60)))
    fields = {"table": TABLE, "table_arn": STREAM_ARN.split("/stream/")[0], "stream_arn": STREAM_ARN,
              "stream_view_type": "NEW_IMAGE", "shard_id": "shardId-0", "parent_shard_id": None}
    previous, last_t = None, start
    for first in range(0, changes, SEGMENT):
        lines = []
        for i in range(first, min(first + SEGMENT, changes)):
            last_t = start + i // 1000
            lines.append(change_line(i + 1, last_t, (i * 7919) % (items + items // 4), i % 4 == 3))
        data = cl.build_segment({**fields, "continues_from": previous}, lines, written_at=last_t + 1)
        store.put_new(cl.segment_key("", TABLE, LABEL, "shardId-0", first + 1, first + len(lines)), data)
        previous = str(first + len(lines))
    return last_t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the base (default 100,000)")
    parser.add_argument("--changes", type=int, default=100_000, help="changes in the log (default 100,000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch, dynalite(Path(scratch) / "dynalite.log") as server:
        os.environ.update(local_aws_env(server.url))
        os.environ["XDG_CACHE_HOME"] = scratch
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        load_items(ddb, TABLE, [{"pk": {"S": f"k{n:08d}"}, "v": {"N": "0"}, "pad": {"S": "x" * 250}}
                                for n in range(args.items)])
        dest = scratch + "/vault"
        base = backup_table(TABLE, dest, BackupOptions(read_rcu=1_000_000))
        finished = seconds_of(open_backup(base.url).manifest.finished_at) + 1
        at = write_log(LocalStore(dest), args.items, args.changes, finished)
        # the hand-built log stamps 1,000 changes a second from the base's end, so it runs ahead
        # of the clock; a reader never takes the log as complete past its own "now"
        ChangeLog.clock = staticmethod(lambda: time.time() + args.changes / 1000 + 10)
        wall0 = time.perf_counter()
        result = restore_at(f"{dest}/{TABLE}", f"{TABLE}-copy", utc_text(at),
                            RestoreOptions(write_wcu=1_000_000, workers=4), restore_backup)
        wall = time.perf_counter() - wall0
    pit = result.point_in_time
    report = {"base_items": result.items, "changes": args.changes, "changed_keys": pit["changes"],
              "puts": pit["puts"], "deletes": pit["deletes"], "segments": -(-args.changes // SEGMENT),
              "restore_seconds": round(wall, 3), "base_restore_seconds": pit["base_seconds"],
              "log_seconds": round(wall - pit["base_seconds"], 3), "server": "dynalite"}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
