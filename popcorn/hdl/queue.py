"""A stream FIFO: Amaranth's ``SyncFIFOBuffered`` behind ``i``/``o`` stream ports."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..hwmath import clog2
from .estimates import check_family
from .window import check_positive, memory_resources


def queue_resources(*, width, depth, family="ice40"):
    """Estimate of a :class:`Queue`; see :meth:`Queue.resources`."""
    check_family(family)
    mem = memory_resources(width, depth - 1, family, read_enable=True)
    bits = clog2(depth)
    if mem["ebr"]:
        # SyncFIFOBuffered's output register beside the block RAM's: ``width`` FF more and a
        # ``width``-bit multiplexer between them, one more pointer's worth of logic
        per_bit, fixed = BLOCK_QUEUE_LUT4[family]
        return {"lut4": mem["lut4"] + width + per_bit * bits + fixed,
                "ff": 2 * width + 4 * bits + 3, "ebr": mem["ebr"], "dsp": 0}
    # flip-flops or LUT RAM: the memory's read register is the output register
    return {"lut4": mem["lut4"] + 6 * bits + 4, "ff": mem["ff"] + 3 * bits + 1,
            "ebr": 0, "dsp": 0}


BLOCK_QUEUE_LUT4 = {"ice40": (7, 4), "ecp5": (11, -14)}
"""LUT4 per address bit and fixed of a queue in block RAM beyond its memory's and its
``width``-bit multiplexer: least squares on the queue points of
``benchmarks/sweep_dataflow.py`` (``--fit`` prints them; Yosys 0.70, ECP5 counting a
CCU2C as 2 LUT4), errors in ``reports/blocks/dataflow_estimates.md``."""


class Queue(wiring.Component):
    """``depth`` words of ``width`` bits, first in, first out (``depth >= 2``).

    Ports: ``i`` and ``o``, ``stream.Signature(width)``. Timing (``SyncFIFOBuffered``):
    ``depth - 1`` words in a memory with a synchronous read port (block RAM) and one in the
    output register; ``i.ready`` is "not full" and does not depend on ``o.ready``; a word
    written into an empty queue is offered two cycles after its handshake; one word per
    cycle in and out. Cycle model: :class:`~popcorn.mapping.timing.QueueTiming`.
    """

    def __init__(self, *, width, depth):
        check_positive(width, "queue width")
        check_positive(depth, "queue depth")
        if depth < 2:
            raise ValueError(f"queue depth must be at least 2, not {depth!r}")
        self._width, self._depth = width, depth
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    width = property(lambda self: self._width)
    depth = property(lambda self: self._depth)

    def resources(self, family="ice40"):
        """Estimate ``{"lut4", "ff", "ebr", "dsp"}``: the memory of ``depth - 1`` words
        (:func:`~popcorn.hdl.window.memory_resources`; in flip-flops or LUT RAM its read
        register is the output register), the two pointers and the level (``3 clog2
        depth + 1`` FF, about twice that in LUT4 for their adders and comparisons); in
        block RAM, Yosys keeps an output register and its multiplexer beside the block's
        (``2 width + 4 clog2 depth + 3`` FF, :data:`BLOCK_QUEUE_LUT4`). FF exact on
        every point of ``benchmarks/sweep_dataflow.py --blocks queue`` but depth 3."""
        return queue_resources(width=self._width, depth=self._depth, family=family)

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self._width, depth=self._depth)
        m.d.comb += [
            fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid),
            self.i.ready.eq(fifo.w_rdy),
            self.o.payload.eq(fifo.r_data), self.o.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.o.ready),
        ]
        return m
