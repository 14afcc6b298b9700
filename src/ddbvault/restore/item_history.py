"""`ddbvault history` and `ddbvault get`: one item's versions in the change log, and the item as
of a time T, read from the vault alone (no table is touched).

- `item_history`: every record of the key in the log (all streams, all shards: the whole log is
  read, segment by segment, each checked), oldest first by stream, shard lineage and sequence.
  Each version: {"time", "event", "sequence", "shard", "stream", "image"} where image is the new
  image (wire form) or None for a REMOVE. Memory: that key's records.
- `item_at`: the newest base from which T is restorable (vault/change_log.ChangeLog.base_for:
  T across a gap is refused as restore --at refuses it), the item in it (its data objects
  streamed), then the key's newest change in [base start - 1 s, T]. T defaults to the newest
  restorable time. None: the item does not exist at T.

AWS calls (S3 only): ListObjectsV2 of the table's backups and change log, GetObject of
manifests, of the log's start/gap objects and segments, and (get) of the base's data objects.
"""

from __future__ import annotations

from functools import cmp_to_key

from ..aws.session import Principal
from ..errors import NotFoundError
from ..format.dataline import KeySpec
from ..vault.change_log import fingerprint, utc_text
from ..vault.reader import open_backup
from .point_in_time import Vault, item_states, parse_at, read_keys

FOREVER = 2 ** 40  # seconds: past any stream timestamp


def _key(vault: Vault, text: str) -> tuple[dict, KeySpec | None]:
    """The key typed by the newest complete backup's schema (JSON keys need none)."""
    spec = None
    for base in sorted(vault.bases, key=lambda b: b.end, reverse=True):
        backup = open_backup(base.url, vault.principal)
        spec = KeySpec.of(backup.manifest.schema)
        break
    vault.log.spec = spec
    return read_keys([text], None, spec)[0], spec


def item_history(url: str, key_text: str, principal: Principal | None = None) -> list[dict]:
    """The versions of one item in the change log of DEST/TABLE (see the module docstring)."""
    vault = Vault(url, principal)
    key, spec = _key(vault, key_text)
    if vault.log.empty:
        raise NotFoundError(f"{vault.dest_url} holds no change log of {vault.table}",
                            hint=f"run `ddbvault follow {vault.table} --to {vault.dest_url}`")
    wanted = fingerprint(key, spec)
    records = [r for r in vault.log.records(0, FOREVER) if fingerprint(r.change.keys, spec) == wanted]

    def order(a, b) -> int:
        return 0 if a is b else (1 if vault.log.newer(a, b) else -1)

    return [{"time": utc_text(r.time_s), "event": r.event_name, "sequence": str(r.sequence), "shard": r.shard_id,
             "stream": r.label, "image": r.change.new_image} for r in sorted(records, key=cmp_to_key(order))]


def item_at(url: str, key_text: str, at: str | None = None,
            principal: Principal | None = None) -> tuple[dict | None, str]:
    """(the item as of T in wire form or None when absent, T as UTC text) for DEST/TABLE."""
    when = parse_at(at) if at is not None else None  # checked before anything is read
    vault = Vault(url, principal)
    key, spec = _key(vault, key_text)
    when = vault.latest() if when is None else when
    base = vault.base_for(when)
    backup = open_backup(base.url, vault.principal)
    (state,) = item_states(vault, backup, base, when, [key], spec)
    return state.new_image, utc_text(when)


__all__ = ["item_at", "item_history"]
