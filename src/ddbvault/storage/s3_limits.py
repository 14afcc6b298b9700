"""Amazon S3's multipart upload limits, in one place, and the part size that fits an object.

Source: the AWS S3 User Guide page "Amazon S3 multipart upload limits": at most 10,000 parts
per upload; each part 5 MiB to 5 GiB (the last part may be smaller); an object at most 5 TiB.

A data object rolls over once it holds `--object-size` stored bytes, so it ends at most one
write past that size; `OVERSHOOT` bounds that write (one Scan page: at most 1 MB of items,
whose JSON lines are at most ~9x larger uncompressed). Pure: no boto3.
"""

from __future__ import annotations

import math

from ..errors import UsageError

__all__ = ["MAX_OBJECT", "MAX_PART", "MAX_PARTS", "MIN_PART", "OVERSHOOT", "plan_part_size"]
MIB = 1024 * 1024
GIB = 1024 * MIB
MAX_PARTS = 10_000
MIN_PART = 5 * MIB
MAX_PART = 5 * GIB
MAX_OBJECT = 5 * 1024 * GIB
OVERSHOOT = 64 * MIB


def plan_part_size(object_size: int, part_size: int) -> int:
    """The part size (bytes, a whole MiB) to upload objects of up to `object_size` stored bytes.

    `part_size` is the one asked for; it is raised, never lowered, when 10,000 parts of it would
    not hold the largest object (`object_size` + OVERSHOOT). Raises UsageError when no part size
    can: a part below 5 MiB or above 5 GiB, or an object size over 5 TiB.
    """
    if not MIN_PART <= part_size <= MAX_PART:
        raise UsageError(f"--part-size must be 5 MiB to 5 GiB (S3's limits), got {part_size:,} bytes",
                         hint="S3 accepts parts of 5 MiB to 5 GiB; the default is 8MiB")
    largest = object_size + OVERSHOOT
    if largest > MAX_OBJECT:
        raise UsageError(f"--object-size {object_size:,} bytes is too large: an S3 object is at most "
                         f"5 TiB, and a data object may end up to {OVERSHOOT // MIB} MiB past "
                         "--object-size", hint="use an --object-size of at most 5119GiB "
                                               "(the default, 256MiB, suits most tables)")
    needed = math.ceil(math.ceil(largest / MAX_PARTS) / MIB) * MIB
    return max(part_size, needed)
