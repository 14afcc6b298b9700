"""storage/s3_limits.py: S3's multipart limits and the part size planned from --object-size."""

from __future__ import annotations

import pytest

from ddbvault.errors import UsageError
from ddbvault.storage.s3_limits import (MAX_OBJECT, MAX_PART, MAX_PARTS, MIN_PART, OVERSHOOT,
                                       plan_part_size)

MIB = 1024 * 1024
GIB = 1024 * MIB


def test_the_limits_are_s3s():
    assert (MAX_PARTS, MIN_PART, MAX_PART, MAX_OBJECT) == (10_000, 5 * MIB, 5 * GIB, 5 * 1024 * GIB)


@pytest.mark.parametrize("object_size", [MIB, 256 * MIB, 10 * GIB, 78 * GIB])
def test_the_asked_part_size_is_kept_when_it_fits(object_size):
    assert plan_part_size(object_size, 8 * MIB) == 8 * MIB


@pytest.mark.parametrize("object_size", [100 * GIB, 1024 * GIB, 5119 * GIB, MAX_OBJECT - OVERSHOOT])
def test_the_part_size_grows_so_the_largest_object_fits(object_size):
    part = plan_part_size(object_size, 8 * MIB)
    assert part % MIB == 0 and MIN_PART <= part <= MAX_PART
    assert part * MAX_PARTS >= object_size + OVERSHOOT
    assert (part - MIB) * MAX_PARTS < object_size + OVERSHOOT, "larger than needed"


def test_100_gib_with_8_mib_parts_no_longer_runs_out_of_parts():
    assert 8 * MIB * MAX_PARTS < 100 * GIB  # what failed after ~78 GiB
    assert plan_part_size(100 * GIB, 8 * MIB) == 11 * MIB


def test_a_larger_asked_part_size_is_never_lowered():
    assert plan_part_size(MIB, 64 * MIB) == 64 * MIB


@pytest.mark.parametrize("object_size, part_size, message", [
    (MAX_OBJECT, 8 * MIB, "at most 5 TiB"),
    (6 * 1024 * GIB, 8 * MIB, "at most 5 TiB"),
    (MIB, 4 * MIB, "5 MiB to 5 GiB"),
    (MIB, 6 * GIB, "5 MiB to 5 GiB"),
])
def test_impossible_sizes_are_refused_up_front(object_size, part_size, message):
    with pytest.raises(UsageError, match=message) as caught:
        plan_part_size(object_size, part_size)
    assert caught.value.hint
