"""The fork at the start of a residual block: the stream to the main branch, and a copy of
it queued for the engine that closes the block."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .queue import Queue, queue_resources


def shortcut_resources(*, width, depth, family="ice40"):
    """Estimate of a :class:`Shortcut`: its queue's (the fork itself is two AND gates)."""
    queue = queue_resources(width=width, depth=depth, family=family)
    return {**queue, "lut4": queue["lut4"] + 2}


class Shortcut(wiring.Component):
    """Ports: ``i``, ``o`` (the main branch) and ``s`` (the shortcut), all
    ``stream.Signature(width)``. A word moves from ``i`` to ``o`` and into a
    :class:`~popcorn.hdl.queue.Queue` of ``depth`` words in one handshake, when ``o`` is
    ready and the queue not full; ``s`` is the queue's output. ``o.valid`` is ``i.valid``
    while the queue is not full (it never depends on ``o.ready``). Cycle model:
    :class:`~popcorn.mapping.timing.ShortcutTiming`; the depth that keeps a residual block
    free of deadlock: :func:`~popcorn.mapping.stages.shortcut_depth`.
    """

    def __init__(self, *, width, depth):
        self._width, self._depth = width, depth
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width)),
                          "s": Out(stream.Signature(width))})

    def resources(self, family="ice40"):
        """Estimate ``{"lut4", "ff", "ebr", "dsp"}``: :func:`shortcut_resources`."""
        return shortcut_resources(width=self._width, depth=self._depth, family=family)

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = Queue(width=self._width, depth=self._depth)
        m.d.comb += [
            self.o.payload.eq(self.i.payload), queue.i.payload.eq(self.i.payload),
            self.o.valid.eq(self.i.valid & queue.i.ready),
            queue.i.valid.eq(self.i.valid & self.o.ready),
            self.i.ready.eq(self.o.ready & queue.i.ready),
        ]
        wiring.connect(m, queue.o, wiring.flipped(self.s))
        return m
