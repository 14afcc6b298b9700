"""Least-privilege IAM policies, the backup bucket's policy and CloudFormation templates.

    inputs = make_inputs(tables=["orders"], prod_account="123456789012",
                         data_account="210987654321", bucket="acme-backups", prefix="prod")
    policy_documents(inputs)   # {"production-backup-role-policy": {...}, "data-bucket-policy": ...}
    templates(inputs)          # {"data-account-stack": {...}, "production-account-stack": {...}}

Everything here is pure (no boto3, no I/O); `ddbvault iam` prints the results and docs/iam.md
explains every grant.
"""

from .cloudformation import data_template, production_template
from .inputs import IacInputs, Table, make_inputs
from .policies import (Arns, backup_role_policy, literal_arns, restore_import_policy,
                       restore_reader_policy, restore_target_policy, writer_role_policy,
                       writer_trust_policy)
from .render import PARTS, policy_documents, templates, to_json, to_yaml, yaml_stream
from .resource_policies import bucket_policy, key_policy, key_policy_grants

__all__ = ["IacInputs", "Table", "make_inputs", "Arns", "literal_arns", "backup_role_policy",
           "writer_role_policy", "writer_trust_policy", "restore_reader_policy",
           "restore_target_policy", "restore_import_policy", "bucket_policy", "key_policy",
           "key_policy_grants", "data_template", "production_template", "PARTS",
           "policy_documents", "templates", "to_json", "to_yaml", "yaml_stream"]
