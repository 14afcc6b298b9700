"""ResumableReader: an S3 object's body that survives a connection cut while it streams.

A reset, timeout or short body while reading (botocore ResponseStreamingError, ReadTimeoutError,
IncompleteReadError; urllib3 ProtocolError; http.client.IncompleteRead) does not fail the read
nor restart it: the reader asks again for the rest, `GetObject Range: bytes=N-` with `If-Match`
on the first response's ETag, so an object that changed meanwhile is detected (412 ->
IntegrityError) instead of spliced. Attempts follow aws/retry.py's RetryPolicy (full-jitter
backoff) and are counted in the store's RetryStats; the budget counts consecutive failures
without a byte of progress, so it is bounded however large the object. When it runs out,
RetriesExhaustedError names the object and the offset.
"""

from __future__ import annotations

import http.client
import io
import logging
import time
from typing import TYPE_CHECKING

import urllib3.exceptions
from botocore.exceptions import HTTPClientError, IncompleteReadError

from ..aws.error_translation import translated
from ..aws.retry import call_with_retries
from ..errors import DdbvaultError, IntegrityError, RetriesExhaustedError
from ..plural import counted

if TYPE_CHECKING:
    from .s3 import S3Store

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
# What a broken transfer of the body looks like, at each layer it can surface from.
BROKEN_BODY = (HTTPClientError, IncompleteReadError, urllib3.exceptions.HTTPError,
               http.client.IncompleteRead, OSError)


class ResumableReader(io.RawIOBase):
    """A readable binary stream of s3://bucket/key. GetObject is called on construction (raises
    NotFoundError if absent) and once more per resume. Not thread-safe."""

    def __init__(self, store: "S3Store", key: str, sleep=time.sleep):
        super().__init__()
        self._store, self._key, self._sleep = store, key, sleep
        self._url = store.url_of(key)
        self._pos = 0
        self._failures = 0  # consecutive broken reads without progress
        self._etag: str | None = None
        response = self._get()
        self._etag, self._size, self._body = response["ETag"], response["ContentLength"], response["Body"]

    def readable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """The object's size, as its first GetObject said (ContentLength)."""
        return self._size

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        while self._pos < self._size and size:
            try:
                data = self._body.read(size)
            except BROKEN_BODY as exc:
                self._resume(exc)
                continue
            if not data:  # the body ended early without an error from below
                self._resume(IncompleteReadError(actual_bytes=self._pos, expected_bytes=self._size))
                continue
            self._pos += len(data)
            self._failures = 0
            return data
        return b""

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and getattr(self, "_body", None) is not None:
            self._body.close()
        super().close()

    def _get(self) -> dict:
        s, kwargs = self._store, {}
        if self._etag is not None:  # a resume: the same object, from where the last read stopped
            kwargs = {"IfMatch": self._etag, **({"Range": f"bytes={self._pos}-"} if self._pos else {})}
        with translated(service="s3", action="GetObject", resource=self._url):
            return call_with_retries(lambda: s.client.get_object(Bucket=s.bucket, Key=self._key, **kwargs),
                                     policy=s.retry, stats=s.stats, what=f"GetObject {self._key}")

    def _resume(self, exc: BaseException) -> None:
        """Wait, then continue from self._pos on a new ranged GetObject. Raises when the budget
        of consecutive failures is spent, or if the object changed (IntegrityError)."""
        policy, stats = self._store.retry, self._store.stats
        self._failures += 1
        if self._failures >= policy.attempts:
            raise RetriesExhaustedError(
                f"GetObject on {self._url} failed: the transfer broke {counted(self._failures, 'time')} in a row "
                f"at byte {self._pos:,} of {self._size:,} ({type(exc).__name__}); retries exhausted",
                "check the network and the endpoint, then run again", action="GetObject",
                resource=self._url, code=type(exc).__name__) from exc
        if stats:
            stats.record(exc)
        delay = policy.delay(self._failures - 1)
        log.debug("GetObject %s broke at byte %d (%s); resuming in %.2fs", self._key, self._pos,
                  type(exc).__name__, delay)
        self._sleep(delay)
        self._body.close()
        try:
            response = self._get()
        except DdbvaultError as error:
            if getattr(error, "code", "") in ("PreconditionFailed", "412"):
                raise IntegrityError(f"{self._url} changed while it was being read (its ETag is no "
                                     f"longer {self._etag})", hint="run again; a backup object must "
                                     "never change, so find out what rewrote it") from error
            raise
        if self._pos and not str(response.get("ContentRange", "")).startswith(f"bytes {self._pos}-"):
            raise IntegrityError(f"{self._url}: a ranged GetObject from byte {self._pos} answered "
                                 f"{response.get('ContentRange')!r}")
        self._body = response["Body"]
