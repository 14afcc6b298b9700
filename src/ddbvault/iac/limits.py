"""AWS's size quotas on what `ddbvault iam` generates, checked before anything is printed, so a
document that AWS would refuse at deploy time is refused here, naming the document, its size and
the fix (fewer tables per generated set).

Sizes are counted as AWS counts them: IAM policies in characters without whitespace outside
strings (compact JSON), resource policies in bytes.

- IAM: an inline policy of a role (all of the role's inline policies together) 10,240
  characters; a managed policy 6,144; a role's trust policy 2,048 (the default quota).
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
- S3 bucket policy: 20 KB.
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html
- KMS key policy: 32 KB.
  https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html
- DynamoDB resource-based policy (a table's, a stream's): 20 KB, whitespace counted (sized here
  as compact JSON, the form the printed put-resource-policy commands send).
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html
- CloudFormation: 500 resources per stack.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import json

from ..errors import UsageError

INLINE_ROLE_POLICY_CHARS = 10_240
MANAGED_POLICY_CHARS = 6_144
TRUST_POLICY_CHARS = 2_048
BUCKET_POLICY_BYTES = 20 * 1024
KEY_POLICY_BYTES = 32 * 1024
DYNAMODB_RESOURCE_POLICY_BYTES = 20 * 1024
STACK_RESOURCES = 500

# Label (as `ddbvault iam --format json` names it) -> (limit, what the limit is on, unit).
DOCUMENT_LIMITS = {
    "production-backup-role-policy": (INLINE_ROLE_POLICY_CHARS, "a role's inline policies", "characters"),
    "data-writer-role-policy": (INLINE_ROLE_POLICY_CHARS, "a role's inline policies", "characters"),
    "data-writer-role-trust-policy": (TRUST_POLICY_CHARS, "a role's trust policy", "characters"),
    "production-backup-role-trust-policy": (TRUST_POLICY_CHARS, "a role's trust policy", "characters"),
    "restore-reader-policy": (MANAGED_POLICY_CHARS, "a managed policy", "characters"),
    "restore-target-policy": (MANAGED_POLICY_CHARS, "a managed policy", "characters"),
    "restore-import-policy": (MANAGED_POLICY_CHARS, "a managed policy", "characters"),
    "data-bucket-policy": (BUCKET_POLICY_BYTES, "a bucket policy", "bytes"),
    "data-key-policy-grants": (KEY_POLICY_BYTES, "a key policy", "bytes"),
    "data-follower-role-policy": (INLINE_ROLE_POLICY_CHARS, "a role's inline policies", "characters"),
    "data-follower-role-trust-policy": (TRUST_POLICY_CHARS, "a role's trust policy", "characters"),
}
# Labels that end in a table's name (iac/continuous.py): label prefix -> limit, as above.
PREFIX_LIMITS = {
    "production-stream-policy-": (DYNAMODB_RESOURCE_POLICY_BYTES, "a DynamoDB resource-based policy", "bytes"),
    "production-table-policy-": (DYNAMODB_RESOURCE_POLICY_BYTES, "a DynamoDB resource-based policy", "bytes"),
}
_FIX = ("generate the policies for fewer tables: run `ddbvault iam` once per group of tables, each "
        "group with its own --backup-role (and --writer-role)")


def size(document: dict) -> int:
    """The size AWS counts: compact JSON (no whitespace outside strings), in UTF-8 bytes."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def check_documents(documents: dict[str, dict]) -> None:
    """Raises UsageError for the first document over its quota; documents without one pass."""
    for label, document in documents.items():
        quota = DOCUMENT_LIMITS.get(label) or next(
            (q for prefix, q in PREFIX_LIMITS.items() if label.startswith(prefix)), None)
        if quota is None:
            continue
        limit, what, unit = quota
        if (n := size(document)) > limit:
            raise UsageError(f"{label} would be {n:,} {unit}; AWS allows {limit:,} for {what}", hint=_FIX)


def check_templates(templates: dict[str, dict]) -> None:
    """Raises UsageError for the first CloudFormation template with more resources than a stack
    may hold."""
    for label, template in templates.items():
        if (n := len(template.get("Resources", {}))) > STACK_RESOURCES:
            raise UsageError(f"{label} would hold {n} resources; CloudFormation allows {STACK_RESOURCES} per stack",
                             hint=_FIX)
