"""Integer facts about the hardware that the mapper and the Amaranth blocks both need.

A leaf module: it imports neither :mod:`popcorn.mapping` nor :mod:`popcorn.hdl`, so the
mapper can predict a block's shape and latency without importing the block.
"""

from math import ceil

__all__ = ["clog2", "divisors", "tree_levels", "class_width", "argmax_stages"]


def clog2(n):
    """Bits of a counter over ``n`` states (0 for ``n <= 1``)."""
    return max(0, (n - 1).bit_length())


def divisors(n):
    """The divisors of ``n``, ascending: the foldings (PE, SIMD) of ``n`` channels or inputs."""
    return [d for d in range(1, n + 1) if n % d == 0]


def tree_levels(width, group):
    """Logic levels of a popcount tree over ``width`` bits with ``group``-bit compressors."""
    leaves = ceil(width / group)
    return 1 + (leaves - 1).bit_length()


def class_width(classes):
    """Bits of a class index 0 .. classes-1 (at least 1)."""
    return max(1, (classes - 1).bit_length())


def argmax_stages(classes):
    """Register stages of :class:`popcorn.hdl.argmax.Argmax`: one per tournament level (a
    compare-and-select: two levels per stage set the demo's clock), at least one."""
    return max(1, (classes - 1).bit_length())
