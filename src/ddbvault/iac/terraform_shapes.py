"""Two CloudFormation shapes the templates share with the Terraform modules, as Terraform blocks.

- `variables()`: the templates' Parameters as `variable` blocks, with the same types, defaults
  and checks (AllowedValues, MinValue/MaxValue, AllowedPattern become `validation` blocks), so a
  parameter added to cloudformation.py appears in the Terraform module too.
- `lifecycle_rule()`: one rule of `lifecycle_rules()` (the AWS::S3::Bucket LifecycleConfiguration
  shape) as a `rule` block of aws_s3_bucket_lifecycle_configuration, with the filter written as
  S3 requires: `prefix`, one `tag`, or `and { prefix tags }`.

Both refuse, with ValueError naming it, any key or intrinsic function they do not translate: a
rule or parameter that Terraform would silently drop must fail the tests instead. This is not a
general CloudFormation translator; the resources themselves are written out in terraform.py.

Pure: no I/O.
"""

from __future__ import annotations

import re

from .hcl import Block, Expr, quote

_LIST_TYPES = {"List<AWS::EC2::Subnet::Id>": "subnet-", "List<AWS::EC2::SecurityGroup::Id>": "sg-"}
_PARAMETER_KEYS = {"Type", "Default", "Description", "AllowedValues", "MinValue", "MaxValue", "AllowedPattern"}
_RULE_KEYS = {"Id", "Status", "Prefix", "TagFilters", "ExpirationInDays", "AbortIncompleteMultipartUpload",
              "NoncurrentVersionExpiration"}
# CloudFormation key -> Terraform block and its arguments' names.
_NESTED = {
    "AbortIncompleteMultipartUpload": ("abort_incomplete_multipart_upload",
                                       {"DaysAfterInitiation": "days_after_initiation"}),
    "NoncurrentVersionExpiration": ("noncurrent_version_expiration",
                                    {"NoncurrentDays": "noncurrent_days",
                                     "NewerNoncurrentVersions": "newer_noncurrent_versions"}),
}


def variable_name(parameter: str) -> str:
    """ObjectLockMode -> object_lock_mode, KmsKeyArn -> kms_key_arn."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", parameter).lower()


def var(parameter: str) -> Expr:
    return Expr(f"var.{variable_name(parameter)}")


def variables(parameters: dict[str, dict]) -> list[Block]:
    return [variable(name, spec) for name, spec in parameters.items()]


def variable(name: str, spec: dict) -> Block:
    unknown = set(spec) - _PARAMETER_KEYS
    if unknown:
        raise ValueError(f"parameter {name}: no Terraform equivalent written for {sorted(unknown)}")
    kind = spec["Type"]
    attributes: dict = {"type": Expr(_type(name, kind))}
    if "Description" in spec:
        attributes["description"] = spec["Description"]
    if "Default" in spec:
        attributes["default"] = spec["Default"]
    return Block("variable", (variable_name(name),), attributes, _validations(name, spec))


def _type(name: str, kind: str) -> str:
    if kind in ("String", "Number"):
        return kind.lower()
    if kind in _LIST_TYPES:
        return "list(string)"
    raise ValueError(f"parameter {name}: no Terraform type written for {kind!r}")


def _validations(name: str, spec: dict) -> list[Block]:
    ref = var(name).text
    checks = []
    if "AllowedValues" in spec:
        values = ", ".join(quote(str(v)) for v in spec["AllowedValues"])
        checks.append((f"contains([{values}], {ref})",
                       f"one of {', '.join(map(str, spec['AllowedValues']))}"))
    bounds = [f"{ref} >= {spec['MinValue']}"] if "MinValue" in spec else []
    bounds += [f"{ref} <= {spec['MaxValue']}"] if "MaxValue" in spec else []
    if bounds:
        limits = [f"at least {spec['MinValue']}"] if "MinValue" in spec else []
        limits += [f"at most {spec['MaxValue']}"] if "MaxValue" in spec else []
        checks.append((" && ".join(bounds), " and ".join(limits)))
    if "AllowedPattern" in spec:
        checks.append((f"can(regex({quote(spec['AllowedPattern'])}, {ref}))",
                       f"a string matching {spec['AllowedPattern']}"))
    if spec["Type"] in _LIST_TYPES:
        start = _LIST_TYPES[spec["Type"]]
        checks.append((f"length({ref}) > 0 && alltrue([for id in {ref} : startswith(id, {quote(start)})])",
                       f"a non-empty list of {start}... ids"))
    return [Block("validation", (), {"condition": Expr(condition),
                                     "error_message": f"{variable_name(name)} must be {what}."})
            for condition, what in checks]


def parameter_refs(value, parameters: dict[str, dict]):
    """`value` with each {"Ref": parameter} replaced by var.<name>; other intrinsics refused."""
    if isinstance(value, dict):
        if len(value) == 1 and ("Ref" in value or next(iter(value)).startswith("Fn::")):
            name = value.get("Ref")
            if name not in parameters:
                raise ValueError(f"no Terraform equivalent written for {value!r}")
            return var(name)
        return {k: parameter_refs(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [parameter_refs(v, parameters) for v in value]
    return value


def lifecycle_rule(rule: dict, parameters: dict[str, dict]) -> Block:
    """One CloudFormation lifecycle rule as a `rule` block (see the module docstring)."""
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise ValueError(f"lifecycle rule {rule.get('Id')!r}: no Terraform equivalent written "
                         f"for {sorted(unknown)}")
    rule = parameter_refs(rule, parameters)
    blocks = [_filter(rule)]
    if "ExpirationInDays" in rule:
        blocks.append(Block("expiration", (), {"days": rule["ExpirationInDays"]}))
    for key, (block, names) in _NESTED.items():
        if key in rule:
            blocks.append(Block(block, (), _renamed(rule["Id"], key, rule[key], names)))
    return Block("rule", (), {"id": rule["Id"], "status": rule["Status"]}, blocks)


def _renamed(rule_id: str, key: str, value: dict, names: dict[str, str]) -> dict:
    unknown = set(value) - set(names)
    if unknown:
        raise ValueError(f"lifecycle rule {rule_id!r}: no Terraform equivalent written for "
                         f"{key} {sorted(unknown)}")
    return {names[k]: v for k, v in value.items()}


def _filter(rule: dict) -> Block:
    """filter {} (every object), { prefix }, { tag }, or { and { prefix tags } }."""
    tags = {}
    for tag in rule.get("TagFilters", []):
        if set(tag) != {"Key", "Value"}:
            raise ValueError(f"lifecycle rule {rule['Id']!r}: a TagFilter needs exactly Key and Value")
        tags[tag["Key"]] = tag["Value"]
    prefix = {"prefix": rule["Prefix"]} if "Prefix" in rule else {}
    if not tags:
        return Block("filter", (), prefix)
    if len(tags) == 1 and not prefix:
        (key, value), = tags.items()
        return Block("filter", (), {}, [Block("tag", (), {"key": key, "value": value})])
    return Block("filter", (), {}, [Block("and", (), {**prefix, "tags": tags})])
