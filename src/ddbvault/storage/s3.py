"""S3 as an object store: streamed multipart uploads, canned ACL, SSE, conditional create.

- Every object is created with `If-None-Match: *` (PutObject, CompleteMultipartUpload), so an
  existing key is never overwritten; S3 answers 412 PreconditionFailed.
- Exactly-once outcome: a create whose response is lost and that is retried (by botocore or by
  aws/retry.py) meets a 412 from its own earlier success. On 412 the writer asks HeadObject
  (ChecksumMode=ENABLED) whether the object there is the one it sent: same size and the SHA-256
  checksum it sent with every part (composite `<b64>-N` for multipart), or, where the server
  keeps no checksum, the MD5 ETag (`md5(body)`, or `md5(part MD5s)-N`). Only then does it carry
  on; otherwise, or if HeadObject is denied, it raises IntegrityError as for any existing key.
- Abort is registered the moment CreateMultipartUpload succeeds (s3transfer's rule): every
  failure after it, in write() or close(), aborts the upload before the error propagates.
- Limits (storage/s3_limits.py) are checked before each part is sent.
- Every object carries the configured canned ACL (default bucket-owner-full-control) and SSE,
  and under a keep policy its tier tag and, where the bucket has Object Lock, its retention, all
  sent with PutObject / CreateMultipartUpload: never a later PutObjectTagging or PutObjectRetention
  call (`apply_retention`).
- Nothing here calls DeleteObject. Leftovers of a crashed process are removed by the bucket's
  AbortIncompleteMultipartUpload lifecycle rule.
- Memory per writer: one part buffer (WriteOptions.part_size) and its copy while it is sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import BinaryIO, Iterator

from botocore.exceptions import ClientError

from ..aws.error_translation import translated
from ..aws.retry import RetryPolicy, RetryStats, call_with_retries
from ..errors import AccessDeniedError, AwsError, DdbvaultError, IntegrityError, NotFoundError, UsageError
from .base import ObjectStore, ObjectWriter, StagedWriter, WriteOptions, TooLargeError
from .s3_limits import MAX_PART, MAX_PARTS, MIN_PART
from .s3_reader import ResumableReader

log = logging.getLogger(__name__)
CHECKSUM = "SHA256"


def _precondition_failed(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, DdbvaultError) else exc
    return isinstance(cause, ClientError) and \
        cause.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SentObject:
    """What this writer sent for one object: enough to recognise it on 412."""

    size: int
    sha256: str  # base64; for multipart the composite: sha256 of the parts' digests
    etag: str | None  # the MD5 ETag S3 gives it when not SSE-KMS; None when it cannot be known


class S3Writer(ObjectWriter):
    def __init__(self, store: "S3Store", key: str):
        self.key = key
        self._store = store
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._digests: list[bytes] = []
        self._sent = 0

    def _call(self, action: str, fn, **kwargs):
        s = self._store
        with translated(service="s3", action=action, resource=s.url_of(self.key), acl=s.options.acl):
            return call_with_retries(lambda: fn(Bucket=s.bucket, Key=self.key, **kwargs),
                                     policy=s.retry, stats=s.stats, what=f"{action} {self.key}")

    @contextlib.contextmanager
    def _aborting(self) -> Iterator[None]:
        """Abort the multipart upload (if one was created) on any failure, then re-raise."""
        try:
            yield
        except BaseException:
            self.abort()
            raise

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._store.options.part_size:
            with self._aborting():
                self._upload_part()

    def _upload_part(self) -> None:
        client = self._store.client
        number = len(self._parts) + 1
        if number > MAX_PARTS or len(self._buffer) > MAX_PART:
            raise UsageError(f"{self._store.url_of(self.key)} would exceed S3's limits of {MAX_PARTS:,} "
                             "parts of at most 5 GiB", hint="raise --part-size or lower --object-size")
        if self._upload_id is None:
            created = self._call("CreateMultipartUpload", client.create_multipart_upload,
                                 ChecksumAlgorithm=CHECKSUM, **self._store.object_args())
            self._upload_id = created["UploadId"]  # from here on, every failure aborts it
        body = bytes(self._buffer)
        digest = hashlib.sha256(body).digest()
        response = self._call("UploadPart", client.upload_part, UploadId=self._upload_id,
                              PartNumber=number, Body=body, ChecksumAlgorithm=CHECKSUM,
                              ChecksumSHA256=_b64(digest))
        self._parts.append({"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": _b64(digest)})
        self._digests.append(digest)
        self._sent += len(body)
        self._buffer = bytearray()

    def close(self) -> None:
        """Commit. Raises IntegrityError if another object holds the key; aborts on any failure."""
        with self._aborting():
            if self._upload_id is None:
                self._put_whole()
            else:
                if self._buffer:
                    self._upload_part()
                self._complete()

    def _put_whole(self) -> None:
        body = bytes(self._buffer)
        sha256 = _b64(hashlib.sha256(body).digest())
        try:
            self._call("PutObject", self._store.client.put_object, Body=body, IfNoneMatch="*",
                       ChecksumAlgorithm=CHECKSUM, ChecksumSHA256=sha256, **self._store.object_args())
        except DdbvaultError as exc:
            if not _precondition_failed(exc):
                raise
            self._settle_conflict(SentObject(len(body), sha256, hashlib.md5(body).hexdigest()), exc)
        self._buffer = bytearray()

    def _complete(self) -> None:
        try:
            self._call("CompleteMultipartUpload", self._store.client.complete_multipart_upload,
                       UploadId=self._upload_id, MultipartUpload={"Parts": self._parts},
                       IfNoneMatch="*")
        except DdbvaultError as exc:
            if not _precondition_failed(exc):
                raise
            composite = _b64(hashlib.sha256(b"".join(self._digests)).digest())
            self._settle_conflict(SentObject(self._sent, composite, _multipart_etag(self._parts)), exc)
        self._upload_id = None  # completed: nothing left to abort

    def _settle_conflict(self, sent: SentObject, exc: DdbvaultError) -> None:
        """On 412: return if the object at the key is the one we sent, else raise IntegrityError."""
        url = self._store.url_of(self.key)
        why = self._store.differs(self.key, sent)
        if why is None:
            log.info("%s: a retried create met its own earlier success (same size and checksum); "
                     "carrying on", url)
            return
        raise IntegrityError(f"refusing to overwrite existing object {url} ({why})",
                             hint="a backup is never modified; use a new backup id") from exc

    def abort(self) -> None:
        self._buffer = bytearray()
        if self._upload_id is None:
            return
        upload_id, self._upload_id = self._upload_id, None
        try:
            self._store.client.abort_multipart_upload(Bucket=self._store.bucket, Key=self.key,
                                                      UploadId=upload_id)
        except Exception as exc:  # abort is best effort; the lifecycle rule cleans up the rest
            log.warning("could not abort multipart upload of %s: %s", self._store.url_of(self.key), exc)


class S3StagedWriter(StagedWriter):
    """Uploads the object's parts to a multipart upload of `key` and leaves it open: `stage()`
    returns the upload id and the parts (with their ETags and SHA-256 checksums), which is all
    CompleteMultipartUpload needs, in any process. An object smaller than one part is one part:
    S3 allows the last (here the only) part to be under 5 MiB
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html)."""

    def __init__(self, store: "S3Store", key: str):
        self.key = key
        self._writer = S3Writer(store, key)  # the same part upload, checks and abort rules

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def stage(self) -> dict:
        w = self._writer
        with w._aborting():
            if w._buffer or w._upload_id is None:
                w._upload_part()
        return {"upload_id": w._upload_id, "parts": list(w._parts)}

    def abort(self) -> None:
        self._writer.abort()


def _multipart_etag(parts: list[dict]) -> str | None:
    """S3's ETag of a multipart object, md5(part MD5s)-N, if every part ETag is an MD5."""
    try:
        md5s = b"".join(bytes.fromhex(p["ETag"].strip('"')) for p in parts)
    except ValueError:
        return None
    if len(md5s) != 16 * len(parts):
        return None
    return f"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"


class S3Store(ObjectStore):
    def __init__(self, client, bucket: str, options: WriteOptions | None = None,
                 retry: RetryPolicy | None = None, stats: RetryStats | None = None):
        self.client = client
        self.bucket = bucket
        self.options = options or WriteOptions()
        self.retry = retry or RetryPolicy()
        self.stats = stats  # counts the retries of every call and of every resumed read
        if self.options.part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes (S3's minimum part size)")

    def object_args(self) -> dict:
        o = self.options
        args: dict = {}
        if o.acl:
            args["ACL"] = o.acl
        if o.sse:
            args["ServerSideEncryption"] = o.sse
        if o.kms_key_id:
            args["SSEKMSKeyId"] = o.kms_key_id
        if o.storage_class:
            args["StorageClass"] = o.storage_class
        if o.tagging:
            args["Tagging"] = o.tagging
        if o.lock_mode and o.retain_until:
            args["ObjectLockMode"] = o.lock_mode
            args["ObjectLockRetainUntilDate"] = o.retain_until
        return args

    def apply_retention(self, tagging: str, retain_until: datetime) -> str | None:
        """Tag every later object; where Object Lock is on, retain it until `retain_until` in
        the bucket's default mode (GOVERNANCE when it has none). See base.ObjectStore."""
        mode = self.object_lock_mode()
        self.options = replace(self.options, tagging=tagging, lock_mode=mode,
                               retain_until=retain_until if mode else None)
        return mode

    def tagged(self, tagging: str) -> "S3Store":
        """A store on the same client and bucket whose objects also carry `tagging`; see
        base.ObjectStore.tagged. S3 needs s3:PutObjectTagging for a PutObject with tags."""
        both = f"{self.options.tagging}&{tagging}" if self.options.tagging else tagging
        return S3Store(self.client, self.bucket, replace(self.options, tagging=both), self.retry, self.stats)

    def object_lock_mode(self) -> str | None:
        """The mode new objects should be locked in: the bucket's default retention mode, or
        GOVERNANCE when Object Lock is enabled without one; None when it is not enabled. A
        principal denied s3:GetBucketObjectLockConfiguration (or a server without the call)
        cannot know: it sends no retention (the bucket's default retention, if any, still
        applies) and logs a warning."""
        try:
            with translated(service="s3", action="GetObjectLockConfiguration", resource=self.url_of("")):
                lock = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except NotFoundError:  # ObjectLockConfigurationNotFoundError: not enabled
            return None
        except AwsError as exc:  # denied, or a server without the call: cannot know
            log.warning("cannot tell whether %s has Object Lock (%s): objects get no retention of "
                        "their own", self.url_of(""), exc.message)
            return None
        if lock.get("ObjectLockEnabled") != "Enabled":
            return None
        return ((lock.get("Rule") or {}).get("DefaultRetention") or {}).get("Mode") or "GOVERNANCE"

    def url_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"

    def check_writable(self) -> None:
        """HeadBucket: 404 means no such bucket. 403 is fine: a least-privilege writer may put
        objects without s3:ListBucket, so only the first real write proves access."""
        try:
            with translated(service="s3", action="HeadBucket", resource=self.url_of("")):
                self.client.head_bucket(Bucket=self.bucket)
        except NotFoundError as exc:
            raise NotFoundError(f"bucket {self.bucket} does not exist (HeadBucket: 404)",
                                hint="create the bucket in the data account, or check the name and region") from exc
        except Exception as exc:
            code = getattr(exc, "code", "")
            if code in ("403", "AccessDenied", "Forbidden"):
                log.debug("HeadBucket on %s denied; continuing (write access is proven by PutObject)",
                          self.bucket)
                return
            raise

    def differs(self, key: str, sent: SentObject) -> str | None:
        """None if the object at `key` is `sent` (HeadObject, ChecksumMode=ENABLED); else why not."""
        try:
            with translated(service="s3", action="HeadObject", resource=self.url_of(key)):
                head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except AccessDeniedError:
            return ("it exists, and HeadObject, which would show whether it is this writer's own "
                    "earlier attempt, was denied: the writer needs s3:GetObject to tell")
        except DdbvaultError as exc:
            return f"it exists, and HeadObject to compare it failed: {exc.message}"
        if head.get("ContentLength") != sent.size:
            return f"it holds {head.get('ContentLength')} bytes, this writer sent {sent.size}"
        stored = head.get("ChecksumSHA256")
        if stored:
            return None if stored.split("-")[0] == sent.sha256 else "its SHA-256 checksum differs"
        if sent.etag is not None and head.get("ETag", "").strip('"') == sent.etag:
            return None
        return "it has no checksum and its ETag does not prove it is this writer's"

    def open_writer(self, key: str) -> ObjectWriter:
        return S3Writer(self, key)

    def open_staged_writer(self, key: str, staging_key: str) -> StagedWriter:
        return S3StagedWriter(self, key)

    def complete_staged(self, key: str, completion: dict, size: int, sha256: str) -> None:
        """CompleteMultipartUpload of the recorded upload, If-None-Match: * (create-only). A 412
        (the key exists) or NoSuchUpload (completed already, by the winner or a racing commit, or
        aborted) is settled by HeadObject: the object there must be the staged one (its size and
        the composite SHA-256 of its parts, or their MD5 ETag), else IntegrityError. See
        base.ObjectStore.complete_staged; `sha256` (of the whole object) is checked by verify."""
        parts = completion["parts"]
        try:
            digests = b"".join(base64.b64decode(p["ChecksumSHA256"], validate=True) for p in parts)
        except (KeyError, ValueError):
            digests = b""
        sent = SentObject(size, _b64(hashlib.sha256(digests).digest()) if digests else "",
                          _multipart_etag(parts))
        url = self.url_of(key)
        try:
            with translated(service="s3", action="CompleteMultipartUpload", resource=url, acl=self.options.acl):
                call_with_retries(lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=completion["upload_id"],
                    MultipartUpload={"Parts": parts}, IfNoneMatch="*"),
                    policy=self.retry, stats=self.stats, what=f"CompleteMultipartUpload {key}")
            return
        except NotFoundError as exc:  # NoSuchUpload: completed by someone else, or aborted
            if not self.exists(key):
                raise IntegrityError(f"the upload of {url} is gone and no object is there: the segment's "
                                     "winning attempt cannot be completed (was it aborted by the bucket's "
                                     "AbortIncompleteMultipartUpload rule?)",
                                     hint="start a new backup; the lifecycle rule's age must exceed the "
                                     "longest backup (docs/scale.md)") from exc
            cause: DdbvaultError = exc
        except DdbvaultError as exc:
            if not _precondition_failed(exc):
                raise
            cause = exc
        why = self.differs(key, sent)
        if why is not None:
            raise IntegrityError(f"refusing to overwrite existing object {url} ({why})",
                                 hint="a backup is never modified; start a new backup") from cause
        log.debug("%s was completed already; it is the staged object", url)

    def discard_staged(self, key: str, completion: dict) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=completion["upload_id"])
        except Exception as exc:  # best effort; the lifecycle rule cleans up the rest
            log.warning("could not abort multipart upload of %s: %s", self.url_of(key), type(exc).__name__)

    def get(self, key: str, limit: int | None = None) -> bytes:
        """GetObject; with `limit`, an object whose ContentLength is over it is refused before
        its body is read, and no more than `limit` + 1 bytes are ever read of it."""
        with self.open_reader(key) as reader:
            if limit is not None and reader.size > limit:
                raise TooLargeError(self.url_of(key), limit)
            return self.read_bounded(key, reader, limit)

    def open_reader(self, key: str) -> BinaryIO:
        """A stream of the object that survives connection resets: see storage/s3_reader.py."""
        return ResumableReader(self, key)

    def exists(self, key: str) -> bool:
        try:
            with translated(service="s3", action="HeadObject", resource=self.url_of(key)):
                self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except NotFoundError:
            return False

    def seen(self, key: str) -> bool:
        """HeadObject: 200 there; 404, or 403 (a missing key, to a caller without s3:ListBucket),
        not there. See base.ObjectStore.seen."""
        try:
            return self.exists(key)
        except AccessDeniedError:
            log.debug("HeadObject %s: 403, read as absent (no s3:ListBucket to tell)", self.url_of(key))
            return False

    def list_partial(self, prefix: str) -> Iterator[str]:
        """Keys of open multipart uploads (ListMultipartUploads). A principal without
        s3:ListBucketMultipartUploads sees none (logged at debug level); another failure of the
        call is logged as a warning and shows none."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        keys = []
        try:
            with translated(service="s3", action="ListMultipartUploads", resource=self.url_of(prefix)):
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                    keys += [upload["Key"] for upload in page.get("Uploads", [])]
        except AccessDeniedError as exc:
            log.debug("cannot list open multipart uploads: %s", exc.message)
        except AwsError as exc:  # auxiliary: a server without the call must not fail a listing
            log.warning("cannot list open multipart uploads: %s", exc.message)
        return iter(sorted(keys))

    def list_keys(self, prefix: str) -> Iterator[str]:
        for obj in self.list_objects(prefix):
            yield obj["Key"]

    def list_objects(self, prefix: str) -> Iterator[dict]:
        """ListObjectsV2 under `prefix`, every page: each object's entry (Key, Size in bytes,
        ETag, ...), as S3 returns it."""
        paginator = self.client.get_paginator("list_objects_v2")
        with translated(service="s3", action="ListObjectsV2", resource=self.url_of(prefix)):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
