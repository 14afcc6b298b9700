"""`ddbvault iam --continuous`: the follower role (data account) and the production streams' and
tables' resource-based policies that let it read the change stream across accounts.

The follower (`ddbvault follow`, a `kind: follow` service job) runs in the data (vault) account
as its own role, so nothing in production holds write access to the change log and a follower
keeps working when production credentials are revoked. What is granted, and why
(docs/continuous-access.md has the long form):
- Role policy (data account): the stream reads (DescribeStream, GetShardIterator, GetRecords) on
  `table/<name>/stream/*` of the named tables; DescribeTable on the tables (it finds the stream
  ARN, LatestStreamArn, and the view type); ListStreams, which has no resource type ("*").
  Objects: s3:PutObject only under `<prefix>/<table>/changes/*` (and the doctor's
  `<prefix>/_doctor/*` probe), with the same ACL conditions as the backup writers; GetObject and
  ListBucket there too, because the vault is the follower's checkpoint (it lists what it wrote and
  reads the last segment's header). s3:PutObjectTagging there, only with the segment tag
  `ddbvault-log=segment` and no other tag key (s3:RequestObjectTag, s3:RequestObjectTagKeys): S3
  requires it for a PutObject that carries tags, and the follower tags each segment so that a
  lifecycle rule can expire it (iac/retention.change_log_rules; the bucket policy denies tagging
  an existing segment or the log's start/closed/gap objects). No DeleteObject anywhere; the bucket policy also names the
  role in its overwrite and delete Denies (resource_policies.writer_principals).
- Cross-account reads need BOTH the role's own policy and the resource's policy: the stream
  policy (attached with PutResourcePolicy to the stream ARN; only DescribeStream, GetRecords and
  GetShardIterator apply to a stream) and the table policy (DescribeTable only). Their Principal
  is the data account with an aws:PrincipalArn condition naming the follower role, as the
  bucket policy names the writer role: a policy naming a role that does not exist yet is
  rejected, and a recreated role would silently stop matching.
- The stream policy's Resource is `table/<name>/stream/*`: a stream's label is known only once it
  exists, and DynamoDB attaches a policy to existing streams only (rbac-considerations).
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-attach-resource-policy-streams.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-read-stream-only.html
- The trust policy lets principals of the data account assume the role (the account's own IAM
  policies then decide who: the service's task role, an operator).

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import json
import shlex

from ..format.change_log import SEGMENT_TAG_KEY, SEGMENT_TAG_VALUE
from .inputs import CHANGES_DIR, DOCTOR_DIR, IacInputs, Table
from .policies import KMS_WRITE_ACTIONS, Arns, document, kms_through_s3, statement, trust_statement

# The only actions a DynamoDB stream's resource-based policy can grant.
STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
TABLE_ACTIONS = ("dynamodb:DescribeTable",)
LIST_STREAMS = "dynamodb:ListStreams"  # no resource type: "*" only (it lists stream ARNs)


# What the follower may tag: the segment tag, and no other key (a tier tag would let a backup
# tier's lifecycle rule expire the object).
SEGMENT_TAG_ONLY = {"StringEquals": {f"s3:RequestObjectTag/{SEGMENT_TAG_KEY}": SEGMENT_TAG_VALUE},
                    "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": [SEGMENT_TAG_KEY]}}


def follower_role_arn(inputs: IacInputs) -> str:
    return f"arn:{inputs.partition}:iam::{inputs.data_account}:role/{inputs.follower_role}"


def stream_arns(inputs: IacInputs) -> list[str]:
    """Every stream, past and future, of each named table: table/<name>/stream/*."""
    return [f"{t.arn}/stream/*" for t in inputs.tables]


def change_objects(inputs: IacInputs, arns: Arns) -> list[str]:
    """bucket/<prefix>/<table>/changes/* for each named table."""
    return [f"{arns.bucket}/{inputs.key_prefix(t.name, CHANGES_DIR)}*" for t in inputs.tables]


def follower_role_policy(inputs: IacInputs, arns: Arns) -> dict:
    """The follower role's inline policy (module docstring)."""
    changes = change_objects(inputs, arns)
    writable = [*changes, f"{arns.bucket}/{inputs.key_prefix(DOCTOR_DIR)}*"]
    acl = {"s3:x-amz-acl": inputs.acl}
    listing = {"StringLike": {"s3:prefix": [f"{inputs.key_prefix(t.name, CHANGES_DIR)}*" for t in inputs.tables]}}
    statements = [
        statement("ReadTableStreams", "Allow", list(STREAM_ACTIONS), stream_arns(inputs)),
        statement("DescribeFollowedTables", "Allow", TABLE_ACTIONS[0], arns.tables),
        statement("ListStreams", "Allow", LIST_STREAMS, "*"),
        statement("CreateChangeLogObjects", "Allow", "s3:PutObject", writable,
                  condition={"StringEqualsIfExists": acl}),
        statement("ChangeLogBucketOwnerFullControl", "Allow", "s3:PutObjectAcl", writable,
                  condition={"StringEquals": acl}),
        statement("AbortChangeLogUploads", "Allow", "s3:AbortMultipartUpload", writable),
        statement("TagChangeLogSegments", "Allow", "s3:PutObjectTagging", changes, condition=SEGMENT_TAG_ONLY),
        statement("ReadChangeLog", "Allow", "s3:GetObject", changes),
        statement("ListChangeLog", "Allow", "s3:ListBucket", arns.bucket, condition=listing),
    ]
    if arns.key is not None:
        statements.append(kms_through_s3("EncryptChangeLog", KMS_WRITE_ACTIONS, inputs, arns))
    return document(statements)


def follower_trust_policy(inputs: IacInputs, arns: Arns) -> dict:
    """Principals of the data account may assume the follower role."""
    return document([trust_statement("TrustDataAccount", {"AWS": arns.data_root})])


def _follower_principal(inputs: IacInputs, arns: Arns) -> tuple[dict, dict]:
    return ({"AWS": arns.data_root}, {"ArnEquals": {"aws:PrincipalArn": follower_role_arn(inputs)}})


def stream_policy(inputs: IacInputs, arns: Arns, table: Table) -> dict:
    """The resource-based policy of `table`'s stream: the follower role may read it."""
    principal, condition = _follower_principal(inputs, arns)
    return document([statement("FollowerReadsStream", "Allow", list(STREAM_ACTIONS), f"{table.arn}/stream/*",
                               principal=principal, condition=condition)])


def table_policy(inputs: IacInputs, arns: Arns, table: Table) -> dict:
    """The resource-based policy of `table`: the follower role may DescribeTable (to find the
    stream). PutResourcePolicy replaces a table's whole policy: merge into an existing one."""
    principal, condition = _follower_principal(inputs, arns)
    return document([statement("FollowerDescribesTable", "Allow", TABLE_ACTIONS[0], table.arn,
                               principal=principal, condition=condition)])


def stream_policy_label(table: Table) -> str:
    return f"production-stream-policy-{table.name}"


def table_policy_label(table: Table) -> str:
    return f"production-table-policy-{table.name}"


def production_documents(inputs: IacInputs, arns: Arns) -> dict[str, dict]:
    """Label -> each table's stream policy and table policy (production account)."""
    docs: dict[str, dict] = {}
    for table in inputs.tables:
        docs[stream_policy_label(table)] = stream_policy(inputs, arns, table)
        docs[table_policy_label(table)] = table_policy(inputs, arns, table)
    return docs


def put_resource_policy_commands(inputs: IacInputs, arns: Arns, table: Table) -> list[str]:
    """The AWS CLI commands that attach `table`'s two policies where the table is not managed by
    a stack: the stream's ARN is looked up first (LatestStreamArn; the stream must exist)."""
    region = shlex.quote(table.region)
    compact = {"separators": (",", ":")}
    stream = (f"$(aws dynamodb describe-table --region {region} --table-name {shlex.quote(table.name)} "
              "--query Table.LatestStreamArn --output text)")
    return [f"aws dynamodb put-resource-policy --region {region} --resource-arn \"{stream}\" --policy "
            + shlex.quote(json.dumps(stream_policy(inputs, arns, table), **compact)),
            f"aws dynamodb put-resource-policy --region {region} --resource-arn {shlex.quote(table.arn)} --policy "
            + shlex.quote(json.dumps(table_policy(inputs, arns, table), **compact))]
