"""Resource policies in the data account: the backup bucket's policy and the backup key's policy.

The bucket policy is where the data account, not production, decides what production may do:
- **TLS only**: every request over plain HTTP is denied, to everyone.
- **Encryption**: a PutObject naming any other SSE algorithm (or, with SSE-KMS, any other key) is
  denied, to everyone. A request without the header gets the bucket's default encryption, which
  the data template sets to the same algorithm and key. The header cannot be *required*: S3
  authorizes UploadPart and CompleteMultipartUpload as s3:PutObject and they carry no SSE header,
  so a `Null`-header deny would refuse every multipart upload.
- **ACL**: any canned ACL other than bucket-owner-full-control is denied. The data template also
  sets Object Ownership to BucketOwnerEnforced, so the data account owns every object whatever
  the writer sends (the Data Pipeline "unreadable objects" problem cannot happen).
- **No overwrite** (invariant 1): the writers' object-creating requests (PutObject and
  CompleteMultipartUpload, `s3:ObjectCreationOperation`) must carry `If-None-Match`; ddbvault
  always sends `If-None-Match: *`.
- **Exports** (`--engine export`): DynamoDB writes an export with the production principal's
  permissions and sends no `If-None-Match`, so the no-overwrite Deny for production leaves out
  exactly `<prefix>/<table>/*/export/*` of the named tables and `<prefix>/_doctor/export/*`
  (`NotResource`), and the backup role is allowed to create objects there (with a writer role
  too: the export cannot write through it). Every `manifest.json`, ddbvault's own record of a
  backup, stays create-only for production wherever it lies (an ARN's `*` crosses `/`, so it is
  denied by name, not only by the export patterns' shape); the export's own files are named
  `manifest-summary.json` and `manifest-files.json`. Deletes stay denied everywhere.
- **Change log** (`--continuous`): the follower role (data account) writes under
  `<prefix>/<table>/changes/` through its own policy; here it gets the same overwrite and
  destructive Denies as the writers (iac/continuous.py).
- **Nothing destructive**: deletes, and every change to the bucket's policy, lifecycle,
  versioning, object lock, ACLs, ownership, encryption, public access block and replication, are
  denied to the production account and to the writer role.
- **Writes**: with no writer role, the production backup role may create objects under
  `<prefix>/` (cross-account access needs both this and its own policy). With a writer role, the
  role's own policy grants it: in one account an Allow in either policy is enough, so an Allow
  here would widen the role's per-table grant to the whole prefix.
- **Restore reads**: `--restore-account` may read and list `<prefix>/` (ImportTable reads with the
  caller's credentials, so `restore --via import` in that account needs this).

Pure: no I/O, no boto3.
"""

from __future__ import annotations

from ..format.change_log import CLOSED_NAME, GAPS_DIR, SEGMENT_TAG_KEY, START_NAME
from .continuous import follower_role_arn
from .inputs import CHANGES_DIR, IacInputs
from .policies import (EXPORT_OBJECT_ACTIONS, KMS_WRITE_ACTIONS, RETAG_GUARD, Arns, document, export_read_statements,
                       keep_statements, progress_statements, list_condition, s3_service, statement)

# What neither production nor the writer role may ever do to the backup bucket.
DENIED_TO_WRITERS = (
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket",
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketAcl", "s3:PutObjectVersionAcl", "s3:PutBucketOwnershipControls",
    "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock",
    "s3:PutReplicationConfiguration",
)


def bucket_policy(inputs: IacInputs, arns: Arns) -> dict:
    """The backup bucket's policy (see the module docstring for each statement's reason)."""
    statements = [*_everyone_statements(inputs, arns), *_writer_denies(inputs, arns)]
    if not inputs.writer_role:
        statements += _production_writes(inputs, arns)
    if inputs.exports:
        statements += _export_writes(inputs, arns)
    if inputs.grants_cross_account_read:
        statements += _restore_reads(inputs, arns)
    if inputs.continuous:
        statements += change_log_tag_denies(inputs, arns)
    return document(statements)


def change_log_tag_denies(inputs: IacInputs, arns: Arns) -> list[dict]:
    """Nobody tags the change log's start.json, closed.json or gaps (a lifecycle rule filtered by
    a tag would then expire what the reader needs), nor re-tags a segment once written (the
    follower sends its tag with the PutObject that creates it, where no tag exists yet). A
    PutObject without tags is not authorized as s3:PutObjectTagging, so these deny no write.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html"""
    root = f"{arns.bucket}/{inputs.key_prefix()}*/{CHANGES_DIR}/"
    markers = [f"{root}*/{START_NAME}", f"{root}*/{CLOSED_NAME}", f"{root}{GAPS_DIR}/*"]
    return [statement("DenyTaggingChangeLogMarkers", "Deny", "s3:PutObjectTagging", markers, principal="*"),
            statement("DenyRetaggingChangeLogSegments", "Deny", "s3:PutObjectTagging", f"{root}*", principal="*",
                      condition={"StringLike": {f"s3:ExistingObjectTag/{SEGMENT_TAG_KEY}": "*"}})]


def _everyone_statements(inputs: IacInputs, arns: Arns) -> list[dict]:
    everything = [arns.bucket, every_object(arns)]
    statements = [
        statement("DenyInsecureTransport", "Deny", "s3:*", everything, principal="*",
                  condition={"Bool": {"aws:SecureTransport": "false"}}),
        statement("DenyOtherEncryption", "Deny", "s3:PutObject", every_object(arns), principal="*",
                  condition=_present_and_not("StringNotEquals", "s3:x-amz-server-side-encryption", inputs.sse)),
    ]
    if arns.key is not None:
        statements.append(statement(
            "DenyOtherKmsKey", "Deny", "s3:PutObject", every_object(arns), principal="*",
            condition=_present_and_not("ArnNotEquals", "s3:x-amz-server-side-encryption-aws-kms-key-id", arns.key)))
    statements.append(statement(
        "DenyOtherAcl", "Deny", ["s3:PutObject", "s3:PutObjectAcl"], every_object(arns), principal="*",
        condition=_present_and_not("StringNotEquals", "s3:x-amz-acl", inputs.acl)))
    return statements


def _present_and_not(operator: str, key: str, value: str) -> dict:
    """Deny only a request that carries `key` with another value. Not `...IfExists`: for a
    missing key that evaluates to true, and the Deny would hit UploadPart and
    CompleteMultipartUpload (authorized as s3:PutObject, sent without ACL or SSE headers) and
    every PutObject that relies on the bucket's default encryption. Found on radosgw."""
    return {operator: {key: value}, "Null": {key: "false"}}


def every_object(arns: Arns) -> str:
    """Every object in the bucket: arn:...:s3:::bucket/*."""
    return f"{arns.bucket}/*"


def writer_principals(inputs: IacInputs, arns: Arns) -> list[tuple[str, object, dict]]:
    """(Sid suffix, Principal, extra Condition) for each principal that writes backups.

    The writer role is matched with aws:PrincipalArn rather than named as Principal: a bucket
    policy naming a role that does not exist yet is rejected, and a recreated role would
    silently stop matching."""
    blocks: list[tuple[str, object, dict]] = [("Production", {"AWS": arns.prod_root}, {})]
    if inputs.writer_role:
        blocks.append(("WriterRole", "*", {"ArnEquals": {"aws:PrincipalArn": arns.writer_role}}))
    if inputs.continuous:  # the change log is create-only too (iac/continuous.py)
        blocks.append(("FollowerRole", "*", {"ArnEquals": {"aws:PrincipalArn": follower_role_arn(inputs)}}))
    return blocks


def _writer_denies(inputs: IacInputs, arns: Arns) -> list[dict]:
    statements = []
    for suffix, principal, extra in writer_principals(inputs, arns):
        overwrite = {**extra, "Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
        deny = statement(f"DenyOverwriteBy{suffix}", "Deny", "s3:PutObject", every_object(arns),
                         principal=principal, condition=overwrite)
        if suffix == "Production" and inputs.exports:
            statements += [not_resource(deny, arns.export_objects), statement(
                "DenyManifestOverwriteByProduction", "Deny", "s3:PutObject", f"{arns.bucket}/*/manifest.json",
                principal=principal, condition=overwrite)]
        else:
            statements.append(deny)
        statements.append(statement(f"DenyDestructiveTo{suffix}", "Deny", denied_to_writers(inputs),
                                    [arns.bucket, every_object(arns)], principal=principal,
                                    condition=extra or None))
        if inputs.keep is not None:  # a tier is set once, at creation (iac/retention.py)
            statements.append(statement(f"DenyRetaggingBy{suffix}", "Deny", "s3:PutObjectTagging",
                                        every_object(arns), principal=principal,
                                        condition={**extra, **RETAG_GUARD}))
    return statements


def not_resource(deny: dict, excepted) -> dict:
    """`deny` applied to every resource except `excepted` (NotResource in place of Resource)."""
    result = {k: v for k, v in deny.items() if k != "Resource"}
    excepted = list(excepted)
    result["NotResource"] = excepted[0] if len(excepted) == 1 else excepted
    return {k: result[k] for k in ("Sid", "Effect", "Principal", "Action", "NotResource", "Condition") if k in result}


def denied_to_writers(inputs: IacInputs) -> list[str]:
    """DENIED_TO_WRITERS; under a keep policy without s3:PutObjectRetention (sent with each
    object in an Object Lock bucket; it can only lengthen a retention) and with
    s3:DeleteObjectTagging (an untagged backup would never expire)."""
    if inputs.keep is None:
        return list(DENIED_TO_WRITERS)
    return [a for a in DENIED_TO_WRITERS if a != "s3:PutObjectRetention"] + ["s3:DeleteObjectTagging"]


def _production_writes(inputs: IacInputs, arns: Arns) -> list[dict]:
    principal = {"AWS": arns.prod_root}
    only_backup_role = {"ArnEquals": {"aws:PrincipalArn": arns.backup_role}}
    acl = {"s3:x-amz-acl": inputs.acl}
    return [
        statement("AllowBackupWrites", "Allow", "s3:PutObject", arns.all_objects, principal=principal,
                  condition={**only_backup_role, "StringEqualsIfExists": acl}),
        statement("AllowBucketOwnerAcl", "Allow", "s3:PutObjectAcl", arns.all_objects,
                  principal=principal, condition={**only_backup_role, "StringEquals": acl}),
        statement("AllowAbortUploads", "Allow", "s3:AbortMultipartUpload", arns.all_objects,
                  principal=principal, condition=only_backup_role),
        *progress_statements(inputs, arns, principal=principal, condition=only_backup_role),
        *keep_statements(inputs, arns, principal=principal, condition=only_backup_role),
        *export_read_statements(inputs, arns, principal=principal, condition=only_backup_role),
    ]


def _export_writes(inputs: IacInputs, arns: Arns) -> list[dict]:
    """What DynamoDB's exports write as the backup role, and nowhere else (module docstring)."""
    principal = {"AWS": arns.prod_root}
    only_backup_role = {"ArnEquals": {"aws:PrincipalArn": arns.backup_role}}
    return [
        statement("AllowTableExports", "Allow", list(EXPORT_OBJECT_ACTIONS), arns.export_objects,
                  principal=principal,
                  condition={**only_backup_role, "StringEqualsIfExists": {"s3:x-amz-acl": inputs.acl}}),
        statement("AllowTableExportUploadAborts", "Allow", "s3:AbortMultipartUpload", arns.export_objects,
                  principal=principal, condition=only_backup_role),
    ]


def _restore_reads(inputs: IacInputs, arns: Arns) -> list[dict]:
    principal = {"AWS": arns.restore_root}
    return [statement("AllowRestoreReads", "Allow", "s3:GetObject", arns.all_objects, principal=principal),
            statement("AllowRestoreListing", "Allow", "s3:ListBucket", arns.bucket, principal=principal,
                      condition=list_condition(inputs))]


def key_policy(inputs: IacInputs, arns: Arns) -> dict:
    """The policy of a backup key the data template creates: the data account administers it
    (through IAM), the cross-account principals get key_policy_grants()."""
    admin = statement("DataAccountAdministersKey", "Allow", "kms:*", "*",
                      principal={"AWS": arns.data_root})
    return document([admin, *key_policy_grants(inputs, arns)])


def key_policy_grants(inputs: IacInputs, arns: Arns) -> list[dict]:
    """Key policy statements for principals outside the data account, only through S3.

    A writer role lives in the data account and gets the key through its own policy; without
    one, the production backup role needs the key policy too. An existing key needs these
    statements merged into its policy (`ddbvault iam` prints them as data-key-policy-grants)."""
    via_s3 = {"kms:ViaService": s3_service(inputs)}
    grants = []
    if not inputs.writer_role or inputs.exports:  # an export writes as the backup role
        grants.append(statement(
            "ProductionBackupRoleEncrypts", "Allow", KMS_WRITE_ACTIONS, "*",
            principal={"AWS": arns.prod_root},
            condition={"StringEquals": via_s3, "ArnEquals": {"aws:PrincipalArn": arns.backup_role}}))
    if inputs.grants_cross_account_read:
        grants.append(statement("RestoreAccountDecrypts", "Allow", "kms:Decrypt", "*",
                                principal={"AWS": arns.restore_root}, condition={"StringEquals": via_s3}))
    return grants
