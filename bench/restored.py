"""Checking a restored table against the source table, outside any measured process.

- count: a parallel Select=COUNT Scan (every page, 4 segments), so the restored item count is
  what the table holds, not what the tool says it wrote;
- sample: `sample_size` items picked at random (seeded by the repetition) are read with
  BatchGetItem from the source and the restored table and compared attribute by attribute, sets
  compared as sets. A restore that writes the right number of items with the wrong values shows
  up here.
- drop: delete the restored table (dynalite frees its items before answering), so a run's
  tables do not pile up in dynalite's memory.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ddbvault.devtools.sample_data import sample_item
from wire import DynamoDBWire, WireError

COUNT_SEGMENTS = 4
BATCH_GET = 100  # BatchGetItem's limit
SET_TYPES = ("SS", "NS", "BS")


def count_items(wire: DynamoDBWire, table: str, segments: int = COUNT_SEGMENTS) -> int:
    def segment(number: int) -> int:
        request = {"TableName": table, "Select": "COUNT", "Segment": number, "TotalSegments": segments}
        total = 0
        while True:
            page = wire.call("Scan", request)
            total += page["Count"]
            if not page.get("LastEvaluatedKey"):
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    with ThreadPoolExecutor(segments) as pool:
        return sum(pool.map(segment, range(segments)))


def drop_table(wire: DynamoDBWire, table: str, timeout_s: float = 120) -> None:
    """Delete `table` if it exists and wait until it is gone."""
    try:
        wire.call("DeleteTable", {"TableName": table})
    except WireError as exc:
        if "ResourceNotFound" in str(exc):
            return
        raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            wire.call("DescribeTable", {"TableName": table})
        except WireError as exc:
            if "ResourceNotFound" in str(exc):
                return
            raise
        time.sleep(0.05)
    raise RuntimeError(f"table {table} still exists {timeout_s:.0f}s after DeleteTable")


def _normalized(value: dict) -> dict:
    """An attribute value with set members sorted (sets have no order) and nesting normalized."""
    (kind, inner), = value.items()
    if kind in SET_TYPES:
        return {kind: sorted(inner)}
    if kind == "M":
        return {"M": {k: _normalized(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_normalized(v) for v in inner]}
    return value


def differing_attributes(expected: dict, actual: dict | None) -> list[str]:
    """Top-level attribute names whose values differ (["<missing item>"] if actual is None)."""
    if actual is None:
        return ["<missing item>"]
    names = sorted(set(expected) | set(actual))
    return [name for name in names if name not in expected or name not in actual
            or _normalized(expected[name]) != _normalized(actual[name])]


class RestoreCheck:
    """Verifies restored copies of `source_table`, a benchmark table of items 0..items-1."""

    def __init__(self, wire: DynamoDBWire, source_table: str, items: int, sample_size: int = 200):
        self.wire, self.source_table, self.items = wire, source_table, items
        self.sample_size = min(sample_size, items)
        self._source: dict[int, dict] = {}
        self._lock = threading.Lock()

    def check(self, table: str, rep: int) -> dict:
        """{"table_items", "sampled", "sample_differing", "differing_attributes"} for `table`."""
        counted = count_items(self.wire, table)
        indices = random.Random(9_000 + rep).sample(range(self.items), self.sample_size)
        expected = self._source_items(indices)
        actual = self._get(table, indices)
        differing: dict[str, int] = {}
        bad = 0
        for index in indices:
            names = differing_attributes(expected[index], actual.get(index))
            if names:
                bad += 1
                for name in names:
                    differing[name] = differing.get(name, 0) + 1
        return {"table_items": counted, "sampled": len(indices), "sample_differing": bad,
                "differing_attributes": differing}

    def _source_items(self, indices: list[int]) -> dict[int, dict]:
        with self._lock:
            missing = [i for i in indices if i not in self._source]
            if missing:
                found = self._get(self.source_table, missing)
                absent = [i for i in missing if i not in found]
                if absent:
                    raise RuntimeError(f"source table {self.source_table} lacks items {absent[:5]}")
                self._source.update(found)
            return {i: self._source[i] for i in indices}

    def _get(self, table: str, indices: list[int]) -> dict[int, dict]:
        """The items with these indices that `table` holds, by index (BatchGetItem, 100 a call)."""
        found: dict[int, dict] = {}
        for start in range(0, len(indices), BATCH_GET):
            keys = [_key(i) for i in indices[start:start + BATCH_GET]]
            pending = {table: {"Keys": keys, "ConsistentRead": True}}
            for _ in range(50):
                response = self.wire.call("BatchGetItem", {"RequestItems": pending})
                for item in response.get("Responses", {}).get(table, []):
                    found[int(item["sk"]["N"])] = item
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"BatchGetItem on {table}: keys still unprocessed after 50 calls")
        return found


def _key(index: int) -> dict:
    item = sample_item(index, payload_bytes=0)  # pk and sk do not depend on the payload
    return {"pk": item["pk"], "sk": item["sk"]}
