"""A local directory as an object store (for tests, air-gapped copies, or a mounted volume).

Create-only commits use a hard link from a private temporary file to the final name: the link
fails if the name exists, so nothing is overwritten, and the final name appears whole.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path
from contextlib import contextmanager
from typing import BinaryIO, Iterator

from ..errors import DdbvaultError, IntegrityError, NotFoundError, UsageError
from .base import ObjectStore, ObjectWriter, StagedWriter

PARTIAL_MARK = ".partial-"
STAGING = "staging"  # format/plan.py STAGING_DIR: an attempt's staged files, under the backup root


# A write the file system refuses, whatever the step (mkdir, open, write, fsync, link): one
# line naming the path and the system's reason. Other OSErrors (FileExistsError: create-only)
# keep their meaning for the caller.
_REFUSED = (errno.EROFS, errno.EACCES, errno.EPERM)
_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def _writing(path: Path):
    try:
        yield
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise UsageError(f"cannot write {path}: {exc.strerror}",
                             hint="make the destination writable (or choose another), then run the same "
                             "command again; a planned backup carries on with `ddbvault backup --resume URL`") from None
        if exc.errno in _FULL:
            raise DdbvaultError(f"cannot write {path}: {exc.strerror}",
                                hint="free space on its file system, then run the same command again; a "
                                "planned backup carries on with `ddbvault backup --resume URL`") from None
        raise


class LocalWriter(ObjectWriter):
    def __init__(self, store: "LocalStore", key: str):
        self.key = key
        self._final = store.path_of(key)
        self._tmp = self._final.with_name(self._final.name + PARTIAL_MARK + secrets.token_hex(4))
        with _writing(self._final):
            self._final.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._tmp, "xb")

    def write(self, data: bytes) -> None:
        with _writing(self._final):
            self._file.write(data)

    def close(self) -> None:
        with _writing(self._final):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            try:
                os.link(self._tmp, self._final)
            except FileExistsError as exc:
                self.abort()
                raise IntegrityError(f"refusing to overwrite existing object {self._final}") from exc
            os.unlink(self._tmp)
            _fsync_dir(self._final.parent)

    def abort(self) -> None:
        try:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
        except OSError:
            pass


class LocalStagedWriter(StagedWriter):
    """Writes the file at its staging key (an attempt's own directory, outside data/), created
    exclusively; `stage()` syncs it. complete_staged links it to the final name."""

    def __init__(self, store: "LocalStore", key: str, staging_key: str):
        self.key, self.staging_key = key, staging_key
        self._path = store.path_of(staging_key)
        with _writing(self._path):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._path, "xb")

    def write(self, data: bytes) -> None:
        with _writing(self._path):
            self._file.write(data)

    def stage(self) -> dict:
        with _writing(self._path):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            _fsync_dir(self._path.parent)
        return {"staged": self.staging_key}

    def abort(self) -> None:
        try:
            self._file.close()
            self._path.unlink(missing_ok=True)
        except OSError:
            pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(ObjectStore):
    def __init__(self, root: str):
        self.root = Path(root)

    def path_of(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise UsageError(f"invalid object key {key!r}")
        return self.root / key

    def url_of(self, key: str) -> str:
        return str(self.path_of(key))

    def check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create destination directory {self.root}: {exc.strerror}",
                             hint="choose a writable directory") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise UsageError(f"destination directory {self.root} is not writable",
                             hint="choose a writable directory or fix its permissions")

    def open_writer(self, key: str) -> ObjectWriter:
        return LocalWriter(self, key)

    def open_staged_writer(self, key: str, staging_key: str) -> StagedWriter:
        return LocalStagedWriter(self, key, staging_key)

    def complete_staged(self, key: str, completion: dict, size: int, sha256: str) -> None:
        """Hard-link the staged file to `key` (fails if `key` exists: create-only), then unlink
        the staged name. See base.ObjectStore.complete_staged."""
        staged, final = self.path_of(completion["staged"]), self.path_of(key)
        with _writing(final):
            final.parent.mkdir(parents=True, exist_ok=True)
        try:
            # What the attempt staged is a regular file of the size its result records: a link
            # (followed by link() by default: it would put another file under data/, even one
            # outside the vault) or a truncated file is never completed. The sha256 is checked by verify.
            found = os.lstat(staged)
            if not stat.S_ISREG(found.st_mode) or found.st_size != size:
                raise IntegrityError(f"staged file {staged} of {final} is not the {size:,}-byte regular file its "
                                     "attempt wrote, so the segment's winning attempt cannot be completed",
                                     hint="start a new backup; nothing but ddbvault may write a backup's staging/")
            with _writing(final):
                os.link(staged, final, follow_symlinks=False)
        except FileExistsError:
            why = self._differs(key, size, sha256)
            if why is not None:
                raise IntegrityError(f"refusing to overwrite existing object {final} ({why})",
                                     hint="a backup is never modified; start a new backup") from None
        except FileNotFoundError:
            if self._differs(key, size, sha256) is not None:
                raise IntegrityError(f"staged file {staged} of {final} is gone, so the segment's winning "
                                     "attempt cannot be completed",
                                     hint="start a new backup; do not delete a backup's staging/ while it runs") from None
        else:
            _fsync_dir(final.parent)
        staged.unlink(missing_ok=True)
        try:
            staged.parent.rmdir()  # the attempt's own directory, once its last file is in place
        except OSError:
            pass

    def _differs(self, key: str, size: int, sha256: str) -> str | None:
        """None when the file at `key` is `size` bytes with that sha256 (hex); else why not."""
        try:
            with self.open_reader(key) as reader:
                digest, read = hashlib.sha256(), 0
                while chunk := reader.read(1024 * 1024):
                    digest.update(chunk)
                    read += len(chunk)
        except NotFoundError:
            return "it does not exist"
        if read != size or digest.hexdigest() != sha256:
            return "it holds other bytes than the staged object"
        return None

    def discard_staged(self, key: str, completion: dict) -> None:
        try:
            path = self.path_of(completion["staged"])
            path.unlink(missing_ok=True)
            path.parent.rmdir()  # the attempt's own directory, once empty
        except (OSError, UsageError, KeyError):
            pass

    def get(self, key: str, limit: int | None = None) -> bytes:
        with self.open_reader(key) as reader:
            return self.read_bounded(key, reader, limit)

    def open_reader(self, key: str) -> BinaryIO:
        """The object's file, opened without blocking (a FIFO would wait for a writer) and
        checked by fstat on the open descriptor (no race with a rename): anything but a regular
        file, even behind a link (/dev/zero, a directory, a FIFO, a device), is IntegrityError."""
        path = self.path_of(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFoundError(f"no object {path}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IntegrityError(f"{path} is not a regular file, so it is not a backup object",
                                 hint="restore from another backup; this one cannot be trusted")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(key for key in self._walk(prefix) if PARTIAL_MARK not in key))

    def list_partial(self, prefix: str) -> Iterator[str]:
        """The `<key>.partial-<hex>` temporary files of writers that never finished, and the files
        killed segment attempts left staged under a backup's `staging/` (docs/scale.md)."""
        return iter(sorted(key for key in self._walk(prefix)
                           if PARTIAL_MARK in key or f"/{STAGING}/" in f"/{key}" and not key.endswith("/")))

    def _walk(self, prefix: str) -> Iterator[str]:
        """Every non-directory entry and link (special files and links to directories too:
        reading refuses them), and each empty directory as `<key>/`, as S3 lists a folder
        marker (base.py's contract)."""
        for dirpath, dirs, files in os.walk(self.root):
            here = Path(dirpath).relative_to(self.root).as_posix()
            linked = [name for name in dirs if os.path.islink(os.path.join(dirpath, name))]  # not walked
            keys = [Path(dirpath, name).relative_to(self.root).as_posix() for name in files + linked]
            if not dirs and not files and here != ".":
                keys.append(here + "/")
            yield from (key for key in keys if key.startswith(prefix))
