"""Argmax of a word of signed scores."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


def class_width(classes):
    """Bits of a class index 0 .. classes-1 (at least 1)."""
    return max(1, (classes - 1).bit_length())


class Argmax(wiring.Component):
    """Appends the index of the largest score (the lowest index on ties) to the scores.

    Parameters: ``classes`` signed fields of ``width`` bits each, class 0 lowest.

    Ports: ``i`` stream of ``classes*width`` bits; ``o`` stream of the same scores followed
    by the class index (``class_width(classes)`` bits at the top). Latency 1 cycle, one word
    per cycle; the output register holds while ``o.ready`` is low, stalling the input.
    """

    def __init__(self, *, classes, width):
        if not isinstance(classes, int) or classes < 1:
            raise ValueError(f"classes must be a positive integer, not {classes!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"score width must be a positive integer, not {width!r}")
        self._classes, self._width = classes, width
        super().__init__({
            "i": In(stream.Signature(classes * width)),
            "o": Out(stream.Signature(classes * width + class_width(classes))),
        })

    def elaborate(self, platform):
        m = Module()
        n, w = self._classes, self._width
        scores = [self.i.payload[c * w:(c + 1) * w].as_signed() for c in range(n)]
        # Tournament tree; on equal scores the left (lower) index wins.
        level = [(s, c) for c, s in enumerate(scores)]
        while len(level) > 1:
            nxt = []
            for a in range(0, len(level) - 1, 2):
                (sa, ia), (sb, ib) = level[a], level[a + 1]
                keep = Signal(name=f"keep_{len(level)}_{a}")
                m.d.comb += keep.eq(sa >= sb)
                nxt.append((Mux(keep, sa, sb), Mux(keep, ia, ib)))
            level = nxt + ([level[-1]] if len(level) % 2 else [])
        best = Signal(class_width(n))
        m.d.comb += best.eq(level[0][1])
        m.d.comb += self.i.ready.eq(self.o.ready | ~self.o.valid)
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(Cat(self.i.payload, best))]
        return m
