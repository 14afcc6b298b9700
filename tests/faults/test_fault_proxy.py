"""Self-test of the fault proxy (tests/support/throttle_proxy.py) in front of moto_server: each
fault kind reaches a DynamoDB and an S3 client as the real fault would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ResponseStreamingError

from tests.support.throttle_proxy import Fault, ThrottleProxy, s3_operation

pytestmark = pytest.mark.integration
BUCKET, TABLE = "proxy-faults", "proxy-faults"


def _client(service: str, url: str, attempts: int = 1):
    return boto3.client(service, endpoint_url=url, config=Config(retries={"mode": "standard",
                                                                          "total_max_attempts": attempts}))


@pytest.fixture(scope="module")
def upstream(aws_env, s3, ddb):
    s3.create_bucket(Bucket=BUCKET)
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return aws_env


def _only(kind: str, op: str, **kwargs):
    """A schedule: the first request of `op` gets `kind`, nothing else does."""
    done = []

    def faults(request):
        if request.op == op and not done:
            done.append(request)
            return Fault(kind, **kwargs)
        return None
    return faults


def test_s3_operations_are_named_from_path_style_requests():
    assert s3_operation("PUT", "/b/k") == "PutObject"
    assert s3_operation("PUT", "/b/k?partNumber=1&uploadId=x") == "UploadPart"
    assert s3_operation("POST", "/b/k?uploads") == "CreateMultipartUpload"
    assert s3_operation("POST", "/b/k?uploadId=x") == "CompleteMultipartUpload"
    assert s3_operation("DELETE", "/b/k?uploadId=x") == "AbortMultipartUpload"
    assert s3_operation("GET", "/b?list-type=2&prefix=p") == "ListObjectsV2"
    assert s3_operation("GET", "/b?uploads") == "ListMultipartUploads"
    assert (s3_operation("HEAD", "/b"), s3_operation("HEAD", "/b/k"), s3_operation("GET", "/b/k")) == \
        ("HeadBucket", "HeadObject", "GetObject")


@pytest.mark.parametrize("service, op, code, status", [
    ("s3", "PutObject", "SlowDown", 503),
    ("dynamodb", "Scan", "ProvisionedThroughputExceededException", 400),
    ("dynamodb", "DescribeTable", "ThrottlingException", 400),
])
def test_throttles_speak_each_services_dialect(upstream, service, op, code, status):
    with ThrottleProxy(upstream, faults=_only("throttle", op)) as proxy:
        client = _client(service, proxy.url)
        call = {"PutObject": lambda: client.put_object(Bucket=BUCKET, Key="k", Body=b"x"),
                "Scan": lambda: client.scan(TableName=TABLE),
                "DescribeTable": lambda: client.describe_table(TableName=TABLE)}[op]
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        call()  # the next one passes
        assert [(r.op, f.kind) for r, f in proxy.injected] == [(op, "throttle")]


@pytest.mark.parametrize("kind, code, status", [("error", "ServiceUnavailable", 503),
                                                ("conflict", "ConditionalRequestConflict", 409)])
def test_s3_errors_are_not_forwarded(upstream, s3, kind, code, status):
    with ThrottleProxy(upstream, faults=_only(kind, "PutObject", status=503)) as proxy:
        with pytest.raises(ClientError) as info:
            _client("s3", proxy.url).put_object(Bucket=BUCKET, Key=f"not-{kind}", Body=b"x")
    assert (info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]) == \
        (code, status)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key=f"not-{kind}")


@pytest.mark.parametrize("service, op, code, status", [("s3", "HeadObject", None, 403),
                                                         ("s3", "PutObject", "InvalidArgument", 400),
                                                         ("dynamodb", "DescribeTable", "ValidationException", 400)])
def test_error_faults_with_a_code_answer_any_status(upstream, service, op, code, status):
    fault_code = code or "AccessDenied"  # a HEAD answer has no body: botocore names it by its status
    with ThrottleProxy(upstream, faults=_only("error", op, status=status, code=fault_code)) as proxy:
        client = _client(service, proxy.url)
        call = {"HeadObject": lambda: client.head_object(Bucket=BUCKET, Key="k"),
                "PutObject": lambda: client.put_object(Bucket=BUCKET, Key="not-put", Body=b"x"),
                "DescribeTable": lambda: client.describe_table(TableName=TABLE)}[op]
        with pytest.raises(ClientError) as info:
            call()
    assert (info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]) == \
        (code or str(status), status)
    assert [(r.op, f.kind) for r, f in proxy.injected] == [(op, "error")]


def test_an_error_fault_needs_a_code_unless_500_or_503():
    with pytest.raises(ValueError, match="needs its error code"):
        Fault("error", status=400)


@pytest.mark.parametrize("kind", ["lost", "precondition"])
def test_a_lost_or_412_answered_write_lands_upstream(upstream, s3, kind):
    with ThrottleProxy(upstream, faults=_only(kind, "PutObject")) as proxy:
        with pytest.raises(ConnectionClosedError if kind == "lost" else ClientError) as info:
            _client("s3", proxy.url).put_object(Bucket=BUCKET, Key=f"landed-{kind}", Body=b"ours", IfNoneMatch="*")
    if kind == "precondition":
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=BUCKET, Key=f"landed-{kind}")["Body"].read() == b"ours"


def test_a_request_cut_mid_body_is_not_forwarded(upstream, s3):
    with ThrottleProxy(upstream, faults=_only("reset_request", "PutObject")) as proxy:
        with pytest.raises(ConnectionClosedError):
            _client("s3", proxy.url).put_object(Bucket=BUCKET, Key="cut", Body=b"x" * 100_000)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="cut")


def test_a_response_cut_mid_body_breaks_the_stream(upstream, s3):
    s3.put_object(Bucket=BUCKET, Key="body", Body=b"y" * 200_000)
    with ThrottleProxy(upstream, faults=_only("reset_response", "GetObject")) as proxy:
        body = _client("s3", proxy.url).get_object(Bucket=BUCKET, Key="body")["Body"]
        with pytest.raises(ResponseStreamingError):
            body.read()
        head = _client("s3", proxy.url).head_object(Bucket=BUCKET, Key="body")
        assert head["ContentLength"] == 200_000  # HEAD keeps the object's length


def test_a_body_cut_by_an_orderly_close_delivers_what_was_sent(upstream, s3):
    data = bytes(range(256)) * 800  # 204,800 bytes
    s3.put_object(Bucket=BUCKET, Key="cut-body", Body=data)
    with ThrottleProxy(upstream, faults=_only("cut_body", "GetObject", keep=0.25)) as proxy:
        response = _client("s3", proxy.url).get_object(Bucket=BUCKET, Key="cut-body")
        assert response["ContentLength"] == len(data)  # the full length is announced
        assert response["Body"].read(51_200) == data[:51_200]
        with pytest.raises(ResponseStreamingError):  # urllib3 enforces the announced length
            response["Body"].read()
    assert [(r.op, f.kind) for r, f in proxy.injected] == [("GetObject", "cut_body")]


def test_multipart_uploads_whose_creation_was_lost_are_told_apart(upstream):
    with ThrottleProxy(upstream, faults=_only("lost", "CreateMultipartUpload")) as proxy:
        client = _client("s3", proxy.url)
        with pytest.raises(ConnectionClosedError):
            client.create_multipart_upload(Bucket=BUCKET, Key="mpu")
        delivered = client.create_multipart_upload(Bucket=BUCKET, Key="mpu")["UploadId"]
        assert proxy.uploads.pop(delivered) is True and list(proxy.uploads.values()) == [False]
        client.abort_multipart_upload(Bucket=BUCKET, Key="mpu", UploadId=delivered)


def test_slow_responses_are_delayed(upstream):
    with ThrottleProxy(upstream, faults=_only("slow", "ListTables", delay_s=0.5)) as proxy:
        client = _client("dynamodb", proxy.url)
        start = time.monotonic()
        assert TABLE in client.list_tables()["TableNames"]
        assert time.monotonic() - start >= 0.5


def test_kill_sends_sigkill_to_the_client_process(upstream):
    script = ("import boto3, sys; boto3.client('dynamodb', endpoint_url=sys.argv[1]).list_tables(); "
              "print('survived')")
    with ThrottleProxy(upstream, faults=_only("kill", "ListTables")) as proxy:
        proc = subprocess.Popen([sys.executable, "-c", script, proxy.url], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ))
        proxy.kill_pid = proc.pid
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and "survived" not in out
