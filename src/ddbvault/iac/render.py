"""Which documents `ddbvault iam` prints, their labels, and how they are rendered (JSON, YAML,
Terraform's HCL through terraform.py, Kubernetes objects from kubernetes.py as YAML).

Labels name the account each document belongs to, so a printed set reads as a checklist:
`production-...` in the production account, `data-...` in the data account, `restore-...` in
the account that reads backups or receives the restored table.

The YAML writer covers exactly what the generators produce (dicts, lists, strings, numbers,
booleans, None). Every string is written double-quoted in JSON syntax, which is valid YAML, so
nothing can be misread as a number, a boolean or a date. No PyYAML needed at run time.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import dataclasses
import json
import re

from ..errors import UsageError
from .batch import batch_template
from .cloudformation import data_template, lifecycle_rules, production_template
from .kubernetes import irsa_trust_policy, kubernetes_documents, role_template
from .retention import s3_lifecycle_configuration
from .inputs import IacInputs
from .continuous import follower_role_policy, follower_trust_policy
from .continuous import production_documents as continuous_documents
from .limits import check_documents, check_templates
from .policies import (backup_role_policy, document, literal_arns, restore_import_policy,
                       restore_reader_policy, restore_target_policy, runner_role_policy,
                       writer_role_policy, writer_trust_policy)
from .resource_policies import bucket_policy, key_policy_grants
from .terraform import modules

PARTS = ("production", "data", "restore", "all")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Plain words YAML 1.1 reads as null or booleans (IAM's "Null" operator is one of them).
_RESERVED = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})


def policy_documents(inputs: IacInputs, part: str = "all") -> dict[str, dict]:
    """Label -> IAM policy document, for --format json. Raises UsageError when a document
    needs a key ARN that only the data template will know (--create-kms-key)."""
    if inputs.create_kms_key:
        raise UsageError("--create-kms-key makes the data template create the key, so its ARN is "
                         "not known to the JSON policies",
                         hint="use --format cloudformation, or create the key first and pass --kms-key-arn")
    arns = literal_arns(inputs)
    docs: dict[str, dict] = {}
    if part in ("production", "all"):
        docs["production-backup-role-policy"] = (runner_role_policy(inputs, arns) if inputs.runner
                                                 else backup_role_policy(inputs, arns))
        if inputs.runner == "kubernetes":
            docs["production-backup-role-trust-policy"] = irsa_trust_policy(inputs)
        if inputs.continuous:
            docs.update(continuous_documents(inputs, arns))
    if part in ("data", "all"):
        docs["data-bucket-policy"] = bucket_policy(inputs, arns)
        if inputs.writer_role:
            docs["data-writer-role-policy"] = writer_role_policy(inputs, arns)
            docs["data-writer-role-trust-policy"] = writer_trust_policy(inputs, arns)
        if inputs.continuous:
            docs["data-follower-role-policy"] = follower_role_policy(inputs, arns)
            docs["data-follower-role-trust-policy"] = follower_trust_policy(inputs, arns)
        grants = key_policy_grants(inputs, arns) if inputs.kms_key_arn else []
        if grants:
            docs["data-key-policy-grants"] = document(grants)
    if part in ("restore", "all"):
        docs["restore-reader-policy"] = restore_reader_policy(inputs, arns)
        docs["restore-target-policy"] = restore_target_policy(inputs, arns)
        docs["restore-import-policy"] = restore_import_policy(inputs, arns)
    return docs


def templates(inputs: IacInputs, part: str = "all") -> dict[str, dict]:
    """Label -> CloudFormation template, for --format cloudformation."""
    if part == "restore":
        raise UsageError("the restore policies have no CloudFormation template",
                         hint="use --format json --part restore, or --format terraform --part restore")
    result = {}
    if part in ("data", "all"):
        result["data-account-stack"] = data_template(inputs)
    if part in ("production", "all"):
        result.update(production_templates(inputs))
    return result


def production_templates(inputs: IacInputs) -> dict[str, dict]:
    """The production account's stack: scheduled ECS tasks, or the --runner's."""
    if inputs.runner == "batch":
        return {"production-batch-stack": batch_template(inputs)}
    if inputs.runner == "kubernetes":
        return {"production-kubernetes-role-stack": role_template(inputs)}
    return {"production-account-stack": production_template(inputs)}


def manifests(inputs: IacInputs, part: str) -> dict[str, dict]:
    """Label -> Kubernetes object, for --format kubernetes (the jobs run in production)."""
    if inputs.runner != "kubernetes":
        raise UsageError("--format kubernetes prints the jobs of --runner kubernetes",
                         hint="add --runner kubernetes --image IMAGE --oidc-provider ISSUER")
    if part not in ("production", "all"):
        raise UsageError(f"--format kubernetes has no documents for --part {part}: the jobs run in production",
                         hint="use --part production (or all), or --format json/cloudformation for that part")
    return kubernetes_documents(inputs)


def to_json(value) -> str:
    return json.dumps(value, indent=2) + "\n"


def to_yaml(value) -> str:
    """`value` as block-style YAML (see the module docstring for the subset)."""
    return "\n".join(_yaml_lines(value, 0)) + "\n"


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _is_scalar(value) -> bool:
    return not isinstance(value, (dict, list)) or not value


def _key(key: str) -> str:
    plain = _PLAIN_KEY.match(key) and key.lower() not in _RESERVED
    return key if plain else json.dumps(key)


def _yaml_lines(value, indent: int) -> list[str]:
    pad = " " * indent
    if _is_scalar(value):
        return [pad + _scalar(value)]
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_scalar(item):
                lines.append(f"{pad}{_key(key)}: {_scalar(item)}")
            else:
                lines.append(f"{pad}{_key(key)}:")
                lines += _yaml_lines(item, indent + 2)
        return lines
    for item in value:
        nested = _yaml_lines(item, indent + 2)
        lines.append(f"{pad}- {nested[0].lstrip()}")
        lines += nested[1:]
    return lines


def yaml_stream(labelled: dict[str, dict], notes: dict[str, str]) -> str:
    """Several YAML documents, each introduced by `# label: note` and separated by `---`."""
    parts = [f"# {label}: {notes.get(label, '')}".rstrip(": ") + "\n" + to_yaml(doc)
             for label, doc in labelled.items()]
    return "---\n".join(parts)


FORMATS = ("json", "cloudformation", "cloudformation-json", "terraform", "kubernetes")


def _notes(inputs: IacInputs) -> dict[str, str]:
    production = f"deploy in the production account {inputs.prod_account} (--capabilities CAPABILITY_NAMED_IAM)"
    steps = "kubectl create it after the previous step completed, with BACKUP_ID set (docs/scale-batch-kubernetes.md)"
    notes = {"data-account-stack": f"deploy in the data account {inputs.data_account} first "
                                   "(--capabilities CAPABILITY_NAMED_IAM)",
             "production-account-stack": production, "production-batch-stack": production,
             "production-kubernetes-role-stack": production,
             "kubernetes-service-account": f"kubectl apply once, in namespace {inputs.namespace}"}
    for table in inputs.tables if inputs.runner == "kubernetes" else ():
        for number, step in enumerate(("plan", "work", "commit"), start=1):
            notes[f"kubernetes-{step}-{table.name}"] = f"step {number} of a backup of {table.name}: {steps}"
    return notes


def json_documents(inputs: IacInputs, part: str) -> dict[str, dict]:
    """--format json: the policy documents, and under --keep or --keep-changes the bucket's
    lifecycle configuration (PutBucketLifecycleConfiguration's shape: it replaces every rule)."""
    docs = policy_documents(inputs, part)
    if (inputs.keep is not None or inputs.keep_changes is not None) and part in ("data", "all"):
        docs["data-bucket-lifecycle-configuration"] = s3_lifecycle_configuration(lifecycle_rules(inputs))
    return docs


def check_quotas(inputs: IacInputs, fmt: str, part: str) -> None:
    """UsageError when a generated policy or stack would exceed AWS's quotas (limits.py). The
    policies are checked whatever the format: the templates and modules embed the same ones."""
    if inputs.create_kms_key:  # sized with a key ARN of the length AWS's have, in its place
        inputs = dataclasses.replace(inputs, create_kms_key=False, kms_key_arn=(
            f"arn:{inputs.partition}:kms:{inputs.region}:{inputs.data_account}:key/{'0' * 36}"))
    if fmt == "terraform" and inputs.runner:
        raise UsageError("--runner has CloudFormation (and Kubernetes) output only, no Terraform modules",
                         hint="use --format cloudformation (and --format kubernetes), or drop --runner")
    check_documents(policy_documents(inputs, part))
    if fmt in ("cloudformation", "cloudformation-json") and part != "restore":
        check_templates(templates(inputs, part))


def render_stream(inputs: IacInputs, fmt: str, part: str) -> str:
    """Everything `ddbvault iam` prints on stdout: one labelled JSON object, or YAML documents."""
    check_quotas(inputs, fmt, part)
    if fmt == "json":
        return to_json(json_documents(inputs, part))
    if fmt == "cloudformation":
        return yaml_stream(templates(inputs, part), _notes(inputs))
    if fmt == "terraform":  # each module starts with a comment naming its folder and account
        return "\n".join(modules(inputs, part).values())
    if fmt == "kubernetes":
        return yaml_stream(manifests(inputs, part), _notes(inputs))
    return to_json(templates(inputs, part))


def render_files(inputs: IacInputs, fmt: str, part: str) -> dict[str, str]:
    """File name -> content, one file per document (`ddbvault iam --out-dir`); for Terraform,
    one folder per account module (`data-account/main.tf`, ...)."""
    check_quotas(inputs, fmt, part)
    if fmt == "terraform":
        return {f"{name}/main.tf": text for name, text in modules(inputs, part).items()}
    if fmt == "json":
        return {f"{label}.json": to_json(doc) for label, doc in json_documents(inputs, part).items()}
    notes = _notes(inputs)
    if fmt == "kubernetes":
        return {f"{label}.yaml": f"# {label}: {notes[label]}\n" + to_yaml(doc)
                for label, doc in manifests(inputs, part).items()}
    if fmt == "cloudformation":
        return {f"{label}.yaml": f"# {label}: {notes[label]}\n" + to_yaml(template)
                for label, template in templates(inputs, part).items()}
    return {f"{label}.json": to_json(template) for label, template in templates(inputs, part).items()}
