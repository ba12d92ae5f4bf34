"""Byte streams into wide word streams (little-endian)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


def _byte_count(width):
    if not isinstance(width, int) or isinstance(width, bool) or width <= 0:
        raise ValueError(f"word width must be a positive integer, not {width!r}")
    return (width + 7) // 8


class BytesToWord(wiring.Component):
    """Collects ``ceil(width/8)`` bytes from ``i`` into one word on ``o``.

    Byte 0 fills word bits [0, 8); bits of the last byte above ``width`` are dropped
    (the host sends them as zero). ``o`` is offered the cycle after the last byte arrives
    and ``i.ready`` stays low until it is taken.
    """

    def __init__(self, width):
        self._bytes = _byte_count(width)
        self._width = width
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(8 * self._bytes)
        count = Signal(range(self._bytes + 1))
        m.d.comb += [self.i.ready.eq(~self.o.valid), self.o.payload.eq(shreg[:self._width])]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += shreg.eq(Cat(shreg[8:], self.i.payload))
            with m.If(count == self._bytes - 1):
                m.d.sync += [count.eq(0), self.o.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
        return m
