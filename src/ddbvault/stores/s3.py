"""S3 as an object store: streamed multipart uploads, canned ACL, SSE, conditional create.

- Every object is created with `If-None-Match: *` (PutObject, CompleteMultipartUpload), so an
  existing key is never overwritten; S3 answers PreconditionFailed and we raise IntegrityError.
- Every object carries the configured canned ACL (default bucket-owner-full-control) and SSE.
- Nothing here calls DeleteObject. A failed writer aborts its multipart upload; leftovers of a
  crashed process are removed by the bucket's AbortIncompleteMultipartUpload lifecycle rule.
- Memory per writer: one part buffer (WriteOptions.part_size).
"""

from __future__ import annotations

import logging
from typing import BinaryIO, Iterator

from botocore.exceptions import ClientError

from ..aws.error_translation import translated
from ..aws.retry import RetryPolicy, call_with_retries
from ..errors import IntegrityError, NotFoundError
from .base import ObjectStore, ObjectWriter, WriteOptions

log = logging.getLogger(__name__)
MIN_PART = 5 * 1024 * 1024


def _precondition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412")


class S3Writer(ObjectWriter):
    def __init__(self, store: "S3Store", key: str):
        self.key = key
        self._store = store
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []

    def _call(self, action: str, fn, **kwargs):
        s = self._store
        with translated(service="s3", action=action, resource=s.url_of(self.key), acl=s.options.acl):
            return call_with_retries(lambda: fn(Bucket=s.bucket, Key=self.key, **kwargs),
                                     policy=s.retry, what=f"{action} {self.key}")

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._store.options.part_size:
            self._upload_part()

    def _upload_part(self) -> None:
        client = self._store.client
        if self._upload_id is None:
            created = self._call("CreateMultipartUpload", client.create_multipart_upload,
                                 **self._store.object_args())
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        body = bytes(self._buffer)
        response = self._call("UploadPart", client.upload_part, UploadId=self._upload_id,
                              PartNumber=number, Body=body)
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._buffer = bytearray()

    def close(self) -> None:
        client = self._store.client
        try:
            if self._upload_id is None:
                self._call("PutObject", client.put_object, Body=bytes(self._buffer), IfNoneMatch="*",
                           **self._store.object_args())
                return
            if self._buffer:
                self._upload_part()
            self._call("CompleteMultipartUpload", client.complete_multipart_upload,
                       UploadId=self._upload_id, MultipartUpload={"Parts": self._parts},
                       IfNoneMatch="*")
            self._upload_id = None
        except IntegrityError:
            raise
        except Exception as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _precondition_failed(cause):
                self.abort()
                raise IntegrityError(f"refusing to overwrite existing object {self._store.url_of(self.key)}",
                                     hint="a backup is never modified; use a new backup id") from exc
            raise

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


class S3Store(ObjectStore):
    def __init__(self, client, bucket: str, options: WriteOptions | None = None,
                 retry: RetryPolicy | None = None):
        self.client = client
        self.bucket = bucket
        self.options = options or WriteOptions()
        self.retry = retry or RetryPolicy()
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
        return args

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

    def open_writer(self, key: str) -> ObjectWriter:
        return S3Writer(self, key)

    def get(self, key: str) -> bytes:
        with translated(service="s3", action="GetObject", resource=self.url_of(key)):
            return call_with_retries(
                lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read(),
                policy=self.retry, what=f"GetObject {key}")

    def open_reader(self, key: str) -> BinaryIO:
        """The GetObject body stream. A transfer cut mid-way raises; callers re-read the object."""
        with translated(service="s3", action="GetObject", resource=self.url_of(key)):
            response = call_with_retries(lambda: self.client.get_object(Bucket=self.bucket, Key=key),
                                         policy=self.retry, what=f"GetObject {key}")
        return response["Body"]

    def exists(self, key: str) -> bool:
        try:
            with translated(service="s3", action="HeadObject", resource=self.url_of(key)):
                self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except NotFoundError:
            return False

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with translated(service="s3", action="ListObjectsV2", resource=self.url_of(prefix)):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield obj["Key"]
