"""Object stores: where backups live. One interface (base.ObjectStore), one module per backend
(local, s3), destination URLs (destination), and S3's limits in one place (s3_limits)."""

from __future__ import annotations

from .destination import Destination
from .base import DEFAULT_ACL, ObjectStore, ObjectWriter, WriteOptions
from .local import LocalStore

__all__ = ["DEFAULT_ACL", "ObjectStore", "ObjectWriter", "WriteOptions", "LocalStore", "open_store", "session_for"]


def session_for(dest: Destination, principal):
    """The boto3 session that reaches `dest` as `principal` (aws.session.Principal; None: the
    default chain), or None for a local directory, which needs none. A role given for a local
    directory would be silently ignored, so it is refused: UsageError (exit 2)."""
    from ..aws.session import Principal, make_session
    from ..errors import UsageError

    if dest.kind == "local":
        if principal is not None and principal.role_arn:
            raise UsageError(f"a vault role ({principal.role_arn}) was given, but {dest.location} is a local "
                             "directory: no role is assumed to reach it",
                             hint="drop --vault-role (or the config's dest_role/monitor_role), or use an s3:// destination")
        return None
    return make_session(principal or Principal())


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
