"""${NAME} in the service config: expanded in values after parsing, never in comments, never
able to change the YAML's structure; the commented sample config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbvault.errors import UsageError
from ddbvault.service.config import load_config
from ddbvault.service.protection import vault_principal
from tests.support.service_config import load_text as _load

SAMPLE = Path(__file__).resolve().parents[3] / "etc" / "ddbvault.example.yaml"
ROLE = "arn:aws:iam::210987654321:role/reader"


def test_the_sample_config_loads(monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "x-smtp")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example.com/x")
    monkeypatch.setenv("DDBVAULT_RUN_TOKEN", "x-ddbvault_run_token")
    monkeypatch.delenv("DDBVAULT_EXTERNAL_ID", raising=False)
    config = load_config(SAMPLE)
    assert config.jobs and config.defaults.external_id is None  # ${DDBVAULT_EXTERNAL_ID:-} unset
    assert config.defaults.monitor_role and config.http.token == "x-ddbvault_run_token"


def test_a_comment_is_not_expanded_and_a_value_cannot_change_the_structure(tmp_path, monkeypatch):
    monkeypatch.setenv("KMS", "k\n  workers: 9")  # YAML in a value stays one string
    monkeypatch.setenv("PORT", "8081")
    monkeypatch.delenv("NOT_SET", raising=False)
    config = _load(tmp_path, "# ${NOT_SET} in a comment\ndefaults:\n  destination: /tmp/v\n  kms_key_id: ${KMS}\n"
                             "http: {port: '${PORT}'}\njobs: [{name: j, table: orders, interval_seconds: 60}]\n")
    assert config.defaults.kms_key_id == "k\n  workers: 9" and config.defaults.workers is None
    assert config.http.port == 8081


def test_a_missing_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(UsageError, match=r"\$\{NOPE\}"):
        _load(tmp_path, "defaults: {destination: '${NOPE}'}\njobs: [{name: j, table: orders, interval_seconds: 60}]\n")


def test_the_monitor_role_reads_the_vault_else_the_writer(tmp_path):
    jobs = "jobs: [{name: j, table: orders, interval_seconds: 60}]\n"
    writer = _load(tmp_path, f"defaults: {{destination: s3://bucket/v, dest_role: '{ROLE}x', external_id: e1}}\n" + jobs)
    assert (vault_principal(writer.effective(writer.jobs[0])).role_arn,
            vault_principal(writer.effective(writer.jobs[0])).external_id) == (ROLE + "x", "e1")
    reader = _load(tmp_path, f"defaults: {{destination: s3://bucket/v, dest_role: '{ROLE}x', external_id: e1, "
                             f"monitor_role: '{ROLE}', monitor_external_id: e2}}\n" + jobs)
    principal = vault_principal(reader.effective(reader.jobs[0]))
    assert (principal.role_arn, principal.external_id) == (ROLE, "e2")
    with pytest.raises(UsageError, match="monitor_external_id without monitor_role"):
        _load(tmp_path, "defaults: {destination: /tmp/v, monitor_external_id: e2}\n" + jobs)


def test_a_vault_role_for_a_local_directory_is_refused_not_ignored(tmp_path):
    jobs = "jobs: [{name: j, table: orders, interval_seconds: 60}]\n"
    for key in ("dest_role", "monitor_role"):
        with pytest.raises(UsageError, match=f"sets {key} for the local directory"):
            _load(tmp_path, f"defaults: {{destination: /tmp/v, {key}: '{ROLE}'}}\n" + jobs)
    assert _load(tmp_path, f"defaults: {{destination: s3://bucket/p, dest_role: '{ROLE}'}}\n" + jobs).jobs


JOB = "jobs: [{name: j, table: %s, interval_seconds: 60%s}]\n"


def test_a_default_applies_when_the_variable_is_set_but_empty_as_in_the_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("T", "")
    monkeypatch.setenv("RPO", "")
    config = _load(tmp_path, "defaults: {destination: /v}\n" + JOB % ('"${T:-orders}"', ", rpo: '${RPO:-26h}'"))
    assert config.jobs[0].table == "orders" and config.effective(config.jobs[0]).rpo == 26 * 3600
    monkeypatch.setenv("T", "users")
    assert _load(tmp_path, "defaults: {destination: /v}\n" + JOB % ('"${T:-orders}"', "")).jobs[0].table == "users"


@pytest.mark.parametrize("form,problem", [
    ("${A-b}", "${A-b} is not a supported ${...} form"),
    ("${A:=b}", "${A:=b} is not a supported ${...} form"),
    ("${A:?b}", "${A:?b} is not a supported ${...} form"),
    ("${}", "${} is not a supported ${...} form"),
    ("${T:-${B}}", "${T:-${B} is not a supported ${...} form"),
    ("x${T", "a ${ without its closing }"),
])
def test_any_other_form_is_a_usage_error_naming_it_and_where(tmp_path, monkeypatch, form, problem):
    monkeypatch.setenv("A", "a")
    monkeypatch.setenv("B", "b")
    monkeypatch.delenv("T", raising=False)
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, "defaults: {destination: /v}\n" + JOB % (f"'{form}'", ""))
    assert caught.value.message.endswith(f"jobs.0.table: {problem}") and "$${" in caught.value.hint
    assert caught.value.exit_code == 2


def test_a_doubled_dollar_is_a_literal_dollar_brace(tmp_path, monkeypatch):
    monkeypatch.setenv("K", "kms-1")
    config = _load(tmp_path, "defaults: {destination: /v, kms_key_id: 'a$${K}b-${K}-$$x-$ y'}\n" + JOB % ("orders", ""))
    assert config.defaults.kms_key_id == "a${K}b-kms-1-$$x-$ y"


def test_an_expanded_value_is_never_expanded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("K", "${OTHER}-$${x}")
    monkeypatch.delenv("OTHER", raising=False)
    config = _load(tmp_path, "defaults: {destination: /v, kms_key_id: '${K}'}\n" + JOB % ("orders", ""))
    assert config.defaults.kms_key_id == "${OTHER}-$${x}"
