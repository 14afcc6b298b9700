"""Reading a change log back in tests: every segment under a table's `changes/`, each parsed and
checked by format/change_log/, and the records de-duplicated as readers do."""

from __future__ import annotations

from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA
from ddbvault.format import change_log as cl
from ddbvault.storage.base import ObjectStore


def create_streamed(ddb, name: str, view: str | None = "NEW_AND_OLD_IMAGES", *, hash_only: bool = False) -> None:
    """An on-demand table (pk S, sk N; pk alone with hash_only) with a stream of `view` (None: none)."""
    spec = {"StreamEnabled": True, "StreamViewType": view} if view else {"StreamEnabled": False}
    schema, attributes = (TABLE_KEY_SCHEMA[:1], TABLE_ATTRIBUTES[:1]) if hash_only else (TABLE_KEY_SCHEMA, TABLE_ATTRIBUTES)
    ddb.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=attributes,
                     BillingMode="PAY_PER_REQUEST", StreamSpecification=spec)


def log_keys(store: ObjectStore, prefix: str, table: str) -> list[str]:
    """Every key under the table's changes/, relative to it, sorted."""
    base = cl.changes_prefix(prefix, table)
    return [key[len(base):] for key in store.list_keys(base)]


def segments(store: ObjectStore, prefix: str, table: str) -> list[tuple[cl.SegmentHeader, list[cl.StreamRecord]]]:
    """Every segment, parsed with its key checked against its header, in key order."""
    base = cl.changes_prefix(prefix, table)
    found = []
    for relative in log_keys(store, prefix, table):
        parsed = cl.parse_log_key(relative)
        if parsed.kind == "segment":
            found.append(cl.parse_segment(store.get(base + relative), expect=parsed))
    return found


def records(store: ObjectStore, prefix: str, table: str) -> list[cl.StreamRecord]:
    """Every record once (by shard and sequence), in (shard, sequence) order."""
    unique = {}
    for _, recs in segments(store, prefix, table):
        for record in recs:
            unique.setdefault((record.shard_id, record.sequence), record)
    return [unique[k] for k in sorted(unique)]


def gaps(store: ObjectStore, prefix: str, table: str) -> list[cl.GapRecord]:
    base = cl.changes_prefix(prefix, table)
    return [cl.parse_gap(store.get(base + rel)) for rel in log_keys(store, prefix, table)
            if cl.parse_log_key(rel).kind == "gap"]
