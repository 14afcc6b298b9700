"""The error translation boundary and the retry policy, on botocore's own exception types."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from ddbvault.aws.error_translation import translate
from ddbvault.aws.retry import RetryPolicy, RetryStats, call_with_retries, is_throttle
from ddbvault.errors import AccessDeniedError, AwsError, AwsNotFoundError, RetriesExhaustedError
from ddbvault.exit_codes import ExitCode


def client_error(code: str, status: int = 400, message: str = "msg", op: str = "Scan") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, op)


def test_access_denied_names_everything():
    err = translate(client_error("AccessDeniedException", 400, "User x is not authorized"), service="dynamodb",
                    action="Scan", resource="arn:aws:dynamodb:r:1:table/t")
    assert isinstance(err, AccessDeniedError) and err.exit_code == ExitCode.ACCESS_DENIED
    assert err.message.startswith("Scan on arn:aws:dynamodb:r:1:table/t failed: AccessDeniedException")
    assert err.permission == "dynamodb:Scan" and "missing permission: dynamodb:Scan" in err.message


@pytest.mark.parametrize("action,message,acl,permission", [
    ("UploadPart", "", None, "s3:PutObject"),
    ("CompleteMultipartUpload", "", None, "s3:PutObject"),
    ("PutObject", "not authorized to perform kms:GenerateDataKey", None, "kms:GenerateDataKey"),
    ("PutObject", "x-amz-acl not allowed", "bucket-owner-full-control", "s3:PutObjectAcl"),
    ("HeadBucket", "", None, "s3:ListBucket"),
])
def test_s3_permission_mapping(action, message, acl, permission):
    err = translate(client_error("AccessDenied", 403, message, action), service="s3", action=action,
                    resource="s3://b/k", acl=acl)
    assert err.permission == permission


def test_not_found_and_exhausted_and_other():
    assert isinstance(translate(client_error("ResourceNotFoundException"), service="dynamodb",
                                action="DescribeTable", resource="t"), AwsNotFoundError)
    exhausted = translate(client_error("ProvisionedThroughputExceededException"), service="dynamodb",
                          action="Scan", resource="t")
    assert isinstance(exhausted, RetriesExhaustedError) and "retries exhausted" in exhausted.message
    other = translate(client_error("ValidationException"), service="dynamodb", action="Scan", resource="t")
    assert type(other) is AwsError and other.code == "ValidationException"


def test_credentials_and_connection_errors():
    assert isinstance(translate(NoCredentialsError(), service="s3", action="PutObject", resource="s3://b/k"),
                      AccessDeniedError)
    err = translate(EndpointConnectionError(endpoint_url="http://x"), service="s3", action="PutObject",
                    resource="s3://b/k")
    assert isinstance(err, RetriesExhaustedError) and "cannot reach" in err.message


def test_retry_backs_off_with_jitter_then_succeeds():
    delays: list[float] = []
    calls = iter([client_error("ThrottlingException"), client_error("InternalServerError", 500), "ok"])

    def fn():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    stats = RetryStats()
    assert call_with_retries(fn, policy=RetryPolicy(attempts=5, base_delay=1, max_delay=8),
                             what="t", stats=stats, sleep=delays.append) == "ok"
    assert len(delays) == 2 and 0 <= delays[0] <= 1 and 0 <= delays[1] <= 2
    assert stats.throttles == 1 and stats.transient == 1


def test_retry_gives_up_after_the_budget_and_reraises():
    delays: list[float] = []
    with pytest.raises(ClientError):
        call_with_retries(lambda: (_ for _ in ()).throw(client_error("SlowDown", 503)),
                          policy=RetryPolicy(attempts=4), what="t", sleep=delays.append)
    assert len(delays) == 3


def test_non_retryable_errors_are_not_retried():
    delays: list[float] = []
    with pytest.raises(ClientError):
        call_with_retries(lambda: (_ for _ in ()).throw(client_error("ValidationException")),
                          policy=RetryPolicy(), what="t", sleep=delays.append)
    assert delays == []


def test_delay_is_capped():
    policy = RetryPolicy(base_delay=0.1, max_delay=20)
    assert policy.delay(30, rand=lambda: 1.0) == 20


def test_a_bodiless_s3_503_is_counted_as_throttling():
    # HEAD answers have no body, so botocore names the error by its status: S3's 503 is Slow Down
    def error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": int(code)}}, "HeadBucket")

    stats = RetryStats()
    for code in ("503", "500"):
        stats.record(error(code))
    assert is_throttle(error("503")) and not is_throttle(error("500"))
    assert (stats.throttles, stats.transient) == (1, 1)
