"""A service job's `engine: export` and `export_deadline_s`: inherited from `defaults`, handed to
the backup as BackupOptions.engine / export_deadline_s; refused for a local destination (DynamoDB
exports only write to S3) and where they would be ignored. The export run itself is the engine's
(tests/integration/backup)."""

from __future__ import annotations

import pytest

from ddbvault.backup import BackupOptions
from ddbvault.errors import UsageError
from ddbvault.service.jobs import backup_options
from tests.support.service_config import load_text as _load


def test_engine_and_deadline_reach_the_backup_and_are_inherited(tmp_path):
    config = _load(tmp_path, "defaults: {destination: s3://vault/prod, engine: export, export_deadline_s: 3600}\n"
                             "jobs:\n- {name: a, table: orders, interval_seconds: 60}\n"
                             "- {name: b, table: users, interval_seconds: 60, export_deadline_s: 600}\n"
                             "- {name: c, table: small, interval_seconds: 60, engine: scan}\n")
    a, b, c = (backup_options(config.effective(job)) for job in config.jobs)
    assert (a.engine, a.export_deadline_s) == ("export", 3600)
    assert (b.engine, b.export_deadline_s) == ("export", 600)
    assert c.engine == "scan"


def test_without_engine_a_job_scans_with_the_library_defaults(tmp_path):
    config = _load(tmp_path, "jobs: [{name: a, table: orders, interval_seconds: 60, destination: s3://vault}]\n")
    options = backup_options(config.effective(config.jobs[0]))
    assert (options.engine, options.export_deadline_s) == ("scan", BackupOptions().export_deadline_s)


def test_an_export_job_with_tables_selectors_is_accepted(tmp_path):
    config = _load(tmp_path, "jobs: [{name: a, tables: ['orders-*'], cron: '0 3 * * *', destination: s3://vault/p,"
                             " engine: export}]\n")
    assert backup_options(config.effective(config.jobs[0])).engine == "export"


@pytest.mark.parametrize("where", ["job", "defaults"])
def test_an_export_job_to_a_local_directory_is_refused(tmp_path, where):
    job = "{name: a, table: orders, interval_seconds: 60, destination: /v" + (", engine: export}" if where == "job" else "}")
    defaults = "defaults: {engine: export}\n" if where == "defaults" else ""
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, f"{defaults}jobs: [{job}]\n")
    message = caught.value.message
    assert "job 'a' has engine export and the local directory /v" in message and "only write to S3" in message


@pytest.mark.parametrize("where", ["job", "defaults"])
def test_an_export_job_with_a_retention_policy_is_refused(tmp_path, where):
    retention = "retention: {daily: 7}"
    job = ("{name: a, table: orders, interval_seconds: 60, destination: 's3://vault-b/p', engine: export"
           + (f", {retention}}}" if where == "job" else "}"))
    defaults = f"defaults: {{{retention}}}\n" if where == "defaults" else ""
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, f"{defaults}jobs: [{job}]\n")
    assert "job 'a' has engine export and a retention policy" in caught.value.message


@pytest.mark.parametrize("text, why", [
    ("engine: snapshot", "jobs.0.engine: Input should be 'scan' or 'export'"),
    ("engine: export, export_deadline_s: 0", "jobs.0.export_deadline_s: Input should be greater than 0"),
    ("export_deadline_s: 600", "sets export_deadline_s without engine export"),
])
def test_a_malformed_engine_setting_is_refused_naming_the_field(tmp_path, text, why):
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, f"jobs: [{{name: a, table: orders, interval_seconds: 60, destination: s3://vault, {text}}}]\n")
    assert why in caught.value.message
