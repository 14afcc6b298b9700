"""A table's full schema, as the manifest records it, from DescribeTable / TTL / tags output.

The schema is kept in CreateTable's own vocabulary (KeySchema, AttributeDefinitions,
GlobalSecondaryIndexes with Projection and ProvisionedThroughput, SSESpecification, ...), so a
restore maps it back without translation and a reader recognises every field from the API docs.
Fields that CreateTable does not take (Tags as a list, TimeToLive) use the names of the API
calls that set them (TagResource, UpdateTimeToLive).

Pure: takes the dicts boto3 returned; no I/O. Works around moto's empty index lists.
"""

from __future__ import annotations

from typing import Any


def _throughput(desc: dict | None) -> dict | None:
    if not desc:
        return None
    read, write = desc.get("ReadCapacityUnits") or 0, desc.get("WriteCapacityUnits") or 0
    if not read and not write:
        return None  # on-demand tables/indexes report zeros
    return {"ReadCapacityUnits": read, "WriteCapacityUnits": write}


def _on_demand(desc: dict | None) -> dict | None:
    if not desc:
        return None
    kept = {k: v for k, v in desc.items() if k in ("MaxReadRequestUnits", "MaxWriteRequestUnits")
            and v not in (None, -1)}
    return kept or None


def _index(desc: dict, with_throughput: bool) -> dict:
    index: dict[str, Any] = {
        "IndexName": desc["IndexName"],
        "KeySchema": desc["KeySchema"],
        "Projection": desc.get("Projection", {"ProjectionType": "ALL"}),
    }
    if with_throughput:
        throughput = _throughput(desc.get("ProvisionedThroughput"))
        if throughput:
            index["ProvisionedThroughput"] = throughput
        on_demand = _on_demand(desc.get("OnDemandThroughput"))
        if on_demand:
            index["OnDemandThroughput"] = on_demand
    return index


def _sse(desc: dict | None) -> dict:
    """SSESpecification. Enabled=False means DynamoDB's default AWS-owned key."""
    if not desc or desc.get("Status") not in ("ENABLED", "ENABLING", "UPDATING"):
        return {"Enabled": False}
    spec = {"Enabled": True, "SSEType": desc.get("SSEType", "KMS")}
    if desc.get("KMSMasterKeyArn"):
        spec["KMSMasterKeyId"] = desc["KMSMasterKeyArn"]
    return spec


def _ttl(desc: dict | None) -> dict | None:
    if desc is None:
        return None  # the server could not tell (e.g. dynalite has no TTL API)
    status = desc.get("TimeToLiveStatus", "DISABLED")
    return {"Enabled": status in ("ENABLED", "ENABLING"), "AttributeName": desc.get("AttributeName"),
            "Status": status}


def table_schema(table: dict, ttl: dict | None, tags: list[dict] | None) -> dict:
    """The manifest's `schema` from DescribeTable's Table, TimeToLiveDescription and tags."""
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    provisioned = billing == "PROVISIONED"
    schema: dict[str, Any] = {
        "TableName": table["TableName"],
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if provisioned:
        schema["ProvisionedThroughput"] = _throughput(table.get("ProvisionedThroughput")) or {
            "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    on_demand = _on_demand(table.get("OnDemandThroughput"))
    if on_demand:
        schema["OnDemandThroughput"] = on_demand
    schema["GlobalSecondaryIndexes"] = [_index(g, True) for g in table.get("GlobalSecondaryIndexes") or []]
    schema["LocalSecondaryIndexes"] = [_index(i, False) for i in table.get("LocalSecondaryIndexes") or []]
    schema["SSESpecification"] = _sse(table.get("SSEDescription"))
    stream = table.get("StreamSpecification") or {}
    schema["StreamSpecification"] = ({"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
                                     if stream.get("StreamEnabled") else {"StreamEnabled": False})
    schema["TableClass"] = (table.get("TableClassSummary") or {}).get("TableClass", "STANDARD")
    schema["DeletionProtectionEnabled"] = bool(table.get("DeletionProtectionEnabled", False))
    schema["TimeToLive"] = _ttl(ttl)
    schema["Tags"] = None if tags is None else sorted(tags, key=lambda t: t["Key"])
    return schema
