"""`ddbvault iam --runner kubernetes`: backups as Kubernetes Jobs on EKS, with the backup role
reached through IAM roles for service accounts (IRSA). iac/runners.py says what the steps do.

- `--format kubernetes` (kubernetes_documents): a ServiceAccount annotated with the backup role's
  ARN (`eks.amazonaws.com/role-arn`), and per table three Jobs to create in this order, each
  after the previous one completed: `plan` (one pod), `work` (an Indexed Job: `completionMode:
  Indexed`, `completions` = `parallelism` = P; Kubernetes sets JOB_COMPLETION_INDEX = 0..P-1 in
  each pod, which `backup work` reads) and `commit` (one pod). Kubernetes has no dependency
  between Jobs, so the order is the operator's (docs/scale-batch-kubernetes.md prints it).
- `--format cloudformation` (role_template): the backup role (--backup-role) trusted by the
  cluster's OIDC provider for this ServiceAccount only (irsa_trust_policy), with
  policies.runner_role_policy.

Choices, and the Kubernetes documentation they rest on:
- Each Job has `generateName` (ddbvault-STEP-TABLE-, then 5 random characters), so that every
  run is a new Job, created with `kubectl create` (apply does not take generateName), and
  `ttlSecondsAfterFinished` removes finished Jobs after 7 days.
- The backup id is the environment variable BACKUP_ID, empty here: the arguments name it as
  `$(BACKUP_ID)`, which Kubernetes expands from the container's environment
  (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/).
  The operator sets it per run (`kubectl set env --local -f FILE BACKUP_ID=ID -o yaml`); left
  empty, `ddbvault` refuses the URL (exit 2).
- `backoffLimitPerIndex` (stable in Kubernetes 1.33) retries each index on its own, so a killed
  worker re-runs only its index; `maxFailedIndexes: 0` fails the Job as soon as one index has
  used its retries. A `podFailurePolicy` fails the Job at once on runners.FINAL_EXIT_CODES and
  does not count a disruption (a drained or preempted node: condition DisruptionTarget) against
  the retries. Both need `restartPolicy: Never`.
  https://kubernetes.io/docs/concepts/workloads/controllers/job/#backoff-limit-per-index
  https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-failure-policy
- IRSA: the pod identity webhook gives pods of a ServiceAccount annotated with
  `eks.amazonaws.com/role-arn` a web identity token; the role's trust policy allows
  sts:AssumeRoleWithWebIdentity from the cluster's OIDC provider with `sub` =
  `system:serviceaccount:NAMESPACE:NAME` and `aud` = `sts.amazonaws.com`.
  https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
- The pods run as the image's non-root user 10001, with a read-only root filesystem, no
  privilege escalation and no capabilities (the Dockerfile's contract).

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from .cloudformation import FORMAT_VERSION, KEY_PARAMETER, get_arn, ref
from .inputs import IacInputs, Table
from .policies import Arns, document, literal_arns, runner_role_policy, trust_statement
from .runners import ENTRYPOINT, FINAL_EXIT_CODES, backup_url, commit_args, plan_args, work_args

SERVICE_ACCOUNT = "ddbvault-backup"
CONTAINER = "ddbvault"
BACKUP_ID_VARIABLE = "BACKUP_ID"
RETRIES = 3  # backoffLimit / backoffLimitPerIndex: attempts after the first
FINISHED_TTL_SECONDS = 7 * 24 * 3600
# Kubernetes: a Job's name is a label value (job-name) too, so at most 63 characters;
# generateName appends 5 characters.
GENERATE_NAME_MAX = 58
USER_ID = 10001  # the image's user (Dockerfile)


def irsa_trust_policy(inputs: IacInputs) -> dict:
    """Only the jobs' ServiceAccount in --namespace, through the cluster's OIDC provider."""
    provider = inputs.oidc_provider
    principal = {"Federated": f"arn:{inputs.partition}:iam::{inputs.prod_account}:oidc-provider/{provider}"}
    condition = {"StringEquals": {f"{provider}:sub": f"system:serviceaccount:{inputs.namespace}:{SERVICE_ACCOUNT}",
                                  f"{provider}:aud": "sts.amazonaws.com"}}
    return document([trust_statement("TrustBackupServiceAccount", principal, condition,
                                     action="sts:AssumeRoleWithWebIdentity")])


def role_template(inputs: IacInputs) -> dict:
    """The production account's stack for the Kubernetes runner: the backup role only. Needs
    CAPABILITY_NAMED_IAM (the role has a fixed name, which the data account's policies and the
    ServiceAccount's annotation name)."""
    arns = literal_arns(inputs)
    parameters = {}
    if inputs.create_kms_key:
        parameters["KmsKeyArn"] = KEY_PARAMETER
        arns = dataclasses.replace(arns, key=ref("KmsKeyArn"))
    role = {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": inputs.backup_role,
        "Description": f"ddbvault: backup plan/work/commit jobs of Kubernetes namespace {inputs.namespace}",
        "AssumeRolePolicyDocument": irsa_trust_policy(inputs),
        "Policies": [{"PolicyName": "ddbvault-backup-jobs", "PolicyDocument": runner_role_policy(inputs, arns)}]}}
    template = {"AWSTemplateFormatVersion": FORMAT_VERSION,
                "Description": f"ddbvault backup role for Kubernetes jobs (production account {inputs.prod_account})",
                "Parameters": parameters, "Resources": {"BackupRole": role},
                "Outputs": {"BackupRoleArn": {"Value": get_arn("BackupRole")}}}
    if not parameters:
        del template["Parameters"]
    return template


def kubernetes_documents(inputs: IacInputs) -> dict[str, dict]:
    """Label -> Kubernetes object: the ServiceAccount, then plan, work and commit per table.
    Raises nothing: make_inputs checked every value. With --create-kms-key the key's ARN is not
    known here, so the plan names no --kms-key-id: the bucket's default encryption (that key)
    applies, and the bucket policy refuses any other key."""
    arns = literal_arns(inputs)
    docs = {"kubernetes-service-account": service_account(inputs, arns)}
    for table in inputs.tables:
        url = backup_url(inputs, table.name, f"$({BACKUP_ID_VARIABLE})")
        steps = {"plan": plan_args(inputs, arns, table=table.name, backup_id=f"$({BACKUP_ID_VARIABLE})",
                                   parallelism=str(inputs.parallelism)),
                 "work": work_args(inputs, arns, backup=url),
                 "commit": commit_args(inputs, arns, backup=url)}
        for step, args in steps.items():
            docs[f"kubernetes-{step}-{table.name}"] = job(inputs, table, step, args)
    return docs


def service_account(inputs: IacInputs, arns: Arns) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": inputs.namespace, "labels": labels(),
                         "annotations": {"eks.amazonaws.com/role-arn": arns.backup_role}}}


def labels(**extra: str) -> dict:
    return {"app.kubernetes.io/name": "ddbvault", "app.kubernetes.io/component": "backup", **extra}


def job_prefix(step: str, table: Table) -> str:
    """generateName of one step's Job: lower-case letters, digits and '-' (DNS-1123), at most
    GENERATE_NAME_MAX characters, ending in '-'. A name that had to be changed to fit (upper
    case, '.', '_', too long) ends with 6 hex digits of its sha256, so two tables never share
    a prefix."""
    base = f"ddbvault-{step}-" + re.sub(r"[^a-z0-9-]", "-", table.name.lower())
    if base == f"ddbvault-{step}-{table.name}" and len(base) < GENERATE_NAME_MAX:
        return base + "-"
    digest = hashlib.sha256(table.name.encode()).hexdigest()[:6]
    return base[:GENERATE_NAME_MAX - 8].rstrip("-") + f"-{digest}-"


def job(inputs: IacInputs, table: Table, step: str, args: list) -> dict:
    """One step's Job (the module docstring says why each field is set)."""
    selector = labels(**{"ddbvault/step": step})
    spec: dict = {"ttlSecondsAfterFinished": FINISHED_TTL_SECONDS}
    if step == "work":
        spec.update({"completionMode": "Indexed", "completions": inputs.parallelism,
                     "parallelism": inputs.parallelism, "backoffLimitPerIndex": RETRIES, "maxFailedIndexes": 0})
    else:
        spec.update({"completions": 1, "parallelism": 1, "backoffLimit": RETRIES})
    spec["podFailurePolicy"] = {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER, "operator": "In",
                                              "values": list(FINAL_EXIT_CODES)}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}
    spec["template"] = {"metadata": {"labels": selector}, "spec": pod_spec(inputs, args)}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"generateName": job_prefix(step, table), "namespace": inputs.namespace,
                         "labels": selector, "annotations": {"ddbvault/table": table.name}},
            "spec": spec}


def pod_spec(inputs: IacInputs, args: list) -> dict:
    container = {
        "name": CONTAINER, "image": inputs.image, "command": [ENTRYPOINT], "args": args,
        "env": [{"name": BACKUP_ID_VARIABLE, "value": ""}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
        "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "runAsNonRoot": True, "runAsUser": USER_ID, "capabilities": {"drop": ["ALL"]}},
    }
    return {"serviceAccountName": SERVICE_ACCOUNT, "restartPolicy": "Never", "containers": [container]}
