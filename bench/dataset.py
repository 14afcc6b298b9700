"""The benchmark's table: N items of ~1 KB covering every attribute type, loaded fresh each run.

Items come from ddbvault.devtools.sample_data.sample_item; the payload is sized so that the mean item is
~1 KB by DynamoDB's size rules. Loading is parallel BatchWriteItem of 25 items (dynalite rejects
26) from several processes, each with several sending threads, because building items is
CPU-bound Python (~230 µs each) while the server works on another core.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from decimal import Decimal

import orjson

from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA, sample_item
from wire import DynamoDBWire, item_to_wire

BATCH = 25
TARGET_ITEM_BYTES = 990  # mean size; keeps every item within 1 write unit (<= 1024 B)
PROVISIONED_UNITS = 100_000


def value_size(value: dict) -> int:
    """Size of one attribute value by DynamoDB's published rules (numbers approximated)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return _number_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return 1 + (len(digits) + 1) // 2


def item_size(item: dict) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def payload_for(target_bytes: int = TARGET_ITEM_BYTES, probes: int = 200) -> int:
    """payload_bytes that makes sample_item's mean size target_bytes (the payload is ASCII)."""
    base = sum(item_size(sample_item(i, payload_bytes=0)) for i in range(probes)) / probes
    return max(0, round(target_bytes - base))


def size_stats(payload_bytes: int, probes: int = 1000) -> dict:
    sizes = [item_size(sample_item(i, payload_bytes=payload_bytes)) for i in range(probes)]
    return {"mean": round(sum(sizes) / len(sizes)), "min": min(sizes), "max": max(sizes)}


def create_table(wire: DynamoDBWire, table: str, units: int = PROVISIONED_UNITS) -> None:
    """Create the table PROVISIONED with `units` RCU and WCU (no throttling) and wait until ACTIVE."""
    wire.call("CreateTable", {
        "TableName": table, "KeySchema": TABLE_KEY_SCHEMA, "AttributeDefinitions": TABLE_ATTRIBUTES,
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": units, "WriteCapacityUnits": units},
    })
    wire.wait_active(table)


def delete_table(wire: DynamoDBWire, table: str) -> None:
    wire.call("DeleteTable", {"TableName": table})


@dataclass
class LoadResult:
    items: int
    calls: int
    unprocessed_retries: int
    seconds: float

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def load_table(endpoint: str, table: str, n: int, payload_bytes: int,
               processes: int = 2, threads: int = 4) -> LoadResult:
    """Write items 0..n-1; raises if any process fails or the written count is not n."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    jobs = [(endpoint, table, n, payload_bytes, p, processes, threads) for p in range(processes)]
    with context.Pool(processes) as pool:
        parts = pool.starmap(_load_share, jobs)
    items, calls, retries = (sum(column) for column in zip(*parts))
    if items != n:
        raise RuntimeError(f"loaded {items} items into {table}, expected {n}")
    return LoadResult(items, calls, retries, time.perf_counter() - started)


def _load_share(endpoint: str, table: str, n: int, payload_bytes: int,
                process: int, processes: int, threads: int) -> tuple[int, int, int]:
    """In a worker process: `threads` threads, each writing a strided share of the batches."""
    from concurrent.futures import ThreadPoolExecutor
    wire = DynamoDBWire(endpoint, connections=threads)
    batches = (n + BATCH - 1) // BATCH
    stride = processes * threads
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(_write_batches, wire, table, n, payload_bytes,
                               range(process * threads + t, batches, stride))
                   for t in range(threads)]
        parts = [f.result() for f in futures]
    return tuple(sum(column) for column in zip(*parts))


def _write_batches(wire: DynamoDBWire, table: str, n: int, payload_bytes: int,
                   batch_numbers: range) -> tuple[int, int, int]:
    items = calls = retries = 0
    for b in batch_numbers:
        indices = range(b * BATCH, min(n, (b + 1) * BATCH))
        requests = [{"PutRequest": {"Item": item_to_wire(sample_item(i, payload_bytes=payload_bytes))}}
                    for i in indices]
        c, r = _batch_write(wire, table, requests)
        items += len(indices)
        calls += c
        retries += r
    return items, calls, retries


def _batch_write(wire: DynamoDBWire, table: str, requests: list[dict]) -> tuple[int, int]:
    """One batch, resending UnprocessedItems with backoff until none is left; never drops any."""
    calls = retries = 0
    pending = {table: requests}
    delay = 0.05
    while pending:
        body = orjson.dumps({"RequestItems": pending})
        calls += 1
        pending = orjson.loads(wire.call_raw("BatchWriteItem", body)).get("UnprocessedItems") or {}
        if pending:
            retries += 1
            if retries > 50:
                raise RuntimeError(f"BatchWriteItem on {table}: items still unprocessed after 50 retries")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    return calls, retries
