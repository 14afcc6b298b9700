"""`ddbvault iam --runner batch|kubernetes`: the jobs' role, the Batch stack, the Kubernetes objects.

Structure tests here; tests/integration/iac/test_iac_lint.py runs cfn-lint and parliament on the
same documents, and tests/integration/iac/test_runner_commands.py runs the commands they hold.
The Kubernetes objects are checked kubeconform-like (tests/support/kubernetes_schema.py: the
official strict JSON schema, then the API server's Job rules), and broken ones must be refused.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from click.testing import CliRunner

from ddbvault.cli import cli
from ddbvault.errors import UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.iac import literal_arns, policy_documents, templates, to_yaml
from ddbvault.iac.batch import batch_template
from ddbvault.iac.kubernetes import irsa_trust_policy, job_prefix, kubernetes_documents
from ddbvault.iac.inputs import Table
from ddbvault.iac.policies import object_write_statements
from ddbvault.iac.render import render_files, render_stream
from ddbvault.iac.runners import FINAL_EXIT_CODES
from tests.support.iac_inputs import IMAGE, OIDC, PROD, inputs
from tests.support.kubernetes_schema import errors

RUNNER_TABLE_ACTIONS = ["dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource",
                        "dynamodb:Scan"]


def role_policy(inp) -> dict:
    return policy_documents(inp, "production")["production-backup-role-policy"]


# ------------------------------------------------------------------ the jobs' role

@pytest.mark.parametrize("name", ["batch", "kubernetes"])
def test_runner_role_reads_the_named_tables_and_writes_like_the_scheduled_backups(name):
    inp = inputs(name)
    statements = role_policy(inp)["Statement"]
    assert statements[0] == {"Sid": "ReadBackedUpTables", "Effect": "Allow", "Action": RUNNER_TABLE_ACTIONS,
                             "Resource": [t.arn for t in inp.tables]}
    assert statements[1:] == object_write_statements(inp, literal_arns(inp))
    text = str(statements)
    for absent in ("Delete", "ListTables", "DescribeContinuousBackups", "PutItem", "'*'"):
        assert absent not in text


def test_runner_role_with_a_writer_role_only_assumes_it():
    inp = inputs("kubernetes-writer-kms")
    statements = role_policy(inp)["Statement"]
    assert [s["Sid"] for s in statements] == ["ReadBackedUpTables", "AssumeDataAccountWriter"]
    assert statements[1]["Resource"] == f"arn:aws:iam::{inp.data_account}:role/ddbvault-writer"


def test_irsa_trust_names_the_service_account_and_audience():
    inp = inputs("kubernetes-writer-kms")
    (statement,) = irsa_trust_policy(inp)["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{PROD}:oidc-provider/{OIDC}"}
    assert statement["Condition"] == {"StringEquals": {f"{OIDC}:sub": "system:serviceaccount:backups:ddbvault-backup",
                                                       f"{OIDC}:aud": "sts.amazonaws.com"}}
    assert "Resource" not in statement
    assert policy_documents(inp)["production-backup-role-trust-policy"] == irsa_trust_policy(inp)


# ------------------------------------------------------------------ inputs

@pytest.mark.parametrize("extra, names", [
    ({"runner": "lambda"}, "--runner"),
    ({"parallelism": 4}, "--parallelism applies to --runner"),
    ({"image": IMAGE}, "--image applies to --runner"),
    ({"runner": "batch", "parallelism": 1}, "--parallelism"),
    ({"runner": "kubernetes", "parallelism": 0, "image": IMAGE, "oidc_provider": OIDC}, "--parallelism"),
    ({"runner": "batch", "parallelism": 10_001}, "--parallelism"),
    ({"runner": "batch", "parallelism": True}, "--parallelism"),
    ({"runner": "batch", "image": IMAGE}, "--image applies to --runner kubernetes"),
    ({"runner": "batch", "namespace": "x"}, "--namespace applies to --runner kubernetes"),
    ({"runner": "kubernetes", "oidc_provider": OIDC}, "needs --image"),
    ({"runner": "kubernetes", "image": IMAGE}, "needs --oidc-provider"),
    ({"runner": "kubernetes", "image": "a b", "oidc_provider": OIDC}, "--image"),
    ({"runner": "kubernetes", "image": IMAGE, "oidc_provider": "oidc/*"}, "--oidc-provider"),
    ({"runner": "kubernetes", "image": IMAGE, "oidc_provider": OIDC, "namespace": "Backups"}, "--namespace"),
    ({"runner": "batch", "engine": "export"}, "--engine export"),
    ({"runner": "batch", "tables": [f"arn:aws:dynamodb:eu-west-1:{PROD}:table/t1"]}, "eu-west-1"),
])
def test_runner_options_are_checked(extra, names):
    with pytest.raises(UsageError) as info:
        inputs("direct", **extra)
    assert names in str(info.value) and info.value.hint


def test_oidc_issuer_url_loses_its_scheme_and_defaults_apply():
    inp = inputs("direct", runner="kubernetes", image=IMAGE, oidc_provider="https://" + OIDC)
    assert (inp.oidc_provider, inp.namespace, inp.parallelism) == (OIDC, "ddbvault", 4)


# ------------------------------------------------------------------ AWS Batch

def command(template: dict, step: str) -> list:
    return template["Resources"][f"{step.capitalize()}JobDefinition"]["Properties"]["ContainerProperties"]["Command"]


def test_batch_stack_holds_the_queue_the_three_job_definitions_and_the_roles():
    template = batch_template(inputs("batch"))
    types = {name: r["Type"] for name, r in template["Resources"].items()}
    assert types == {"BackupRole": "AWS::IAM::Role", "TaskExecutionRole": "AWS::IAM::Role",
                     "BackupLogGroup": "AWS::Logs::LogGroup", "ComputeEnvironment": "AWS::Batch::ComputeEnvironment",
                     "JobQueue": "AWS::Batch::JobQueue", "PlanJobDefinition": "AWS::Batch::JobDefinition",
                     "WorkJobDefinition": "AWS::Batch::JobDefinition", "CommitJobDefinition": "AWS::Batch::JobDefinition"}
    compute = template["Resources"]["ComputeEnvironment"]["Properties"]["ComputeResources"]
    assert compute == {"Type": "FARGATE", "MaxvCpus": {"Ref": "MaxvCpus"}, "Subnets": {"Ref": "Subnets"},
                       "SecurityGroupIds": {"Ref": "SecurityGroups"}}
    assert template["Parameters"]["Parallelism"]["Default"] == 8
    role = template["Resources"]["BackupRole"]["Properties"]
    assert role["RoleName"] == "ddbvault-backup"
    assert role["Policies"][0]["PolicyDocument"] == role_policy(inputs("batch"))
    execution = template["Resources"]["TaskExecutionRole"]["Properties"]
    assert execution["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    assert "Policies" not in execution


def test_batch_job_definitions_run_plan_work_commit_with_retries():
    template = batch_template(inputs("batch"))
    assert command(template, "plan")[:9] == ["backup", "plan", "Ref::table", "--to", "s3://acme-batch/prod",
                                             "--backup-id", "Ref::backup_id", "--parallelism", "Ref::parallelism"]
    assert command(template, "work")[:4] == ["backup", "work", "--backup", "Ref::backup"]
    assert "--index" not in command(template, "work") and "--segment" not in command(template, "work")
    assert command(template, "commit")[:4] == ["backup", "commit", "--backup", "Ref::backup"]
    for step in ("plan", "work", "commit"):
        properties = template["Resources"][f"{step.capitalize()}JobDefinition"]["Properties"]
        assert properties["PlatformCapabilities"] == ["FARGATE"]
        container = properties["ContainerProperties"]
        assert container["JobRoleArn"] == {"Fn::GetAtt": ["BackupRole", "Arn"]}
        assert container["ReadonlyRootFilesystem"] is True
        retry = properties["RetryStrategy"]
        assert retry["Attempts"] == {"Ref": "Attempts"} and len(retry["EvaluateOnExit"]) <= 5
        assert [r["OnExitCode"] for r in retry["EvaluateOnExit"][:-1]] == [str(c) for c in FINAL_EXIT_CODES]
        assert retry["EvaluateOnExit"][-1] == {"Action": "RETRY", "OnReason": "*"}
    assert template["Resources"]["PlanJobDefinition"]["Properties"]["Parameters"] == {"parallelism": {"Ref": "Parallelism"}}


def test_batch_submit_sequence_chains_plan_array_commit():
    lines = batch_template(inputs("batch"))["Outputs"]["SubmitCommands"]["Value"]["Fn::Sub"].splitlines()
    assert lines[0].startswith("TABLE=") and "orders, users.v2" in lines[0]
    plan, work, commit = lines[2:]
    assert plan.startswith("PLAN=$(aws batch submit-job") and "${PlanJobDefinition}" in plan
    assert "--parameters table=$TABLE,backup_id=$ID" in plan
    assert "--array-properties size=${Parallelism} --depends-on jobId=$PLAN" in work
    assert work.startswith("WORK=$(") and "--parameters backup=s3://acme-batch/prod/$TABLE/$ID" in work
    assert "--depends-on jobId=$WORK" in commit and "${CommitJobDefinition}" in commit


def test_batch_with_writer_role_and_created_key():
    template = batch_template(inputs("batch-writer-created-key"))
    assert "KmsKeyArn" in template["Parameters"]
    plan = command(template, "plan")
    assert plan[plan.index("--kms-key-id") + 1] == {"Ref": "KmsKeyArn"}
    work = command(template, "work")
    assert work[work.index("--vault-role") + 1] == f"arn:aws:iam::{inputs('batch').data_account}:role/ddbvault-writer"
    assert work[work.index("--external-id") + 1] == "acme-prod"


def test_plan_carries_the_keep_policy_and_workers_do_not():
    template = batch_template(inputs("batch", keep="daily=7,weekly=5"))
    plan = command(template, "plan")
    assert plan[plan.index("--keep") + 1] == "daily=7,weekly=5"
    assert "--keep" not in command(template, "work") and "--keep" not in command(template, "commit")


# ------------------------------------------------------------------ Kubernetes

@pytest.fixture(params=["kubernetes", "kubernetes-writer-kms"])
def k8s(request):
    inp = inputs(request.param)
    return inp, kubernetes_documents(inp)


def test_every_kubernetes_object_is_valid(k8s):
    inp, docs = k8s
    assert len(docs) == 1 + 3 * len(inp.tables)
    for label, doc in docs.items():
        assert errors(doc) == [], label
        assert yaml.safe_load(to_yaml(doc)) == doc  # what kubectl reads is what was generated


def test_work_job_is_indexed_with_per_index_retries(k8s):
    inp, docs = k8s
    work = docs["kubernetes-work-orders"]
    spec = work["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", inp.parallelism,
                                                                                 inp.parallelism)
    assert spec["backoffLimitPerIndex"] == 3 and spec["maxFailedIndexes"] == 0
    fail, ignore = spec["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob" and fail["onExitCodes"]["values"] == list(FINAL_EXIT_CODES)
    assert ignore["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    (container,) = spec["template"]["spec"]["containers"]
    assert container["command"] == ["ddbvault"] and container["image"] == IMAGE
    assert container["args"][:4] == ["backup", "work", "--backup", f"{inp.destination}/orders/$(BACKUP_ID)"]
    assert container["env"] == [{"name": "BACKUP_ID", "value": ""}]
    assert spec["template"]["spec"]["serviceAccountName"] == "ddbvault-backup"
    assert work["metadata"]["namespace"] == inp.namespace


def test_plan_and_commit_jobs_run_one_pod(k8s):
    inp, docs = k8s
    plan = docs["kubernetes-plan-users.v2"]["spec"]
    assert "completionMode" not in plan and plan["completions"] == 1 and plan["backoffLimit"] == 3
    args = plan["template"]["spec"]["containers"][0]["args"]
    assert args[:9] == ["backup", "plan", "users.v2", "--to", inp.destination, "--backup-id", "$(BACKUP_ID)",
                        "--parallelism", str(inp.parallelism)]
    commit = docs["kubernetes-commit-users.v2"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert commit[:4] == ["backup", "commit", "--backup", f"{inp.destination}/users.v2/$(BACKUP_ID)"]


def test_service_account_carries_the_role_arn(k8s):
    inp, docs = k8s
    account = docs["kubernetes-service-account"]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": f"arn:aws:iam::{PROD}:role/ddbvault-backup"}
    assert account["metadata"]["namespace"] == inp.namespace


def test_job_names_fit_and_never_collide():
    def table(name):
        return Table(name=name, region="us-east-1", arn=f"arn:aws:dynamodb:us-east-1:{PROD}:table/{name}")
    names = ["orders", "a.b", "a-b", "A-b", "x" * 255, "x" * 254 + "y", "under_score"]
    prefixes = [job_prefix("commit", table(n)) for n in names]
    assert prefixes[0] == "ddbvault-commit-orders-"
    assert len(set(prefixes)) == len(names)
    for prefix in prefixes:
        assert len(prefix) <= 58 and prefix.endswith("-")
        assert errors({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": prefix + "abcde"}}) == []


@pytest.mark.parametrize("breaks, expected", [
    (lambda job: job["spec"].update(completionsMode="Indexed"), "completionsMode"),   # a field that does not exist
    (lambda job: job["spec"].pop("completions"), "spec.completions: required"),
    (lambda job: job["spec"].update(completionMode="Indexd"), "spec.completionMode"),
    (lambda job: job["spec"].update(completions="4"), "completions"),                 # wrong type
    (lambda job: job["spec"]["template"]["spec"].update(restartPolicy="Always"), "restartPolicy"),
    (lambda job: job["spec"]["template"]["spec"].update(restartPolicy="OnFailure"), "must be Never"),
    (lambda job: job["spec"].update(maxFailedIndexes=9), "maxFailedIndexes"),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][0].update(action="Retry"), "action"),
    (lambda job: job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"].update(values=[0, 2]), "0 is not allowed"),
    (lambda job: job["spec"]["template"]["spec"]["containers"][0].pop("name"), "name"),
    (lambda job: job.update(apiVersion="batch/v2"), "batch/v2"),
    (lambda job: job["metadata"].pop("generateName"), "generateName"),
])
def test_broken_job_is_refused(breaks, expected):
    job = copy.deepcopy(kubernetes_documents(inputs("kubernetes"))["kubernetes-work-orders"])
    breaks(job)
    found = errors(job)
    assert found and expected in " | ".join(found), found


def test_broken_service_account_is_refused():
    account = copy.deepcopy(kubernetes_documents(inputs("kubernetes"))["kubernetes-service-account"])
    account["metadata"]["annotation"] = account["metadata"].pop("annotations")
    assert any("annotation" in e for e in errors(account))


# ------------------------------------------------------------------ rendering and the CLI

def test_templates_swap_the_production_stack():
    assert set(templates(inputs("batch"))) == {"data-account-stack", "production-batch-stack"}
    assert set(templates(inputs("kubernetes"), "production")) == {"production-kubernetes-role-stack"}
    role = templates(inputs("kubernetes"), "production")["production-kubernetes-role-stack"]
    assert list(role["Resources"]) == ["BackupRole"] and "Parameters" not in role
    created = templates(inputs("kubernetes", create_kms_key=True, kms_key_arn=None), "production")
    assert "KmsKeyArn" in created["production-kubernetes-role-stack"]["Parameters"]


def test_kubernetes_format_files_and_stream():
    inp = inputs("kubernetes")
    files = render_files(inp, "kubernetes", "all")
    assert list(files)[:4] == ["kubernetes-service-account.yaml", "kubernetes-plan-orders.yaml",
                               "kubernetes-work-orders.yaml", "kubernetes-commit-orders.yaml"]
    assert files["kubernetes-work-orders.yaml"].startswith("# kubernetes-work-orders: step 2 of a backup of orders")
    stream = list(yaml.safe_load_all(render_stream(inp, "kubernetes", "production")))
    assert stream == list(kubernetes_documents(inp).values())


@pytest.mark.parametrize("name, fmt, part, expected", [
    ("direct", "kubernetes", "all", "--runner kubernetes"),
    ("batch", "kubernetes", "all", "--runner kubernetes"),
    ("kubernetes", "kubernetes", "data", "--part data"),
    ("batch", "terraform", "all", "no Terraform"),
])
def test_format_mismatches_are_usage_errors(name, fmt, part, expected):
    with pytest.raises(UsageError) as info:
        render_stream(inputs(name), fmt, part)
    assert expected in str(info.value)


def test_cli_prints_the_kubernetes_jobs_and_refuses_bad_options():
    base = ["iam", "--table", "orders", "--prod-account", PROD, "--data-account", "444455556666",
            "--bucket", "acme", "--prefix", "prod"]
    ok = CliRunner().invoke(cli, [*base, "--runner", "kubernetes", "--image", IMAGE, "--oidc-provider", OIDC,
                                  "--parallelism", "6", "--format", "kubernetes"])
    assert ok.exit_code == 0, ok.output
    docs = list(yaml.safe_load_all(ok.output))
    assert docs[2]["spec"]["completions"] == 6 and all(errors(d) == [] for d in docs)
    bad = CliRunner().invoke(cli, [*base, "--runner", "kubernetes", "--image", IMAGE, "--format", "kubernetes"])
    assert bad.exit_code == ExitCode.USAGE and "--oidc-provider" in bad.output and "Traceback" not in bad.output

