"""S3 writes and reads under network faults, through tests/support/throttle_proxy.py on moto.

- A create whose response is lost, retried, meets 412 from its own success: it carries on when
  the object there is provably the one it sent, and refuses when it is not.
- Any failure after CreateMultipartUpload aborts the upload: none is left open.
- A body cut mid-way is resumed with ranged GETs (If-Match), counted as retries; an object that
  changed in between is refused.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import boto3
import pytest
from botocore.config import Config

from ddbvault import BackupOptions, backup_table
from ddbvault.aws.retry import RetryPolicy, RetryStats
from ddbvault.aws.session import BOTOCORE_RETRIES, S3_CHECKSUMS
from ddbvault.errors import AwsError, IntegrityError, RetriesExhaustedError
from ddbvault.format.layout import BackupLayout
from ddbvault.vault.listing import list_backups
from ddbvault.backup.segment_writer import SegmentWriter
from ddbvault.storage import WriteOptions
from ddbvault.storage.s3 import S3Store
from tests.support.tables import create_table, fill_table
from tests.support.throttle_proxy import Fault, Request, ThrottleProxy

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
Match = Callable[[Request], bool]


@dataclass
class _Rule:
    match: Match
    fault: Fault
    times: int  # how many more requests it applies to


class Rules:
    """The proxy's `faults` callable: the first rule whose `match` holds for a request and whose
    `times` are not used up gives its Fault; no rule, no fault. The proxy asks under its lock."""

    def __init__(self) -> None:
        self.rules: list[_Rule] = []

    def add(self, match: Match, fault: Fault, times: int = 1) -> None:
        self.rules.append(_Rule(match, fault, times))

    def __call__(self, request: Request) -> Fault | None:
        rule = next((r for r in self.rules if r.times > 0 and r.match(request)), None)
        if rule is None:
            return None
        rule.times -= 1
        return rule.fault


def is_op(op: str, where: Match = lambda request: True) -> Match:
    return lambda request: request.op == op and where(request)


def is_part(number: int) -> Match:
    return is_op("UploadPart", lambda request: request.query["partNumber"] == [str(number)])


is_complete, is_put_object, is_get = is_op("CompleteMultipartUpload"), is_op("PutObject"), is_op("GetObject")


def _applied(proxy: ThrottleProxy) -> Counter[str]:
    """How many faults of each kind the proxy injected."""
    return Counter(fault.kind for _, fault in proxy.injected)


@pytest.fixture
def bucket(s3):
    name = f"faults-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy(aws_env):
    with ThrottleProxy(aws_env, faults=Rules()) as running:
        yield running


def _store(proxy: ThrottleProxy, bucket: str, stats: RetryStats | None = None) -> S3Store:
    client = boto3.client("s3", endpoint_url=proxy.url,
                          config=Config(retries=BOTOCORE_RETRIES, read_timeout=10, connect_timeout=5,
                                        **S3_CHECKSUMS))
    return S3Store(client, bucket, WriteOptions(part_size=5 * MIB), retry=FAST, stats=stats)


def _open_uploads(s3, bucket: str) -> list:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _multipart(store: S3Store, key: str, data: bytes) -> None:
    writer = store.open_writer(key)
    for start in range(0, len(data), MIB):
        writer.write(data[start:start + MIB])
    writer.close()


def test_put_whose_response_is_lost_is_proven_ours_on_412(proxy, bucket, s3):
    proxy.faults.add(is_put_object, Fault("lost"))
    data = os.urandom(300_000)
    _store(proxy, bucket).put_new("one/object", data)
    puts = [r for r in proxy.received if r.method == "PUT" and r.path.endswith("/one/object")]
    assert _applied(proxy) == {"lost": 1} and len(puts) == 2, "the retry never met the 412"
    assert s3.get_object(Bucket=bucket, Key="one/object")["Body"].read() == data


def test_complete_whose_response_is_lost_is_proven_ours_on_412(proxy, bucket, s3):
    proxy.faults.add(is_complete, Fault("precondition"))
    data = os.urandom(12 * MIB)
    _multipart(_store(proxy, bucket), "big/object", data)
    assert _applied(proxy) == {"precondition": 1}
    assert S3Store(s3, bucket).get("big/object") == data  # moto's multipart checksum lacks "-N"
    assert _open_uploads(s3, bucket) == []


@pytest.mark.parametrize("size", [300_000, 12 * MIB])
def test_412_on_another_object_of_the_same_size_is_refused(proxy, bucket, s3, size):
    theirs = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="taken", Body=theirs)
    store = _store(proxy, bucket)
    with pytest.raises(IntegrityError, match="refusing to overwrite .*taken"):
        if size < 5 * MIB:
            store.put_new("taken", os.urandom(size))
        else:
            _multipart(store, "taken", os.urandom(size))
    assert s3.get_object(Bucket=bucket, Key="taken")["Body"].read() == theirs
    assert _open_uploads(s3, bucket) == []


def test_412_proof_falls_back_to_the_md5_etag_without_a_stored_sha256(proxy, bucket, s3):
    data = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="same", Body=data)  # no SHA-256 checksum stored
    assert "ChecksumSHA256" not in s3.head_object(Bucket=bucket, Key="same", ChecksumMode="ENABLED")
    _store(proxy, bucket).put_new("same", data)  # identical bytes: the outcome is the same
    with pytest.raises(IntegrityError, match="ETag does not prove"):
        _store(proxy, bucket).put_new("same", os.urandom(100_000))


@pytest.mark.parametrize("match, fault", [
    (is_complete, Fault("error", status=400, code="InvalidPart")),
    (is_part(3), Fault("error", status=400, code="InvalidArgument")),  # the last part, sent by close()
    (is_part(2), Fault("error", status=400, code="InvalidArgument")),  # a part sent by write()
], ids=["complete", "last-part", "middle-part"])
def test_every_failure_after_create_aborts_the_upload(proxy, bucket, s3, match, fault):
    proxy.faults.add(match, fault)
    with pytest.raises(AwsError):
        _multipart(_store(proxy, bucket), "doomed", os.urandom(12 * MIB))
    assert _applied(proxy) == {"error": 1}
    assert _open_uploads(s3, bucket) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_segment_writer_aborts_an_object_whose_staging_failed(proxy, bucket, s3):
    proxy.faults.add(is_part(1), Fault("error", status=400, code="InvalidArgument"))  # the only part, sent by stage()
    writer = SegmentWriter(_store(proxy, bucket), BackupLayout("p", "t", "20260101T000000Z-abcdef"), 0,
                           attempt_id="0123456789abcdef", compression="none", level=None, object_size=64 * MIB)
    blob = os.urandom(150_000).hex()
    writer.write_items([{"pk": {"S": f"k{i}"}, "v": {"S": blob}} for i in range(10)])  # ~3 MB: under one part
    with pytest.raises(AwsError):
        writer.finish()
    writer.abort()  # what a failing worker does next: nothing is left to abort
    assert _open_uploads(s3, bucket) == []


def test_a_body_cut_mid_way_is_resumed_with_ranged_gets(proxy, bucket, s3):
    data = os.urandom(3 * MIB)
    s3.put_object(Bucket=bucket, Key="read/me", Body=data)
    etag = s3.head_object(Bucket=bucket, Key="read/me")["ETag"]
    proxy.faults.add(is_get, Fault("cut_body"), times=2)
    stats = RetryStats()
    store = _store(proxy, bucket, stats)
    with store.open_reader("read/me") as reader:
        got = b"".join(iter(lambda: reader.read(256 * 1024), b""))
    assert got == data
    gets = [r.headers for r in proxy.received if r.method == "GET"]
    assert _applied(proxy) == {"cut_body": 2} and len(gets) == 3
    assert "range" not in gets[0]
    assert all(h["range"].startswith("bytes=") and h["range"] != "bytes=0-" for h in gets[1:])
    assert all(h["if-match"] == etag for h in gets[1:])
    assert stats.transient == 2
    proxy.faults.add(is_get, Fault("cut_body"))
    assert store.get("read/me") == data  # get() reads through the same resumable reader


def test_an_object_that_changed_while_read_is_refused(proxy, bucket, s3):
    s3.put_object(Bucket=bucket, Key="moving", Body=os.urandom(2 * MIB))
    proxy.faults.add(is_get, Fault("cut_body"))
    with _store(proxy, bucket).open_reader("moving") as reader:
        reader.read(1000)
        s3.put_object(Bucket=bucket, Key="moving", Body=os.urandom(2 * MIB))
        with pytest.raises(IntegrityError, match="changed while it was being read"):
            while reader.read(MIB):
                pass


def test_resuming_is_bounded(proxy, bucket, s3):
    s3.put_object(Bucket=bucket, Key="never", Body=os.urandom(MIB))
    proxy.faults.add(is_get, Fault("cut_body", keep=0), times=100)
    with pytest.raises(RetriesExhaustedError, match=r"broke 4 times in a row at byte"):
        _store(proxy, bucket).get("never")
    assert _applied(proxy)["cut_body"] == 4


def test_a_backup_whose_manifest_response_is_lost_completes(proxy, bucket, ddb, monkeypatch):
    """The issue's case: the manifest's PutObject succeeded, its response was lost, the retry met
    412. The backup used to exit 6 while `list` showed it complete."""
    create_table(ddb, "lost-manifest")
    fill_table(ddb, "lost-manifest", 40, edge_cases=False)
    proxy.faults.add(is_op("PutObject", lambda request: request.path.endswith("/manifest.json")), Fault("lost"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    result = backup_table("lost-manifest", f"s3://{bucket}/p", BackupOptions(read_rcu=100000))
    assert _applied(proxy) == {"lost": 1}
    entry, = list_backups(f"s3://{bucket}/p")
    assert (entry.status, entry.items, result.items) == ("complete", 40, 40)


def test_412_that_cannot_be_checked_is_refused_and_says_why(proxy, bucket, s3):
    proxy.faults.add(is_put_object, Fault("lost"))
    proxy.faults.add(lambda request: request.method == "HEAD", Fault("error", status=403, code="AccessDenied"))
    with pytest.raises(IntegrityError, match="HeadObject.*denied.*s3:GetObject"):
        _store(proxy, bucket).put_new("unprovable", b"data")
    assert _open_uploads(s3, bucket) == []
