"""Follower benchmark: how fast `ddbvault follow` turns stream records into change-log segments.

    python bench/follow.py --changes 10000              # S3 vault on the same moto_server
    python bench/follow.py --changes 10000 --to-dir     # a local directory vault

Starts a moto_server (ddbvault.devtools.local_servers), creates a table with a NEW_AND_OLD_IMAGES
stream, writes N changes (BatchWriteItem of 25, one request at a time: moto numbers stream
records without a lock, so concurrent writes can share a sequence number, which the follower
rightly refuses; every key is put twice, an INSERT then a MODIFY, ~300 B items), then:
1. throughput: follow_table(until_idle) from an empty vault, in this process; prints records/s
   (wall) and the follower's CPU seconds per record (process CPU time; moto is another process);
2. lag: a follower left running (segment_max_seconds as the product's default, 60 s, or
   --segment-seconds), one more PutItem, and the seconds from that write returning to a segment
   holding it being listed in the vault.
Prints one JSON object. Not a test: nothing asserts a target. moto's GetRecords is slower than
DynamoDB's, so records/s is a floor; CPU per record is the follower's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import boto3  # noqa: E402

from ddbvault.devtools.local_servers import local_aws_env, moto_server  # noqa: E402
from ddbvault.follow import FollowOptions, follow_table  # noqa: E402
from ddbvault.format import change_log as cl  # noqa: E402
from ddbvault.storage import open_store  # noqa: E402
from ddbvault.storage.destination import parse_destination  # noqa: E402

TABLE = "bench-follow"


def write_changes(ddb, n: int) -> float:
    """n puts (each key twice: INSERT, then MODIFY); returns their wall seconds."""
    def batch(start: int) -> None:
        items = [{"pk": {"S": f"k{(i % ((n + 1) // 2)):08d}"}, "v": {"N": str(i)}, "pad": {"S": "x" * 250}}
                 for i in range(start, min(start + 25, n))]
        requests = {TABLE: [{"PutRequest": {"Item": item}} for item in items]}
        while requests:
            requests = ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}

    t0 = time.perf_counter()
    for start in range(0, n, 25):  # keys 0..n/2 in order, twice: every INSERT before its MODIFY
        batch(start)
    return time.perf_counter() - t0


def measure_lag(ddb, store, options: FollowOptions, prefix: str) -> float:
    """Seconds from a PutItem returning to a segment holding it being listed in the vault."""
    cancelled = threading.Event()
    runner = threading.Thread(target=follow_table, args=(replace(options, until_idle=False),),
                              kwargs={"cancelled": cancelled}, daemon=True)
    runner.start()
    time.sleep(2)  # the follower has listed the vault and holds its iterators
    base = cl.changes_prefix(prefix, TABLE)
    before = set(store.list_keys(base))
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "lag-probe"}, "v": {"N": "1"}})
    written = time.perf_counter()
    deadline = written + options.segment_max_seconds + 60
    try:
        while time.perf_counter() < deadline:
            if any(key.endswith(cl.SEGMENT_SUFFIX) for key in set(store.list_keys(base)) - before):
                return time.perf_counter() - written
            time.sleep(0.1)
        raise RuntimeError("the probe's segment did not appear")
    finally:
        cancelled.set()
        runner.join(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=10_000, help="stream records to write (default 10,000)")
    parser.add_argument("--to-dir", action="store_true", help="a local directory vault instead of S3 on moto")
    parser.add_argument("--segment-seconds", type=float, default=FollowOptions.segment_max_seconds,
                        help="segment_max_seconds of the lag phase (default: the product's, 60)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch, moto_server(Path(scratch) / "moto.log") as server:
        os.environ.update(local_aws_env(server.url))
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        if args.to_dir:
            dest, prefix = scratch + "/vault", ""
        else:
            boto3.client("s3").create_bucket(Bucket="bench-follow")
            dest, prefix = "s3://bench-follow/bench", "bench"
        store = open_store(parse_destination(dest), None if args.to_dir else boto3.Session())
        write_s = write_changes(ddb, args.changes)

        options = FollowOptions(table=TABLE, destination=dest, until_idle=True, poll_interval_s=0.1,
                                segment_max_seconds=args.segment_seconds)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = follow_table(options)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if result.records != args.changes:
            raise SystemExit(f"the follower stored {result.records} records, {args.changes} were written")
        lag = measure_lag(ddb, store, options, prefix)

    report = {"changes": args.changes, "vault": "local directory" if args.to_dir else "S3 (moto)",
              "write_seconds": round(write_s, 3), "follow_seconds": round(wall, 3),
              "records_per_s": round(result.records / wall, 1), "cpu_s_per_record": cpu / result.records,
              "segments": result.segments, "get_records_calls": result.get_records_calls,
              "segment_max_seconds": args.segment_seconds, "lag_s": round(lag, 3)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
