"""The object store interface every backend implements (S3, a local directory).

Contract, checked by tests/integration/storage/test_store_contract.py against every backend:
- Objects are create-only: committing a key that exists raises IntegrityError and leaves the
  existing object untouched. No backend method ever deletes or overwrites a committed object.
- A writer's object becomes visible whole, at `close()`, or not at all. `abort()` discards what
  was written (S3: AbortMultipartUpload) and never raises.
- Memory per open writer is bounded by `WriteOptions.part_size`.
- Keys are '/'-separated, relative to the store's root (bucket or directory).
- A write that was begun and neither committed nor aborted (the process was killed) is not an
  object, but `list_partial()` shows it, so that `ddbvault list` can name the debris.
- `get(key, limit=N)` never holds more than N + 1 bytes of the object: a larger one raises
  IntegrityError naming the object and N (a stored manifest is untrusted; /dev/zero has no end).
- An object is a regular file or an S3 object. A local key that is a directory, FIFO or device
  (or a link to one) is refused with IntegrityError when read; an empty local directory is
  listed as `<key>/`, as S3 lists a folder marker, so that a directory where an object belongs
  is seen rather than silently absent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Iterator

from ..errors import IntegrityError

MIB = 1024 * 1024
DEFAULT_ACL = "bucket-owner-full-control"
SSE_CHOICES = ("AES256", "aws:kms")
# S3's canned ACLs (x-amz-acl); anything else is refused before the first write.
CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
               "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")


@dataclass(frozen=True)
class WriteOptions:
    """How objects are written. ACL, SSE and storage class apply to S3 only."""

    acl: str | None = DEFAULT_ACL  # None: send no ACL header
    sse: str | None = None  # "AES256", "aws:kms" or None (the bucket's default)
    kms_key_id: str | None = None
    storage_class: str | None = None
    part_size: int = 8 * MIB  # S3 multipart part size; also the writer's memory bound
    # Retention (format/retention.py), S3 only, set on every object at write time:
    tagging: str | None = None  # URL-encoded object tags (`ddbvault-tier=daily`); None: no tags
    lock_mode: str | None = None  # Object Lock mode (GOVERNANCE, COMPLIANCE); None: no retention sent
    retain_until: datetime | None = None  # Object Lock retain-until date, with lock_mode


class ObjectWriter(ABC):
    """Streams one new object. Not thread-safe; one writer per worker."""

    key: str

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Commit the object. Raises IntegrityError if the key already exists."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the object. Idempotent; never raises."""


class StagedWriter(ABC):
    """Streams one new object that is NOT made visible when it ends: `stage()` returns how to
    make it visible later (ObjectStore.complete_staged), by this process or another one. The
    plan/work/commit protocol (docs/scale.md): an attempt of a segment stages its objects, and
    only the attempt that wins the segment makes them visible. Not thread-safe."""

    key: str

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def stage(self) -> dict:
        """Finish sending the bytes; returns the completion record (JSON-able, stored in the
        segment's result): S3 `{"upload_id", "parts"}`, local `{"staged": key}`."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the object. Idempotent; never raises."""


class ObjectStore(ABC):
    """A bucket or a directory holding backups."""

    @abstractmethod
    def url_of(self, key: str) -> str:
        """How messages name a key: s3://bucket/key or a path."""

    @abstractmethod
    def check_writable(self) -> None:
        """Fail early (NotFoundError / AccessDeniedError) if the root cannot be written."""

    @abstractmethod
    def open_writer(self, key: str) -> ObjectWriter: ...

    @abstractmethod
    def get(self, key: str, limit: int | None = None) -> bytes:
        """The whole object. Raises NotFoundError if absent; with `limit`, IntegrityError
        (read_bounded) when it holds more than `limit` bytes."""

    @abstractmethod
    def open_reader(self, key: str) -> BinaryIO:
        """A binary stream of the object, read incrementally. Raises NotFoundError if absent."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def seen(self, key: str) -> bool:
        """Whether `key` is there, for a caller allowed to read it but perhaps not to list the
        bucket. S3 answers HeadObject of a missing key with 403, not 404, to a caller without
        s3:ListBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html), so
        S3 counts that 403 as absent. Only for probes whose answer a create-only write settles
        anyway (backup/segments.py): never to decide that data is gone. Default: exists()."""
        return self.exists(key)

    def open_staged_writer(self, key: str, staging_key: str) -> StagedWriter:
        """A writer for object `key` whose bytes are staged, not made visible: S3 uploads the
        parts of a multipart upload to `key` and leaves it open; a local directory writes the
        file at `staging_key` (outside data/)."""
        raise NotImplementedError(f"{type(self).__name__} cannot stage objects")

    def complete_staged(self, key: str, completion: dict, size: int, sha256: str) -> None:
        """Make a staged object visible at `key`, create-only. Idempotent: when `key` already
        holds this very object (`size` bytes, `sha256` hex; another process completed it first)
        it returns. Raises IntegrityError when `key` holds anything else, or when the staged
        bytes are gone (an upload aborted by the lifecycle rule, a deleted staging file)."""
        raise NotImplementedError(f"{type(self).__name__} cannot stage objects")

    def discard_staged(self, key: str, completion: dict) -> None:
        """Drop a staged object that lost (S3 AbortMultipartUpload; local unlink). Never raises:
        what is left is removed by the bucket's AbortIncompleteMultipartUpload rule."""
        raise NotImplementedError(f"{type(self).__name__} cannot stage objects")

    @abstractmethod
    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with `prefix`, in lexicographic order."""

    def list_partial(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix` of writes begun and never committed nor aborted: what a killed
        process leaves (a local `.partial-*` file, an open S3 multipart upload). Sorted. They
        are never objects: get/exists/list_keys do not see them. Default: none."""
        return iter(())

    def apply_retention(self, tagging: str, retain_until: datetime) -> str | None:
        """Make every object written from now on carry `tagging` (S3 object tags) and, where
        the bucket has Object Lock, a retention until `retain_until`; called once, before the
        first object of a backup. Returns the Object Lock mode used, or None. Default (a local
        directory): nothing; the manifest records the tier and expiry, nothing deletes."""
        return None

    def tagged(self, tagging: str) -> "ObjectStore":
        """This store, for objects that carry `tagging` (URL-encoded S3 object tags, sent with
        each PutObject / CreateMultipartUpload, added to any tags the store already sends) — the
        follower's segments, which a lifecycle rule expires by tag. Default (a local directory):
        the store itself; nothing expires there."""
        return self

    def read_bounded(self, key: str, reader: BinaryIO, limit: int | None) -> bytes:
        """All of `reader`, or, with `limit`, at most `limit` + 1 bytes of it: one more than the
        limit proves the object is over it (IntegrityError naming the object and the limit),
        whatever size it claims."""
        if limit is None:
            return reader.read()
        chunks, size = [], 0
        while size <= limit and (chunk := reader.read(min(MIB, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLargeError(self.url_of(key), limit)
        return b"".join(chunks)

    def put_new(self, key: str, data: bytes) -> None:
        """Create a small object whole. Raises IntegrityError if it exists."""
        writer = self.open_writer(key)
        try:
            writer.write(data)
            writer.close()
        except BaseException:
            writer.abort()
            raise


class TooLargeError(IntegrityError):
    """An object over the `limit` a reader gave `ObjectStore.get`."""

    def __init__(self, url: str, limit: int):
        super().__init__(f"{url} is over {limit:,} bytes, the most ddbvault reads of it",
                         hint="restore from another backup; this one cannot be trusted")
        self.limit = limit
