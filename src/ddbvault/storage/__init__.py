"""Object stores: where backups live. One interface (base.ObjectStore), one module per backend
(local, s3), destination URLs (destination), and S3's limits in one place (s3_limits)."""

from __future__ import annotations

from .destination import Destination
from .base import DEFAULT_ACL, ObjectStore, ObjectWriter, WriteOptions
from .local import LocalStore

__all__ = ["DEFAULT_ACL", "ObjectStore", "ObjectWriter", "WriteOptions", "LocalStore", "open_store"]


def open_store(dest: Destination, session=None, options: WriteOptions | None = None,
               pool: int = 10, stats=None) -> ObjectStore:
    """The store for a parsed destination. `session` (boto3) is needed for S3 only; S3 counts
    its retries (ours and botocore's own, inside each call) and resumed reads in `stats` (an
    aws.retry.RetryStats) when given."""
    if dest.kind == "local":
        return LocalStore(dest.location)
    from ..aws.session import client
    from .s3 import S3Store

    return S3Store(client(session, "s3", pool=pool, stats=stats), dest.location, options, stats=stats)
