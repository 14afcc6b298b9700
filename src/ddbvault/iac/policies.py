"""Identity policies: what the backup role, the writer role and the restore principals may do.

Each function returns a complete IAM policy document (a dict ready for json.dumps). The ARNs come
from an `Arns` value: `literal_arns()` gives plain strings for `ddbvault iam --format json`, and
cloudformation.py swaps in intrinsic functions where a template creates the resource (the KMS key).

What is granted, and why (docs/iam.md has the long form):
- The backup reads only the named tables, with the read-only calls dynamodb/scan.py makes, plus
  DescribeContinuousBackups (the PITR status). No table write, no delete anywhere.
- Objects are written only under `<prefix>/<table>/` for the named tables (and the doctor's probe
  prefix): s3:PutObject covers PutObject, CreateMultipartUpload, UploadPart and
  CompleteMultipartUpload; s3:AbortMultipartUpload lets a failed writer clean up.
- s3:PutObjectAcl is granted because S3 requires it for a PutObject that carries an ACL header
  (`x-amz-acl: bucket-owner-full-control`), and only with that one ACL value.
- The ACL condition on s3:PutObject is `StringEqualsIfExists`: S3 authorizes UploadPart and
  CompleteMultipartUpload as s3:PutObject but those requests carry no ACL header, so a plain
  `StringEquals` would deny every multipart upload (any object over one 8 MiB part).
- With `--engine export`, DynamoDB's export runs as the production principal: it may start an
  export of the named tables (ExportTableToPointInTime) and follow it (DescribeExport on
  `<table ARN>/export/*`), and DynamoDB writes the export's objects with that principal's
  permissions, so it may create objects (and abort their uploads) under
  `<prefix>/<table>/*/export/*` and the doctor's `<prefix>/_doctor/export/*`, even when the
  backups themselves are written through a writer role (export_statements()).
- SSE-KMS needs kms:GenerateDataKey (new objects) and kms:Decrypt (S3 reads the parts of a
  multipart upload to complete it); both only through S3 (kms:ViaService). kms:Encrypt is never
  called by S3, so it is not granted.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..format.retention import TAG_KEY
from .inputs import DOCTOR_DIR, EXPORT_DIR, IacInputs

Ref = Any  # an ARN string, or a CloudFormation intrinsic function (a dict) that yields one
VERSION = "2012-10-17"

BACKUP_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:DescribeTimeToLive",
                        "dynamodb:ListTagsOfResource", "dynamodb:DescribeContinuousBackups")
RESTORE_TABLE_ACTIONS = ("dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:BatchWriteItem",
                         "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTimeToLive",
                         "dynamodb:TagResource", "dynamodb:ListTagsOfResource", "dynamodb:UpdateTable",
                         "dynamodb:Scan")
# `backup --tables` and a job's `tables:` (dynamodb/table_listing.py): ListTables has no resource
# type, so it can only be granted on "*" (it lists names); a tag selector reads the tags of every
# table of the account and region, so ListTagsOfResource is granted on table/* (tags only).
SELECTOR_LISTING = "dynamodb:ListTables"
# --runner (iac/runners.py): `backup plan` describes the table (DescribeTable, DescribeTimeToLive,
# ListTagsOfResource: the schema the manifest records); `backup work` scans its segments;
# `backup commit` touches no table. No selectors (the jobs name their table), no PITR status.
RUNNER_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
                        "dynamodb:ListTagsOfResource", "dynamodb:Scan")
SELECTOR_TAGS = "dynamodb:ListTagsOfResource"
IMPORT_TABLE_ACTIONS = ("dynamodb:ImportTable", "dynamodb:DescribeImport")
# What DynamoDB's import from S3 documents for its CloudWatch Logs output (/aws-dynamodb/*).
IMPORT_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                      "logs:PutLogEvents", "logs:PutRetentionPolicy")
# logs:DescribeLogGroups has no resource type: it can only be granted on "*" (it lists names).
IMPORT_LOG_LISTING = "logs:DescribeLogGroups"
KMS_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# --engine export: the table principal starts and follows exports; DynamoDB then writes the export
# with that principal's S3 permissions (DescribeContinuousBackups is in BACKUP_TABLE_ACTIONS).
EXPORT_TABLE_ACTION = "dynamodb:ExportTableToPointInTime"
EXPORT_DESCRIBE_ACTION = "dynamodb:DescribeExport"
EXPORT_OBJECT_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl")
# Under a keep policy (iac/retention.py): tags and Object Lock retention sent with each object.
KEEP_OBJECT_ACTIONS = ("s3:PutObjectTagging", "s3:PutObjectRetention")
RETAG_GUARD = {"StringLike": {f"s3:ExistingObjectTag/{TAG_KEY}": "*"}}


@dataclass(frozen=True)
class Arns:
    """Every ARN a generated document names."""

    tables: tuple[Ref, ...]          # the production tables
    bucket: str                      # arn:aws:s3:::bucket
    write_objects: tuple[Ref, ...]   # bucket/<prefix>/<table>/* for each table, and the doctor's
    all_objects: Ref                 # bucket/<prefix>/*
    key: Ref | None                  # the KMS key, when SSE-KMS is used
    writer_role: Ref | None          # the role assumed in the data account, if any
    backup_role: Ref                 # the production role that runs backups
    prod_root: Ref
    data_root: Ref
    restore_root: Ref
    restore_tables: tuple[Ref, ...]
    restore_imports: tuple[Ref, ...]  # table/<name>/import/* (DescribeImport's resource)
    import_logs: Ref
    table_exports: tuple[Ref, ...] = ()   # table/<name>/export/* (DescribeExport's resource)
    export_objects: tuple[Ref, ...] = ()  # bucket/<prefix>/<table>/*/export/* and the doctor's


def literal_arns(inputs: IacInputs) -> Arns:
    """Arns as plain strings, for documents printed as JSON."""
    p, region = inputs.partition, inputs.region
    s3 = f"arn:{p}:s3:::{inputs.bucket}"
    target = inputs.restore_target_account
    restore_tables = tuple(f"arn:{p}:dynamodb:{region}:{target}:table/{name}"
                           for name in inputs.restore_table_names)
    return Arns(
        tables=tuple(t.arn for t in inputs.tables),
        bucket=s3,
        write_objects=tuple(f"{s3}/{inputs.key_prefix(d)}*"
                            for d in (*(t.name for t in inputs.tables), DOCTOR_DIR)),
        all_objects=f"{s3}/{inputs.key_prefix()}*",
        key=inputs.kms_key_arn,
        writer_role=(f"arn:{p}:iam::{inputs.data_account}:role/{inputs.writer_role}"
                     if inputs.writer_role else None),
        backup_role=f"arn:{p}:iam::{inputs.prod_account}:role/{inputs.backup_role}",
        prod_root=f"arn:{p}:iam::{inputs.prod_account}:root",
        data_root=f"arn:{p}:iam::{inputs.data_account}:root",
        restore_root=f"arn:{p}:iam::{target}:root",
        restore_tables=restore_tables,
        restore_imports=tuple(f"{arn}/import/*" for arn in restore_tables),
        import_logs=f"arn:{p}:logs:{region}:{target}:log-group:/aws-dynamodb/*",
        table_exports=tuple(f"{t.arn}/{EXPORT_DIR}/*" for t in inputs.tables),
        export_objects=(*(f"{s3}/{inputs.key_prefix(t.name)}*/{EXPORT_DIR}/*" for t in inputs.tables),
                        f"{s3}/{inputs.key_prefix(DOCTOR_DIR, EXPORT_DIR)}*"),
    )


def s3_service(inputs: IacInputs) -> str:
    """The kms:ViaService value for S3 in the bucket's region."""
    suffix = "amazonaws.com.cn" if inputs.partition == "aws-cn" else "amazonaws.com"
    return f"s3.{inputs.region}.{suffix}"


def statement(sid: str, effect: str, actions, resources, *, condition: dict | None = None,
              principal: Any = None) -> dict:
    """One policy statement; a single resource is written as a string, several as a list."""
    resources = list(resources) if isinstance(resources, (list, tuple)) else [resources]
    result: dict = {"Sid": sid, "Effect": effect}
    if principal is not None:
        result["Principal"] = principal
    result["Action"] = list(actions) if isinstance(actions, (list, tuple)) else actions
    result["Resource"] = resources[0] if len(resources) == 1 else resources
    if condition:
        result["Condition"] = condition
    return result


def document(statements: list[dict]) -> dict:
    return {"Version": VERSION, "Statement": statements}


def backup_role_policy(inputs: IacInputs, arns: Arns) -> dict:
    """The production backup role: read the tables; write the bucket, or assume the writer role."""
    every_table = f"arn:{inputs.partition}:dynamodb:{inputs.region}:{inputs.prod_account}:table/*"
    statements = [statement("ReadBackedUpTables", "Allow", BACKUP_TABLE_ACTIONS, arns.tables),
                  statement("ListTablesForSelectors", "Allow", SELECTOR_LISTING, "*"),
                  statement("ReadTagsForTagSelectors", "Allow", SELECTOR_TAGS, every_table)]
    return document(statements + vault_access_statements(inputs, arns) + export_statements(inputs, arns))


def vault_access_statements(inputs: IacInputs, arns: Arns) -> list[dict]:
    """How the production role reaches the vault: assume the writer role (--writer-role), or
    write the objects itself (object_write_statements)."""
    if inputs.writer_role:
        return [statement("AssumeDataAccountWriter", "Allow", "sts:AssumeRole", arns.writer_role)]
    return object_write_statements(inputs, arns)


def runner_role_policy(inputs: IacInputs, arns: Arns) -> dict:
    """The backup role when `--runner` runs `backup plan`, `work` and `commit` as jobs (AWS Batch,
    Kubernetes): the four table reads those steps make (RUNNER_TABLE_ACTIONS) on the named tables,
    and the same vault access as the scheduled backups. It keeps the name --backup-role, because
    the bucket policy and the writer role's trust policy name that one production principal;
    plan, work and commit therefore share it (docs/iam.md, "Runners")."""
    return document([statement("ReadBackedUpTables", "Allow", RUNNER_TABLE_ACTIONS, arns.tables),
                     *vault_access_statements(inputs, arns)])


def export_statements(inputs: IacInputs, arns: Arns) -> list[dict]:
    """--engine export: start and follow exports of the named tables, and let DynamoDB write
    them under `<table>/*/export/*` (the module docstring says why); none without it. With a
    writer role the backup role has no other S3 or KMS grant, so the key use comes here too."""
    if not inputs.exports:
        return []
    statements = [
        statement("ExportBackedUpTables", "Allow", EXPORT_TABLE_ACTION, arns.tables),
        statement("DescribeOwnExports", "Allow", EXPORT_DESCRIBE_ACTION, arns.table_exports),
        statement("WriteTableExports", "Allow", list(EXPORT_OBJECT_ACTIONS), arns.export_objects,
                  condition={"StringEqualsIfExists": {"s3:x-amz-acl": inputs.acl}}),
        statement("AbortTableExportUploads", "Allow", "s3:AbortMultipartUpload", arns.export_objects),
    ]
    if arns.key is not None and inputs.writer_role:
        statements.append(kms_through_s3("EncryptTableExports", KMS_WRITE_ACTIONS, inputs, arns))
    return statements


def writer_role_policy(inputs: IacInputs, arns: Arns) -> dict:
    """The writer role in the data account: create backup objects, nothing else."""
    return document(object_write_statements(inputs, arns))


def writer_trust_policy(inputs: IacInputs, arns: Arns) -> dict:
    """Only the production backup role may assume the writer role (with the external id, if any).

    The principal is the production account; aws:PrincipalArn narrows it to the backup role
    without requiring that role to exist when this policy is created."""
    condition: dict = {"ArnEquals": {"aws:PrincipalArn": arns.backup_role}}
    if inputs.external_id:
        condition["StringEquals"] = {"sts:ExternalId": inputs.external_id}
    return document([trust_statement("TrustProductionBackupRole", {"AWS": arns.prod_root}, condition)])


def trust_statement(sid: str, principal: dict, condition: dict | None = None, *,
                    action: str = "sts:AssumeRole") -> dict:
    """A role trust policy statement (trust policies have no Resource element)."""
    result = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        result["Condition"] = condition
    return result


def object_write_statements(inputs: IacInputs, arns: Arns) -> list[dict]:
    """PutObject (+ its ACL) and AbortMultipartUpload under the tables' prefixes; KMS if used."""
    acl = {"s3:x-amz-acl": inputs.acl}
    statements = [
        statement("CreateBackupObjects", "Allow", "s3:PutObject", arns.write_objects,
                  condition={"StringEqualsIfExists": acl}),
        statement("GrantBucketOwnerFullControl", "Allow", "s3:PutObjectAcl", arns.write_objects,
                  condition={"StringEquals": acl}),
        statement("AbortOwnMultipartUploads", "Allow", "s3:AbortMultipartUpload", arns.write_objects),
        *progress_statements(inputs, arns),
        *keep_statements(inputs, arns),
        *export_read_statements(inputs, arns),
    ]
    if arns.key is not None:
        statements.append(kms_through_s3("EncryptBackupObjects", KMS_WRITE_ACTIONS, inputs, arns))
        if inputs.exports:
            statements.append(kms_through_s3("DecryptTableExports", ("kms:Decrypt",), inputs, arns))
    return statements


def export_read_statements(inputs: IacInputs, arns: Arns, *, principal: Any = None,
                           condition: dict | None = None) -> list[dict]:
    """--engine export: the writer (the vault principal) reads the export DynamoDB wrote, once,
    for each object's sha256 and MD5; lists the tables' prefixes (the export's data/ must hold
    exactly the listed files, and a --backup-id of a complete backup is refused); and reads the
    tables' manifests. None without exports. `principal` and `condition` make them bucket policy
    statements."""
    if not inputs.exports:
        return []
    names = [t.name for t in inputs.tables]
    manifests = [f"{arns.bucket}/{inputs.key_prefix(name)}*/manifest.json" for name in names]
    listing = {"StringLike": {"s3:prefix": [f"{inputs.key_prefix(name)}*" for name in names]}}
    sid = "" if principal is None else "ToBackupRole"
    return [
        statement(f"ReadTableExports{sid}", "Allow", "s3:GetObject", [*arns.export_objects, *manifests],
                  principal=principal, condition=condition),
        statement(f"ListTableExports{sid}", "Allow", "s3:ListBucket", arns.bucket, principal=principal,
                  condition={**(condition or {}), **listing}),
    ]


def progress_statements(inputs: IacInputs, arns: Arns, *, principal: Any = None,
                        condition: dict | None = None) -> list[dict]:
    """What plan/work/commit read back of a backup in progress (docs/scale.md): its plan.json
    (every worker reads the plan), segments/ (is a segment done? the results commit gathers),
    attempts/ (HeadObject: the next free attempt number, and commit's count of them) and data/
    (HeadObject, to prove an object found already completed is the winner's own). Granted on
    the named tables' own prefixes (where the writer already creates objects): a production role
    may read back the backups of the tables it reads anyway, never another table's, and never
    list, change or delete them. `principal` and `condition` make them bucket policy statements."""
    sid = "" if principal is None else "ToBackupRole"
    return [statement(f"ReadBackupProgress{sid}", "Allow", "s3:GetObject", arns.write_objects, principal=principal,
                      condition=condition)]


def keep_statements(inputs: IacInputs, arns: Arns, *, principal: Any = None,
                    condition: dict | None = None) -> list[dict]:
    """What a writer needs under a keep policy (iac/retention.py's docstring says why); none
    without one. `principal` and `condition` make them bucket policy statements."""
    if inputs.keep is None:
        return []
    names = [t.name for t in inputs.tables]
    manifests = [f"{arns.bucket}/{inputs.key_prefix(name)}*/manifest.json" for name in names]
    listing = {"StringLike": {"s3:prefix": [inputs.key_prefix(name) for name in names]}}
    sid = "" if principal is None else "ToBackupRole"
    return [
        statement(f"TagAndRetainBackupObjects{sid}", "Allow", list(KEEP_OBJECT_ACTIONS), arns.write_objects,
                  principal=principal, condition=condition),
        statement(f"ReadObjectLockConfiguration{sid}", "Allow", "s3:GetBucketObjectLockConfiguration",
                  arns.bucket, principal=principal, condition=condition),
        statement(f"ListOwnBackups{sid}", "Allow", "s3:ListBucket", arns.bucket, principal=principal,
                  condition={**(condition or {}), **listing}),
        statement(f"ReadOwnManifests{sid}", "Allow", "s3:GetObject", manifests, principal=principal,
                  condition=condition),
    ]


def kms_through_s3(sid: str, actions, inputs: IacInputs, arns: Arns) -> dict:
    """Use of the backup key, only by S3 on the caller's behalf."""
    return statement(sid, "Allow", actions, arns.key,
                     condition={"StringEquals": {"kms:ViaService": s3_service(inputs)}})


def restore_reader_policy(inputs: IacInputs, arns: Arns) -> dict:
    """Read and list the backups (restore's source side; also `list` and `verify`)."""
    return document(read_statements(inputs, arns))


def read_statements(inputs: IacInputs, arns: Arns) -> list[dict]:
    statements = [statement("ReadBackupObjects", "Allow", "s3:GetObject", arns.all_objects),
                  statement("ListBackups", "Allow", "s3:ListBucket", arns.bucket,
                            condition=list_condition(inputs))]
    if arns.key is not None:
        statements.append(kms_through_s3("DecryptBackupObjects", ("kms:Decrypt",), inputs, arns))
    return statements


def list_condition(inputs: IacInputs) -> dict | None:
    """ListBucket only under --prefix (None: the whole bucket is the backup area)."""
    prefix = inputs.key_prefix()
    return {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None


def restore_target_policy(inputs: IacInputs, arns: Arns) -> dict:
    """Create and fill the restored tables (`restore --via batch`); no delete."""
    return document([statement("WriteRestoredTables", "Allow", RESTORE_TABLE_ACTIONS, arns.restore_tables)])


def restore_import_policy(inputs: IacInputs, arns: Arns) -> dict:
    """What `restore --via import` needs on top of restore_target_policy.

    ImportTable reads the bucket with the caller's own credentials, so the target principal
    needs the reader's S3 (and KMS) permissions too, and writes its progress to CloudWatch Logs."""
    return document([
        statement("ImportRestoredTables", "Allow", IMPORT_TABLE_ACTIONS,
                  [*arns.restore_tables, *arns.restore_imports]),
        *read_statements(inputs, arns),
        statement("WriteImportLogs", "Allow", IMPORT_LOG_ACTIONS, arns.import_logs),
        statement("FindImportLogGroup", "Allow", IMPORT_LOG_LISTING, "*"),
    ])
