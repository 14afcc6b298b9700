"""Inputs checked before any AWS call, and botocore's client-side errors mapped at one boundary.

Principals (role ARN, external id, region), the service config (the same checks, by field), and
what botocore raises before sending anything: each becomes one ddbvault error with a hint and the
exit code of its kind, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import (CredentialRetrievalError, InvalidRegionError, NoCredentialsError,
                                 NoRegionError, ParamValidationError, PartialCredentialsError,
                                 ProfileNotFound, SSOTokenLoadError, UnauthorizedSSOTokenError)

from ddbvault.aws.error_translation import configuration_error, translate
from ddbvault.aws.session import Principal, client, make_session
from ddbvault.errors import AccessDeniedError, UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.service.config import load_config

ROLE = "arn:aws:iam::123456789012:role/ddbvault-writer"


@pytest.mark.parametrize("role", [
    "not-an-arn", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:role/", "arn:aws:sts::123456789012:role/x",
    "arn:aws:iam::123456789012:role/has space", " arn:aws:iam::123456789012:role/x", "",
    ROLE + "\n", "arn:aws:iam::123456789012:role/rölé",
])
def test_a_role_that_is_not_an_iam_role_arn_is_a_usage_error(role):
    with pytest.raises(UsageError, match="not an IAM role ARN") as err:
        Principal(role_arn=role)
    assert err.value.exit_code == ExitCode.USAGE and "arn:aws:iam::" in err.value.hint


@pytest.mark.parametrize("role", [ROLE, "arn:aws-cn:iam::123456789012:role/path/to/r+=,.@-_",
                                  "arn:aws-us-gov:iam::123456789012:role/r"])
def test_role_arns_of_every_partition(role):
    assert Principal(role_arn=role).role_arn == role


@pytest.mark.parametrize("external_id", ["x", "has space", "semi;colon", "x" * 1225, "tab\t", "acme\n", "ácme"])
def test_an_external_id_sts_would_refuse_is_a_usage_error(external_id):
    with pytest.raises(UsageError, match="external id"):
        Principal(role_arn=ROLE, external_id=external_id)


def test_an_external_id_without_a_role_is_refused_not_ignored():
    with pytest.raises(UsageError, match="without a role") as err:
        Principal(external_id="acme-prod", session_name="ddbvault-dest")
    assert "ddbvault-dest" in err.value.message and err.value.hint


@pytest.mark.parametrize("region", ["not a region", "us_east_1", "-us-east-1", "", "a" * 70, "us-east-1\n"])
def test_a_malformed_region_is_a_usage_error(region):
    with pytest.raises(UsageError, match="region"):
        Principal(region=region)


@pytest.mark.parametrize("exc,kind,needle", [
    (ProfileNotFound(profile="knwon"), UsageError, "AWS profile 'knwon' not found"),
    (NoRegionError(), UsageError, "no AWS region"),
    (InvalidRegionError(region_name="not a region"), UsageError, "'not a region' is not an AWS region"),
    (ParamValidationError(report="Invalid length for parameter RoleArn"), UsageError, "RoleArn"),
    (ValueError("Invalid endpoint: not a url"), UsageError, "Invalid endpoint"),
    (NoCredentialsError(), AccessDeniedError, "no usable AWS credentials"),
    (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), AccessDeniedError, "credentials"),
    (CredentialRetrievalError(provider="custom-process", error_msg="x"), AccessDeniedError, "credentials"),
    (SSOTokenLoadError(error_msg="x"), AccessDeniedError, "credentials"),
    (UnauthorizedSSOTokenError(), AccessDeniedError, "credentials"),
])
def test_client_side_botocore_errors_map_to_the_tree(exc, kind, needle):
    mapped = configuration_error(exc)
    assert isinstance(mapped, kind) and needle in mapped.message and mapped.hint
    via_call = translate(exc, service="dynamodb", action="Scan", resource="arn:aws:dynamodb:r:1:table/t")
    assert type(via_call) is kind


def test_other_value_errors_are_not_configuration_errors():
    assert configuration_error(ValueError("something else")) is None


def test_an_unknown_profile_fails_on_session_creation(monkeypatch, tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile known]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(UsageError, match="AWS profile 'knwon' not found"):
        make_session(Principal(profile="knwon"))
    monkeypatch.setenv("AWS_PROFILE", "knwon")
    with pytest.raises(UsageError, match="AWS profile 'knwon' not found"):
        make_session(Principal())


def test_no_region_and_bad_endpoints_fail_on_client_creation(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    session = make_session(Principal())
    with pytest.raises(UsageError, match="no AWS region"):
        client(session, "dynamodb")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    with pytest.raises(UsageError, match="Invalid endpoint"):
        client(make_session(Principal(region="us-east-1")), "dynamodb")


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "svc.yaml"
    path.write_text(text)
    return path


JOB = "jobs: [{name: j, table: orders, interval_seconds: 60, destination: /tmp/b%s}]\n"


@pytest.mark.parametrize("extra,field", [
    ("scheduler: {timezone: Europe/Pariss}", "scheduler.timezone: unknown timezone"),
    ("scheduler: {timezone: ''}", "scheduler.timezone"),
    ("defaults: {timezone: Mars/Olympus}", "defaults.timezone: unknown timezone"),
    ("defaults: {dest_role: not-an-arn}", "defaults.dest_role"),
    ("defaults: {source_role: 'arn:aws:s3:::b'}", "defaults.source_role"),
    ("defaults: {dest_role: '%s', external_id: x}" % ROLE, "defaults.external_id"),
    ("defaults: {external_id: acme-prod}", "external_id without dest_role"),
    ("defaults: {region: 'not a region'}", "defaults.region"),
    ("defaults: {read_rcu: .inf}", "defaults.read_rcu"),
    ("defaults: {read_rcu: .nan}", "defaults.read_rcu"),
    ("defaults: {read_share: 0}", "defaults.read_share"),
    ("defaults: {acl: public-reed}", "defaults.acl"),
    ("defaults: {destination: 's3:/bk1/prod'}", "defaults.destination"),
    ("defaults: {destination: 'S3://bk1/prod'}", "defaults.destination"),
    ("defaults: {destination: 'gs://bk1/prod'}", "defaults.destination"),
])
def test_service_config_fields_are_checked_on_load(tmp_path, extra, field):
    with pytest.raises(UsageError) as err:
        load_config(_config(tmp_path, JOB % "" + extra))
    assert field in err.value.message, err.value.message


@pytest.mark.parametrize("destination", ["s3:/bk1/prod", "s3:bk1/prod", "file:rel", "C:\\\\b"])
def test_a_job_destination_that_is_not_a_url_we_know_is_refused(tmp_path, destination):
    text = f"jobs: [{{name: j, table: orders, interval_seconds: 60, destination: \"{destination}\"}}]\n"
    with pytest.raises(UsageError, match="jobs.0.destination"):
        load_config(_config(tmp_path, text))


def test_a_good_config_still_loads(tmp_path):
    s3_job = JOB.replace("destination: /tmp/b%s", "destination: s3://bk1/prod%s")  # a role needs an S3 vault
    config = load_config(_config(tmp_path, s3_job % "" + "scheduler: {timezone: Europe/Paris}\n"
                                 "defaults: {dest_role: '%s', external_id: acme-prod, region: eu-west-1}" % ROLE))
    assert config.scheduler.timezone == "Europe/Paris" and config.defaults.external_id == "acme-prod"


@pytest.mark.parametrize("acl,ok", [("bucket-owner-full-control", True), (None, True), ("private", True),
                                    ("public-reed", False), ("", False)])
def test_backup_options_accept_only_canned_acls(acl, ok):
    from ddbvault import BackupOptions

    options = BackupOptions(acl=acl)
    if ok:
        options.validate()
    else:
        with pytest.raises(UsageError, match="canned ACL"):
            options.validate()


@pytest.mark.parametrize("extra,needle", [
    ({"external_id": "acme-prod"}, "without a role"),
    ({"role_arn": ROLE, "external_id": "a b"}, "external id"),
    ({"region": "not a region"}, "region"),
])
def test_sns_notification_principals_get_the_same_checks(extra, needle):
    from pydantic import ValidationError

    from ddbvault.notify.config import SnsConfig

    with pytest.raises(ValidationError, match=needle):
        SnsConfig(type="sns", topic_arn="arn:aws:sns:us-east-1:123456789012:alerts", **extra)
