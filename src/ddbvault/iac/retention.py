"""What a keep policy (`ddbvault iam --keep daily=7,...`) adds to the generated documents.

- **Lifecycle rules**, one per tier: objects under the vault prefix that carry the tag
  `ddbvault-tier=<tier>` expire `KeepPolicy.days(tier)` days after they were written. On the
  versioned bucket, expiry makes the object non-current (a delete marker) and the existing
  ExpireNoncurrentVersions rule removes it later; so nothing that production runs ever deletes.
  `tier_rules()` gives them in CloudFormation's shape (cloudformation.lifecycle_rules adds them to
  the bucket), `s3_lifecycle_configuration()` the whole bucket configuration in the shape of S3's
  PutBucketLifecycleConfiguration (for `--format json`, which replaces every rule).
The grants a keep policy needs live with the other grants (policies.keep_statements,
resource_policies.py's re-tagging deny):
- **The writer's grants**: s3:PutObjectTagging (S3 requires it for a PutObject or
  CreateMultipartUpload that carries tags), s3:PutObjectRetention and
  s3:GetBucketObjectLockConfiguration (Object Lock retention is sent with each object where the
  bucket has it), and s3:ListBucket on the tables' prefixes with s3:GetObject on their manifests
  (the tier is chosen from the table's earlier backups). PutObjectRetention can only lengthen a
  retention: shortening one needs s3:BypassGovernanceRetention, which stays denied.
- **The bucket policy's deny of re-tagging**: a writer may tag an object only while creating it;
  PutObjectTagging on an object that already has a tier tag (`s3:ExistingObjectTag`) is denied,
  so a backup cannot be moved into a tier that expires sooner. DeleteObjectTagging is denied too.

**The change log** (`ddbvault iam --continuous --keep-changes DAYS`): one rule per table, filtered
by the prefix `<prefix>/<table>/changes/` and the tag `ddbvault-log=segment` that the follower
sends with every segment (format/change_log.SEGMENT_TAGGING), expires segments DAYS days after
they were written. start.json, closed.json and gaps are untagged and never expire: they are tiny
and the reader needs them. An expired segment moves the start of what `restore --at` can prove
(vault/chain.py); docs/continuous.md, "Retention without DeleteObject". The follower's grant to
send the tag is in iac/continuous.py; the bucket policy's deny of tagging the log's markers and of
re-tagging a segment in resource_policies.py.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

from typing import Any

from ..format.change_log import SEGMENT_TAG_KEY, SEGMENT_TAG_VALUE
from ..format.retention import TAG_KEY, KeepPolicy
from .inputs import CHANGES_DIR, IacInputs

# The clean-up rules' CloudFormation parameters, at their defaults, for the S3 API document.
# AbortIncompleteUploadsAfterDays must exceed the longest backup, from `backup plan` to `backup
# commit`: a segment's winner leaves its uploads open until it completes them, and one that died
# after winning leaves them to commit (or a `backup --resume` days later); an upload aborted
# before then makes that backup impossible to commit (docs/scale.md). 7 days covers a resume
# after a long weekend; killed attempts' parts are billed that long.
PARAMETER_DEFAULTS = {"AbortIncompleteUploadsAfterDays": 7, "NoncurrentVersionExpirationDays": 90}


def rule_id(tier: str) -> str:
    return f"ExpireTier{tier.capitalize()}"


def tier_rules(inputs: IacInputs) -> list[dict]:
    """One CloudFormation lifecycle rule per tier kept (AWS::S3::Bucket Rule: Prefix and
    TagFilters together make an And filter); none without a keep policy."""
    keep: KeepPolicy | None = inputs.keep
    if keep is None:
        return []
    rules = []
    for tier in reversed(keep.tiers):
        rule: dict[str, Any] = {"Id": rule_id(tier), "Status": "Enabled"}
        if inputs.prefix:
            rule["Prefix"] = inputs.key_prefix()
        rule["TagFilters"] = [{"Key": TAG_KEY, "Value": tier}]
        rule["ExpirationInDays"] = keep.days(tier)
        rules.append(rule)
    return rules


def change_log_rules(inputs: IacInputs) -> list[dict]:
    """One CloudFormation lifecycle rule per table that expires its change-log segments after
    `inputs.keep_changes` days (Prefix `<prefix>/<table>/changes/` and the segment tag, an And
    filter); none without --keep-changes. IDs: `ExpireChangeLog-<table>` (S3: at most 255
    characters; a longer one is numbered)."""
    if inputs.keep_changes is None:
        return []
    rules = []
    for number, table in enumerate(inputs.tables, 1):
        rule_name = f"ExpireChangeLog-{table.name}"
        rules.append({"Id": rule_name if len(rule_name) <= 255 else f"ExpireChangeLog{number}", "Status": "Enabled",
                      "Prefix": inputs.key_prefix(table.name, CHANGES_DIR),
                      "TagFilters": [{"Key": SEGMENT_TAG_KEY, "Value": SEGMENT_TAG_VALUE}],
                      "ExpirationInDays": inputs.keep_changes})
    return rules


def s3_lifecycle_configuration(rules: list[dict]) -> dict:
    """CloudFormation lifecycle rules as a PutBucketLifecycleConfiguration document (S3's API
    shape: ID, Filter, Expiration.Days, ...), parameters at their defaults."""
    return {"Rules": [_s3_rule(rule) for rule in rules]}


def _s3_rule(rule: dict) -> dict:
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": _s3_filter(rule)}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": _value(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": _value(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": _value(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return out


def _s3_filter(rule: dict) -> dict:
    prefix = rule.get("Prefix")
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters", [])]
    if tags and prefix:
        return {"And": {"Prefix": prefix, "Tags": tags}}
    if tags:
        return {"Tag": tags[0]} if len(tags) == 1 else {"And": {"Tags": tags}}
    return {"Prefix": prefix or ""}


def _value(value: Any) -> Any:
    """A number, or a CloudFormation parameter reference resolved to its default."""
    return PARAMETER_DEFAULTS[value["Ref"]] if isinstance(value, dict) else value
