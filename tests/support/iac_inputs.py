"""The `ddbvault iam` input combinations the iac tests share (linters, moto, Terraform).

KMS key given or created, writer role with an external id, another restore account, no prefix,
a keep policy (retention tiers), the export engine's grants (direct, and through a writer role
with a KMS key, where the backup role gets its own S3 and KMS grants for the export), and the
continuous backup's follower role and stream policies (alone, with a writer role and a key, with a
created key, and with a lifecycle rule for the change log: --keep-changes).

RUNNER_VARIANTS are the `--runner` combinations (AWS Batch, Kubernetes; direct writes, through a
writer role, with a created or a given key). They have no Terraform modules, so the Terraform
tests iterate VARIANTS only; `inputs()` takes a name from either.
"""

from __future__ import annotations

from ddbvault.iac import make_inputs

PROD, DATA, OTHER = "111122223333", "444455556666", "777788889999"
KEY = f"arn:aws:kms:us-east-1:{DATA}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VARIANTS = {
    "direct": {},
    "direct-kms": {"kms_key_arn": KEY, "prefix": ""},
    "writer-role": {"writer_role": "ddbvault-writer", "external_id": "acme-prod", "kms_key_arn": KEY},
    "restore-account": {"restore_account": OTHER, "kms_key_arn": KEY, "restore_tables": ["orders-copy"]},
    "created-key": {"create_kms_key": True},
    "created-key-writer": {"create_kms_key": True, "writer_role": "ddbvault-writer", "restore_account": OTHER},
    "keep": {"keep": "daily=7,weekly=5,monthly=12,yearly=2"},
    "keep-writer": {"keep": "daily=7", "writer_role": "ddbvault-writer", "prefix": ""},
    "export": {"engine": "export"},
    "export-writer-kms": {"engine": "export", "writer_role": "ddbvault-writer", "kms_key_arn": KEY, "prefix": ""},
    "continuous": {"continuous": True},
    "continuous-writer-kms": {"continuous": True, "writer_role": "ddbvault-writer", "kms_key_arn": KEY, "prefix": ""},
    "continuous-created-key": {"continuous": True, "create_kms_key": True},
    "continuous-keep-changes": {"continuous": True, "keep_changes": 35, "keep": "daily=7"},
}
IMAGE = f"{PROD}.dkr.ecr.us-east-1.amazonaws.com/ddbvault:1.4"
OIDC = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
RUNNER_VARIANTS = {
    "batch": {"runner": "batch", "parallelism": 8},
    "batch-writer-created-key": {"runner": "batch", "writer_role": "ddbvault-writer", "external_id": "acme-prod",
                                 "create_kms_key": True},
    "kubernetes": {"runner": "kubernetes", "image": IMAGE, "oidc_provider": OIDC},
    "kubernetes-writer-kms": {"runner": "kubernetes", "image": IMAGE, "oidc_provider": OIDC, "namespace": "backups",
                              "writer_role": "ddbvault-writer", "kms_key_arn": KEY, "parallelism": 16},
}


def inputs(name: str, **extra):
    base = dict(tables=["orders", f"arn:aws:dynamodb:us-east-1:{PROD}:table/users.v2"], prod_account=PROD,
                data_account=DATA, bucket=f"acme-{name}", region="us-east-1", prefix="prod")
    return make_inputs(**{**base, **{**VARIANTS, **RUNNER_VARIANTS}[name], **extra})
