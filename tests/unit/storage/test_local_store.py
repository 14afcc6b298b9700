"""LocalStore reads only regular files, and `get(limit=N)` holds at most N + 1 bytes: a stored
manifest is untrusted, and a link to /dev/zero, a FIFO or a directory must fail at once, by
name, never hang nor fill memory (storage/base.py's contract)."""

from __future__ import annotations

import io
import os
import threading

import pytest

from ddbvault.errors import IntegrityError, NotFoundError
from ddbvault.storage import LocalStore
from ddbvault.storage.base import TooLargeError


def _store(tmp_path) -> LocalStore:
    store = LocalStore(str(tmp_path))
    (tmp_path / "t").mkdir()
    return store


def _within(seconds: float, call):
    """`call()`'s exception (or None) if it returns within `seconds`; fails the test otherwise."""
    outcome: list = []

    def run():
        try:
            call()
            outcome.append(None)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds}s"
    return outcome[0]


@pytest.mark.parametrize("kind", ["dev-zero link", "fifo", "directory", "directory link"])
def test_anything_but_a_regular_file_is_refused_by_name_at_once(tmp_path, kind):
    store, path = _store(tmp_path), tmp_path / "t" / "manifest.json"
    if kind == "dev-zero link":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        (tmp_path / "elsewhere").mkdir()
        path.symlink_to(tmp_path / "elsewhere")
    for read in (lambda: store.get("t/manifest.json", limit=1024), lambda: store.get("t/manifest.json"),
                 lambda: store.open_reader("t/manifest.json")):
        error = _within(10, read)
        assert isinstance(error, IntegrityError) and f"{path} is not a regular file" in error.message
    assert [key.rstrip("/") for key in store.list_keys("t/")] == ["t/manifest.json"]  # seen, not hidden


def test_get_with_a_limit_refuses_an_object_over_it_naming_both(tmp_path):
    store = _store(tmp_path)
    store.put_new("t/k", b"x" * 100)
    assert store.get("t/k", limit=100) == b"x" * 100
    with pytest.raises(TooLargeError, match=r"t/k is over 99 bytes"):
        store.get("t/k", limit=99)
    with open(tmp_path / "t" / "sparse", "wb") as sparse:  # 1 TiB on paper, nothing on disk
        sparse.truncate(1 << 40)
    with pytest.raises(TooLargeError, match="over 1,024 bytes"):
        store.get("t/sparse", limit=1024)
    with pytest.raises(NotFoundError):
        store.get("t/absent", limit=1)


class _Endless(io.RawIOBase):
    """A stream with no end that counts what was read of it."""

    def __init__(self):
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b"\0" * len(buffer)
        self.taken += len(buffer)
        return len(buffer)


def test_a_bounded_read_takes_at_most_one_byte_over_the_limit(tmp_path):
    stream = _Endless()
    with pytest.raises(TooLargeError):
        _store(tmp_path).read_bounded("k", stream, 3 * 1024 * 1024)
    assert stream.taken == 3 * 1024 * 1024 + 1


def test_an_empty_directory_is_listed_as_a_folder_key(tmp_path):
    store = _store(tmp_path)
    (tmp_path / "t" / "b" / "manifest.json").mkdir(parents=True)
    store.put_new("t/a/one", b"1")
    assert list(store.list_keys("t/")) == ["t/a/one", "t/b/manifest.json/"]


@pytest.mark.parametrize("tampered", ["link to a file outside the vault", "truncated", "directory"])
def test_a_staged_file_that_is_not_what_its_attempt_wrote_is_never_completed(tmp_path, tampered):
    import hashlib

    vault = tmp_path / "vault"
    vault.mkdir()
    store = LocalStore(str(vault))
    body = b"x" * 1000
    writer = store.open_staged_writer("t/data/000000-0000.json.gz", "t/staging/a1/000000-0000.json.gz")
    writer.write(body)
    completion = writer.stage()
    staged = vault / "t/staging/a1/000000-0000.json.gz"
    staged.unlink()
    if tampered == "truncated":
        staged.write_bytes(body[:10])
    elif tampered == "directory":
        staged.mkdir()
    else:  # as large as what was staged: only its nature tells
        secret = tmp_path / "not-in-the-vault"
        secret.write_bytes(b"s" * len(body))
        staged.symlink_to(secret)
    with pytest.raises(IntegrityError, match="is not the 1,000-byte regular file its attempt wrote"):
        store.complete_staged("t/data/000000-0000.json.gz", completion, len(body), hashlib.sha256(body).hexdigest())
    assert not (vault / "t/data/000000-0000.json.gz").exists()


def test_a_write_the_file_system_refuses_is_one_line_naming_the_path():
    # sysfs refuses to create files or directories, to root too: a real refusal on any Linux
    from ddbvault.errors import UsageError

    store = LocalStore("/sys/kernel/ddbvault-test-vault")
    for write in (lambda: store.put_new("t/plan.json", b"{}"),
                  lambda: store.open_staged_writer("t/data/000000-0000.json.gz", "t/staging/a1/000000-0000.json.gz")):
        with pytest.raises(UsageError) as refused:
            write()
        assert refused.value.message.startswith("cannot write /sys/kernel/ddbvault-test-vault/t/")
        assert "\n" not in refused.value.message and refused.value.hint


BACKUP = "orders/20261127T081900Z-3f9a1c"
# Every directory a backup writes under the vault, each as a link to a directory outside it.
LINKED_DIRS = ["orders", BACKUP, f"{BACKUP}/data", f"{BACKUP}/staging", f"{BACKUP}/segments", f"{BACKUP}/attempts",
               f"{BACKUP}/staging/a1"]


def _vault_with_link(tmp_path, linked: str):
    """A LocalStore at tmp_path/vault whose directory `linked` is a symlink to tmp_path/elsewhere."""
    vault, elsewhere = tmp_path / "vault", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (vault / linked).parent.mkdir(parents=True, exist_ok=True)
    (vault / linked).symlink_to(elsewhere, target_is_directory=True)
    return LocalStore(str(vault)), vault / linked, elsewhere


def _refused_as_link(call, link) -> None:
    with pytest.raises(IntegrityError) as refused:
        call()
    assert refused.value.message.startswith(f"{link} is a symbolic link below the vault's root ")
    assert "\n" not in refused.value.message and f"replace the link {link} with a directory" in refused.value.hint


@pytest.mark.parametrize("linked", LINKED_DIRS)
def test_a_write_never_follows_a_link_below_the_vaults_root(tmp_path, linked):
    store, link, elsewhere = _vault_with_link(tmp_path, linked)
    key = f"{linked}/x.json"
    _refused_as_link(lambda: store.put_new(key, b"{}"), link)
    _refused_as_link(lambda: store.open_writer(key), link)
    _refused_as_link(lambda: store.open_staged_writer(f"{BACKUP}/data/x.json", key), link)
    assert list(elsewhere.iterdir()) == []  # nothing written where the link points


@pytest.mark.parametrize("linked", [f"{BACKUP}/data", f"{BACKUP}/staging/a1"])
def test_completing_a_staged_object_never_follows_a_link(tmp_path, linked):
    import hashlib

    store, link, elsewhere = _vault_with_link(tmp_path, linked)
    body = b"x" * 100
    staged = linked.endswith("/data")
    if staged:  # staged in the vault, to be linked into a data/ that points outside
        writer = store.open_staged_writer(f"{BACKUP}/data/000000-0000.json", f"{BACKUP}/staging/a2/000000-0000.json")
        writer.write(body)
        completion = writer.stage()
    else:  # what the attempt staged sits in a directory swapped for a link after the fact
        (elsewhere / "000000-0000.json").write_bytes(body)
        completion = {"staged": f"{linked}/000000-0000.json"}
    _refused_as_link(lambda: store.complete_staged(f"{BACKUP}/data/000000-0000.json", completion, len(body),
                                                   hashlib.sha256(body).hexdigest()), link)
    assert [p.name for p in elsewhere.iterdir()] == ([] if staged else ["000000-0000.json"])
    store.discard_staged(f"{BACKUP}/data/000000-0000.json", {"staged": f"{linked}/000000-0000.json"})
    assert [p.name for p in elsewhere.iterdir()] == ([] if staged else ["000000-0000.json"])  # not removed either


@pytest.mark.parametrize("linked", LINKED_DIRS)
def test_a_read_never_follows_a_link_below_the_vaults_root(tmp_path, linked):
    store, link, elsewhere = _vault_with_link(tmp_path, linked)
    (elsewhere / "manifest.json").write_bytes(b"{}")
    key = f"{linked}/manifest.json"
    for read in (lambda: store.get(key), lambda: store.open_reader(key), lambda: store.exists(key)):
        _refused_as_link(read, link)


def test_the_vaults_root_itself_may_be_a_link(tmp_path):
    (tmp_path / "disk").mkdir()
    (tmp_path / "vault").symlink_to(tmp_path / "disk", target_is_directory=True)
    store = LocalStore(str(tmp_path / "vault"))
    store.put_new(f"{BACKUP}/manifest.json", b"{}")
    assert store.get(f"{BACKUP}/manifest.json") == b"{}" and store.exists(f"{BACKUP}/manifest.json")
    assert (tmp_path / "disk" / BACKUP / "manifest.json").read_bytes() == b"{}"


def test_a_linked_file_is_not_an_object_and_is_not_overwritten(tmp_path):
    vault, secret = tmp_path / "vault", tmp_path / "secret"
    secret.write_bytes(b"keep")
    (vault / BACKUP).mkdir(parents=True)
    (vault / BACKUP / "manifest.json").symlink_to(secret)
    store = LocalStore(str(vault))
    assert not store.exists(f"{BACKUP}/manifest.json")
    with pytest.raises(IntegrityError, match="refusing to overwrite"):
        store.put_new(f"{BACKUP}/manifest.json", b"{}")
    assert secret.read_bytes() == b"keep"
