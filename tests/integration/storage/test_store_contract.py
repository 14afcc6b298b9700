"""The ObjectStore contract (storage/base.py), run against every backend: local dir and S3 (moto)."""

from __future__ import annotations

import os

import boto3
import pytest

from ddbvault.errors import IntegrityError, NotFoundError
from ddbvault.storage import LocalStore, WriteOptions
from ddbvault.storage.s3 import S3Store

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, aws_env):
    if request.param == "local":
        return LocalStore(str(tmp_path / "root"))
    client = boto3.client("s3")
    bucket = f"contract-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)
    return S3Store(client, bucket, WriteOptions(part_size=5 * MIB))


def test_put_new_then_get(store):
    store.check_writable()
    store.put_new("a/b/one.bin", b"\x00\x01payload")
    assert store.get("a/b/one.bin") == b"\x00\x01payload"
    assert store.exists("a/b/one.bin") and not store.exists("a/b/two.bin")


def test_never_overwrites(store):
    store.put_new("k", b"first")
    with pytest.raises(IntegrityError, match="overwrite"):
        store.put_new("k", b"second")
    assert store.get("k") == b"first"


def test_streamed_multi_part_object_is_whole(store):
    chunk = bytes(range(256)) * 4096  # 1 MiB
    writer = store.open_writer("big/object")
    for i in range(12):  # 12 MiB: three 5 MiB parts on S3
        writer.write(chunk[i:] + chunk[:i])
    assert not store.exists("big/object"), "visible before close"
    writer.close()
    data = store.get("big/object")
    assert len(data) == 12 * MIB
    assert data[MIB:2 * MIB] == chunk[1:] + chunk[:1]


def test_multipart_commit_never_overwrites(store):
    store.put_new("taken", b"x")
    writer = store.open_writer("taken")
    writer.write(b"y" * (6 * MIB))
    with pytest.raises(IntegrityError):
        writer.close()
    assert store.get("taken") == b"x"


def test_abort_leaves_nothing(store):
    writer = store.open_writer("aborted")
    writer.write(b"z" * (6 * MIB))
    writer.abort()
    writer.abort()  # idempotent
    assert not store.exists("aborted")
    assert list(store.list_keys("")) == [] and list(store.list_partial("")) == []
    if isinstance(store, S3Store):
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        assert uploads == []


def test_list_keys_sorted_by_prefix(store):
    for key in ["t/2/m", "t/1/b", "t/1/a", "u/1"]:
        store.put_new(key, b".")
    assert list(store.list_keys("t/")) == ["t/1/a", "t/1/b", "t/2/m"]


def test_missing_object_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.get("nope")


def test_open_reader_streams_the_object(store):
    store.put_new("stream/me", b"abc" * 100_000)
    with store.open_reader("stream/me") as reader:
        first = reader.read(10)
        rest = reader.read()
    assert first + rest == b"abc" * 100_000
    with pytest.raises(NotFoundError):
        store.open_reader("stream/absent")


def test_an_unfinished_write_is_partial_never_an_object(store):
    writer = store.open_writer("left/behind")
    writer.write(b"w" * (6 * MIB))  # S3: one part sent, the multipart upload is open
    partial = list(store.list_partial("left/"))
    assert len(partial) == 1 and partial[0].startswith("left/behind")
    assert list(store.list_keys("")) == [] and not store.exists("left/behind")
    writer.abort()
    assert list(store.list_partial("")) == []


def test_get_with_a_limit_refuses_a_larger_object_naming_it(store):
    from ddbvault.storage.base import TooLargeError

    store.put_new("a/m.json", b"x" * 1000)
    assert store.get("a/m.json", limit=1000) == b"x" * 1000
    with pytest.raises(TooLargeError, match=r"a/m.json is over 999 bytes"):
        store.get("a/m.json", limit=999)
    with pytest.raises(NotFoundError):
        store.get("a/absent.json", limit=10)
