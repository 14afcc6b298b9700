"""Raw restore floor: the least work a restore of a ddbvault backup can do, to set a wall-time bar.

Reads the backup's manifest (local directory only), creates the target table (the backup's key
schema, PROVISIONED --units RCU/WCU, polled every 20 ms until ACTIVE), then W threads each take
whole data objects from a queue, stream them through ISA-L's gzip reader (zstd and uncompressed
objects work too), parse every line with orjson, and send SigV4-signed BatchWriteItem requests of
25 PutRequests serialised with orjson over a shared urllib3 pool (bench/wire.py). UnprocessedItems
are sent again, with backoff, until none are left. No checksum is checked, no checkpoint kept, no
rate limit applied. Prints one JSON object:
{"items", "calls", "unprocessed_retries", "consumed_wcu", "objects", "create_s", "write_s",
"seconds", "workers"}.

    AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:PORT \
        python bench/raw_restore_floor.py /dir/TABLE/BACKUP_ID NEW_TABLE --workers 4
"""

from __future__ import annotations

import argparse
import io
import queue
import sys
import threading
import time
from pathlib import Path
from typing import IO, Iterator

import orjson

from wire import DynamoDBWire, WireError, endpoint_from_env

BATCH = 25
MAX_UNPROCESSED_RETRIES = 50


def open_lines(path: Path) -> IO[bytes]:
    """A binary line reader over one data object, decompressing as it goes."""
    name = path.name
    if name.endswith(".json.gz"):
        from isal import igzip
        return igzip.open(path, "rb")
    if name.endswith(".json.zst"):
        import zstandard
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")))
    if name.endswith(".json"):
        return open(path, "rb")
    raise ValueError(f"not a data object: {path}")


def batches(path: Path) -> Iterator[list[dict]]:
    """PutRequests of 25 items (the last batch may be shorter) from one data object."""
    batch: list[dict] = []
    loads = orjson.loads
    with open_lines(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            batch.append({"PutRequest": {"Item": loads(line)["Item"]}})
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


class Totals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items = self.calls = self.retries = 0
        self.wcu = 0.0


def write_batch(wire: DynamoDBWire, table: str, requests: list[dict], totals: Totals) -> None:
    """One BatchWriteItem; resends UnprocessedItems with backoff until none is left."""
    pending = requests
    calls = retries = 0
    wcu = 0.0
    delay = 0.05
    while True:
        body = orjson.dumps({"RequestItems": {table: pending}, "ReturnConsumedCapacity": "TOTAL"})
        response = orjson.loads(wire.call_raw("BatchWriteItem", body))
        calls += 1
        wcu += sum(c.get("CapacityUnits", 0.0) for c in response.get("ConsumedCapacity") or [])
        pending = (response.get("UnprocessedItems") or {}).get(table) or []
        if not pending:
            break
        retries += 1
        if retries > MAX_UNPROCESSED_RETRIES:
            raise RuntimeError(f"{len(pending)} items still unprocessed after {retries} retries")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    with totals.lock:
        totals.items += len(requests)
        totals.calls += calls
        totals.retries += retries
        totals.wcu += wcu


def worker(wire: DynamoDBWire, table: str, todo: queue.SimpleQueue, totals: Totals,
           errors: list[BaseException], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            path = todo.get_nowait()
        except queue.Empty:
            return
        try:
            for batch in batches(path):
                if stop.is_set():
                    return
                write_batch(wire, table, batch, totals)
        except BaseException as exc:  # the first failure stops every thread
            errors.append(exc)
            stop.set()
            return


def create_table(wire: DynamoDBWire, table: str, schema: dict, units: int) -> None:
    """The backup's key schema, PROVISIONED `units` RCU/WCU; returns once the table is ACTIVE."""
    keys = {k["AttributeName"] for k in schema["KeySchema"]}
    wire.call("CreateTable", {
        "TableName": table, "KeySchema": schema["KeySchema"],
        "AttributeDefinitions": [a for a in schema["AttributeDefinitions"] if a["AttributeName"] in keys],
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": units, "WriteCapacityUnits": units},
    })
    wire.wait_active(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("backup", type=Path, help="a local backup directory: DEST/TABLE/BACKUP_ID")
    parser.add_argument("table", help="table to create and write (must not exist)")
    parser.add_argument("--workers", type=int, default=4,
                        help="threads, each restoring whole data objects (default 4)")
    parser.add_argument("--units", type=int, default=100_000,
                        help="provisioned RCU and WCU of the new table (default 100000)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB "
                        "or $AWS_ENDPOINT_URL)")
    args = parser.parse_args(argv)

    manifest = orjson.loads((args.backup / "manifest.json").read_bytes())
    wire = DynamoDBWire(args.endpoint_url or endpoint_from_env(), connections=args.workers)
    started = time.perf_counter()
    create_table(wire, args.table, manifest["schema"], args.units)
    created = time.perf_counter()

    todo: queue.SimpleQueue[Path] = queue.SimpleQueue()
    for obj in manifest["objects"]:
        todo.put(args.backup / obj["key"])
    totals, errors, stop = Totals(), [], threading.Event()
    threads = [threading.Thread(target=worker, args=(wire, args.table, todo, totals, errors, stop),
                                name=f"restore-{i}") for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = time.perf_counter()
    if errors:
        error = errors[0]
        print(f"raw_restore_floor: {type(error).__name__}: {error}", file=sys.stderr)
        return 2 if isinstance(error, WireError) else 1
    print(orjson.dumps({
        "items": totals.items, "calls": totals.calls, "unprocessed_retries": totals.retries,
        "consumed_wcu": round(totals.wcu, 1), "objects": len(manifest["objects"]),
        "create_s": round(created - started, 3), "write_s": round(finished - created, 3),
        "seconds": round(finished - started, 3), "workers": args.workers,
    }).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
