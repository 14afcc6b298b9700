"""A local directory as an object store (for tests, air-gapped copies, or a mounted volume).

No link below the store's root is followed, to write or to read: every directory of a key is
opened relative to the one above it with O_NOFOLLOW (LocalStore.open_dir), and a file is created
with O_EXCL | O_NOFOLLOW and read with O_NOFOLLOW. A linked directory is IntegrityError naming
it; a linked file is "not a regular file". The root itself may be a link.

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
from contextlib import contextmanager, nullcontext
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


class _NewFile:
    """One new file, the shared part of LocalWriter and LocalStagedWriter: its directory is
    opened without following a link below the store's root (LocalStore.open_dir, which creates
    what is missing), and the file is created in it exclusively and never through a link
    (O_CREAT | O_EXCL | O_NOFOLLOW), then written, synced, or aborted. Errors name `shown`."""

    def __init__(self, store: "LocalStore", key: str, suffix: str = ""):
        self._store, self._shown = store, store.path_of(key)
        *self._dirs, name = key.split("/")
        self._name = name + suffix
        self._dir: int | None = store.open_dir(self._dirs, self._shown, create=True)
        try:
            with _writing(self._shown):
                fd = os.open(self._name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o666, dir_fd=self._dir)
        except BaseException:
            self._release()
            raise
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        with _writing(self._shown):
            self._file.write(data)

    def _sync(self) -> None:
        """Flush, fsync and close the file (its directory stays open)."""
        with _writing(self._shown):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __del__(self) -> None:  # a writer dropped without close, stage or abort keeps no descriptor
        self._release()

    def _release(self) -> None:
        if getattr(self, "_dir", None) is not None:
            os.close(self._dir)
            self._dir = None

    def abort(self) -> None:
        try:
            self._file.close()
            if self._dir is None:  # closed or staged: opened again, still never through a link
                self._dir = self._store.open_dir(self._dirs, self._shown, create=False)
            os.unlink(self._name, dir_fd=self._dir)
        except (OSError, DdbvaultError, AttributeError):
            pass
        finally:
            self._release()


class LocalWriter(_NewFile, ObjectWriter):
    """Writes `<key>.partial-<hex>`, then `close()` hard-links it to `key` (create-only)."""

    def __init__(self, store: "LocalStore", key: str):
        self.key = key
        self._final = key.rsplit("/", 1)[-1]
        super().__init__(store, key, PARTIAL_MARK + secrets.token_hex(4))

    def close(self) -> None:
        self._sync()
        with _writing(self._shown):
            try:
                os.link(self._name, self._final, src_dir_fd=self._dir, dst_dir_fd=self._dir, follow_symlinks=False)
            except FileExistsError as exc:
                self.abort()
                raise IntegrityError(f"refusing to overwrite existing object {self._shown}") from exc
            os.unlink(self._name, dir_fd=self._dir)
            os.fsync(self._dir)
        self._release()


class LocalStagedWriter(_NewFile, StagedWriter):
    """Writes the file at its staging key (an attempt's own directory, outside data/), created
    exclusively; `stage()` syncs it. complete_staged links it to the final name."""

    def __init__(self, store: "LocalStore", key: str, staging_key: str):
        self.key, self.staging_key = key, staging_key
        super().__init__(store, staging_key)

    def stage(self) -> dict:
        self._sync()
        with _writing(self._shown):
            os.fsync(self._dir)
        self._release()
        return {"staged": self.staging_key}


def _not_a_file(path: Path) -> IntegrityError:
    return IntegrityError(f"{path} is not a regular file, so it is not a backup object",
                          hint="restore from another backup; this one cannot be trusted")


class LocalStore(ObjectStore):
    def __init__(self, root: str):
        self.root = Path(root)

    def path_of(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise UsageError(f"invalid object key {key!r}")
        return self.root / key

    def url_of(self, key: str) -> str:
        return str(self.path_of(key))

    def open_dir(self, parts: list[str], shown: Path, *, create: bool) -> int:
        """A descriptor (the caller closes it) of the directory root/PARTS, each part opened
        relative to the one above it with O_NOFOLLOW, and made first when `create`. The root
        itself may be a link (the user named it); a link below it is IntegrityError naming it,
        never followed: a vault's staging/, data/, segments/, attempts/ or backup directory that
        points elsewhere would write, or read, a backup outside the vault. Raises what
        `_writing` raises when `create` (naming `shown`), else FileNotFoundError and the like."""
        if create:
            with _writing(shown):
                self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for depth, name in enumerate(parts, 1):
                with _writing(shown) if create else nullcontext():
                    if create:
                        try:
                            os.mkdir(name, dir_fd=fd)
                        except FileExistsError:
                            pass
                    try:
                        below = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    except OSError:
                        self._refuse_link(fd, name, parts[:depth])
                        raise
                os.close(fd)
                fd = below
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _refuse_link(self, fd: int, name: str, parts: list[str]) -> None:
        try:
            found = os.lstat(name, dir_fd=fd)
        except OSError:
            return
        if stat.S_ISLNK(found.st_mode):
            link = self.root.joinpath(*parts)
            raise IntegrityError(f"{link} is a symbolic link below the vault's root {self.root}; ddbvault does not "
                                 "follow links inside a vault", hint=f"replace the link {link} with a directory "
                                 "(move what it points to into its place), then run the same command again")

    @contextmanager
    def _parent(self, key: str, *, create: bool) -> Iterator[tuple[int, str]]:
        """(descriptor of `key`'s directory, opened as open_dir does, and `key`'s last name)."""
        *parts, name = key.split("/")
        fd = self.open_dir(parts, self.path_of(key), create=create)
        try:
            yield fd, name
        finally:
            os.close(fd)

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
        try:
            with self._parent(key, create=True) as (final_dir, final_name), \
                    self._parent(completion["staged"], create=False) as (staged_dir, staged_name):
                # What the attempt staged is a regular file of the size its result records: a link
                # (link() would follow it: another file under data/, even one outside the vault)
                # or a truncated file is never completed. The sha256 is checked by verify.
                found = os.lstat(staged_name, dir_fd=staged_dir)
                if not stat.S_ISREG(found.st_mode) or found.st_size != size:
                    raise IntegrityError(f"staged file {staged} of {final} is not the {size:,}-byte regular file "
                                         "its attempt wrote, so the segment's winning attempt cannot be completed",
                                         hint="start a new backup; nothing but ddbvault may write a backup's staging/")
                with _writing(final):
                    os.link(staged_name, final_name, src_dir_fd=staged_dir, dst_dir_fd=final_dir,
                            follow_symlinks=False)
                    os.fsync(final_dir)
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
        self.discard_staged(key, completion)

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
        """Unlink the staged file, then its attempt's own directory once empty; never through a
        link, never raises (what is left is a leftover, listed by list_partial)."""
        try:
            staged = completion["staged"]
            with self._parent(staged, create=False) as (fd, name):
                os.unlink(name, dir_fd=fd)
            with self._parent(staged.rpartition("/")[0], create=False) as (fd, name):
                os.rmdir(name, dir_fd=fd)
        except (OSError, DdbvaultError, KeyError, TypeError, AttributeError):
            pass

    def get(self, key: str, limit: int | None = None) -> bytes:
        with self.open_reader(key) as reader:
            return self.read_bounded(key, reader, limit)

    def open_reader(self, key: str) -> BinaryIO:
        """The object's file, opened without blocking (a FIFO would wait for a writer) and
        checked by fstat on the open descriptor (no race with a rename): anything but a regular
        file, even behind a link (/dev/zero, a directory, a FIFO, a device), is IntegrityError."""
        path = self.path_of(key)
        try:  # a link, as the last name or as a directory above it, is never followed
            with self._parent(key, create=False) as (parent, name):
                fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFoundError(f"no object {path}") from exc
        except OSError as exc:
            if exc.errno != errno.ELOOP:  # ELOOP: the last name is a link
                raise
            raise _not_a_file(path) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _not_a_file(path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def exists(self, key: str) -> bool:
        """Whether `key` is a regular file (a link is not one, nor followed)."""
        try:
            with self._parent(key, create=False) as (parent, name):
                return stat.S_ISREG(os.lstat(name, dir_fd=parent).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

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
