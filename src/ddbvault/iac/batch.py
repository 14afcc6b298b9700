"""`ddbvault iam --runner batch`: the production account's stack that runs backups as an AWS
Batch array job on Fargate (iac/runners.py says what the three steps do).

The stack (`production-batch-stack`) holds:
- a MANAGED Fargate compute environment in the given subnets and security groups (parameters),
  at most `MaxvCpus` vCPUs, and a job queue on it;
- three job definitions, `ddbvault backup plan`, `work` and `commit`, each with a retry strategy
  (`Attempts`, default 3) that re-runs an attempt that was killed or failed for a reason a new
  attempt can fix, and exits at once on the codes runners.FINAL_EXIT_CODES;
- the backup role (--backup-role) as the job role, trusted by ecs-tasks.amazonaws.com (Batch
  runs Fargate jobs as ECS tasks), with runners' least-privilege policy
  (policies.runner_role_policy), and an execution role that only pulls the image and writes
  the log stream (AmazonECSTaskExecutionRolePolicy), and a log group.
- Outputs: the ARNs, and `SubmitCommands`, the `aws batch submit-job` sequence of one backup.

How Batch runs it (AWS Batch User Guide):
- An array job of size P (2..10,000) runs P child jobs; each gets its index 0..P-1 in
  AWS_BATCH_JOB_ARRAY_INDEX, which `backup work` reads (work.index_from_env); attemptDurationSeconds
  applies to each child. https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html
- `--depends-on jobId=X`: the job runs only after X succeeded, and fails if X fails; a job that
  depends on the array's parent waits for every child. The sequence: plan, then the array job
  depending on the plan, then commit depending on the array job.
  https://docs.aws.amazon.com/batch/latest/userguide/job_dependencies.html
- Retries: 1..10 attempts; evaluateOnExit holds up to 5 conditions, and a failure none of them
  matches is retried; each child of an array job is retried on its own.
  https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html
- Parameters: `Ref::NAME` in a command is replaced by the submit-job parameter NAME (or the job
  definition's default). Each placeholder here is a whole argument, as in the guide's example.
  https://docs.aws.amazon.com/batch/latest/userguide/example-use-parameters.html

Pure: no I/O, no boto3. Values are plain dicts, rendered by render.py.
"""

from __future__ import annotations

import dataclasses

from .cloudformation import (FORMAT_VERSION, KEY_PARAMETER, execution_role, get_arn, log_group, ref,
                             service_trust)
from .inputs import MAX_PARALLELISM, IacInputs
from .policies import Arns, literal_arns, runner_role_policy
from .runners import FINAL_EXIT_CODES, commit_args, plan_args, work_args

# Fargate's vCPU values (memory must match: docs/iam.md links AWS's table).
FARGATE_VCPUS = ["0.25", "0.5", "1", "2", "4", "8", "16"]
JOB_DEFINITIONS = {"plan": "PlanJobDefinition", "work": "WorkJobDefinition", "commit": "CommitJobDefinition"}


def batch_parameters(inputs: IacInputs) -> dict:
    return {
        "ContainerImage": {"Type": "String", "Description": "The ddbvault container image (ECR URI or registry/name:tag)."},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>",
                    "Description": "Subnets of the jobs; they need a route to DynamoDB, S3 and STS (NAT or VPC endpoints)."},
        "SecurityGroups": {"Type": "List<AWS::EC2::SecurityGroup::Id>",
                           "Description": "Security groups of the jobs (outbound HTTPS only)."},
        "AssignPublicIp": {"Type": "String", "AllowedValues": ["ENABLED", "DISABLED"], "Default": "DISABLED"},
        "Parallelism": {"Type": "Number", "Default": inputs.parallelism, "MinValue": 2, "MaxValue": MAX_PARALLELISM,
                        "Description": "Workers of one backup: the work array job's size and the plan's --parallelism "
                                       "(each worker reads at the plan's cap / P)."},
        "MaxvCpus": {"Type": "Number", "Default": 256, "MinValue": 1,
                     "Description": "The compute environment's vCPU cap (Parallelism x JobVcpu for one backup at full speed)."},
        "JobVcpu": {"Type": "String", "Default": "1", "AllowedValues": FARGATE_VCPUS},
        "JobMemory": {"Type": "String", "Default": "2048",
                      "Description": "MiB; must be valid for JobVcpu on Fargate (e.g. 2048-8192 for 1 vCPU)."},
        "Attempts": {"Type": "Number", "Default": 3, "MinValue": 1, "MaxValue": 10,
                     "Description": "Attempts of each job (each array child on its own) before it fails."},
        "AttemptDurationSeconds": {"Type": "Number", "Default": 86400, "MinValue": 60,
                                   "Description": "Timeout of one attempt (one array child), in seconds."},
    }


def batch_template(inputs: IacInputs) -> dict:
    """The production account's Batch stack. Needs CAPABILITY_NAMED_IAM (the backup role has a
    fixed name, which the data account's policies name)."""
    arns = literal_arns(inputs)
    parameters = batch_parameters(inputs)
    if inputs.create_kms_key:
        parameters["KmsKeyArn"] = KEY_PARAMETER
        arns = dataclasses.replace(arns, key=ref("KmsKeyArn"))
    resources = {
        "BackupRole": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": inputs.backup_role,
            "Description": "ddbvault: backup plan/work/commit jobs on AWS Batch",
            "AssumeRolePolicyDocument": service_trust(inputs, "ecs-tasks.amazonaws.com"),
            "Policies": [{"PolicyName": "ddbvault-backup-jobs", "PolicyDocument": runner_role_policy(inputs, arns)}]}},
        "TaskExecutionRole": execution_role(inputs),
        "BackupLogGroup": log_group(),
        "ComputeEnvironment": {"Type": "AWS::Batch::ComputeEnvironment", "Properties": {
            "Type": "MANAGED", "State": "ENABLED",
            "ComputeResources": {"Type": "FARGATE", "MaxvCpus": ref("MaxvCpus"),
                                 "Subnets": ref("Subnets"), "SecurityGroupIds": ref("SecurityGroups")}}},
        "JobQueue": {"Type": "AWS::Batch::JobQueue", "Properties": {
            "Priority": 1, "State": "ENABLED",
            "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": ref("ComputeEnvironment")}]}},
    }
    for step, (command, defaults) in step_commands(inputs, arns).items():
        resources[JOB_DEFINITIONS[step]] = job_definition(step, command, defaults)
    outputs = {"BackupRoleArn": {"Value": get_arn("BackupRole")}, "JobQueueArn": {"Value": ref("JobQueue")},
               **{f"{name}Arn": {"Value": ref(name)} for name in JOB_DEFINITIONS.values()},
               "SubmitCommands": {"Value": {"Fn::Sub": submit_commands(inputs)},
                                  "Description": "The aws batch submit-job sequence of one backup (set TABLE first)"}}
    return {"AWSTemplateFormatVersion": FORMAT_VERSION,
            "Description": f"ddbvault backups as AWS Batch array jobs (production account {inputs.prod_account})",
            "Parameters": parameters, "Resources": resources, "Outputs": outputs}


def step_commands(inputs: IacInputs, arns: Arns) -> dict[str, tuple[list, dict]]:
    """Step -> (its command with Batch's Ref:: placeholders, the job definition's parameter
    defaults). `table`, `backup_id` and `backup` have no default: a job submitted without one
    runs with the placeholder itself, which the CLI refuses (exit 2, not retried)."""
    return {
        "plan": (plan_args(inputs, arns, table="Ref::table", backup_id="Ref::backup_id",
                           parallelism="Ref::parallelism"), {"parallelism": ref("Parallelism")}),
        "work": (work_args(inputs, arns, backup="Ref::backup"), {}),
        "commit": (commit_args(inputs, arns, backup="Ref::backup"), {}),
    }


def retry_strategy() -> dict:
    """Exit at once on FINAL_EXIT_CODES (4 conditions); retry anything else, up to Attempts."""
    return {"Attempts": ref("Attempts"), "EvaluateOnExit": [
        *({"Action": "EXIT", "OnExitCode": str(code)} for code in FINAL_EXIT_CODES),
        {"Action": "RETRY", "OnReason": "*"}]}


def job_definition(step: str, command: list, defaults: dict) -> dict:
    container = {
        "Image": ref("ContainerImage"), "Command": command,
        "JobRoleArn": get_arn("BackupRole"), "ExecutionRoleArn": get_arn("TaskExecutionRole"),
        "ResourceRequirements": [{"Type": "VCPU", "Value": ref("JobVcpu")},
                                 {"Type": "MEMORY", "Value": ref("JobMemory")}],
        "NetworkConfiguration": {"AssignPublicIp": ref("AssignPublicIp")},
        "FargatePlatformConfiguration": {"PlatformVersion": "LATEST"},
        "ReadonlyRootFilesystem": True,
        "LogConfiguration": {"LogDriver": "awslogs", "Options": {
            "awslogs-group": ref("BackupLogGroup"), "awslogs-region": ref("AWS::Region"),
            "awslogs-stream-prefix": step}},
    }
    properties = {"Type": "container", "PlatformCapabilities": ["FARGATE"], "PropagateTags": True,
                  "RetryStrategy": retry_strategy(),
                  "Timeout": {"AttemptDurationSeconds": ref("AttemptDurationSeconds")},
                  "ContainerProperties": container}
    if defaults:
        properties["Parameters"] = defaults
    return {"Type": "AWS::Batch::JobDefinition", "Properties": properties}


def submit_commands(inputs: IacInputs) -> str:
    """The shell lines of one backup, as an Fn::Sub string (${...}: the stack's values; $NAME
    and $(...): the shell's). The array job depends on the plan, commit on the array job."""
    names = ", ".join(t.name for t in inputs.tables)
    url = f"{inputs.destination}/$TABLE/$ID"
    submit = "aws batch submit-job --job-queue ${JobQueue} --query jobId --output text"
    return "\n".join([
        f"TABLE={inputs.tables[0].name}  # one of: {names}",
        "ID=$(date -u +%Y%m%dT%H%M%SZ)-$(openssl rand -hex 3)",
        f"PLAN=$({submit} --job-name ddbvault-plan --job-definition ${{PlanJobDefinition}} "
        "--parameters table=$TABLE,backup_id=$ID)",
        f"WORK=$({submit} --job-name ddbvault-work --job-definition ${{WorkJobDefinition}} "
        f"--array-properties size=${{Parallelism}} --depends-on jobId=$PLAN --parameters backup={url})",
        f"{submit} --job-name ddbvault-commit --job-definition ${{CommitJobDefinition}} "
        f"--depends-on jobId=$WORK --parameters backup={url}",
    ])
