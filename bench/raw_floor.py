"""Raw floor: the least work a full-table read can do, to set the bar for ddbvault's wall time.

A parallel Scan, one thread per segment, each sending SigV4-signed requests over a shared urllib3
pool and parsing every page with orjson; it counts items and writes nothing. Prints one JSON object:
{"items", "pages", "response_bytes", "consumed_rcu", "seconds", "segments"}.

    AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:PORT python bench/raw_floor.py TABLE --segments 4
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import orjson

from wire import DynamoDBWire, endpoint_from_env


def scan_segment(wire: DynamoDBWire, table: str, segment: int, total: int,
                 consistent: bool) -> tuple[int, int, int, float]:
    """Read one segment to its end; returns (items, pages, response bytes, consumed RCU)."""
    items = pages = size = 0
    rcu = 0.0
    request: dict = {"TableName": table, "ReturnConsumedCapacity": "TOTAL", "ConsistentRead": consistent}
    if total > 1:
        request.update(Segment=segment, TotalSegments=total)
    while True:
        body = wire.call_raw("Scan", orjson.dumps(request))
        page = orjson.loads(body)
        items += len(page["Items"])
        pages += 1
        size += len(body)
        rcu += page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return items, pages, size, rcu
        request["ExclusiveStartKey"] = last_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table")
    parser.add_argument("--segments", type=int, default=4,
                        help="parallel Scan segments, one thread each (default 4)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB "
                        "or $AWS_ENDPOINT_URL)")
    parser.add_argument("--consistent-read", action="store_true")
    args = parser.parse_args(argv)

    wire = DynamoDBWire(args.endpoint_url or endpoint_from_env(), connections=args.segments)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.segments, thread_name_prefix="segment") as pool:
        futures = [pool.submit(scan_segment, wire, args.table, s, args.segments, args.consistent_read)
                   for s in range(args.segments)]
        results = [f.result() for f in futures]
    seconds = time.perf_counter() - started
    totals = [sum(column) for column in zip(*results)]
    print(orjson.dumps({"items": totals[0], "pages": totals[1], "response_bytes": totals[2],
                        "consumed_rcu": round(totals[3], 1), "seconds": round(seconds, 3),
                        "segments": args.segments}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
