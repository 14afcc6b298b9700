"""`ddbvault doctor`: prove, live, that a backup of TABLE to s3://… will work.

Checks, in order; each is ✓ (ok), ✗ (fail), ⚠ (works, but unsafe) or · (information):
  identity of each principal (STS GetCallerIdentity; assuming the roles given)
  DescribeTable, Scan (one item, Limit=1), DescribeTimeToLive, ListTagsOfResource
  the bucket is reachable (HeadBucket: 404 is a failure, 403 only means "not listable")
  a probe object can be created with the ACL, SSE (and, with --keep, tier tag) a backup uses, under
      <prefix>/_doctor/<utc-time>-<random>  (unique per run; the generated lifecycle rule expires it)
  the bucket owner can read the probe (with --owner-role)
  DeleteObject on the probe is denied (✓) or allowed (⚠: production could delete backups)
  bucket versioning and object lock status (·; ⚠ if versioning is off)
  an enabled lifecycle rule aborts incomplete multipart uploads under <prefix>/<table>/
      (GetBucketLifecycleConfiguration, as the owner when --owner-role is given): ✓ with its age,
      ⚠ naming the rule to add; · "cannot tell" when the call is denied (s3:GetLifecycleConfiguration
      is the bucket owner's, not a backup permission). Attempts leave their parts uncompleted for
      the winner or commit, and the rule removes what killed attempts left (docs/scale.md)
  with a keep policy (--keep): one enabled lifecycle rule per tier that expires objects tagged
      ddbvault-tier=<tier> under the prefix after the tier's days (GetBucketLifecycleConfiguration,
      as the owner when --owner-role is given); ✗ names the fix, ⚠ when the call is denied
With --engine export, as the table (production) principal, which DynamoDB's export writes as:
  point-in-time recovery is on (DescribeContinuousBackups; ✗ names the command that turns it on)
  DescribeExport is allowed: a made-up export ARN of the table answers ExportNotFoundException
      (allowed), not AccessDeniedException
  ExportTableToPointInTime is allowed, without starting an export: the request asks for an
      ExportTime a day in the future, which DynamoDB refuses after authorizing it
      (InvalidExportTimeException, or PointInTimeRecoveryUnavailableException with PITR off)
  a probe object can be created under <prefix>/_doctor/export/ WITHOUT If-None-Match, with the
      ACL and SSE an export uses, as DynamoDB writes the export's objects
A ✗ names the missing permission and the statement of `ddbvault iam` that grants it.
Nothing is left that needs deleting: the probe is tiny and expires by lifecycle.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from .aws.error_translation import translated
from .aws.session import Principal, client, make_session
from .errors import AccessDeniedError, DdbvaultError, NotFoundError, UsageError
from .format.layout import join
from .format.retention import TAG_KEY, KeepPolicy, tag_of
from .iac.retention import PARAMETER_DEFAULTS
from .plural import counted
from .storage.destination import parse_destination
from .storage import WriteOptions
from .storage.s3 import S3Store

PROBE_DIR = "_doctor"  # the probes' folder under the prefix (iac/inputs.py's DOCTOR_DIR: its own rule)
# The age of the abort rule doctor tells to add: the one the generated data stack sets by default.
DEFAULT_ABORT_DAYS = PARAMETER_DEFAULTS["AbortIncompleteUploadsAfterDays"]

OK, FAIL, WARN, INFO = "ok", "fail", "warn", "info"
MARKS = {OK: "✓", FAIL: "✗", WARN: "⚠", INFO: "·"}
PROD = "production backup policy (ddbvault iam --part production)"
RESTORE = "restore reader policy (ddbvault iam --part restore)"
TABLES = f"statement ReadBackedUpTables of the {PROD}"
OBJECTS = f"statement CreateBackupObjects of the {PROD}"
ASSUME = f"statement AssumeDataAccountWriter of the {PROD}"
OWNER_READ = f"statement ReadBackupObjects of the {RESTORE}"
EXPORT_PROD = "production backup policy (ddbvault iam --engine export --part production)"
EXPORT_GRANTS = {
    "dynamodb:ExportTableToPointInTime": f"statement ExportBackedUpTables of the {EXPORT_PROD}",
    "dynamodb:DescribeExport": f"statement DescribeOwnExports of the {EXPORT_PROD}",
    "s3:PutObject": f"statement WriteTableExports of the {EXPORT_PROD}, and AllowTableExports of the "
                    "bucket policy (ddbvault iam --engine export --part data)",
}
# A well-formed export id (<14 digits>-<8 hex>) that no export has: DescribeExport's probe.
NO_SUCH_EXPORT = "00000000000000-00000000"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    permission: str | None = None
    grant: str | None = None  # the policy statement that grants `permission`


@dataclass
class DoctorReport:
    table: str
    destination: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "table": self.table, "destination": self.destination,
                "checks": [asdict(c) for c in self.checks]}


@dataclass(frozen=True)
class DoctorOptions:
    table_principal: Principal = Principal()  # reads the table: --table-role
    vault_principal: Principal = Principal()  # writes the bucket: --vault-role
    owner: Principal | None = None  # a principal of the bucket owner, to prove it can read
    acl: str | None = "bucket-owner-full-control"
    sse: str | None = None
    kms_key_id: str | None = None
    keep: KeepPolicy | None = None  # check the bucket's lifecycle rules for this keep policy
    engine: str = "scan"  # "export": also what `backup --engine export` needs (module docstring)


class _Doctor:
    def __init__(self, table: str, dest: str, options: DoctorOptions):
        self.table, self.options = table, options
        self.destination = parse_destination(dest)
        self.report = DoctorReport(table, dest)

    def check(self, name: str, fn, *, permission: str | None = None, grant: str | None = None):
        """Run fn(); record ✓ with its detail, or ✗ naming the permission. Returns fn's result."""
        try:
            result = fn()
        except DdbvaultError as exc:
            perm = getattr(exc, "permission", None) or permission
            if perm and perm.startswith("kms:"):  # SSE-KMS writes need the key, not more S3
                grant = f"statement EncryptBackupObjects of the {PROD}"
            self.report.checks.append(Check(name, FAIL, exc.message, perm, grant if perm else None))
            return None
        self.report.checks.append(Check(name, OK, result if isinstance(result, str) else "allowed"))
        return result if result is not None else True

    def note(self, name: str, status: str, detail: str) -> None:
        self.report.checks.append(Check(name, status, detail))


def _identity(session, label: str) -> str:
    with translated(service="sts", action="GetCallerIdentity", resource=label):
        return client(session, "sts").get_caller_identity()["Arn"]


def run_doctor(table: str, dest: str, options: DoctorOptions | None = None) -> DoctorReport:
    """All checks for backing up `table` to `dest`; never raises for a failed check."""
    doc = _Doctor(table, dest, options or DoctorOptions())
    if doc.destination.kind != "s3":
        raise UsageError(f"doctor checks S3 destinations, not the local directory {doc.destination.location}",
                         "pass --to s3://BUCKET/PREFIX; a local directory needs no AWS permissions")
    if doc.options.engine not in ("scan", "export"):
        raise UsageError(f"--engine must be scan or export, got {doc.options.engine!r}")
    source = doc.check("source credentials", lambda: make_session(doc.options.table_principal),
                       permission="sts:AssumeRole" if doc.options.table_principal.role_arn else None, grant=ASSUME)
    if source:
        doc.check("source identity", lambda: _identity(source, "source"))
        table_arn = _table_checks(doc, source)
        if table_arn and doc.options.engine == "export":
            _export_checks(doc, source, table_arn)
    dest_session = doc.check("destination credentials", lambda: make_session(doc.options.vault_principal),
                             permission="sts:AssumeRole" if doc.options.vault_principal.role_arn else None, grant=ASSUME)
    if dest_session:
        doc.check("destination identity", lambda: _identity(dest_session, "destination"))
        _bucket_checks(doc, dest_session)
    return doc.report


def _table_checks(doc: _Doctor, session) -> str | None:
    """The read checks; returns the table's ARN (None when DescribeTable failed)."""
    ddb = client(session, "dynamodb")
    arn = [f"table {doc.table}"]

    def call(action: str, fn):
        with translated(service="dynamodb", action=action, resource=arn[0]):
            return fn()

    def describe() -> str:
        table = call("DescribeTable", lambda: ddb.describe_table(TableName=doc.table))["Table"]
        arn[0] = table["TableArn"]
        return f"{arn[0]}: {table.get('ItemCount', '?')} items (estimate), {table['TableStatus']}"

    if not doc.check("DescribeTable", describe, permission="dynamodb:DescribeTable", grant=TABLES):
        return None
    doc.check("Scan", lambda: call("Scan", lambda: ddb.scan(TableName=doc.table, Limit=1)) and "allowed",
              permission="dynamodb:Scan", grant=TABLES)
    doc.check("DescribeTimeToLive", lambda: "TTL " + call("DescribeTimeToLive", lambda: ddb.describe_time_to_live(
        TableName=doc.table))["TimeToLiveDescription"].get("TimeToLiveStatus", "?"),
        permission="dynamodb:DescribeTimeToLive", grant=TABLES)
    doc.check("ListTagsOfResource", lambda: f"{len(call('ListTagsOfResource', lambda: ddb.list_tags_of_resource(ResourceArn=arn[0]))['Tags'])} tags",
              permission="dynamodb:ListTagsOfResource", grant=TABLES)
    return arn[0]


def _probe_key(prefix: str, *folders: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return join(prefix, PROBE_DIR, *folders, f"{stamp}-{secrets.token_hex(4)}")


def _export_checks(doc: _Doctor, session, table_arn: str) -> None:
    """What `backup --engine export` needs of the table principal (the module docstring)."""
    ddb = client(session, "dynamodb")
    _pitr_check(doc, ddb, table_arn)
    _refused_as_expected(doc, "DescribeExport", "dynamodb:DescribeExport", {"ExportNotFoundException"},
                         lambda: ddb.describe_export(ExportArn=f"{table_arn}/export/{NO_SUCH_EXPORT}"),
                         f"{table_arn}/export/{NO_SUCH_EXPORT}")
    _export_start_check(doc, ddb, table_arn)
    _export_write_check(doc, client(session, "s3"))


def _pitr_check(doc: _Doctor, ddb, table_arn: str) -> None:
    try:
        with translated(service="dynamodb", action="DescribeContinuousBackups", resource=table_arn):
            pitr = ddb.describe_continuous_backups(TableName=doc.table)["ContinuousBackupsDescription"]
    except DdbvaultError as exc:
        doc.report.checks.append(Check("point-in-time recovery", FAIL, exc.message,
                                       "dynamodb:DescribeContinuousBackups", TABLES))
        return
    recovery = pitr.get("PointInTimeRecoveryDescription") or {}
    if recovery.get("PointInTimeRecoveryStatus") == "ENABLED":
        earliest = recovery.get("EarliestRestorableDateTime")
        since = f"; exports can go back to {earliest:%Y-%m-%dT%H:%M:%SZ}" if isinstance(earliest, datetime) else ""
        doc.note("point-in-time recovery", OK, f"enabled{since}")
        return
    doc.note("point-in-time recovery", FAIL, f"{recovery.get('PointInTimeRecoveryStatus', 'DISABLED')}: exports need "
             f"it; fix: aws dynamodb update-continuous-backups --table-name {doc.table} "
             "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true")


def _refused_as_expected(doc: _Doctor, name: str, permission: str, expected: set[str], call, resource: str,
                         why: str = "") -> None:
    """Run a call that must fail *after* authorization: one of the `expected` error codes proves
    `permission` (✓); AccessDenied is ✗; a success or another error says so (⚠ / ·)."""
    try:
        with translated(service=permission.split(":")[0], action=name, resource=resource):
            answer = call()
    except AccessDeniedError as exc:
        doc.report.checks.append(Check(name, FAIL, exc.message, permission, EXPORT_GRANTS[permission]))
        return
    except DdbvaultError as exc:
        code = getattr(exc, "code", "")
        if code in expected:
            doc.note(name, OK, f"allowed ({code}{why})")
        else:
            doc.note(name, INFO, f"could not tell: {exc.message}")
        return
    arn = (answer.get("ExportDescription") or {}).get("ExportArn", "?")
    doc.note(name, WARN, f"unexpectedly accepted: {arn} (it is allowed; the export may run: "
                         "DescribeExport it, its files land under _doctor/export/, which expires)")


def _export_start_check(doc: _Doctor, ddb, table_arn: str) -> None:
    """ExportTableToPointInTime with an ExportTime a day ahead: authorized, then refused."""
    o = doc.options
    request = {"TableArn": table_arn, "ExportTime": datetime.now(timezone.utc) + timedelta(days=1),
               "ClientToken": f"ddbvault-doctor-{secrets.token_hex(8)}", "S3Bucket": doc.destination.location,
               "S3Prefix": _probe_key(doc.destination.prefix, "export"), "ExportFormat": "DYNAMODB_JSON"}
    if o.sse:
        request["S3SseAlgorithm"] = "KMS" if o.sse == "aws:kms" else "AES256"
    if o.kms_key_id:
        request["S3SseKmsKeyId"] = o.kms_key_id
    _refused_as_expected(doc, "ExportTableToPointInTime", "dynamodb:ExportTableToPointInTime",
                         {"InvalidExportTimeException", "PointInTimeRecoveryUnavailableException"},
                         lambda: ddb.export_table_to_point_in_time(**request), table_arn,
                         "; asked for a time in the future, so nothing was exported")


def _export_write_check(doc: _Doctor, s3) -> None:
    """A probe written as DynamoDB writes an export: no If-None-Match, the backup's ACL and SSE."""
    o = doc.options
    bucket, key = doc.destination.location, _probe_key(doc.destination.prefix, "export")
    extra = {"ACL": o.acl} if o.acl else {}
    if o.sse:
        extra["ServerSideEncryption"] = o.sse
    if o.kms_key_id:
        extra["SSEKMSKeyId"] = o.kms_key_id

    def put() -> str:
        with translated(service="s3", action="PutObject", resource=f"s3://{bucket}/{key}", acl=o.acl):
            s3.put_object(Bucket=bucket, Key=key, Body=b"ddbvault doctor export probe\n", **extra)
        return f"s3://{bucket}/{key} (as the table principal, without If-None-Match)"

    doc.check("export write", put, permission="s3:PutObject", grant=EXPORT_GRANTS["s3:PutObject"])


def _bucket_checks(doc: _Doctor, session) -> None:
    o = doc.options
    s3 = client(session, "s3")
    # Under --keep the probe carries a tier tag, as every backup object will: the write then
    # proves s3:PutObjectTagging too.
    tagging = tag_of(o.keep.tiers[-1]) if o.keep else None
    store = S3Store(s3, doc.destination.location, WriteOptions(acl=o.acl, sse=o.sse, kms_key_id=o.kms_key_id,
                                                               tagging=tagging))
    if not doc.check("bucket reachable", lambda: store.check_writable() or f"s3://{store.bucket}",
                     permission="s3:ListBucket"):
        return
    key = _probe_key(doc.destination.prefix)
    tagged = f", tag {tagging}" if tagging else ""
    written = doc.check(f"PutObject with ACL {o.acl or 'none'}, SSE {o.sse or 'bucket default'}{tagged}",
                        lambda: store.put_new(key, b"ddbvault doctor probe\n") or store.url_of(key),
                        permission="s3:PutObject", grant=OBJECTS)
    if written and o.owner:
        owner = make_session(o.owner)
        owner_store = S3Store(client(owner, "s3"), store.bucket)
        doc.check("bucket owner reads the probe", lambda: owner_store.get(key) and "readable by " + _identity(owner, "owner"),
                  permission="s3:GetObject", grant=OWNER_READ)
    if written:
        _delete_check(doc, s3, store, key)
    _bucket_status(doc, s3, store.bucket)
    rules = lifecycle_rules(doc, client(make_session(o.owner), "s3") if o.owner else s3, store.bucket,
                            WARN if o.keep else INFO)
    if rules is not None:
        _abort_uploads_check(doc, rules)
        if o.keep is not None:
            _lifecycle_check(doc, rules, o.keep)


def lifecycle_rules(doc: _Doctor, s3, bucket: str, status: str, name: str = "lifecycle rules") -> list[dict] | None:
    """The bucket's lifecycle rules ([] when it has none), or None after noting (with `status`)
    that they cannot be read: s3:GetLifecycleConfiguration is a permission of the bucket's
    owner, which backups never need, so a denial is "cannot tell", never a failed check."""
    try:
        with translated(service="s3", action="GetBucketLifecycleConfiguration", resource=f"s3://{bucket}"):
            return s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except AccessDeniedError as exc:
        doc.report.checks.append(Check(name, status, f"cannot tell: {exc.message} (reading them needs "
                                       "s3:GetLifecycleConfiguration, a data account permission: pass --owner-role)",
                                       "s3:GetLifecycleConfiguration"))
    except DdbvaultError as exc:
        if getattr(exc, "code", "") == "NoSuchLifecycleConfiguration":
            return []
        doc.note(name, status, f"cannot tell: {exc.message}")
    return None


ABORT_RULE = "incomplete uploads aborted"


def _abort_uploads_check(doc: _Doctor, rules: list[dict]) -> None:
    """✓ when an enabled rule aborts incomplete multipart uploads under the table's backups;
    ⚠ with the rule to add otherwise (docs/scale.md: its age must exceed the longest backup)."""
    covered = join(doc.destination.prefix.strip("/"), doc.table) + "/"
    found = abort_uploads_rules(rules, covered)
    age = "; its age must exceed the longest backup, from plan to commit (docs/scale.md)"
    if found:
        days, rule_id = min(found)
        doc.note(ABORT_RULE, OK, f"rule {rule_id[:64]!r} aborts uploads under {covered} "
                                 f"{counted(days, 'day')} after they start{age}")
        return
    prefix = doc.destination.prefix.strip("/")
    doc.note(ABORT_RULE, WARN, f"no enabled lifecycle rule aborts incomplete multipart uploads under {covered}: the "
                               "parts of killed or losing backup attempts are kept, and billed, until one does; add "
                               "rule AbortIncompleteMultipartUploads of `ddbvault iam --part data` "
                               f"(AbortIncompleteMultipartUpload DaysAfterInitiation {DEFAULT_ABORT_DAYS}, no filter"
                               f"{f' or Prefix {prefix}/' if prefix else ''}){age}")


def abort_uploads_rules(rules: list[dict], covered: str) -> list[tuple[int, str]]:
    """(DaysAfterInitiation, rule ID) of each enabled rule of `rules` (GetBucketLifecycleConfiguration's)
    that aborts the incomplete multipart uploads of every key under `covered` (a key prefix
    ending in "/"): no tag or size filter (S3 applies neither to uploads), and a prefix that
    `covered` starts with."""
    found = []
    for rule in (r for r in rules if r.get("Status") == "Enabled"):
        days = (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")
        tags, rule_prefix, sized = _rule_filter(rule)
        if isinstance(days, int) and days > 0 and not tags and not sized and covered.startswith(rule_prefix):
            found.append((days, str(rule.get("ID", ""))))
    return found


def _lifecycle_check(doc: _Doctor, rules: list[dict], keep: KeepPolicy) -> None:
    """One enabled rule per tier: the tier's tag, a prefix that covers the destination's, and
    Expiration after exactly the tier's days."""
    prefix = doc.destination.prefix.strip("/")
    for tier in reversed(keep.tiers):
        problem = lifecycle_problem(rules, prefix, tier, keep.days(tier))
        name = f"lifecycle rule for tier {tier}"
        if problem is None:
            doc.note(name, OK, f"objects tagged {TAG_KEY}={tier} expire after {counted(keep.days(tier), 'day')}")
        else:
            doc.note(name, FAIL, f"{problem}; fix: apply rule ExpireTier{tier.capitalize()} of "
                                 f"`ddbvault iam --keep {keep.to_text()} --part data`")


def lifecycle_problem(rules: list[dict], prefix: str, tier: str, days: int) -> str | None:
    """None if an enabled rule of `rules` (GetBucketLifecycleConfiguration's) expires every
    object under `prefix` tagged with `tier` after `days` days, and no other enabled rule
    expires any of them sooner (S3 applies the earliest expiration of all the rules that
    match); else what is wrong."""
    wanted = {"Key": TAG_KEY, "Value": tier}
    where = f" under {prefix}/" if prefix else ""
    found = []
    for rule in (r for r in rules if r.get("Status") == "Enabled"):
        tags, rule_prefix, sized = _rule_filter(rule)
        covers = (prefix + "/").startswith(rule_prefix) or not rule_prefix
        inside = rule_prefix.startswith(f"{prefix}/" if prefix else "") and not rule_prefix.startswith(
            f"{prefix}/{PROBE_DIR}/" if prefix else f"{PROBE_DIR}/")  # some of the tables' backups
        expiration = rule.get("Expiration") or {}
        after = expiration.get("Days")
        if tags == [wanted] and covers and not sized and after is not None:  # the tier's own rule
            found.append(after)
            continue
        if tags in ([], [wanted]) and (covers or inside) and ("Date" in expiration or (after or days) < days):
            when = (f"on the fixed date {expiration['Date']}, not {counted(days, 'day')} after each backup"
                    if "Date" in expiration
                    else f"after {counted(after, 'day')}, sooner than the {days} the keep policy needs")
            return f"rule {str(rule.get('ID'))[:64]!r} also expires objects tagged {TAG_KEY}={tier}{where} {when}"
    if days in found and min(found) == days:  # S3 applies the earliest of several
        return None
    if found:
        return (f"the rule for objects tagged {TAG_KEY}={tier}{where} expires them after "
                f"{counted(min(found) if min(found) < days else found[0], 'day')}; the keep policy needs {days}")
    return f"no enabled lifecycle rule expires objects tagged {TAG_KEY}={tier}{where}: they would never expire"


def _rule_filter(rule: dict) -> tuple[list, str, bool]:
    """A lifecycle rule's tags, prefix, and whether it only takes objects of some sizes."""
    filter_ = rule.get("Filter") or {}
    both = filter_.get("And") or {}
    tags = both.get("Tags") or ([filter_["Tag"]] if "Tag" in filter_ else [])
    rule_prefix = both.get("Prefix", filter_.get("Prefix", rule.get("Prefix", "")))
    sized = any(key in part for part in (filter_, both) for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"))
    return tags, rule_prefix, sized


def _delete_check(doc: _Doctor, s3, store: S3Store, key: str) -> None:
    try:
        with translated(service="s3", action="DeleteObject", resource=store.url_of(key)):
            s3.delete_object(Bucket=store.bucket, Key=key)
    except AccessDeniedError:
        doc.note("DeleteObject denied", OK, "production cannot delete backups")
        return
    except DdbvaultError as exc:
        doc.note("DeleteObject", INFO, f"could not tell: {exc.message}")
        return
    doc.note("DeleteObject allowed", WARN, "production can delete backups: deny s3:DeleteObject* to it "
             "in the bucket policy (ddbvault iam --part data)")


def _bucket_status(doc: _Doctor, s3, bucket: str) -> None:
    try:
        with translated(service="s3", action="GetBucketVersioning", resource=f"s3://{bucket}"):
            status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
        doc.note("versioning", OK if status == "Enabled" else WARN, status)
    except DdbvaultError as exc:
        doc.note("versioning", INFO, f"unknown: {exc.message}")
    try:
        with translated(service="s3", action="GetObjectLockConfiguration", resource=f"s3://{bucket}"):
            lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
        rule = (lock.get("Rule") or {}).get("DefaultRetention") or {}
        doc.note("object lock", INFO, f"{lock.get('ObjectLockEnabled', 'Disabled')} {rule.get('Mode', '')} "
                                      f"{rule.get('Days') or rule.get('Years') or ''}".strip())
    except NotFoundError:
        doc.note("object lock", INFO, "not configured")
    except DdbvaultError as exc:
        doc.note("object lock", INFO, f"unknown: {exc.message}")
