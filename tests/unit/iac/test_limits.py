"""AWS's quotas on generated documents: a set AWS would refuse at deploy time is refused by
`ddbvault iam` before anything is printed, naming the document, its size and the fix."""

from __future__ import annotations

import pytest

from ddbvault.errors import UsageError
from ddbvault.iac import make_inputs
from ddbvault.iac.limits import INLINE_ROLE_POLICY_CHARS, check_templates, size
from ddbvault.iac.render import policy_documents, render_files, render_stream

PROD, DATA = "111122223333", "444455556666"


def inputs(tables: int, **extra):
    return make_inputs(tables=[f"orders-{i:04d}" for i in range(tables)], prod_account=PROD, data_account=DATA,
                       bucket="acme-vault", region="us-east-1", prefix="prod", **extra)


@pytest.mark.parametrize("fmt", ["json", "cloudformation", "cloudformation-json", "terraform"])
def test_a_few_tables_fit_every_quota(fmt):
    assert render_stream(inputs(20), fmt, "all" if fmt in ("json", "terraform") else "production")


# --create-kms-key has no JSON policies (refused on its own), so not with "json".
@pytest.mark.parametrize("fmt, extra", [("json", {}), ("cloudformation", {}), ("terraform", {}),
                                        ("cloudformation", {"create_kms_key": True}),
                                        ("terraform", {"create_kms_key": True})])
def test_too_many_tables_for_one_role_policy_is_refused_in_every_format(fmt, extra):
    big = inputs(120, **extra)
    with pytest.raises(UsageError) as refused:
        render_files(big, fmt, "production")
    assert "production-backup-role-policy would be" in refused.value.message
    assert "AWS allows 10,240 for a role's inline policies" in refused.value.message
    assert "--backup-role" in refused.value.hint


def test_the_size_is_compact_json_and_the_limit_is_exact():
    docs = policy_documents(inputs(1), "production")
    assert size(docs["production-backup-role-policy"]) < INLINE_ROLE_POLICY_CHARS
    n = next(n for n in range(1, 400) if size(policy_documents(inputs(n), "production")
                                              ["production-backup-role-policy"]) > INLINE_ROLE_POLICY_CHARS)
    render_stream(inputs(n - 1), "json", "production")
    with pytest.raises(UsageError):
        render_stream(inputs(n), "json", "production")


def test_a_stack_over_500_resources_is_refused():
    check_templates({"x": {"Resources": {f"R{i}": {} for i in range(500)}}})
    with pytest.raises(UsageError, match="x would hold 501 resources; CloudFormation allows 500"):
        check_templates({"x": {"Resources": {f"R{i}": {} for i in range(501)}}})
