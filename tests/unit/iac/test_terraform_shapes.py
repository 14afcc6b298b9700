"""CloudFormation parameters and lifecycle rules as Terraform blocks (iac/terraform_shapes.py).

Every filter shape S3 accepts (whole bucket, prefix, one tag, several tags, prefix and tags), the
parameters' checks as validation blocks, and a loud refusal of anything not translated.
"""

from __future__ import annotations

import pytest

from ddbvault.iac.cloudformation import DATA_PARAMETERS, PRODUCTION_PARAMETERS
from ddbvault.iac.hcl import Block, Expr, render
from ddbvault.iac.terraform_shapes import lifecycle_rule, parameter_refs, variable, variable_name, variables
from tests.support.terraform import parse_module

PARAMETERS = {"KeepDays": {"Type": "Number", "Default": 7, "MinValue": 1}}


def rule_of(cfn_rule: dict) -> dict:
    """The rule as Terraform reads it back."""
    text = render([Block("resource", ("aws_s3_bucket_lifecycle_configuration", "x"), {"bucket": "b"},
                         [lifecycle_rule(cfn_rule, PARAMETERS)])])
    return parse_module(text)["resource"][0]["aws_s3_bucket_lifecycle_configuration"]["x"]["rule"][0]


def test_rule_without_prefix_or_tags_covers_the_whole_bucket():
    rule = rule_of({"Id": "Abort", "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": {"Ref": "KeepDays"}}})
    assert rule == {"id": "Abort", "status": "Enabled", "filter": [{}],
                    "abort_incomplete_multipart_upload": [{"days_after_initiation": "${var.keep_days}"}]}


def test_prefix_only():
    rule = rule_of({"Id": "Probes", "Status": "Enabled", "Prefix": "prod/_doctor/", "ExpirationInDays": 1,
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    assert rule == {"id": "Probes", "status": "Enabled", "filter": [{"prefix": "prod/_doctor/"}],
                    "expiration": [{"days": 1}], "noncurrent_version_expiration": [{"noncurrent_days": 1}]}


def test_one_tag_only():
    rule = rule_of({"Id": "Daily", "Status": "Enabled", "ExpirationInDays": 8,
                    "TagFilters": [{"Key": "ddbvault-tier", "Value": "daily"}]})
    assert rule["filter"] == [{"tag": [{"key": "ddbvault-tier", "value": "daily"}]}]
    assert rule["expiration"] == [{"days": 8}]


def test_several_tags_or_prefix_and_tags_go_in_and():
    tags = [{"Key": "ddbvault-tier", "Value": "weekly"}, {"Key": "team", "Value": "a b"}]
    rule = rule_of({"Id": "Weekly", "Status": "Enabled", "ExpirationInDays": 36, "TagFilters": tags})
    assert rule["filter"] == [{"and": [{"tags": {"ddbvault-tier": "weekly", "team": "a b"}}]}]
    rule = rule_of({"Id": "Weekly", "Status": "Disabled", "Prefix": "prod/", "ExpirationInDays": 36,
                    "TagFilters": tags[:1]})
    assert rule["filter"] == [{"and": [{"prefix": "prod/", "tags": {"ddbvault-tier": "weekly"}}]}]
    assert rule["status"] == "Disabled"


def test_refuses_rule_keys_it_does_not_translate():
    for key, value in (("Transitions", []), ("ObjectLock", {"Days": 7}), ("ExpirationDate", "2030-01-01")):
        with pytest.raises(ValueError, match=rf"lifecycle rule 'R': no Terraform equivalent written for \['{key}'\]"):
            lifecycle_rule({"Id": "R", "Status": "Enabled", key: value}, PARAMETERS)
    with pytest.raises(ValueError, match=r"NoncurrentVersionExpiration \['Days'\]"):
        lifecycle_rule({"Id": "R", "Status": "Enabled", "NoncurrentVersionExpiration": {"Days": 1}}, PARAMETERS)
    with pytest.raises(ValueError, match="exactly Key and Value"):
        lifecycle_rule({"Id": "R", "Status": "Enabled", "TagFilters": [{"Key": "k"}]}, PARAMETERS)


def test_refuses_intrinsics_other_than_a_parameter_ref():
    for value in ({"Ref": "Unknown"}, {"Fn::If": ["C", 1, 2]}, {"Fn::GetAtt": ["X", "Arn"]}):
        with pytest.raises(ValueError, match="no Terraform equivalent written for"):
            parameter_refs({"ExpirationInDays": value}, PARAMETERS)
    assert parameter_refs([{"a": {"Ref": "KeepDays"}}], PARAMETERS) == [{"a": Expr("var.keep_days")}]


def test_variable_names():
    assert [variable_name(p) for p in ("ObjectLockMode", "KmsKeyArn", "TaskCpu", "SSEKmsArn")] == [
        "object_lock_mode", "kms_key_arn", "task_cpu", "sse_kms_arn"]


def test_parameters_as_variables_keep_types_defaults_and_checks():
    parsed = parse_module(render(variables({**DATA_PARAMETERS, **PRODUCTION_PARAMETERS})))
    found = {name: body for entry in parsed["variable"] for name, body in entry.items()}
    assert found["object_lock_mode"]["type"] == "string"
    assert found["object_lock_retention_days"]["type"] == "number"
    assert found["subnets"]["type"] == "${list(string)}"
    assert found["object_lock_retention_days"]["default"] == 35 and found["task_cpu"]["default"] == "1024"
    assert "default" not in found["container_image"] and "validation" not in found["container_image"]
    checks = {name: [v["condition"] for v in body.get("validation", [])] for name, body in found.items()}
    assert checks["object_lock_mode"] == ['${contains(["NONE", "GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)}']
    assert checks["object_lock_retention_days"] == [
        "${var.object_lock_retention_days >= 1 && var.object_lock_retention_days <= 36500}"]
    # An expression is read back as written: the pattern's backslash is still escaped in it.
    assert checks["cluster_arn"] == [r'${can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\\d{12}:cluster/.+$", var.cluster_arn))}']
    assert checks["security_groups"] == [
        '${length(var.security_groups) > 0 && alltrue([for id in var.security_groups : startswith(id, "sg-")])}']


def test_refuses_parameter_shapes_it_does_not_translate():
    with pytest.raises(ValueError, match=r"parameter Secret: no Terraform equivalent written for \['NoEcho'\]"):
        variable("Secret", {"Type": "String", "NoEcho": True})
    with pytest.raises(ValueError, match="parameter Vpc: no Terraform type written for 'AWS::EC2::VPC::Id'"):
        variable("Vpc", {"Type": "AWS::EC2::VPC::Id"})
