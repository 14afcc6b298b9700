"""Helpers for tests: create and fill tables, read backups back. Real boto3 calls, no fakes."""

from __future__ import annotations

from ddbvault.format.codec import compression_of_key, decode_lines, decompress, item_to_wire
from ddbvault.devtools.demo import load_items
from ddbvault.format.manifest import Manifest
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA, edge_case_items, sample_item
from ddbvault.storage.base import ObjectStore
from ddbvault.verify.table_diff import canonical


def create_table(ddb, name: str, *, rcu: int = 1000, on_demand: bool = False) -> None:
    args = dict(TableName=name, KeySchema=TABLE_KEY_SCHEMA, AttributeDefinitions=TABLE_ATTRIBUTES)
    if on_demand:
        args["BillingMode"] = "PAY_PER_REQUEST"
    else:
        args["ProvisionedThroughput"] = {"ReadCapacityUnits": rcu, "WriteCapacityUnits": rcu}
    ddb.create_table(**args)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})


def fill_table(ddb, name: str, count: int, *, edge_cases: bool = True, payload_bytes: int = 200) -> list[dict]:
    """Put `count` sample items (edge cases first) and return them in client form."""
    items = edge_case_items()[:count] if edge_cases else []
    items += [sample_item(i, payload_bytes=payload_bytes) for i in range(count - len(items))]
    load_items(ddb, name, items)
    return items


def scan_all(ddb, name: str) -> list[dict]:
    """Every item of a table through boto3's ordinary (parsing) Scan, in client form."""
    items, args = [], {"TableName": name}
    while True:
        page = ddb.scan(**args)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def key_of(item: dict) -> tuple:
    """The primary key of a wire-form item as a hashable tuple."""
    return (item["pk"]["S"], item["sk"]["N"])


def by_key(wire_items: list[dict]) -> dict[tuple, dict]:
    return {key_of(item): item for item in wire_items}


def read_backup(store: ObjectStore, backup_root: str) -> tuple[Manifest, list[dict]]:
    """The manifest and every item (wire form) of a backup, checking each object's sha256."""
    import hashlib

    manifest = Manifest.from_json(store.get(f"{backup_root}/manifest.json"))
    items: list[dict] = []
    for obj in manifest.objects:
        data = store.get(f"{backup_root}/{obj.key}")
        assert hashlib.sha256(data).hexdigest() == obj.sha256, obj.key
        assert len(data) == obj.size, obj.key
        decoded = list(decode_lines(decompress(data, compression_of_key(obj.key))))
        assert len(decoded) == obj.items, obj.key
        items.extend(decoded)
    return manifest, items


def wire(items: list[dict]) -> list[dict]:
    return [item_to_wire(item) for item in items]


def canonical_items(items: list[dict]) -> dict:
    """Wire-form items by primary key, each value canonical (sets sorted): equal for two tables
    that hold the same items."""
    return {key: {n: canonical(v) for n, v in item.items()} for key, item in by_key(items).items()}


def moto_import_safe(value):
    """moto's ImportTable parses lines with py_partiql_parser 0.6, which drops any line holding
    an empty JSON object and decodes no escape sequence (\\", \\\\, \\n, \\u0000 ...). Both are
    valid JSON that DynamoDB imports; for the ImportTable tests only, items avoid them (empty maps
    removed, characters JSON must escape replaced by "_")."""
    (kind, inner), = value.items()
    if kind == "M":
        return {"M": {k: moto_import_safe(v) for k, v in inner.items() if v != {"M": {}}}}
    if kind == "L":
        return {"L": [moto_import_safe(v) for v in inner if v != {"M": {}}]}
    if kind == "S":
        return {"S": _unescaped(inner)}
    if kind == "SS":
        return {"SS": sorted({_unescaped(s) for s in inner})}
    return value


def _unescaped(text: str) -> str:
    return "".join("_" if c in '"\\' or ord(c) < 0x20 else c for c in text)
