"""Lifecycle rules of a keep policy against moto_server: `ddbvault iam --keep` emits a lifecycle
configuration that S3's PutBucketLifecycleConfiguration accepts, and `ddbvault doctor --keep`
passes on a bucket that has it, fails (with the fix) on one that lacks a rule or has the wrong
days, and says "cannot tell" when GetBucketLifecycleConfiguration is denied. Without --keep, doctor
checks the rule that aborts incomplete multipart uploads (what plan/work/commit's killed attempts
leave): ✓ with its age, ⚠ with the rule to add, · "cannot tell" when denied.
(cfn-lint checks the same rules in the data template: test_iac_lint.py's keep variants.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ddbvault.doctor import ABORT_RULE, FAIL, INFO, OK, WARN, DoctorOptions, run_doctor
from ddbvault.format.retention import parse_keep
from ddbvault.iac import make_inputs
from ddbvault.iac.cloudformation import data_template
from tests.support.recording_proxy import RecordingProxy
from tests.support.tables import create_table

pytestmark = pytest.mark.integration
KEEP = "daily=7,weekly=5,monthly=12,yearly=2"
ARGS = ["--table", "doc-table", "--prod-account", "111122223333", "--data-account", "444455556666",
        "--prefix", "prod", "--part", "data"]


def iam(bucket: str, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "iam", *ARGS, "--bucket", bucket, *extra],
                          capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "doc-table")
    return "doc-table"


def test_iam_keep_emits_a_lifecycle_configuration_s3_accepts(s3):
    docs = iam("lifecycled", "--keep", KEEP)
    config = docs["data-bucket-lifecycle-configuration"]
    s3.create_bucket(Bucket="lifecycled")
    s3.put_bucket_lifecycle_configuration(Bucket="lifecycled", LifecycleConfiguration=config)
    stored = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="lifecycled")["Rules"]}
    assert {i: stored[i]["Expiration"]["Days"] for i in stored if i.startswith("ExpireTier")} == {
        "ExpireTierDaily": 7, "ExpireTierWeekly": 35, "ExpireTierMonthly": 372, "ExpireTierYearly": 732}
    assert stored["ExpireTierWeekly"]["Filter"] == {
        "And": {"Prefix": "prod/", "Tags": [{"Key": "ddbvault-tier", "Value": "weekly"}]}}
    # the clean-up rules come along: the document replaces the bucket's whole configuration
    assert {"AbortIncompleteMultipartUploads", "ExpireNoncurrentVersions", "ExpireDoctorProbes"} <= set(stored)
    assert "data-bucket-lifecycle-configuration" not in iam("lifecycled")  # no --keep: no document


def test_data_template_rules_match_the_json_document():
    inputs = make_inputs(tables=["doc-table"], prod_account="111122223333", data_account="444455556666",
                         bucket="lifecycled", prefix="prod", keep=KEEP)
    rules = data_template(inputs)["Resources"]["BackupBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    monthly = next(r for r in rules if r["Id"] == "ExpireTierMonthly")
    assert monthly == {"Id": "ExpireTierMonthly", "Status": "Enabled", "Prefix": "prod/",
                       "TagFilters": [{"Key": "ddbvault-tier", "Value": "monthly"}], "ExpirationInDays": 372}


def _lifecycle_checks(report) -> dict:
    return {c.name: c for c in report.checks if "lifecycle" in c.name}


def test_doctor_passes_with_the_rules_and_fails_without(s3, table):
    s3.create_bucket(Bucket="doctor-keep")
    keep = parse_keep(KEEP)
    bare = _lifecycle_checks(run_doctor(table, "s3://doctor-keep/prod", DoctorOptions(keep=keep)))
    assert {c.status for c in bare.values()} == {FAIL} and len(bare) == 4
    daily = bare["lifecycle rule for tier daily"].detail
    assert "no enabled lifecycle rule expires objects tagged ddbvault-tier=daily under prod/" in daily
    assert f"fix: apply rule ExpireTierDaily of `ddbvault iam --keep {KEEP} --part data`" in daily

    config = iam("doctor-keep", "--keep", KEEP)["data-bucket-lifecycle-configuration"]
    s3.put_bucket_lifecycle_configuration(Bucket="doctor-keep", LifecycleConfiguration=config)
    report = run_doctor(table, "s3://doctor-keep/prod", DoctorOptions(keep=keep))
    assert {c.status for c in _lifecycle_checks(report).values()} == {OK}
    probe = next(c for c in report.checks if c.name.startswith("PutObject"))
    assert probe.status == OK and probe.name.endswith(", tag ddbvault-tier=daily")  # (moto then deletes it)

    longer = parse_keep("daily=14,weekly=5,monthly=12,yearly=2")
    wrong = _lifecycle_checks(run_doctor(table, "s3://doctor-keep/prod", DoctorOptions(keep=longer)))
    assert wrong["lifecycle rule for tier daily"].status == FAIL
    assert "expires them after 7 days; the keep policy needs 14" in wrong["lifecycle rule for tier daily"].detail
    assert wrong["lifecycle rule for tier weekly"].status == OK


def test_doctor_cli_exit_and_message(s3, table):
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", table, "--to",
                           "s3://doctor-keep/other", "--keep", "daily=3"], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    assert proc.returncode != 0
    assert "✗ lifecycle rule for tier daily: the rule for objects tagged ddbvault-tier=daily" not in proc.stdout
    assert "✗ lifecycle rule for tier daily:" in proc.stdout and "--keep daily=3" in proc.stdout


def test_doctor_says_cannot_tell_when_denied(aws_env, s3, table, monkeypatch):
    denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"

    def answer(method, path, headers):
        return (403, denied) if method == "GET" and path.endswith("?lifecycle") else None

    with RecordingProxy(aws_env, answer=answer) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        report = run_doctor(table, "s3://doctor-keep/prod", DoctorOptions(keep=parse_keep(KEEP)))
    check = _lifecycle_checks(report)["lifecycle rules"]
    assert check.status == WARN and check.detail.startswith("cannot tell:")
    assert "s3:GetLifecycleConfiguration" in check.detail and check.permission == "s3:GetLifecycleConfiguration"
    assert ABORT_RULE not in {c.name for c in report.checks}
    assert report.ok  # the backup's own permissions are all there


def test_without_keep_a_denied_lifecycle_read_is_information_not_a_failure(aws_env, s3, table, monkeypatch):
    denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"

    def answer(method, path, headers):
        return (403, denied) if method == "GET" and path.endswith("?lifecycle") else None

    s3.create_bucket(Bucket="doctor-abort-denied")
    with RecordingProxy(aws_env, answer=answer) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        proc = subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", table, "--to",
                               "s3://doctor-abort-denied/prod", "--json"], capture_output=True, text=True,
                              env=dict(os.environ), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert found["lifecycle rules"]["status"] == INFO and found["lifecycle rules"]["detail"].startswith("cannot tell:")
    assert found["lifecycle rules"]["permission"] == "s3:GetLifecycleConfiguration"
    assert ABORT_RULE not in found


def _abort_check(s3, table, bucket: str, rules: list[dict] | None):
    if rules is not None:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    report = run_doctor(table, f"s3://{bucket}/prod", DoctorOptions())
    assert report.ok, report.to_dict()
    return next(c for c in report.checks if c.name == ABORT_RULE)


def _abort_rule(prefix: str, days: int = 7, status: str = "Enabled") -> dict:
    return {"ID": f"abort-{status}-{prefix or 'all'}", "Status": status, "Filter": {"Prefix": prefix},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days}}


@pytest.mark.parametrize("rules, why", [
    (None, "no lifecycle configuration at all"),
    ([_abort_rule("staging/")], "a rule on another prefix"),
    ([_abort_rule("prod/users/")], "a rule on another table's prefix"),
    ([_abort_rule("prod/", status="Disabled")], "a disabled rule"),
    ([{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "prod/"}, "Expiration": {"Days": 30}}],
     "a rule that expires objects but aborts no upload"),
])
def test_doctor_warns_without_an_abort_rule_over_the_tables_backups(s3, table, rules, why):
    bucket = f"doctor-abort-{abs(hash(why)) % 10**8}"
    s3.create_bucket(Bucket=bucket)
    check = _abort_check(s3, table, bucket, rules)
    assert check.status == WARN, why
    assert f"under prod/{table}/" in check.detail and "AbortIncompleteMultipartUploads of `ddbvault iam --part data`" \
        in check.detail and "DaysAfterInitiation 7" in check.detail
    assert "must exceed the longest backup" in check.detail and "docs/scale.md" in check.detail


@pytest.mark.parametrize("rules, days", [
    ([_abort_rule("prod/", 5)], 5),
    ([_abort_rule("", 9), _abort_rule("prod/", 4, "Disabled")], 9),
    ([_abort_rule("prod/doc-table/", 3), _abort_rule("", 8)], 3),
])
def test_doctor_passes_with_an_enabled_abort_rule_and_names_its_age(s3, table, rules, days):
    bucket = f"doctor-abort-ok-{days}"
    s3.create_bucket(Bucket=bucket)
    check = _abort_check(s3, table, bucket, rules)
    assert check.status == OK and f"{days} days after they start" in check.detail
    assert "must exceed the longest backup" in check.detail


def test_the_generated_lifecycle_configuration_passes_doctor(s3, table):
    s3.create_bucket(Bucket="doctor-abort-generated")
    config = iam("doctor-abort-generated", "--keep", KEEP)["data-bucket-lifecycle-configuration"]
    check = _abort_check(s3, table, "doctor-abort-generated", config["Rules"])
    assert check.status == OK and "'AbortIncompleteMultipartUploads'" in check.detail and "7 days" in check.detail


def test_doctor_fails_when_another_rule_expires_the_backups_sooner(s3, table):
    s3.create_bucket(Bucket="doctor-sooner")
    config = iam("doctor-sooner", "--keep", KEEP)["data-bucket-lifecycle-configuration"]
    purge = {"ID": "PurgeProd", "Status": "Enabled", "Filter": {"Prefix": "prod/"}, "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket="doctor-sooner",
                                          LifecycleConfiguration={"Rules": [*config["Rules"], purge]})
    checks = _lifecycle_checks(run_doctor(table, "s3://doctor-sooner/prod", DoctorOptions(keep=parse_keep(KEEP))))
    assert {name: c.status for name, c in checks.items()} == {
        "lifecycle rule for tier daily": OK, "lifecycle rule for tier weekly": FAIL,
        "lifecycle rule for tier monthly": FAIL, "lifecycle rule for tier yearly": FAIL}
    assert ("rule 'PurgeProd' also expires objects tagged ddbvault-tier=monthly under prod/ after 30 days, "
            "sooner than the 372 the keep policy needs") in checks["lifecycle rule for tier monthly"].detail
