"""Parallel branches of one stream joined along the channels: a fork, the branches' blocks,
a queue per branch and a join."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .handshake import chain, fork, join
from .queue import Queue, queue_resources


def concat_resources(*, widths, depths, family="ice40"):
    """Estimate of a :class:`Concat` without its branches' blocks: its queues of ``widths``
    bits and ``depths`` words, and the fork and join (for B branches an AND of B - 1
    readies or valids per branch and one of all, each: about ``2 (B + 1)`` LUT4)."""
    queues = [queue_resources(width=w, depth=d, family=family) for w, d in zip(widths, depths)]
    total = {key: sum(queue[key] for queue in queues) for key in ("lut4", "ff", "ebr", "dsp")}
    return {**total, "lut4": total["lut4"] + 2 * (len(widths) + 1)}


class Concat(wiring.Component):
    """Ports: ``i``, ``stream.Signature(width)``, and ``o``, ``stream.Signature(`` the sum of
    the branches' output widths ``)``.

    A word moves from ``i`` into every branch in one handshake, when all are ready
    (:func:`~popcorn.hdl.handshake.fork`): branch b is ``branches[b]`` (``[(name,
    component), ...]`` with ``i``/``o`` streams, chained; empty for the stream itself),
    then a :class:`~popcorn.hdl.queue.Queue` of ``depths[b]`` words. ``o`` offers a word
    while every queue does: their words side by side, branch 0 in the low bits, and takes
    one from each (:func:`~popcorn.hdl.handshake.join`); ``o.valid`` is the AND of the
    queues' output registers, no latency added. Submodules ``b<b>_<name>`` and
    ``b<b>_queue``. Cycle model: :class:`~popcorn.mapping.timing.ConcatTiming`; the depths
    that keep it free of deadlock: :func:`~popcorn.mapping.stages.branch_depths`.
    """

    def __init__(self, *, width, branches, depths):
        if len(branches) != len(depths) or len(branches) < 2:
            raise ValueError(f"a concat takes two or more branches and a queue depth for "
                             f"each, not {len(branches)} branches and {len(depths)} depths")
        self._width, self._branches, self._depths = width, [list(b) for b in branches], \
            tuple(depths)
        self._widths = tuple(len(branch[-1][1].o.payload) if branch else width
                             for branch in self._branches)
        super().__init__({"i": In(stream.Signature(width)),
                          "o": Out(stream.Signature(sum(self._widths)))})

    def elaborate(self, platform):
        m = Module()
        heads, tails = [], []
        for b, (blocks, width, depth) in enumerate(zip(self._branches, self._widths,
                                                        self._depths)):
            m.submodules[f"b{b}_queue"] = queue = Queue(width=width, depth=depth)
            chain(m, blocks, prefix=f"b{b}_")
            if blocks:
                wiring.connect(m, blocks[-1][1].o, queue.i)
            heads.append(blocks[0][1].i if blocks else queue.i)
            tails.append(queue.o)
        fork(m, self.i, heads)
        join(m, tails, self.o)
        return m
