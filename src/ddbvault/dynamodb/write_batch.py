"""Cutting checked items into BatchWriteItem requests. Pure.

BatchWriteItem takes "up to 16 MB of data, which can comprise as many as 25 put or delete
requests" (DynamoDB API reference, BatchWriteItem), and rejects a request that names the same
key twice. An item within the 400 KB limit can be several times larger as wire JSON (a list of
130,000 small numbers is ~1.3 MB), so 25 items can exceed 16 MB: batches are cut by count and
by the bytes of their serialised PutRequests, whichever comes first. A key met again within a
batch replaces the earlier copy (the last one wins, as it would had they been written one by
one) and is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_ITEMS", "MAX_REQUEST_BYTES", "BatchCutter", "Put"]

MAX_ITEMS = 25
# 16 MB read as 16,000,000 bytes (the smaller reading), less room for the envelope around the
# PutRequests: {"RequestItems":{"<table name, <= 255 chars>":[...]},"ReturnConsumedCapacity":...}.
MAX_REQUEST_BYTES = 16_000_000 - 4096


@dataclass(slots=True)
class Put:
    """One checked item, ready to send."""

    body: bytes  # {"PutRequest":{"Item":...}}, serialised by dataline.encode_put
    key: dict  # the item's key attributes, wire form
    fingerprint: bytes  # dataline.key_fingerprint(key)
    line: int  # its line number in its data object, from 1


class BatchCutter:
    """Feed Puts in line order with add(); it hands back each batch that is full."""

    def __init__(self, max_items: int = MAX_ITEMS, max_bytes: int = MAX_REQUEST_BYTES):
        self.max_items, self.max_bytes = max_items, max_bytes
        self._batch: dict[bytes, Put] = {}
        self._bytes = 0
        self.collapsed: list[int] = []  # lines that replaced an earlier line of the same key

    def add(self, put: Put) -> list[Put] | None:
        """Take `put`; returns the batch it closed (without `put`), or None."""
        earlier = self._batch.pop(put.fingerprint, None)
        if earlier is not None:
            self._bytes -= len(earlier.body)
            self.collapsed.append(put.line)
        full = None
        if self._batch and (len(self._batch) >= self.max_items
                            or self._bytes + len(put.body) > self.max_bytes):
            full = self.finish()
        self._batch[put.fingerprint] = put
        self._bytes += len(put.body)
        return full

    def finish(self) -> list[Put]:
        """The batch being filled (possibly empty); the cutter starts a new one."""
        batch, self._batch, self._bytes = list(self._batch.values()), {}, 0
        return batch
