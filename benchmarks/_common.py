"""Shared pieces of the block benchmarks."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class FlatStreams(wiring.Component):
    """Presents ``core``'s stream ports with plain unsigned payloads (the UART link reads
    ``payload.shape().width``, which a ``data.StructLayout`` does not have). Wires only:
    no cells."""

    def __init__(self, core):
        self._core = core
        super().__init__({
            "i": In(stream.Signature(core.i.payload.shape().size)),
            "o": Out(stream.Signature(core.o.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        m.d.comb += [
            core.i.payload.eq(self.i.payload), core.i.valid.eq(self.i.valid),
            self.i.ready.eq(core.i.ready),
        ]
        wiring.connect(m, core.o, wiring.flipped(self.o))
        return m
