"""Combinational popcount as a balanced adder tree."""

from amaranth.hdl import Const, Value


def popcount_tree(bits):
    """Number of ones of ``bits`` (a ``Value``), as a balanced tree of adders.

    Width of the result: ``len(bits).bit_length()`` (Amaranth widens each addition by one
    bit, so nothing can overflow). Purely combinational: zero cycles of latency.
    """
    bits = Value.cast(bits)
    if len(bits) == 0:
        return Const(0, 1)
    level = [bits[i] for i in range(len(bits))]
    while len(level) > 1:
        pairs = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]
