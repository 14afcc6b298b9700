"""Terraform root modules with the same resources as the CloudFormation templates.

- `data_module()`: the data account's stack as Terraform: the bucket and its settings (one
  aws_s3_bucket_* resource each), its policy, optionally the KMS key, the writer role and
  (--continuous) the follower role.
- `production_module()`: the backup role, the task execution role, the log group, one ECS task
  definition and one EventBridge Scheduler schedule per table, and the scheduler's role; with
  --continuous, each table's stream and table resource-based policies.
- `restore_module()`: the three restore policies as managed policies (the CloudFormation output
  has none; `--format json --part restore` prints the same documents).

Every policy document comes from the same generators as the templates, with Terraform references
(`Expr`) where a template uses an intrinsic function; the lifecycle rules and the parameters come
from cloudformation.py through terraform_shapes.py. What differs, and why: docs/iam.md
("Terraform").

Each module is a root module for one account: its provider block pins the region and, with
`allowed_account_ids`, refuses credentials of any other account. What CloudFormation retains on
stack deletion (bucket, key, writer role) has `prevent_destroy` here.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses

from .cloudformation import (DATA_PARAMETERS, EXECUTION_POLICY, KEY_PARAMETER, PRODUCTION_PARAMETERS,
                             ROLE_USES, backup_command, data_roles, lifecycle_rules, scheduler_policy, service_trust,
                             task_family)
from .continuous import stream_policy, table_policy
from .hcl import Block, Call, Expr, render
from .inputs import IacInputs, Table
from .policies import (Arns, backup_role_policy, literal_arns, restore_import_policy,
                       restore_reader_policy, restore_target_policy)
from .resource_policies import bucket_policy, key_policy
from .terraform_shapes import lifecycle_rule, var, variables

BUCKET = "aws_s3_bucket.backup"
KEY = Expr("aws_kms_key.backup.arn")
PROVIDER_VERSION = ">= 5.0"
TERRAFORM_VERSION = ">= 1.5"
KEEP = Block("lifecycle", (), {"prevent_destroy": True})


def resource(kind: str, name: str, attributes: dict, blocks: list[Block] | None = None) -> Block:
    return Block("resource", (kind, name), attributes, blocks or [])


def json_doc(value) -> Call:
    return Call("jsonencode", value)


def settings(inputs: IacInputs, account: str) -> list[Block]:
    """The terraform and provider blocks of a module that must run in `account`."""
    aws = {"source": "hashicorp/aws", "version": PROVIDER_VERSION}
    return [Block("terraform", (), {"required_version": TERRAFORM_VERSION},
                  [Block("required_providers", (), {"aws": aws})]),
            Block("provider", ("aws",), {"region": inputs.region, "allowed_account_ids": [account]})]


def output(name: str, value, description: str = "") -> Block:
    return Block("output", (name,), {"value": value, **({"description": description} if description else {})})


# ---------------------------------------------------------------- data account

def data_arns(inputs: IacInputs) -> Arns:
    arns = literal_arns(inputs)
    return dataclasses.replace(arns, key=KEY) if inputs.create_kms_key else arns


def data_module(inputs: IacInputs) -> list[Block]:
    arns = data_arns(inputs)
    blocks = [*settings(inputs, inputs.data_account), *variables(DATA_PARAMETERS),
              Block("locals", (), {"use_object_lock": Expr('var.object_lock_mode != "NONE"')}),
              *bucket_resources(inputs, arns)]
    outputs = [output("bucket_name", Expr(f"{BUCKET}.bucket")), output("bucket_arn", Expr(f"{BUCKET}.arn"))]
    if inputs.create_kms_key:
        blocks.append(resource("aws_kms_key", "backup", {
            "description": f"ddbvault backups in s3://{inputs.bucket}", "enable_key_rotation": True,
            "policy": json_doc(key_policy(inputs, arns))}, [KEEP]))
    if arns.key is not None:
        outputs.append(output("key_arn", arns.key, "SSE-KMS key of the backups"))
    for name, (role, description, trust, policy_name, policy) in data_roles(inputs, arns).items():
        blocks += [resource("aws_iam_role", name, {"name": role, "description": description,
                                                   "assume_role_policy": json_doc(trust)}, [KEEP]),
                   role_policy(name, policy_name, policy)]
        outputs.append(output(f"{name}_role_arn", Expr(f"aws_iam_role.{name}.arn"), ROLE_USES[name]))
    return blocks + outputs


def bucket_resources(inputs: IacInputs, arns: Arns) -> list[Block]:
    """The bucket and one resource per setting, as the AWS provider splits them."""
    of_bucket = {"bucket": Expr(f"{BUCKET}.id")}
    return [
        resource("aws_s3_bucket", "backup", {"bucket": inputs.bucket,
                                             "object_lock_enabled": Expr("local.use_object_lock")}, [KEEP]),
        resource("aws_s3_bucket_versioning", "backup", of_bucket,
                 [Block("versioning_configuration", (), {"status": "Enabled"})]),
        resource("aws_s3_bucket_public_access_block", "backup", {
            **of_bucket, "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True}),
        resource("aws_s3_bucket_ownership_controls", "backup", of_bucket,
                 [Block("rule", (), {"object_ownership": "BucketOwnerEnforced"})]),
        resource("aws_s3_bucket_server_side_encryption_configuration", "backup", of_bucket,
                 [_default_encryption(arns)]),
        resource("aws_s3_bucket_object_lock_configuration", "backup",
                 {"count": Expr("local.use_object_lock ? 1 : 0"), **of_bucket},
                 [Block("rule", (), {}, [Block("default_retention", (), {
                     "mode": var("ObjectLockMode"), "days": var("ObjectLockRetentionDays")})])]),
        # After versioning: the provider's documentation asks for it with noncurrent rules.
        resource("aws_s3_bucket_lifecycle_configuration", "backup", {
            **of_bucket, "depends_on": [Expr("aws_s3_bucket_versioning.backup")]},
            [lifecycle_rule(rule, DATA_PARAMETERS) for rule in lifecycle_rules(inputs)]),
        # After the public access block: S3 may refuse a policy while that setting changes.
        resource("aws_s3_bucket_policy", "backup", {
            **of_bucket, "policy": json_doc(bucket_policy(inputs, arns)),
            "depends_on": [Expr("aws_s3_bucket_public_access_block.backup")]}),
    ]


def _default_encryption(arns: Arns) -> Block:
    if arns.key is None:
        return Block("rule", (), {}, [Block("apply_server_side_encryption_by_default", (),
                                            {"sse_algorithm": "AES256"})])
    return Block("rule", (), {"bucket_key_enabled": True}, [Block(
        "apply_server_side_encryption_by_default", (), {"sse_algorithm": "aws:kms", "kms_master_key_id": arns.key})])


def role_policy(role: str, name: str, document: dict) -> Block:
    """An inline policy of aws_iam_role.<role> (aws_iam_role's inline_policy is deprecated)."""
    return resource("aws_iam_role_policy", role, {"name": name, "role": Expr(f"aws_iam_role.{role}.id"),
                                                  "policy": json_doc(document)})


# ---------------------------------------------------------- production account

def production_parameters(inputs: IacInputs) -> dict[str, dict]:
    return {**PRODUCTION_PARAMETERS, **({"KmsKeyArn": KEY_PARAMETER} if inputs.create_kms_key else {})}


def production_module(inputs: IacInputs) -> list[Block]:
    arns = literal_arns(inputs)
    if inputs.create_kms_key:
        arns = dataclasses.replace(arns, key=var("KmsKeyArn"))
    ecs_trust = json_doc(service_trust(inputs, "ecs-tasks.amazonaws.com"))
    blocks = [
        *settings(inputs, inputs.prod_account), *variables(production_parameters(inputs)),
        resource("aws_iam_role", "backup", {
            "name": inputs.backup_role, "description": "ddbvault: reads the tables, writes backups to the data account",
            "assume_role_policy": ecs_trust}),
        role_policy("backup", "ddbvault-backup", backup_role_policy(inputs, arns)),
        resource("aws_iam_role", "task_execution", {"assume_role_policy": ecs_trust}),
        resource("aws_iam_role_policy_attachment", "task_execution", {
            "role": Expr("aws_iam_role.task_execution.name"),
            "policy_arn": EXECUTION_POLICY.format(partition=inputs.partition)}),
        # CloudFormation names the group after the stack; the backup role's name is as unique.
        resource("aws_cloudwatch_log_group", "backup", {"name": f"/ddbvault/{inputs.backup_role}",
                                                        "retention_in_days": 90}),
    ]
    for index, table in enumerate(inputs.tables, start=1):
        blocks += [_task_definition(inputs, arns, table, index), _schedule(table, index)]
    tasks = [Expr(f"aws_ecs_task_definition.backup_{i}.arn") for i in range(1, len(inputs.tables) + 1)]
    policy = scheduler_policy(tasks, var("ClusterArn"), [Expr("aws_iam_role.backup.arn"),
                                                         Expr("aws_iam_role.task_execution.arn")])
    if inputs.continuous:
        blocks += stream_policy_resources(inputs, literal_arns(inputs))
    return blocks + [
        resource("aws_iam_role", "scheduler", {
            "assume_role_policy": json_doc(service_trust(inputs, "scheduler.amazonaws.com"))}),
        role_policy("scheduler", "ddbvault-run-backups", policy),
        output("backup_role_arn", Expr("aws_iam_role.backup.arn"))]


def stream_policy_resources(inputs: IacInputs, arns: Arns) -> list[Block]:
    """--continuous: per table, its stream's and its own resource-based policy
    (aws_dynamodb_resource_policy), the stream found through the aws_dynamodb_table data source
    (the stream must be enabled). A table's policy replaces any policy it had: merge by hand."""
    blocks = []
    for index, table in enumerate(inputs.tables, start=1):
        source = f"data.aws_dynamodb_table.followed_{index}"
        blocks += [
            Block("data", ("aws_dynamodb_table", f"followed_{index}"), {"name": table.name}),
            resource("aws_dynamodb_resource_policy", f"stream_{index}", {
                "resource_arn": Expr(f"{source}.stream_arn"), "policy": json_doc(stream_policy(inputs, arns, table))}),
            resource("aws_dynamodb_resource_policy", f"table_{index}", {
                "resource_arn": table.arn, "policy": json_doc(table_policy(inputs, arns, table))})]
    return blocks


def _task_definition(inputs: IacInputs, arns: Arns, table: Table, index: int) -> Block:
    container = {
        "name": "ddbvault", "image": var("ContainerImage"), "essential": True,
        "entryPoint": ["ddbvault"], "command": backup_command(inputs, arns, table),
        "readonlyRootFilesystem": True,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": Expr("aws_cloudwatch_log_group.backup.name"),
            "awslogs-region": inputs.region, "awslogs-stream-prefix": "backup"}},
    }
    return resource("aws_ecs_task_definition", f"backup_{index}", {
        "family": task_family(table), "requires_compatibilities": ["FARGATE"], "network_mode": "awsvpc",
        "cpu": var("TaskCpu"), "memory": var("TaskMemory"),
        "task_role_arn": Expr("aws_iam_role.backup.arn"),
        "execution_role_arn": Expr("aws_iam_role.task_execution.arn"),
        "container_definitions": json_doc([container])})


def _schedule(table: Table, index: int) -> Block:
    """Runs one table's task. retry_policy retries starting the task, not a failed backup."""
    network = Block("network_configuration", (), {
        "subnets": var("Subnets"), "security_groups": var("SecurityGroups"),
        "assign_public_ip": Expr(f'{var("AssignPublicIp").text} == "ENABLED"')})
    ecs = Block("ecs_parameters", (), {
        "task_definition_arn": Expr(f"aws_ecs_task_definition.backup_{index}.arn"),
        "launch_type": "FARGATE", "task_count": 1}, [network])
    target = Block("target", (), {"arn": var("ClusterArn"), "role_arn": Expr("aws_iam_role.scheduler.arn")}, [
        Block("retry_policy", (), {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 3}), ecs])
    return resource("aws_scheduler_schedule", f"backup_{index}", {
        "description": f"ddbvault backup of {table.name}",
        "schedule_expression": var("ScheduleExpression"),
        "schedule_expression_timezone": var("ScheduleTimezone"), "state": "ENABLED"},
        [Block("flexible_time_window", (), {"mode": "OFF"}), target])


# ---------------------------------------------------------- restore account

RESTORE_POLICIES = {
    "reader": ("ddbvault-restore-reader", "Read and list the backups (restore, list, verify)", restore_reader_policy),
    "target": ("ddbvault-restore-target", "Create and fill restored tables (restore --via batch)",
               restore_target_policy),
    "import": ("ddbvault-restore-import", "What restore --via import needs on top of the target policy",
               restore_import_policy),
}


def restore_module(inputs: IacInputs) -> list[Block]:
    """The restore documents as managed policies, to attach to whoever restores."""
    arns = literal_arns(inputs)
    parameters = {}
    if inputs.create_kms_key:
        parameters = {"KmsKeyArn": KEY_PARAMETER}
        arns = dataclasses.replace(arns, key=var("KmsKeyArn"))
    blocks = [*settings(inputs, inputs.restore_target_account), *variables(parameters)]
    for name, (policy_name, description, make) in RESTORE_POLICIES.items():
        blocks.append(resource("aws_iam_policy", name, {"name": policy_name, "description": description,
                                                        "policy": json_doc(make(inputs, arns))}))
    return blocks + [output(f"{name}_policy_arn", Expr(f"aws_iam_policy.{name}.arn")) for name in RESTORE_POLICIES]


# ------------------------------------------------------------------ rendering

# --part -> (module folder, builder), in the order they are applied.
MODULES = {
    "data": ("data-account", data_module),
    "production": ("production-account", production_module),
    "restore": ("restore-account", restore_module),
}


def modules(inputs: IacInputs, part: str = "all") -> dict[str, str]:
    """Module folder -> main.tf text, for the accounts `part` names ("all": every one)."""
    parts = list(MODULES) if part == "all" else [part]
    return {MODULES[p][0]: render(MODULES[p][1](inputs), comment=_header(inputs, MODULES[p][0])) for p in parts}


def _header(inputs: IacInputs, folder: str) -> str:
    where = {
        "data-account": f"apply with credentials of the data account {inputs.data_account}, first",
        "production-account": f"apply with credentials of the production account {inputs.prod_account}, "
                              "after the data account",
        "restore-account": f"apply with credentials of the account that restores "
                           f"({inputs.restore_target_account}); attach the policies there",
    }[folder]
    return (f"{folder}/main.tf: {where}.\n"
            "Generated by `ddbvault iam --format terraform`; see docs/iam.md (Terraform).")
