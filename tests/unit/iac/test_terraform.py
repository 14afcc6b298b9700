"""`ddbvault iam --format terraform` holds what the CloudFormation templates hold.

Each module is parsed back with python-hcl2 (tests/support/terraform.py) and compared with the
template of the same inputs: the same resources (by a table from CloudFormation type to Terraform
resources, so a resource added to a template and not to the module fails here), the same roles,
the same policy documents as JSON, the same lifecycle rules, the same parameters as variables.
Intrinsic functions of the templates are mapped to the Terraform references they stand for.
tests/integration/iac/test_terraform_validate.py runs `terraform validate` on the same modules.
"""

from __future__ import annotations

import re

import pytest

from ddbvault.iac import policy_documents, templates
from ddbvault.iac.render import render_files, render_stream
from ddbvault.iac.terraform import modules
from tests.support.iac_inputs import DATA, PROD, VARIANTS, inputs
from tests.support.terraform import named, parse_module, resources

# Template logical id -> the Terraform resources that make it, as "type.name" ({n}: the table index).
RESOURCES = {
    "BackupBucket": ["aws_s3_bucket.backup", "aws_s3_bucket_versioning.backup",
                     "aws_s3_bucket_public_access_block.backup", "aws_s3_bucket_ownership_controls.backup",
                     "aws_s3_bucket_server_side_encryption_configuration.backup",
                     "aws_s3_bucket_object_lock_configuration.backup", "aws_s3_bucket_lifecycle_configuration.backup"],
    "BackupBucketPolicy": ["aws_s3_bucket_policy.backup"],
    "BackupKey": ["aws_kms_key.backup"],
    "WriterRole": ["aws_iam_role.writer", "aws_iam_role_policy.writer"],
    "BackupRole": ["aws_iam_role.backup", "aws_iam_role_policy.backup"],
    "TaskExecutionRole": ["aws_iam_role.task_execution", "aws_iam_role_policy_attachment.task_execution"],
    "BackupLogGroup": ["aws_cloudwatch_log_group.backup"],
    "BackupTask{n}": ["aws_ecs_task_definition.backup_{n}"],
    "BackupSchedule{n}": ["aws_scheduler_schedule.backup_{n}"],
    "SchedulerRole": ["aws_iam_role.scheduler", "aws_iam_role_policy.scheduler"],
    "FollowerRole": ["aws_iam_role.follower", "aws_iam_role_policy.follower"],
}
# Resources whose Terraform counterpart is the role/key/bucket itself (prevent_destroy checked there).
MAIN = {"BackupBucket": "aws_s3_bucket.backup", "BackupKey": "aws_kms_key.backup",
        "WriterRole": "aws_iam_role.writer", "BackupRole": "aws_iam_role.backup",
        "TaskExecutionRole": "aws_iam_role.task_execution", "SchedulerRole": "aws_iam_role.scheduler",
        "FollowerRole": "aws_iam_role.follower"}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def variant(request):
    inp = inputs(request.param)
    return inp, {name: parse_module(text) for name, text in modules(inp).items()}, templates(inp)


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def tf_address(logical_id: str) -> str:
    for pattern, addresses in RESOURCES.items():
        match = re.fullmatch(pattern.replace("{n}", r"(?P<n>\d+)"), logical_id)
        if match:
            return MAIN.get(logical_id) or addresses[0].format(**match.groupdict())
    raise AssertionError(f"no Terraform resource mapped for {logical_id}")


def as_terraform(value, region: str):
    """A template value with its intrinsic functions replaced by the references they stand for."""
    if isinstance(value, list):
        return [as_terraform(v, region) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        return "${" + tf_address(logical_id) + ".arn}"
    if "Ref" in value:
        name = value["Ref"]
        if name == "AWS::Region":
            return region
        if name == "BackupLogGroup":
            return "${aws_cloudwatch_log_group.backup.name}"
        if name.startswith("BackupTask"):
            return "${" + tf_address(name) + ".arn}"
        return "${var." + snake(name) + "}"
    return {k: as_terraform(v, region) for k, v in value.items()}


def expected_addresses(template: dict) -> set[str]:
    addresses = set()
    for logical_id in template["Resources"]:
        for pattern, mapped in RESOURCES.items():
            match = re.fullmatch(pattern.replace("{n}", r"(?P<n>\d+)"), logical_id)
            if match:
                addresses |= {a.format(**match.groupdict()) for a in mapped}
                break
        else:
            raise AssertionError(f"template resource {logical_id} has no Terraform counterpart in this test")
    return addresses


def metadata_addresses(template: dict) -> set[str]:
    """--continuous: the stream and table policies the template carries in its Metadata (a stack
    cannot attach them to tables it does not own) are Terraform resources, one pair per table."""
    tables = template.get("Metadata", {}).get("DdbvaultStreamPolicies", {})
    return {f"aws_dynamodb_resource_policy.{kind}_{n}" for n in range(1, len(tables) + 1)
            for kind in ("stream", "table")}


def test_same_resources_as_the_templates(variant):
    _, mods, stacks = variant
    assert set(mods) == {"data-account", "production-account", "restore-account"}
    for module, stack in (("data-account", "data-account-stack"), ("production-account", "production-account-stack")):
        expected = expected_addresses(stacks[stack]) | metadata_addresses(stacks[stack])
        assert set(resources(mods[module])) == expected, module
        outputs = {snake(name) for name in stacks[stack]["Outputs"]}
        assert set(named(mods[module], "output")) == outputs


def test_retained_resources_cannot_be_destroyed(variant):
    _, mods, stacks = variant
    for module, stack in (("data-account", "data-account-stack"), ("production-account", "production-account-stack")):
        found = resources(mods[module])
        for logical_id, resource in stacks[stack]["Resources"].items():
            if logical_id in MAIN:
                kept = found[MAIN[logical_id]].get("lifecycle", [{}])[0].get("prevent_destroy", False)
                assert kept == (resource.get("DeletionPolicy") == "Retain"), logical_id


def test_parameters_become_variables_with_defaults_and_checks(variant):
    inp, mods, stacks = variant
    for module, stack in (("data-account", "data-account-stack"), ("production-account", "production-account-stack")):
        variables = named(mods[module], "variable")
        parameters = stacks[stack]["Parameters"]
        assert set(variables) == {snake(name) for name in parameters}
        for name, spec in parameters.items():
            variable = variables[snake(name)]
            assert variable.get("default") == spec.get("Default"), name
            conditions = " ".join(v["condition"] for v in variable.get("validation", []))
            for allowed in spec.get("AllowedValues", []):
                assert f'"{allowed}"' in conditions, name
            for bound in ("MinValue", "MaxValue"):
                assert (str(spec[bound]) in conditions) if bound in spec else True
            assert ("regex(" in conditions) == ("AllowedPattern" in spec), name
    assert set(named(mods["restore-account"], "variable")) == ({"kms_key_arn"} if inp.create_kms_key else set())


def test_bucket_settings_match_the_template(variant):
    inp, mods, stacks = variant
    found = resources(mods["data-account"])
    bucket = stacks["data-account-stack"]["Resources"]["BackupBucket"]["Properties"]
    assert found["aws_s3_bucket.backup"]["bucket"] == bucket["BucketName"] == inp.bucket
    assert found["aws_s3_bucket_versioning.backup"]["versioning_configuration"] == [{"status": "Enabled"}]
    block = found["aws_s3_bucket_public_access_block.backup"]
    assert {k: v for k, v in block.items() if k != "bucket"} == {
        snake(k): v for k, v in bucket["PublicAccessBlockConfiguration"].items()}
    ownership = bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
    assert found["aws_s3_bucket_ownership_controls.backup"]["rule"] == [{"object_ownership": ownership}]
    encryption = as_terraform(bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0], inp.region)
    rule = found["aws_s3_bucket_server_side_encryption_configuration.backup"]["rule"][0]
    default = rule["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == inp.sse
    assert default.get("kms_master_key_id") == encryption["ServerSideEncryptionByDefault"].get("KMSMasterKeyID")
    assert rule.get("bucket_key_enabled") == encryption.get("BucketKeyEnabled")


def test_object_lock_follows_the_mode_variable(variant):
    inp, mods, stacks = variant
    found = resources(mods["data-account"])
    bucket = stacks["data-account-stack"]["Resources"]["BackupBucket"]["Properties"]
    _, enabled, _ = bucket["ObjectLockConfiguration"]["Fn::If"]
    retention = as_terraform(enabled["Rule"]["DefaultRetention"], inp.region)
    lock = found["aws_s3_bucket_object_lock_configuration.backup"]
    assert lock["count"] == "${local.use_object_lock ? 1 : 0}"
    assert lock["rule"][0]["default_retention"] == [{"mode": retention["Mode"], "days": retention["Days"]}]
    assert found["aws_s3_bucket.backup"]["object_lock_enabled"] == "${local.use_object_lock}"
    assert mods["data-account"]["locals"] == [{"use_object_lock": '${var.object_lock_mode != "NONE"}'}]


def as_cloudformation_rule(rule: dict) -> dict:
    """A parsed Terraform lifecycle rule back in the template's shape (the converter's inverse)."""
    result = {"Id": rule["id"], "Status": rule["status"]}
    filt = rule["filter"][0]
    both = filt.get("and", [{}])[0]
    prefix = filt.get("prefix", both.get("prefix"))
    if prefix is not None:
        result["Prefix"] = prefix
    tags = [{"Key": t["key"], "Value": t["value"]} for t in filt.get("tag", [])]
    tags += [{"Key": k, "Value": v} for k, v in both.get("tags", {}).items()]
    if tags:
        result["TagFilters"] = tags
    if "expiration" in rule:
        result["ExpirationInDays"] = rule["expiration"][0]["days"]
    if "abort_incomplete_multipart_upload" in rule:
        result["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"]}
    if "noncurrent_version_expiration" in rule:
        result["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["noncurrent_version_expiration"][0]["noncurrent_days"]}
    return result


def test_lifecycle_rules_match_the_template(variant):
    inp, mods, stacks = variant
    bucket = stacks["data-account-stack"]["Resources"]["BackupBucket"]["Properties"]
    expected = as_terraform(bucket["LifecycleConfiguration"]["Rules"], inp.region)
    rules = resources(mods["data-account"])["aws_s3_bucket_lifecycle_configuration.backup"]["rule"]
    assert [as_cloudformation_rule(r) for r in rules] == expected
    assert len(rules) >= 3


def policies_of(module: dict) -> dict[str, dict]:
    """Every policy document of a module, by the attribute that holds it."""
    found = {}
    for address, body in resources(module).items():
        for attribute in ("policy", "assume_role_policy"):
            if attribute in body:
                found[f"{address}.{attribute}"] = body[attribute]
    return found


def test_policy_documents_match_the_template(variant):
    inp, mods, stacks = variant
    for module, stack in (("data-account", "data-account-stack"), ("production-account", "production-account-stack")):
        template = as_terraform(stacks[stack]["Resources"], inp.region)
        expected = {}
        for logical_id, resource in template.items():
            props = resource["Properties"]
            if "PolicyDocument" in props:
                expected["aws_s3_bucket_policy.backup.policy"] = props["PolicyDocument"]
            if "KeyPolicy" in props:
                expected["aws_kms_key.backup.policy"] = props["KeyPolicy"]
            if "AssumeRolePolicyDocument" in props:
                expected[f"{MAIN[logical_id]}.assume_role_policy"] = props["AssumeRolePolicyDocument"]
            for inline in props.get("Policies", []):
                expected[MAIN[logical_id].replace("aws_iam_role.", "aws_iam_role_policy.") + ".policy"] = \
                    inline["PolicyDocument"]
        tables = stacks[stack].get("Metadata", {}).get("DdbvaultStreamPolicies", {})
        for n, table in enumerate(tables.values(), start=1):
            props = table["TableProperties"]
            expected[f"aws_dynamodb_resource_policy.stream_{n}.policy"] = \
                props["StreamSpecification"]["ResourcePolicy"]["PolicyDocument"]
            expected[f"aws_dynamodb_resource_policy.table_{n}.policy"] = props["ResourcePolicy"]["PolicyDocument"]
        assert policies_of(mods[module]) == expected, module


def test_role_names_and_inline_policy_names_match(variant):
    inp, mods, stacks = variant
    for module, stack in (("data-account", "data-account-stack"), ("production-account", "production-account-stack")):
        found = resources(mods[module])
        for logical_id, resource in stacks[stack]["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            props = resource["Properties"]
            assert found[MAIN[logical_id]].get("name") == props.get("RoleName"), logical_id
            assert found[MAIN[logical_id]].get("description") == props.get("Description"), logical_id
            policy = MAIN[logical_id].replace("aws_iam_role.", "aws_iam_role_policy.")
            if props.get("Policies"):
                assert found[policy]["name"] == props["Policies"][0]["PolicyName"]
                assert found[policy]["role"] == "${" + MAIN[logical_id] + ".id}"
            for arn in props.get("ManagedPolicyArns", []):
                assert found["aws_iam_role_policy_attachment.task_execution"]["policy_arn"] == arn


def test_tasks_and_schedules_match_the_template(variant):
    inp, mods, stacks = variant
    found = resources(mods["production-account"])
    template = as_terraform(stacks["production-account-stack"]["Resources"], inp.region)
    for n in range(1, len(inp.tables) + 1):
        task, props = found[f"aws_ecs_task_definition.backup_{n}"], template[f"BackupTask{n}"]["Properties"]
        assert (task["family"], task["cpu"], task["memory"], task["network_mode"], task["requires_compatibilities"]) == (
            props["Family"], props["Cpu"], props["Memory"], props["NetworkMode"], props["RequiresCompatibilities"])
        assert (task["task_role_arn"], task["execution_role_arn"]) == (props["TaskRoleArn"], props["ExecutionRoleArn"])
        [container], [cfn] = task["container_definitions"], props["ContainerDefinitions"]
        assert (container["name"], container["image"], container["essential"], container["entryPoint"],
                container["command"], container["readonlyRootFilesystem"]) == (
            cfn["Name"], cfn["Image"], cfn["Essential"], cfn["EntryPoint"], cfn["Command"], cfn["ReadonlyRootFilesystem"])
        assert container["logConfiguration"] == {"logDriver": cfn["LogConfiguration"]["LogDriver"],
                                                 "options": cfn["LogConfiguration"]["Options"]}
        schedule, props = found[f"aws_scheduler_schedule.backup_{n}"], template[f"BackupSchedule{n}"]["Properties"]
        assert (schedule["description"], schedule["schedule_expression"], schedule["schedule_expression_timezone"],
                schedule["state"], schedule["flexible_time_window"]) == (
            props["Description"], props["ScheduleExpression"], props["ScheduleExpressionTimezone"], props["State"],
            [{"mode": props["FlexibleTimeWindow"]["Mode"]}])
        [target], cfn = schedule["target"], props["Target"]
        assert (target["arn"], target["role_arn"]) == (cfn["Arn"], cfn["RoleArn"])
        assert target["retry_policy"] == [{"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 3}]
        assert cfn["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
        [ecs], network = target["ecs_parameters"], cfn["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert (ecs["task_definition_arn"], ecs["launch_type"], ecs["task_count"]) == (
            cfn["EcsParameters"]["TaskDefinitionArn"], cfn["EcsParameters"]["LaunchType"], cfn["EcsParameters"]["TaskCount"])
        assert ecs["network_configuration"] == [{
            "subnets": network["Subnets"], "security_groups": network["SecurityGroups"],
            "assign_public_ip": "${" + network["AssignPublicIp"][2:-1] + ' == "ENABLED"}'}]
    log_group = template["BackupLogGroup"]["Properties"]
    assert found["aws_cloudwatch_log_group.backup"]["retention_in_days"] == log_group["RetentionInDays"]


def test_restore_module_holds_the_restore_policies(variant):
    inp, mods, _ = variant
    found = resources(mods["restore-account"])
    names = {a: body["name"] for a, body in found.items()}
    assert names == {"aws_iam_policy.reader": "ddbvault-restore-reader",
                     "aws_iam_policy.target": "ddbvault-restore-target",
                     "aws_iam_policy.import": "ddbvault-restore-import"}
    provider = mods["restore-account"]["provider"][0]["aws"]
    assert provider["allowed_account_ids"] == [inp.restore_target_account]
    if inp.create_kms_key:  # the JSON documents refuse this case; the key is a variable here
        assert found["aws_iam_policy.reader"]["policy"]["Statement"][-1]["Resource"] == "${var.kms_key_arn}"
        return
    docs = policy_documents(inp, "restore")
    for short in ("reader", "target", "import"):
        assert found[f"aws_iam_policy.{short}"]["policy"] == docs[f"restore-{short}-policy"]


def test_each_module_runs_only_in_its_account(variant):
    inp, mods, _ = variant
    accounts = {"data-account": inp.data_account, "production-account": inp.prod_account,
                "restore-account": inp.restore_target_account}
    for name, module in mods.items():
        assert module["provider"] == [{"aws": {"region": inp.region, "allowed_account_ids": [accounts[name]]}}]


def test_parts_and_files():
    inp = inputs("writer-role")
    assert list(modules(inp, "data")) == ["data-account"]
    assert list(modules(inp, "production")) == ["production-account"]
    assert list(modules(inp, "restore")) == ["restore-account"]
    files = render_files(inp, "terraform", "all")
    assert list(files) == ["data-account/main.tf", "production-account/main.tf", "restore-account/main.tf"]
    stream = render_stream(inp, "terraform", "all")
    assert stream == "\n".join(files.values())
    assert [line for line in stream.splitlines() if line.startswith("# ") and "/main.tf:" in line] == [
        f"# data-account/main.tf: apply with credentials of the data account {DATA}, first.",
        f"# production-account/main.tf: apply with credentials of the production account {PROD}, "
        "after the data account.",
        f"# restore-account/main.tf: apply with credentials of the account that restores ({PROD}); "
        "attach the policies there."]


def test_incomplete_uploads_are_aborted_bucket_wide_after_an_input_age_of_7_days_by_default(variant):
    # plan/work/commit leaves a killed attempt's parts uncompleted, never deleted: this rule removes
    # them, and its age must exceed the longest backup (docs/scale.md), hence an input
    _, mods, stacks = variant
    template = stacks["data-account-stack"]
    rules = {r["Id"]: r for r in template["Resources"]["BackupBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteMultipartUploads"] == {
        "Id": "AbortIncompleteMultipartUploads", "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": {"Ref": "AbortIncompleteUploadsAfterDays"}}}
    assert template["Parameters"]["AbortIncompleteUploadsAfterDays"]["Default"] == 7
    tf_rules = {r["id"]: r for r in resources(mods["data-account"])["aws_s3_bucket_lifecycle_configuration.backup"]["rule"]}
    abort = tf_rules["AbortIncompleteMultipartUploads"]
    assert abort["abort_incomplete_multipart_upload"] == [
        {"days_after_initiation": "${var.abort_incomplete_uploads_after_days}"}]
    assert abort["filter"] in ([{}], [{"prefix": ""}]) and abort["status"] == "Enabled"
    assert named(mods["data-account"], "variable")["abort_incomplete_uploads_after_days"]["default"] == 7
