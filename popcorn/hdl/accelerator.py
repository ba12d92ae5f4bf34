"""The streaming dataflow accelerator of a mapped network: engines in a chain, argmax."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.network_map import NetworkPlan
from .argmax import Argmax
from .mva import MatrixVectorActivation


class DataflowAccelerator(wiring.Component):
    """One :class:`~popcorn.hdl.mva.MatrixVectorActivation` per layer of ``plan``, each
    stream connected to the next, then :class:`~popcorn.hdl.argmax.Argmax`.

    Ports: ``i`` one image's input bases per transfer (``plan.in_width`` bits, element-major);
    ``o`` the scores and the class (``plan.out_width`` bits, see
    :meth:`~popcorn.mapping.network_map.NetworkPlan.unpack_outputs`). Timing:
    ``plan.cycles_per_image`` and ``plan.latency``.
    """

    def __init__(self, plan):
        if not isinstance(plan, NetworkPlan):
            raise TypeError(f"plan must be a NetworkPlan, not {plan!r}")
        self._plan = plan
        super().__init__({"i": In(stream.Signature(plan.in_width)),
                          "o": Out(stream.Signature(plan.out_width))})

    @property
    def plan(self):
        return self._plan

    def elaborate(self, platform):
        m = Module()
        previous = None
        for n, folding in enumerate(self._plan.foldings):
            engine = MatrixVectorActivation(folding)
            m.submodules[f"layer{n}"] = engine
            if previous is None:
                wiring.connect(m, wiring.flipped(self.i), engine.i)
            else:
                wiring.connect(m, previous.o, engine.i)
            previous = engine
        m.submodules.argmax = argmax = Argmax(classes=self._plan.classes,
                                              width=self._plan.score_width)
        wiring.connect(m, previous.o, argmax.i)
        wiring.connect(m, argmax.o, wiring.flipped(self.o))
        return m
