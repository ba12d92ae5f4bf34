"""The fork at the start of a residual block: the stream to the main branch, and a copy of
it queued for the engine that closes the block."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .handshake import chain, fork
from .queue import Queue, queue_resources


def shortcut_resources(*, width, depth, family="ice40"):
    """Estimate of a :class:`Shortcut` without its side blocks: its queue's of ``width``
    bits (the fork itself is two AND gates)."""
    queue = queue_resources(width=width, depth=depth, family=family)
    return {**queue, "lut4": queue["lut4"] + 2}


class Shortcut(wiring.Component):
    """Ports: ``i`` and ``o`` (the main branch), ``stream.Signature(width)``, and ``s``
    (the shortcut). A word moves from ``i`` to ``o`` and into the shortcut branch in one
    handshake, when ``o`` and the branch are ready: the ``side`` blocks (``[(name,
    component), ...]`` with ``i``/``o`` streams, chained; none for an identity shortcut),
    then a :class:`~popcorn.hdl.queue.Queue` of ``depth`` words, whose output is ``s``.
    ``o.valid`` is ``i.valid`` while the branch is ready (it never depends on
    ``o.ready``: :func:`~popcorn.hdl.handshake.fork`). Cycle model:
    :class:`~popcorn.mapping.timing.ShortcutTiming`; the depth that keeps a residual
    block free of deadlock: :func:`~popcorn.mapping.stages.shortcut_depth`.
    """

    def __init__(self, *, width, depth, side=()):
        self._width, self._depth, self._side = width, depth, list(side)
        out = len(self._side[-1][1].o.payload) if self._side else width
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width)),
                          "s": Out(stream.Signature(out))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = Queue(width=len(self.s.payload), depth=self._depth)
        branch = queue.i
        if self._side:
            chain(m, self._side)
            wiring.connect(m, self._side[-1][1].o, queue.i)
            branch = self._side[0][1].i
        fork(m, self.i, [self.o, branch])
        wiring.connect(m, queue.o, wiring.flipped(self.s))
        return m
