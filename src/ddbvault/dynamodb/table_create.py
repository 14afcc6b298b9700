"""A saved schema -> the CreateTable / ImportTable requests that recreate the table. Pure.

The manifest keeps the schema in CreateTable's vocabulary (format/schema.py), so this is mostly
selection plus the user's overrides (--billing-mode, --rcu, --wcu: for the table and every GSI). What CreateTable cannot
set (TTL, and tags for ImportTable) is applied afterwards by dynamodb/table_settings.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")
# restore --sse: the saved encryption (with a safe fallback), DynamoDB's default AWS owned key,
# or a KMS key (--kms-key-id, else the target account's AWS managed key alias/aws/dynamodb).
SSE_CHOICES = ("saved", "aws-owned", "aws:kms")
AWS_MANAGED_KEY = "alias/aws/dynamodb"


@dataclass(frozen=True)
class Overrides:
    """What the user changes in the saved schema; it acts on the TARGET table restore creates."""

    billing_mode: str | None = None
    rcu: int | None = None  # the table and every GSI
    wcu: int | None = None  # the table and every GSI
    sse: str = "saved"
    kms_key_id: str | None = None

    def given(self) -> list[str]:
        """The options set, as their flags (they only apply when restore creates the table)."""
        flags = {"--billing-mode": self.billing_mode, "--rcu": self.rcu, "--wcu": self.wcu,
                 "--sse": None if self.sse == "saved" else self.sse, "--kms-key-id": self.kms_key_id}
        return [flag for flag, value in flags.items() if value]

    def check(self) -> None:
        """Raises UsageError on an unknown --sse or contradictory options."""
        if self.sse not in SSE_CHOICES:
            raise UsageError(f"--sse must be one of {', '.join(SSE_CHOICES)}, got {self.sse!r}")
        if self.kms_key_id and self.sse == "aws-owned":
            raise UsageError("--kms-key-id names a KMS key; it cannot be combined with --sse aws-owned",
                             hint="drop one of them (--kms-key-id alone implies --sse aws:kms)")


def target_sse(saved: dict | None, overrides: Overrides, account: str | None,
               region: str | None) -> tuple[dict | None, str | None]:
    """The SSESpecification to create the target table with (None: DynamoDB's default, an AWS
    owned key), and a note when the saved key is not used.

    The saved KMS key is kept only when it is provably a key of the target's account and region:
    a key of another account or region cannot encrypt a table there (an AWS managed key never,
    a customer key only if its policy allows). Otherwise the table gets the target account's
    own AWS managed key (alias/aws/dynamodb): still KMS encryption, and it always works.
    Raises UsageError on contradictory options."""
    overrides.check()
    if overrides.kms_key_id:
        return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": overrides.kms_key_id}, None
    if overrides.sse == "aws-owned":
        return None, None
    managed = {"Enabled": True, "SSEType": "KMS"}
    if overrides.sse == "aws:kms":
        return managed, None
    saved = saved or {}
    key = saved.get("KMSMasterKeyId")
    if not saved.get("Enabled"):
        return None, None
    if not key or key.endswith(AWS_MANAGED_KEY):
        return managed, None
    parts = key.split(":")
    if len(parts) > 5 and account and parts[4] == account and parts[3] == region:
        return saved, None
    return managed, (f"the backed-up table was encrypted with KMS key {key}, which is not a key of "
                     f"account {account or '(unknown)'} in {region or '(unknown region)'}; the restored "
                     f"table is encrypted with that account's AWS managed key ({AWS_MANAGED_KEY}) instead "
                     "(choose with --kms-key-id KEY or --sse aws-owned)")


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


def _gsi(index: dict, mode: str, overrides: Overrides, table_throughput: dict | None) -> dict:
    """A GSI as CreateTable takes it. Provisioned: --rcu/--wcu apply to every GSI as to the
    table; what they do not set comes from the index's saved throughput, else the table's."""
    out = {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
    if mode == "PROVISIONED":  # then table_throughput is set
        saved = index.get("ProvisionedThroughput") or {}
        out["ProvisionedThroughput"] = {
            key: int(override or saved.get(key) or table_throughput[key])
            for key, override in (("ReadCapacityUnits", overrides.rcu), ("WriteCapacityUnits", overrides.wcu))}
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


def _common(schema: dict, table: str, overrides: Overrides, with_lsi: bool, sse: dict | None) -> dict[str, Any]:
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
    gsis = [_gsi(g, mode, overrides, throughput) for g in schema.get("GlobalSecondaryIndexes") or []]
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    if sse:
        params["SSESpecification"] = sse
    return params


def create_table_request(schema: dict, table: str, overrides: Overrides = Overrides(),
                         sse: dict | None = None) -> dict:
    """CreateTable parameters that recreate the saved table under the name `table`, encrypted
    as `sse` says (from target_sse(); None: DynamoDB's default encryption)."""
    params = _common(schema, table, overrides, with_lsi=True, sse=sse)
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


def import_table_creation(schema: dict, table: str, overrides: Overrides = Overrides(),
                          sse: dict | None = None) -> dict:
    """ImportTable's TableCreationParameters (`sse` as for create_table_request). ImportTable
    cannot create LSIs, a stream, a table class, deletion protection or tags: dynamodb/table_settings.py
    applies what can be applied afterwards."""
    return _common(schema, table, overrides, with_lsi=False, sse=sse)


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
