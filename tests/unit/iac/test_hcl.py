"""The HCL writer (iac/hcl.py): strings always literal, layout as `terraform fmt` writes it.

python-hcl2 reads every rendered string back here; tests/integration/iac/test_terraform_validate.py
has Terraform itself evaluate them and run `terraform fmt -check` on whole modules.
"""

from __future__ import annotations

import math

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbvault.iac.hcl import Block, Call, Expr, object_key, quote, render
from tests.support.terraform import decode

OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


@pytest.mark.parametrize("text, written", [
    ('a"b', r'"a\"b"'),
    ("back\\slash", r'"back\\slash"'),
    ("${var.secret}", '"$${var.secret}"'),
    ("%{ if true }x%{ endif }", '"%%{ if true }x%%{ endif }"'),
    ("$${", '"$$${"'),
    ("$ and % and { alone, $$ and %%", '"$ and % and { alone, $$ and %%"'),
    ("line\nnext\r\ttab", r'"line\nnext\r\ttab"'),
    ("\x00\x1f\x7f", r'"\u0000\u001f\u007f"'),
    ("é ü ☃", '"é ü ☃"'),
    ("", '""'),
])
def test_quote_escapes_what_hcl_would_interpret(text, written):
    assert quote(text) == written


# Mostly the pieces that need care, so that `$${`, `%%{` and `\"` runs are common. A `{` always
# has its `}`: python-hcl2 8.1 cannot read `"$${"` (Terraform can; the integration test and the
# cases above cover it).
PIECES = st.sampled_from(["$", "%", "{x}", "{}", "}", "\\", '"', "\n", "\t", " ", "a", "\x01", "\x7f", "é"])
TRICKY = st.lists(PIECES, max_size=12).map("".join)


@settings(deadline=None)  # the first example builds python-hcl2's parser (seconds on a loaded machine)
@given(st.one_of(TRICKY, st.text().filter(lambda t: "{" not in t)))
def test_any_string_reads_back_unchanged(text):
    # python-hcl2 resolves the backslash escapes; the template escapes are Terraform's to resolve.
    assert decode(hcl2.loads(f"v = {quote(text)}\n", serialization_options=OPTIONS)["v"]) == text


def test_object_keys_are_bare_only_when_hcl_reads_them_as_the_same_string():
    assert object_key("Version") == "Version"
    assert object_key("awslogs-group") == "awslogs-group"
    for key in ("for", "null", "true", "in", "aws:SecureTransport", "9lives", "with space", ""):
        assert object_key(key) == quote(key)


def test_layout_is_terraform_fmts():
    text = render([
        Block("resource", ("aws_iam_role", "x"), {
            "name": "n", "longer_name": 1, "policy": Call("jsonencode", {"Version": "1", "Statement": [
                {"Sid": "A", "Action": ["s3:A", "s3:B"], "Condition": {"Bool": {"aws:x": "false"}}}]}),
            "after": Expr("var.x"), "tags": {}, "list": []},
            [Block("filter", ()), Block("lifecycle", (), {"prevent_destroy": True})]),
    ], comment="first line\nsecond line")
    assert text == '''# first line
# second line

resource "aws_iam_role" "x" {
  name        = "n"
  longer_name = 1
  policy = jsonencode({
    Version = "1"
    Statement = [
      {
        Sid    = "A"
        Action = ["s3:A", "s3:B"]
        Condition = {
          Bool = {
            "aws:x" = "false"
          }
        }
      },
    ]
  })
  after = var.x
  tags  = {}
  list  = []
  filter {}
  lifecycle {
    prevent_destroy = true
  }
}
'''


def test_long_lists_take_one_line_per_item():
    text = render([Block("locals", (), {"l": ["a" * 40, "b" * 40, "c" * 40], "short": ["a", Expr("var.b")]})])
    assert '  l = [\n    "' + "a" * 40 + '",\n' in text and '  short = ["a", var.b]\n' in text
    assert hcl2.loads(text, serialization_options=OPTIONS)["locals"][0]["l"] == ["a" * 40, "b" * 40, "c" * 40]


def test_refuses_what_it_cannot_write():
    with pytest.raises(ValueError, match="not an HCL identifier: 'bad name'"):
        render([Block("locals", (), {"bad name": 1})])
    with pytest.raises(ValueError, match="not an HCL identifier"):
        render([Block("no-way!", ())])
    with pytest.raises(TypeError, match="cannot write set"):
        render([Block("locals", (), {"x": {1}})])
    with pytest.raises(TypeError, match="cannot write float nan"):
        render([Block("locals", (), {"x": math.nan})])
