"""Integer facts about the hardware that the mapper and the Amaranth blocks both need.

A leaf module: it imports neither :mod:`popcorn.mapping` nor :mod:`popcorn.hdl`, so the
mapper can predict a block's shape and latency without importing the block.
"""

from math import ceil

__all__ = ["clog2", "divisors", "tree_levels", "class_width", "ARGMAX_MODES",
           "argmax_latency", "argmax_stages", "pool_uses_window"]


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


def pool_uses_window(kernel, stride):
    """Whether :class:`popcorn.hdl.pool.MaxPool` of ``kernel`` ``(kh, kw)`` and ``stride``
    ``(sh, sw)`` is built on a sliding window (its timing then the window's): when windows
    overlap on an axis (``s < k``), or are one column over several rows (``kw == 1 < kh``:
    the row of partial ORs is read the pixel before the one that completes a window row,
    which a 1-wide window does not have)."""
    (kh, kw), (sh, sw) = kernel, stride
    return sh < kh or sw < kw or kw == 1 < kh


def serial_argmax_latency(classes):
    """Cycles from :class:`popcorn.hdl.argmax.SerialArgmax`'s input handshake to its
    ``o.valid``: two (a compare, then the select) for each class after the first,
    ``o.valid`` registered with the last select (one cycle for one class)."""
    return 2 * classes - 1


ARGMAX_MODES = ("serial", "tournament", "pipelined")
"""The argmax blocks an :class:`~popcorn.mapping.stages.ArgmaxStage` can be, cheapest first."""


def argmax_latency(classes, mode):
    """Cycles from the input handshake to ``o.valid`` of the argmax of ``mode`` (one of
    :data:`ARGMAX_MODES`): :func:`serial_argmax_latency`, or :func:`argmax_stages`."""
    if mode not in ARGMAX_MODES:
        raise ValueError(f"argmax mode must be one of {', '.join(ARGMAX_MODES)}, not {mode!r}")
    if mode == "serial":
        return serial_argmax_latency(classes)
    return argmax_stages(classes, pipelined=mode == "pipelined")


def argmax_stages(classes, pipelined=False):
    """Register stages of :class:`popcorn.hdl.argmax.Argmax`, at least one: two per
    tournament level one word at a time (the compares registered, then the selects: a
    compare's carry chain and the select it drives took 17 cells on the UP5K demo), one
    per level ``pipelined`` (whose scores travel with the stages: a copy per stage)."""
    levels = (classes - 1).bit_length()
    return max(1, levels if pipelined else 2 * levels)
