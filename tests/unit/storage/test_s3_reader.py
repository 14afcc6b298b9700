"""ResumableReader against a fake S3 client: every kind of broken body is resumed from where it
stopped, a changed object is refused, and the budget is bounded."""

from __future__ import annotations

import http.client
import io

import pytest
import urllib3.exceptions
from botocore.exceptions import (ClientError, IncompleteReadError, ReadTimeoutError,
                                 ResponseStreamingError)

from ddbvault.aws.retry import RetryPolicy, RetryStats
from ddbvault.errors import IntegrityError, RetriesExhaustedError
from ddbvault.storage.s3_reader import ResumableReader

DATA = bytes(range(256)) * 400
BREAKS = [
    ResponseStreamingError(error="Connection broken: IncompleteRead"),
    ReadTimeoutError(endpoint_url="http://s3"),
    IncompleteReadError(actual_bytes=1, expected_bytes=2),
    urllib3.exceptions.ProtocolError("Connection broken"),
    urllib3.exceptions.ReadTimeoutError(None, "/k", "read timed out"),
    http.client.IncompleteRead(b"partial"),
    ConnectionResetError(104, "Connection reset by peer"),
]


class _Body(io.BytesIO):
    """Serves `data`, then raises `error` once `cut` bytes were read (None: ends there silently)."""

    def __init__(self, data: bytes, cut: int | None, error: BaseException | None):
        super().__init__(data)
        self.cut, self.error = cut, error

    def read(self, size=-1):
        if self.cut is not None and self.tell() >= self.cut:
            if self.error is None:
                return b""
            raise self.error
        limit = size if self.cut is None else min(size if size >= 0 else len(DATA), self.cut - self.tell())
        return super().read(limit)


class _Client:
    def __init__(self, breaks: list[tuple[int, BaseException]], etag: str = '"e1"'):
        self.breaks, self.etag, self.calls = list(breaks), etag, []

    def get_object(self, Bucket, Key, **kwargs):
        self.calls.append(kwargs)
        if "IfMatch" in kwargs and kwargs["IfMatch"] != self.etag:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "If-Match"},
                               "ResponseMetadata": {"HTTPStatusCode": 412}}, "GetObject")
        start = int(kwargs.get("Range", "bytes=0-")[6:-1])
        cut, error = self.breaks.pop(0) if self.breaks else (None, None)
        body = _Body(DATA[start:], None if cut is None else cut - start, error)
        return {"ETag": self.etag, "ContentLength": len(DATA) - start, "Body": body,
                "ContentRange": f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"}


class _Store:
    bucket = "b"

    def __init__(self, client: _Client, attempts: int = 4):
        self.client, self.retry, self.stats = client, RetryPolicy(attempts=attempts, base_delay=0), RetryStats()

    def url_of(self, key: str) -> str:
        return f"s3://b/{key}"


@pytest.mark.parametrize("error", BREAKS, ids=lambda e: type(e).__name__)
def test_each_kind_of_broken_body_is_resumed_from_where_it_stopped(error):
    client = _Client([(30_000, error), (70_000, error)])
    store = _Store(client)
    with ResumableReader(store, "k", sleep=lambda s: None) as reader:
        got = b"".join(iter(lambda: reader.read(8192), b""))
    assert got == DATA
    assert client.calls == [{}, {"IfMatch": '"e1"', "Range": "bytes=30000-"},
                            {"IfMatch": '"e1"', "Range": "bytes=70000-"}]
    assert store.stats.transient == 2


def test_a_body_that_ends_early_without_an_error_is_resumed():
    client = _Client([(50_000, None)])
    assert ResumableReader(_Store(client), "k", sleep=lambda s: None).read() == DATA


def test_an_object_that_changed_is_refused():
    client = _Client([(10_000, ConnectionResetError())])
    reader = ResumableReader(_Store(client), "k", sleep=lambda s: None)
    client.etag = '"e2"'  # rewritten between the first GET and the resume
    with pytest.raises(IntegrityError, match=r"s3://b/k changed while it was being read"):
        reader.read()


def test_failures_without_progress_are_bounded_and_name_the_offset():
    client = _Client([(20_000, ConnectionResetError())] + [(20_000, ConnectionResetError())] * 10)
    with pytest.raises(RetriesExhaustedError, match=r"broke 4 times in a row at byte 20,000 of 102,400"):
        ResumableReader(_Store(client), "k", sleep=lambda s: None).read()
    assert len(client.calls) == 4


def test_progress_resets_the_budget():
    breaks = [(n * 10_000, ConnectionResetError()) for n in range(1, 10)]  # 9 breaks, each after progress
    assert ResumableReader(_Store(_Client(breaks), attempts=3), "k", sleep=lambda s: None).read() == DATA
