"""The stored comparator encoding (one ``[Y >= T']`` chain, ``[Y <= T]`` as T' = T + 1)
against the integer model's comparators."""

import itertools

import numpy as np
import pytest

from popcorn.golden.comparators import (MODE_GE, MODE_LT, MODE_ONE, MODE_ZERO, compare_modes,
                                        direction_modes, encode_comparators)


@pytest.mark.parametrize("lo, hi", [(-8, 7), (0, 15), (0, 1), (-1, 0)])
def test_stored_encoding_reproduces_ge_and_le(lo, hi):
    """Every T from one below the field to one above (the ends make constants), both
    directions and both constants, for every Y the field holds (ends included)."""
    y = np.arange(lo, hi + 1)
    t = np.arange(lo - 1, hi + 2)
    for d, const in itertools.product((1, -1, 0), (0, 1)):
        stored, modes = encode_comparators(t, np.full(t.shape, d), np.full(t.shape, const),
                                           field=(lo, hi))
        assert (stored >= lo).all() and (stored <= hi).all()     # T' fits the field
        got = compare_modes(y[:, None], stored[None], modes[None])
        want = y[:, None] >= t if d > 0 else y[:, None] <= t if d < 0 else \
            np.full((y.size, t.size), const)
        assert (got == want).all(), (d, const)


def test_stored_encoding_without_field():
    t = np.array([-3, 0, 5])
    stored, modes = encode_comparators(t, -1)
    assert stored.tolist() == [-2, 1, 6] and (modes == MODE_LT).all()
    stored, modes = encode_comparators(t, 1)
    assert stored.tolist() == [-3, 0, 5] and (modes == MODE_GE).all()
    assert direction_modes([1, -1]).tolist() == [MODE_GE, MODE_LT]
    y = np.arange(-10, 11)[:, None]
    assert (compare_modes(y, t + 1, MODE_LT) == (y <= t)).all()


def test_mode_bits_are_compare_and_invert():
    """bit = ([Y >= T'] & mode[1]) ^ mode[0]."""
    assert (MODE_ZERO, MODE_ONE, MODE_GE, MODE_LT) == (0b00, 0b01, 0b10, 0b11)
    for ge, mode in itertools.product((0, 1), range(4)):
        y, t = (1, 0) if ge else (0, 1)
        assert compare_modes(y, t, mode) == (ge & (mode >> 1)) ^ (mode & 1)


def test_field_ends_fold_to_constants():
    # [Y <= 7] on a 4-bit signed field: T' = 8 would overflow, stored as constant 1
    stored, modes = encode_comparators([7, -8], [-1, 1], field=(-8, 7))
    assert stored.tolist() == [0, 0] and modes.tolist() == [MODE_ONE, MODE_ONE]
    stored, modes = encode_comparators([8, -9], [1, -1], field=(-8, 7))
    assert stored.tolist() == [0, 0] and modes.tolist() == [MODE_ZERO, MODE_ZERO]
