"""A kubeconform-like check of Kubernetes objects: the official JSON schema, then the API
server's own rules that a schema cannot say.

1. JSON Schema: the strict Kubernetes v1.33 schemas vendored in kubernetes_schemas/ (README
   there: source, version, licence), validated with `jsonschema` (Draft 2020-12). Strict
   refuses unknown fields, wrong types and wrong apiVersion/kind, as `kubeconform -strict` does.
2. API-server rules, as the Kubernetes API validates a Job (pkg/apis/batch/validation in
   kubernetes/kubernetes; https://kubernetes.io/docs/concepts/workloads/controllers/job/): the
   OpenAPI schema types completionMode as a plain string and makes completions optional, so these
   are checked here: completionMode is NonIndexed or Indexed; an Indexed Job has completions;
   backoffLimitPerIndex and maxFailedIndexes need Indexed, and maxFailedIndexes <= completions;
   a Job's pods restart Never or OnFailure, and Never with a podFailurePolicy or
   backoffLimitPerIndex; a podFailurePolicy action is FailJob, FailIndex (with
   backoffLimitPerIndex), Ignore or Count, and an `In` exit-code rule does not list 0; an object
   has a name or a generateName.

`errors(doc)` returns every problem as a line; [] means the object is valid.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parent / "kubernetes_schemas"
BY_KIND = {("batch/v1", "Job"): "job-batch-v1.json", ("v1", "ServiceAccount"): "serviceaccount-v1.json"}
JOB_FAILURE_ACTIONS = {"FailJob", "FailIndex", "Ignore", "Count"}


@cache
def _validator(name: str) -> Draft202012Validator:
    definitions = json.loads((SCHEMAS / "_definitions.json").read_text())
    # The schemas refer to "/api/_definitions.json", resolved against their $id's host.
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    return Draft202012Validator(json.loads((SCHEMAS / name).read_text()), registry=registry)


def errors(doc: dict) -> list[str]:
    """Every reason the Kubernetes API would refuse `doc` (of the kinds in BY_KIND)."""
    name = BY_KIND.get((doc.get("apiVersion"), doc.get("kind")))
    if name is None:
        return [f"unknown apiVersion/kind {doc.get('apiVersion')}/{doc.get('kind')}"]
    found = [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
             for e in _validator(name).iter_errors(doc)]
    metadata = doc.get("metadata") or {}
    if not (metadata.get("name") or metadata.get("generateName")):
        found.append("metadata: name or generateName is required")
    if doc["kind"] == "Job" and not found:
        found += job_rules(doc.get("spec") or {})
    return found


def job_rules(spec: dict) -> list[str]:
    found = []
    mode = spec.get("completionMode", "NonIndexed")
    if mode not in ("NonIndexed", "Indexed"):
        found.append(f"spec.completionMode: {mode!r} is not NonIndexed or Indexed")
    if mode == "Indexed" and spec.get("completions") is None:
        found.append("spec.completions: required when completionMode is Indexed")
    per_index = spec.get("backoffLimitPerIndex") is not None
    for field in ("backoffLimitPerIndex", "maxFailedIndexes"):
        if spec.get(field) is not None and mode != "Indexed":
            found.append(f"spec.{field}: only for completionMode Indexed")
    if spec.get("maxFailedIndexes") is not None and not per_index:
        found.append("spec.maxFailedIndexes: only with backoffLimitPerIndex")
    max_failed = spec.get("maxFailedIndexes")
    if max_failed is not None and max_failed > (spec.get("completions") or 0):
        found.append("spec.maxFailedIndexes: more than completions")
    restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if restart not in ("Never", "OnFailure"):
        found.append(f"spec.template.spec.restartPolicy: {restart!r}; a Job's pods restart Never or OnFailure")
    policy = spec.get("podFailurePolicy")
    if (policy is not None or per_index) and restart != "Never":
        found.append("spec.template.spec.restartPolicy: must be Never with podFailurePolicy or backoffLimitPerIndex")
    for number, rule in enumerate((policy or {}).get("rules", [])):
        found += _failure_rule(number, rule, per_index)
    return found


def _failure_rule(number: int, rule: dict, per_index: bool) -> list[str]:
    where = f"spec.podFailurePolicy.rules.{number}"
    found = []
    action = rule.get("action")
    if action not in JOB_FAILURE_ACTIONS or (action == "FailIndex" and not per_index):
        found.append(f"{where}.action: {action!r} is not allowed here")
    codes = rule.get("onExitCodes")
    if codes is not None:
        if codes.get("operator") not in ("In", "NotIn"):
            found.append(f"{where}.onExitCodes.operator: {codes.get('operator')!r} is not In or NotIn")
        if codes.get("operator") == "In" and 0 in codes.get("values", []):
            found.append(f"{where}.onExitCodes.values: 0 is not allowed with operator In")
    if (codes is None) == (rule.get("onPodConditions") is None):
        found.append(f"{where}: exactly one of onExitCodes and onPodConditions")
    return found
