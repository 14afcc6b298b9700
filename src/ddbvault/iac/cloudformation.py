"""CloudFormation templates for the two accounts, built from the same policy generators.

- `data_template()`: the backup bucket (versioned; public access blocked; ACLs disabled with
  Object Ownership BucketOwnerEnforced; default encryption; optional object lock with a default
  retention; lifecycle rules that abort incomplete multipart uploads, expire non-current versions
  and expire `ddbvault doctor`'s probe objects after a day), its policy, optionally a KMS key,
  the writer role that production assumes and (--continuous) the follower role.
- `production_template()`: the backup role, one ECS (Fargate) task definition per table that
  runs `ddbvault backup`, and an EventBridge Scheduler schedule per table that starts it. Why
  EventBridge Scheduler rather than a scheduled EventBridge rule: docs/iam.md. With
  --continuous its Metadata carries each table's stream and table policies (stream_policy_metadata).

The bucket, the key and the writer role are retained when the data stack is deleted: deleting a
stack must never delete the backups or the key that decrypts them.

Pure: no I/O, no boto3. Values are plain dicts, rendered by render.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from .continuous import (follower_role_policy, follower_trust_policy, put_resource_policy_commands,
                         stream_policy, table_policy)
from .inputs import DOCTOR_DIR, IacInputs, Table
from .policies import (Arns, backup_role_policy, document, literal_arns, statement, trust_statement,
                       writer_role_policy, writer_trust_policy)
from .resource_policies import bucket_policy, key_policy
from .retention import change_log_rules, tier_rules

FORMAT_VERSION = "2010-09-09"
NO_VALUE = {"Ref": "AWS::NoValue"}
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
DELETE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}  # logs: not worth keeping
EXECUTION_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def ref(name: str) -> dict:
    return {"Ref": name}


def get_arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# ---------------------------------------------------------------- data account

DATA_PARAMETERS = {
    "ObjectLockMode": {
        "Type": "String", "AllowedValues": ["NONE", "GOVERNANCE", "COMPLIANCE"], "Default": "NONE",
        "Description": "Object lock for every new object version. COMPLIANCE: nobody, not even the "
                       "data account's root user, can delete a version before its retention ends. "
                       "Only takes effect when the bucket is created."},
    "ObjectLockRetentionDays": {
        "Type": "Number", "Default": 35, "MinValue": 1, "MaxValue": 36500,
        "Description": "Default retention of each object version, in days (with object lock)."},
    "NoncurrentVersionExpirationDays": {
        "Type": "Number", "Default": 90, "MinValue": 1,
        "Description": "Days after which a non-current (overwritten or deleted) version is removed."},
    "AbortIncompleteUploadsAfterDays": {
        "Type": "Number", "Default": 2, "MinValue": 1,
        "Description": "Days after which multipart uploads left by a killed backup are aborted."},
}
DATA_CONDITIONS = {"UseObjectLock": {"Fn::Not": [{"Fn::Equals": [ref("ObjectLockMode"), "NONE"]}]}}


def data_arns(inputs: IacInputs) -> Arns:
    """The data template's ARNs: literal, except a key the template creates itself."""
    arns = literal_arns(inputs)
    return dataclasses.replace(arns, key=get_arn("BackupKey")) if inputs.create_kms_key else arns


ROLE_USES = {"writer": "ddbvault backup --vault-role",
             "follower": "runs ddbvault follow TABLE_ARN: the production table by its ARN (docs/continuous-access.md)"}


def data_template(inputs: IacInputs) -> dict:
    """The data account's stack. Needs CAPABILITY_NAMED_IAM when it creates the writer role."""
    arns = data_arns(inputs)
    resources = {
        "BackupBucket": {"Type": "AWS::S3::Bucket", **RETAIN, "Properties": bucket_properties(inputs, arns)},
        "BackupBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": ref("BackupBucket"), "PolicyDocument": bucket_policy(inputs, arns)}},
    }
    outputs = {"BucketName": {"Value": ref("BackupBucket")}, "BucketArn": {"Value": get_arn("BackupBucket")}}
    if inputs.create_kms_key:
        resources["BackupKey"] = _key(inputs, arns)
    if arns.key is not None:
        outputs["KeyArn"] = {"Value": arns.key, "Description": "SSE-KMS key of the backups"}
    for name, spec in data_roles(inputs, arns).items():
        logical = f"{name.capitalize()}Role"
        resources[logical] = _retained_role(*spec)
        outputs[f"{logical}Arn"] = {"Value": get_arn(logical), "Description": ROLE_USES[name]}
    return {"AWSTemplateFormatVersion": FORMAT_VERSION,
            "Description": f"ddbvault backup bucket {inputs.bucket} (data account {inputs.data_account})",
            "Parameters": DATA_PARAMETERS, "Conditions": DATA_CONDITIONS,
            "Resources": resources, "Outputs": outputs}


def bucket_properties(inputs: IacInputs, arns: Arns) -> dict:
    return {
        "BucketName": inputs.bucket,
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [_default_encryption(inputs, arns)]},
        "ObjectLockEnabled": {"Fn::If": ["UseObjectLock", True, NO_VALUE]},
        "ObjectLockConfiguration": {"Fn::If": ["UseObjectLock", {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": ref("ObjectLockMode"),
                                          "Days": ref("ObjectLockRetentionDays")}}}, NO_VALUE]},
        "LifecycleConfiguration": {"Rules": lifecycle_rules(inputs)},
    }


def _default_encryption(inputs: IacInputs, arns: Arns) -> dict:
    if arns.key is None:
        return {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    return {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arns.key},
            "BucketKeyEnabled": True}


def lifecycle_rules(inputs: IacInputs) -> list[dict]:
    """Clean-up, and under a keep policy one rule per tier (iac/retention.py): only those expire
    a current version of a backup object, and only one tagged with their tier."""
    return [
        {"Id": "AbortIncompleteMultipartUploads", "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ref("AbortIncompleteUploadsAfterDays")}},
        {"Id": "ExpireNoncurrentVersions", "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": ref("NoncurrentVersionExpirationDays")}},
        {"Id": "ExpireDoctorProbes", "Status": "Enabled", "Prefix": inputs.key_prefix(DOCTOR_DIR),
         "ExpirationInDays": 1, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        *tier_rules(inputs),
        *change_log_rules(inputs),
    ]


def _key(inputs: IacInputs, arns: Arns) -> dict:
    return {"Type": "AWS::KMS::Key", **RETAIN, "Properties": {
        "Description": f"ddbvault backups in s3://{inputs.bucket}",
        "EnableKeyRotation": True,
        "KeyPolicy": key_policy(inputs, arns)}}


def data_roles(inputs: IacInputs, arns: Arns) -> dict[str, tuple[str, str, dict, str, dict]]:
    """The data account's roles, by short name ("writer", "follower"): (role name, description,
    trust policy, inline policy name, inline policy). Shared with terraform.py."""
    roles = {}
    if inputs.writer_role:
        roles["writer"] = (inputs.writer_role, "ddbvault: the production backup role assumes it to write backups",
                           writer_trust_policy(inputs, arns), "ddbvault-write-backups", writer_role_policy(inputs, arns))
    if inputs.continuous:
        roles["follower"] = (inputs.follower_role,
                             "ddbvault: reads the production tables' streams, writes the change log",
                             follower_trust_policy(inputs, arns), "ddbvault-follow-streams",
                             follower_role_policy(inputs, arns))
    return roles


def _retained_role(name: str, description: str, trust: dict, policy_name: str, policy: dict) -> dict:
    """A named data account role with one inline policy, kept when the stack is deleted."""
    return {"Type": "AWS::IAM::Role", **RETAIN, "Properties": {
        "RoleName": name, "Description": description, "AssumeRolePolicyDocument": trust,
        "Policies": [{"PolicyName": policy_name, "PolicyDocument": policy}]}}


# ---------------------------------------------------------- production account

PRODUCTION_PARAMETERS = {
    "ContainerImage": {"Type": "String", "Description": "The ddbvault container image (ECR URI or registry/name:tag)."},
    "ClusterArn": {"Type": "String", "AllowedPattern": r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/.+$",
                   "Description": "The ECS cluster that runs the backup tasks."},
    "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>",
                "Description": "Subnets of the tasks; they need a route to DynamoDB, S3 and STS (NAT or VPC endpoints)."},
    "SecurityGroups": {"Type": "List<AWS::EC2::SecurityGroup::Id>",
                       "Description": "Security groups of the tasks (outbound HTTPS only)."},
    "AssignPublicIp": {"Type": "String", "AllowedValues": ["ENABLED", "DISABLED"], "Default": "DISABLED"},
    "ScheduleExpression": {"Type": "String", "Default": "cron(0 2 * * ? *)",
                           "Description": "EventBridge Scheduler expression: cron(...), rate(...) or at(...)."},
    "ScheduleTimezone": {"Type": "String", "Default": "UTC", "Description": "IANA time zone of the cron expression."},
    "TaskCpu": {"Type": "String", "Default": "1024", "AllowedValues": ["512", "1024", "2048", "4096"]},
    "TaskMemory": {"Type": "String", "Default": "2048",
                   "Description": "MiB; must be valid for TaskCpu on Fargate (e.g. 2048-8192 for 1024)."},
}
KEY_PARAMETER = {"Type": "String", "AllowedPattern": r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$",
                 "Description": "The data stack's KeyArn output."}


def production_template(inputs: IacInputs) -> dict:
    """The production account's stack. Needs CAPABILITY_NAMED_IAM (the backup role has a fixed
    name, which the data account's policies name)."""
    arns = literal_arns(inputs)
    parameters = dict(PRODUCTION_PARAMETERS)
    if inputs.create_kms_key:
        parameters["KmsKeyArn"] = KEY_PARAMETER
        arns = dataclasses.replace(arns, key=ref("KmsKeyArn"))
    resources = {"BackupRole": _backup_role(inputs, arns), "TaskExecutionRole": execution_role(inputs),
                 "BackupLogGroup": log_group()}
    for index, table in enumerate(inputs.tables, start=1):
        resources[f"BackupTask{index}"] = _task_definition(inputs, arns, table)
        resources[f"BackupSchedule{index}"] = _schedule(table, index)
    resources["SchedulerRole"] = _scheduler_role(inputs)
    template = {"AWSTemplateFormatVersion": FORMAT_VERSION,
                "Description": f"ddbvault scheduled backups (production account {inputs.prod_account})",
                "Parameters": parameters, "Resources": resources,
                "Outputs": {"BackupRoleArn": {"Value": get_arn("BackupRole")}}}
    if inputs.continuous:
        metadata = {"DdbvaultStreamPolicies": stream_policy_metadata(inputs, literal_arns(inputs))}
        template = {**dict(list(template.items())[:2]), "Metadata": metadata, **dict(list(template.items())[2:])}
    return template


def stream_policy_metadata(inputs: IacInputs, arns: Arns) -> dict:
    """--continuous: what each table needs in production, which this stack cannot attach (a
    resource policy is a property of the AWS::DynamoDB::Table that owns it, and the tables are
    not this stack's): per table, the StreamSpecification and ResourcePolicy to put into the
    table's own template, or the put-resource-policy commands for a table no stack manages."""
    result = {}
    for table in inputs.tables:
        result[table.name] = {
            "TableProperties": {
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES",
                                        "ResourcePolicy": {"PolicyDocument": stream_policy(inputs, arns, table)}},
                "ResourcePolicy": {"PolicyDocument": table_policy(inputs, arns, table)}},
            "Commands": put_resource_policy_commands(inputs, arns, table)}
    return result


def service_trust(inputs: IacInputs, service: str) -> dict:
    """Trust one AWS service, on behalf of this account only (confused-deputy protection)."""
    return document([trust_statement(
        "TrustService", {"Service": service},
        {"StringEquals": {"aws:SourceAccount": inputs.prod_account}})])


def _backup_role(inputs: IacInputs, arns: Arns) -> dict:
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": inputs.backup_role,
        "Description": "ddbvault: reads the tables, writes backups to the data account",
        "AssumeRolePolicyDocument": service_trust(inputs, "ecs-tasks.amazonaws.com"),
        "Policies": [{"PolicyName": "ddbvault-backup", "PolicyDocument": backup_role_policy(inputs, arns)}]}}


def log_group() -> dict:
    """The stack's log group, /ddbvault/<stack name>, 90 days; deleted with the stack."""
    return {"Type": "AWS::Logs::LogGroup", **DELETE, "Properties": {
        "LogGroupName": {"Fn::Sub": "/ddbvault/${AWS::StackName}"}, "RetentionInDays": 90}}


def execution_role(inputs: IacInputs) -> dict:
    """What ECS itself needs to start the task: pull the image, write the log stream."""
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": service_trust(inputs, "ecs-tasks.amazonaws.com"),
        "ManagedPolicyArns": [EXECUTION_POLICY.format(partition=inputs.partition)]}}


def backup_command(inputs: IacInputs, arns: Arns, table: Table) -> list:
    """The `ddbvault` arguments of one table's scheduled backup."""
    command = ["backup", table.name, "--to", inputs.destination, "--region", table.region,
               "--sse", inputs.sse]
    if inputs.exports:
        command += ["--engine", "export"]
    if arns.key is not None:
        command += ["--kms-key-id", arns.key]
    if inputs.writer_role:
        command += ["--vault-role", arns.writer_role]
        if inputs.external_id:
            command += ["--external-id", inputs.external_id]
    if inputs.keep is not None:
        command += ["--keep", inputs.keep.to_text()]
    return command + ["--json", "--no-progress"]


def _task_definition(inputs: IacInputs, arns: Arns, table: Table) -> dict:
    container = {
        "Name": "ddbvault", "Image": ref("ContainerImage"), "Essential": True,
        "EntryPoint": ["ddbvault"], "Command": backup_command(inputs, arns, table),
        "ReadonlyRootFilesystem": True,
        "LogConfiguration": {"LogDriver": "awslogs", "Options": {
            "awslogs-group": ref("BackupLogGroup"), "awslogs-region": ref("AWS::Region"),
            "awslogs-stream-prefix": "backup"}},
    }
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": task_family(table),
        "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc",
        "Cpu": ref("TaskCpu"), "Memory": ref("TaskMemory"),
        "TaskRoleArn": get_arn("BackupRole"), "ExecutionRoleArn": get_arn("TaskExecutionRole"),
        "ContainerDefinitions": [container]}}


def _schedule(table: Table, index: int) -> dict:
    """Runs one table's task. RetryPolicy retries starting the task, not a failed backup."""
    network = {"AwsvpcConfiguration": {"Subnets": ref("Subnets"), "SecurityGroups": ref("SecurityGroups"),
                                       "AssignPublicIp": ref("AssignPublicIp")}}
    return {"Type": "AWS::Scheduler::Schedule", "Properties": {
        "Description": f"ddbvault backup of {table.name}",
        "ScheduleExpression": ref("ScheduleExpression"),
        "ScheduleExpressionTimezone": ref("ScheduleTimezone"),
        "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
        "Target": {
            "Arn": ref("ClusterArn"), "RoleArn": get_arn("SchedulerRole"),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
            "EcsParameters": {"TaskDefinitionArn": ref(f"BackupTask{index}"), "LaunchType": "FARGATE",
                              "TaskCount": 1, "NetworkConfiguration": network}}}}


FAMILY_MAX = 255  # ECS: a family is up to 255 letters, digits, hyphens and underscores


def task_family(table: Table) -> str:
    """The ECS task definition family of one table's backup. ECS allows letters, digits, `-`
    and `_`, up to 255 characters: a name with a `.` (`a.b`, which would become `a-b` and meet the
    table `a-b`) or too long for that ends with 8 hex digits of the name's sha256, cut first if
    need be, so that two tables never share a family."""
    family = "ddbvault-backup-" + re.sub(r"[^A-Za-z0-9_-]", "-", table.name)
    if len(family) <= FAMILY_MAX and "." not in table.name:
        return family
    return family[:FAMILY_MAX - 9] + "-" + hashlib.sha256(table.name.encode()).hexdigest()[:8]


def scheduler_policy(tasks: list, cluster, task_roles: list) -> dict:
    """EventBridge Scheduler's role: run these task definitions on this cluster, and pass their
    two roles to ECS tasks; nothing else. Shared with terraform.py, which passes references."""
    return document([
        statement("RunBackupTasks", "Allow", "ecs:RunTask", tasks,
                  condition={"ArnEquals": {"ecs:cluster": cluster}}),
        statement("PassTaskRoles", "Allow", "iam:PassRole", task_roles,
                  condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
    ])


def _scheduler_role(inputs: IacInputs) -> dict:
    tasks = [ref(f"BackupTask{i}") for i in range(1, len(inputs.tables) + 1)]
    policy = scheduler_policy(tasks, ref("ClusterArn"), [get_arn("BackupRole"), get_arn("TaskExecutionRole")])
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": service_trust(inputs, "scheduler.amazonaws.com"),
        "Policies": [{"PolicyName": "ddbvault-run-backups", "PolicyDocument": policy}]}}
