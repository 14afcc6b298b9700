"""A saved schema -> the CreateTable / ImportTable requests that recreate the table. Pure.

The manifest keeps the schema in CreateTable's vocabulary (schema.py), so this is mostly
selection plus the user's overrides (--billing-mode, --rcu, --wcu). What CreateTable cannot
set (TTL, and tags for ImportTable) is applied afterwards by table_settings.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import UsageError

BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")


@dataclass(frozen=True)
class Overrides:
    billing_mode: str | None = None
    rcu: int | None = None
    wcu: int | None = None


def _billing(schema: dict, overrides: Overrides) -> tuple[str, dict | None]:
    """The billing mode and table throughput to create with."""
    mode = overrides.billing_mode or schema.get("BillingMode", "PROVISIONED")
    if mode not in BILLING_MODES:
        raise UsageError(f"--billing-mode must be one of {', '.join(BILLING_MODES)}, got {mode!r}")
    if mode == "PAY_PER_REQUEST":
        if overrides.rcu or overrides.wcu:
            raise UsageError("--rcu/--wcu apply to PROVISIONED tables only",
                             hint="add --billing-mode PROVISIONED, or drop --rcu/--wcu")
        return mode, None
    saved = schema.get("ProvisionedThroughput") or {}
    read = overrides.rcu or saved.get("ReadCapacityUnits") or 5
    write = overrides.wcu or saved.get("WriteCapacityUnits") or 5
    return mode, {"ReadCapacityUnits": int(read), "WriteCapacityUnits": int(write)}


def _gsi(index: dict, mode: str, table_throughput: dict | None) -> dict:
    out = {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
    if mode == "PROVISIONED":
        out["ProvisionedThroughput"] = index.get("ProvisionedThroughput") or table_throughput
    elif index.get("OnDemandThroughput"):
        out["OnDemandThroughput"] = index["OnDemandThroughput"]
    return out


def _used_attributes(schema: dict, with_lsi: bool) -> set[str]:
    names = {k["AttributeName"] for k in schema["KeySchema"]}
    indexes = list(schema.get("GlobalSecondaryIndexes") or [])
    if with_lsi:
        indexes += schema.get("LocalSecondaryIndexes") or []
    for index in indexes:
        names |= {k["AttributeName"] for k in index["KeySchema"]}
    return names


def _common(schema: dict, table: str, overrides: Overrides, with_lsi: bool) -> dict[str, Any]:
    mode, throughput = _billing(schema, overrides)
    used = _used_attributes(schema, with_lsi)
    params: dict[str, Any] = {
        "TableName": table,
        "KeySchema": schema["KeySchema"],
        # CreateTable rejects attribute definitions that no key or index uses.
        "AttributeDefinitions": [a for a in schema["AttributeDefinitions"] if a["AttributeName"] in used],
        "BillingMode": mode,
    }
    if throughput:
        params["ProvisionedThroughput"] = throughput
    if mode == "PAY_PER_REQUEST" and schema.get("OnDemandThroughput"):
        params["OnDemandThroughput"] = schema["OnDemandThroughput"]
    gsis = [_gsi(g, mode, throughput) for g in schema.get("GlobalSecondaryIndexes") or []]
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    sse = schema.get("SSESpecification") or {}
    if sse.get("Enabled"):
        params["SSESpecification"] = sse
    return params


def create_table_request(schema: dict, table: str, overrides: Overrides = Overrides()) -> dict:
    """CreateTable parameters that recreate the saved table under the name `table`."""
    params = _common(schema, table, overrides, with_lsi=True)
    if schema.get("LocalSecondaryIndexes"):
        params["LocalSecondaryIndexes"] = [{k: i[k] for k in ("IndexName", "KeySchema", "Projection")}
                                           for i in schema["LocalSecondaryIndexes"]]
    stream = schema.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        params["StreamSpecification"] = stream
    if schema.get("TableClass"):
        params["TableClass"] = schema["TableClass"]
    if schema.get("DeletionProtectionEnabled"):
        params["DeletionProtectionEnabled"] = True
    if schema.get("Tags"):
        params["Tags"] = schema["Tags"]
    return params


def import_table_creation(schema: dict, table: str, overrides: Overrides = Overrides()) -> dict:
    """ImportTable's TableCreationParameters. ImportTable cannot create LSIs, a stream, a table
    class, deletion protection or tags: restore.py applies what can be applied afterwards."""
    return _common(schema, table, overrides, with_lsi=False)


def key_mismatch(schema: dict, table: dict) -> str | None:
    """Why an existing table's primary key cannot take the backup's items, or None if it can."""
    def keys(key_schema: list[dict], definitions: list[dict]) -> list[tuple[str, str, str]]:
        types = {a["AttributeName"]: a["AttributeType"] for a in definitions}
        return sorted((k["KeyType"], k["AttributeName"], types.get(k["AttributeName"], "?")) for k in key_schema)

    want = keys(schema["KeySchema"], schema["AttributeDefinitions"])
    have = keys(table["KeySchema"], table["AttributeDefinitions"])
    if want == have:
        return None
    return f"the backup's key is {want}, the table's is {have}"
