"""`ddbvault doctor --continuous`: prove, live, that `ddbvault follow TABLE --to s3://…` will work.

Checks, in order (marks as in doctor.py); the table principal (--table-role: the follower role
when it runs in the vault account) reads the stream, the vault principal (--vault-role) writes:
  identity of each principal (STS GetCallerIdentity; assuming the roles given)
  the table's stream (DescribeTable: StreamSpecification, LatestStreamArn): enabled with
      NEW_IMAGE or NEW_AND_OLD_IMAGES; ✗ names the exact `aws dynamodb update-table` fix
  DescribeStream on the latest stream (a real call: shards and status)
  GetShardIterator on its newest shard, LATEST (a real call; no record is read)
  the change log's prefix <prefix>/<table>/changes/ can be listed (ListObjectsV2, one page)
  a probe object is created create-only (If-None-Match) under <prefix>/_doctor/changes/, and a
      second, different write to the same key is refused (IntegrityError: nothing is overwritten)
  DeleteObject on the probe is denied (✓) or allowed (⚠)
  bucket versioning and object lock status (·)
  the change log's lifecycle rule (GetBucketLifecycleConfiguration, with --owner-role when given):
      a rule by <prefix>/<table>/changes/ and the tag ddbvault-log=segment expires segments after
      N days (·: the restorable window starts about N days back); none (·: kept forever); ✗ a
      rule that would expire the log's start.json, closed.json or gaps (no segment tag filter)
The backup's own checks (Scan, TTL, tags) are not run: a follower needs none of them.
A ✗ names the missing permission and the statement of `ddbvault iam --continuous` that grants it.
"""

from __future__ import annotations

import dataclasses

from .aws.error_translation import translated
from .aws.session import client, make_session
from .doctor import (FAIL, INFO, OK, WARN, Check, DoctorOptions, DoctorReport, _bucket_status, _delete_check,
                     _Doctor, _identity, _probe_key, _rule_filter, lifecycle_rules)
from .errors import DdbvaultError, IntegrityError, UsageError
from .format.change_log import SEGMENT_TAG_KEY, SEGMENT_TAG_VALUE
from .format.layout import TableRef, join, parse_table_ref
from .plural import counted
from .storage import WriteOptions
from .storage.s3 import S3Store

FOLLOWED_VIEWS = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
CONTINUOUS = "ddbvault iam --continuous"
STREAM_GRANT = (f"statement ReadTableStreams of the data-follower-role-policy, and across accounts "
                f"FollowerReadsStream of the table's production-stream-policy ({CONTINUOUS})")
TABLE_GRANT = (f"statement DescribeFollowedTables of the data-follower-role-policy, and across accounts "
               f"FollowerDescribesTable of the production-table-policy ({CONTINUOUS})")
WRITE_GRANT = f"statement CreateChangeLogObjects of the data-follower-role-policy ({CONTINUOUS} --part data)"
LIST_GRANT = f"statement ListChangeLog of the data-follower-role-policy ({CONTINUOUS} --part data)"


def stream_fix(table: str, view: str | None) -> str:
    """The exact command(s) that give `table` a stream a follower can read."""
    enable = (f"aws dynamodb update-table --table-name {table} "
              "--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES")
    if view is None:
        return enable
    return (f"a stream's view type cannot change in place: aws dynamodb update-table --table-name {table} "
            f"--stream-specification StreamEnabled=false, then {enable} (a new stream: the follower "
            "records the switch as a gap, reason stream_replaced)")


def run_follow_doctor(table: str, dest: str, options: DoctorOptions | None = None) -> DoctorReport:
    """All checks for following `table` (a name, or a table ARN: format.layout.parse_table_ref)
    into `dest`; never raises for a failed check. Raises UsageError for a malformed table or ARN,
    a --region that disagrees with the ARN's, and a destination that is not s3:// (a local
    directory needs no permissions). By ARN, the table principal calls in the ARN's region."""
    ref = parse_table_ref(table, what="--table")
    options = options or DoctorOptions()
    principal = options.table_principal
    options = dataclasses.replace(options, table_principal=dataclasses.replace(
        principal, region=ref.region_for(principal.region)))
    doc = _Doctor(ref.api_name, dest, options)
    if doc.destination.kind != "s3":
        raise UsageError(f"doctor checks S3 destinations, not the local directory {doc.destination.location}",
                         "pass --to s3://BUCKET/PREFIX; a local directory needs no AWS permissions")
    source = doc.check("source credentials", lambda: make_session(doc.options.table_principal),
                       permission="sts:AssumeRole" if doc.options.table_principal.role_arn else None)
    if source:
        doc.check("source identity", lambda: _identity(source, "source"))
        _stream_checks(doc, source, ref)
    vault = doc.check("destination credentials", lambda: make_session(doc.options.vault_principal),
                      permission="sts:AssumeRole" if doc.options.vault_principal.role_arn else None)
    if vault:
        doc.check("destination identity", lambda: _identity(vault, "destination"))
        _change_log_checks(doc, vault, ref)
    return doc.report


def _stream_checks(doc: _Doctor, session, ref: TableRef) -> None:
    ddb = client(session, "dynamodb")

    found: dict = {}

    def describe_table() -> str:
        with translated(service="dynamodb", action="DescribeTable", resource=f"table {doc.table}"):
            found.update(ddb.describe_table(TableName=doc.table)["Table"])
        return f"{found['TableArn']}, {found['TableStatus']}"

    if not doc.check("DescribeTable", describe_table, permission="dynamodb:DescribeTable", grant=TABLE_GRANT):
        return
    table = found
    spec = table.get("StreamSpecification") or {}
    view = spec.get("StreamViewType") if spec.get("StreamEnabled") else None
    arn = table.get("LatestStreamArn")
    if view not in FOLLOWED_VIEWS or not arn:
        why = "no stream is enabled" if view is None else f"the stream is {view}, which holds no new image"
        doc.note("stream", FAIL, f"{why}; fix: {stream_fix(ref.name, view)}")
        return
    doc.note("stream", OK, f"{view}: {arn}")
    streams = client(session, "dynamodbstreams")
    shards: list[dict] = []
    if doc.check("DescribeStream", lambda: _describe_stream(streams, arn, shards),
                 permission="dynamodb:DescribeStream", grant=STREAM_GRANT):
        doc.check("GetShardIterator", lambda: _shard_iterator(streams, arn, shards),
                  permission="dynamodb:GetShardIterator", grant=STREAM_GRANT)


def _describe_stream(streams, arn: str, shards: list[dict]) -> str:
    """One DescribeStream page (up to 100 shards: enough to find one to probe), into `shards`."""
    with translated(service="dynamodb", action="DescribeStream", resource=arn):
        stream = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    shards.extend(stream.get("Shards") or [])
    return f"{stream.get('StreamStatus', '?')}, {len(shards)} shard(s) in the first page"


def _shard_iterator(streams, arn: str, shards: list[dict]) -> str:
    if not shards:
        return "no shard to probe yet (a new stream); allowed is not proved"
    # An open shard (no EndingSequenceNumber) is the newest; else the last listed.
    shard = next((s for s in reversed(shards) if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})),
                 shards[-1])
    with translated(service="dynamodb", action="GetShardIterator", resource=f"{arn} shard {shard['ShardId']}"):
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")
    return f"allowed on {shard['ShardId']} (LATEST: nothing read)"


def _change_log_checks(doc: _Doctor, session, ref: TableRef) -> None:
    o = doc.options
    s3 = client(session, "s3")
    store = S3Store(s3, doc.destination.location, WriteOptions(acl=o.acl, sse=o.sse, kms_key_id=o.kms_key_id))
    changes = join(doc.destination.prefix, ref.name, "changes") + "/"

    def listing() -> str:
        with translated(service="s3", action="ListObjectsV2", resource=store.url_of(changes)):
            page = s3.list_objects_v2(Bucket=store.bucket, Prefix=changes, MaxKeys=1)
        return f"{store.url_of(changes)}: " + ("holds a change log" if page.get("KeyCount") else "empty")

    doc.check("change log listable", listing, permission="s3:ListBucket", grant=LIST_GRANT)
    key = _probe_key(doc.destination.prefix, "changes")
    written = doc.check(f"PutObject create-only with ACL {o.acl or 'none'}, SSE {o.sse or 'bucket default'}",
                        lambda: store.put_new(key, b"ddbvault doctor change-log probe\n") or store.url_of(key),
                        permission="s3:PutObject", grant=WRITE_GRANT)
    if written:
        _overwrite_check(doc, store, key)
        _delete_check(doc, s3, store, key)
    _bucket_status(doc, s3, store.bucket)
    owner = client(make_session(o.owner), "s3") if o.owner else s3
    _change_log_rule(doc, owner, store.bucket, changes)


def _change_log_rule(doc: _Doctor, s3, bucket: str, changes: str) -> None:
    """Report the lifecycle rules that expire objects under `changes` (the table's changes/)."""
    name = "change log lifecycle rule"
    rules = lifecycle_rules(doc, s3, bucket, WARN, name)
    if rules is None:
        return
    problem, days = change_log_expiry(rules, changes)
    if problem:
        doc.note(name, FAIL, f"{problem}; fix: apply the ExpireChangeLog rule of `{CONTINUOUS} --keep-changes DAYS "
                             "--part data` instead")
    elif days is None:
        doc.note(name, INFO, "none: segments are kept until deleted by hand (`iam --continuous --keep-changes DAYS` "
                             "adds one)")
    else:
        age = counted(days, "day")
        doc.note(name, INFO, f"segments ({SEGMENT_TAG_KEY}={SEGMENT_TAG_VALUE}) expire after {age}: restore --at "
                             f"reaches back about {age}; keep a base backup younger than that")


def change_log_expiry(rules: list[dict], changes: str) -> tuple[str | None, int | None]:
    """(what is wrong, None) when an enabled rule of `rules` (GetBucketLifecycleConfiguration's)
    may expire objects under `changes` other than tagged segments (start.json, closed.json and
    gaps must stay); else (None, the fewest days after which one expires segments, or None)."""
    segment = {"Key": SEGMENT_TAG_KEY, "Value": SEGMENT_TAG_VALUE}
    days = None
    for rule in (r for r in rules if r.get("Status") == "Enabled" and r.get("Expiration")):
        tags, rule_prefix, _ = _rule_filter(rule)
        if not (changes.startswith(rule_prefix) or rule_prefix.startswith(changes)):
            continue  # another part of the bucket
        if segment not in tags:
            if tags:  # filtered by another tag: only objects that carry it, which the follower never writes
                continue
            return (f"rule {str(rule.get('ID'))[:64]!r} expires every object under {changes}, the change "
                    "log's start.json, closed.json and gaps too", None)
        after = rule["Expiration"].get("Days")
        if after is not None:
            days = after if days is None else min(days, after)
    return None, days


def _overwrite_check(doc: _Doctor, store: S3Store, key: str) -> None:
    """A different object to the probe's key must be refused (If-None-Match: * and a 412)."""
    try:
        store.put_new(key, b"ddbvault doctor change-log probe, overwritten\n")
    except IntegrityError:
        doc.note("overwrite refused", OK, "an existing object is never replaced (If-None-Match)")
        return
    except DdbvaultError as exc:
        doc.report.checks.append(Check("overwrite refused", FAIL, f"could not tell: {exc.message}"))
        return
    doc.report.checks.append(Check("overwrite refused", FAIL, f"{store.url_of(key)} was replaced: this store "
                                   "does not honour If-None-Match, so two followers could overwrite a segment"))
