"""The saved settings a restored table may still lack: TTL, tags, stream, table class, deletion protection.

CreateTable sets tags, the stream, the table class and deletion protection but not TTL; ImportTable
sets none of them; a table given with --no-create, or one whose first restore was killed before
TTL was on, may lack any of them. `apply_missing()` runs on every path (create, --resume,
--no-create, --via import) and is idempotent: it reads the live settings and changes only what
is missing. It only adds: a tag whose key the table already has, a stream with another view type,
or TTL on another attribute is left as it is and reported in a note.

`missing_updates()` and `missing_tags()` are pure; `apply_missing()` makes the calls:
DescribeTimeToLive, UpdateTimeToLive, ListTagsOfResource, TagResource, UpdateTable.
"""

from __future__ import annotations

import logging

from .sink import TableSink

log = logging.getLogger(__name__)


def missing_updates(schema: dict, table: dict) -> tuple[list[dict], list[str]]:
    """UpdateTable requests (without TableName) for the saved stream, non-standard table class and
    deletion protection that DescribeTable's `table` lacks; and notes on what is left different."""
    updates, notes = [], []
    saved = schema.get("StreamSpecification") or {}
    live = table.get("StreamSpecification") or {}
    if saved.get("StreamEnabled") and not live.get("StreamEnabled"):
        updates.append({"StreamSpecification": saved})
    elif saved.get("StreamEnabled") and live.get("StreamViewType") != saved.get("StreamViewType"):
        notes.append(f"its stream shows {live.get('StreamViewType')}, the backup's showed "
                     f"{saved.get('StreamViewType')}; left as it is")
    table_class = schema.get("TableClass") or "STANDARD"
    if table_class != "STANDARD" and (table.get("TableClassSummary") or {}).get("TableClass", "STANDARD") != table_class:
        updates.append({"TableClass": table_class})
    if schema.get("DeletionProtectionEnabled") and not table.get("DeletionProtectionEnabled"):
        updates.append({"DeletionProtectionEnabled": True})
    return updates, notes


def missing_tags(schema: dict, live: list[dict]) -> tuple[list[dict], list[str]]:
    """The saved tags whose keys the table lacks; notes on keys it has with another value."""
    have = {t["Key"]: t["Value"] for t in live}
    missing = [t for t in schema.get("Tags") or [] if t["Key"] not in have]
    notes = [f"its tag {t['Key']!r} differs from the backup's; left as it is"
             for t in schema.get("Tags") or [] if t["Key"] in have and have[t["Key"]] != t["Value"]]
    return missing, notes


def apply_missing(sink: TableSink, schema: dict, table: dict) -> list[str]:
    """Bring the saved settings onto the table `sink` writes (DescribeTable's `table`), waiting
    until each change is done. Returns notes (one line each) on settings left different."""
    if not schema:  # a native export: no saved settings
        return []
    notes = _ttl(sink, schema)
    tags, tag_notes = missing_tags(schema, _tags(sink) if schema.get("Tags") else [])
    if tags:
        sink.tag(tags)
    updates, update_notes = missing_updates(schema, table)
    for update in updates:
        sink.update(update)
        sink.wait_active()
    notes = [f"table {sink.table}: {note}" for note in notes + tag_notes + update_notes]
    for note in notes:
        log.info("%s", note)
    return notes


def _ttl(sink: TableSink, schema: dict) -> list[str]:
    saved = schema.get("TimeToLive") or {}
    if not (saved.get("Enabled") and saved.get("AttributeName")):
        return []
    live = sink.call("DescribeTimeToLive", lambda: sink.client.describe_time_to_live(
        TableName=sink.table))["TimeToLiveDescription"]
    status, attribute = live.get("TimeToLiveStatus", "DISABLED"), live.get("AttributeName")
    if status in ("ENABLED", "ENABLING") and attribute != saved["AttributeName"]:
        return [f"its TTL is on attribute {attribute!r}, the backup's was on "
                f"{saved['AttributeName']!r}; left as it is"]
    if status == "DISABLING":  # DynamoDB refuses another TTL change until that is done
        return [f"its TTL is being disabled, so TTL on {saved['AttributeName']!r} cannot be enabled now; "
                "enable it later with UpdateTimeToLive"]
    if status == "DISABLED":
        sink.enable_ttl(saved["AttributeName"])
    elif status == "ENABLING":
        sink.wait_ttl()
    return []


def _tags(sink: TableSink) -> list[dict]:
    tags, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = sink.call("ListTagsOfResource", lambda: sink.client.list_tags_of_resource(
            ResourceArn=sink.arn, **extra))
        tags += page.get("Tags") or []
        token = page.get("NextToken")
        if not token:
            return tags
