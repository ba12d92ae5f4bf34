"""The streaming dataflow accelerator of a mapped network: one chain of blocks per stage."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.linear import level_to_base_map
from ..mapping.network_map import NetworkPlan
from ..mapping.stages import (ArgmaxStage, ConcatStage, ConvStage, DenseStage, FlattenStage,
                              PoolStage, ShortcutStage)
from .argmax import Argmax, SerialArgmax
from .comparator import LevelsToBases, levels_to_bases_resources
from .concat import Concat, concat_resources
from .estimates import estimate_argmax, estimate_mva, estimate_serial_argmax
from .flatten import Flatten, flatten_resources
from .handshake import RegisterSlice, register_slice_resources
from .mva import MatrixVectorActivation
from .pool import MaxPool, pool_resources
from .queue import Queue, queue_resources
from .shortcut import Shortcut, shortcut_resources
from .window import SlidingWindow, window_resources


def _queue(stage):
    """A stage's input queue and a register slice behind it: the FIFO's read enable a
    flip-flop, so no path runs between the FIFO's logic (beside its block RAM) and the
    window's or pool's handshake (mnist-cnn-abc on the ECP5: 6 ns of routing there and
    back, 7.5 ns in all)."""
    if not stage.queue:
        return []
    return [("queue", Queue(width=stage.in_width, depth=stage.queue)),
            ("queue_out", RegisterSlice(stage.in_width))]


def _conv(stage):
    return _queue(stage) + [("window", SlidingWindow(height=stage.height, width=stage.width,
                                     channels=stage.in_width, kernel=stage.kernel,
                                     stride=stage.stride, padding=stage.padding, pad_value=0)),
            ("engine", MatrixVectorActivation(stage.folding))]


def _pool(stage):
    blocks = _queue(stage) + [("pool", MaxPool(height=stage.height, width=stage.width,
                               channels=stage.in_width, kernel=stage.kernel,
                               stride=stage.stride, invert=stage.invert))]
    if stage.convert is not None:
        kind, perm = level_to_base_map(stage.convert)
        blocks.append(("bases", LevelsToBases(channels=stage.channels, levels=stage.bits,
                                              bases=stage.out_bits, kind=kind, perm=perm)))
    return blocks


def _argmax(stage):
    """The argmax block of ``stage``'s mode."""
    if stage.mode == "serial":
        return SerialArgmax(classes=stage.classes, width=stage.score_width)
    return Argmax(classes=stage.classes, width=stage.score_width, pipelined=stage.pipelined)


BLOCKS = {
    ConvStage: _conv,
    DenseStage: lambda stage: [("engine", MatrixVectorActivation(stage.folding))],
    PoolStage: _pool,
    FlattenStage: lambda stage: [("flatten", Flatten(height=stage.height, width=stage.width,
                                                     channels=stage.in_width))],
    ArgmaxStage: lambda stage: [("argmax", _argmax(stage))],
    ShortcutStage: lambda stage: [("shortcut", Shortcut(
        width=stage.in_width, depth=stage.depth,
        side=() if stage.side is None else stage_blocks(stage.side)))],
    ConcatStage: lambda stage: [("concat", Concat(
        width=stage.in_width, depths=stage.depths,
        branches=[[(f"{k}_{name}", block) for k, inner in enumerate(branch)
                   for name, block in stage_blocks(inner)] for branch in stage.branches]))],
}
"""The components of each stage kind, in stream order (named for the submodule)."""


def stage_blocks(stage):
    """``[(name, component), ...]`` implementing ``stage``, in stream order."""
    return BLOCKS[type(stage)](stage)


def _queue_cost(stage, family):
    if not stage.queue:
        return []
    return [queue_resources(width=stage.in_width, depth=stage.queue, family=family),
            register_slice_resources(stage.in_width, family)]


def _conv_cost(stage, family):
    return _queue_cost(stage, family) + [
        window_resources(height=stage.height, width=stage.width, channels=stage.in_width,
                         kernel=stage.kernel, stride=stage.stride, padding=stage.padding,
                         family=family),
        estimate_mva(stage.folding, family)]


def _pool_cost(stage, family):
    parts = _queue_cost(stage, family) + [pool_resources(
        height=stage.height, width=stage.width, channels=stage.in_width, kernel=stage.kernel,
        stride=stage.stride, family=family)]
    if stage.convert is not None:
        parts.append(levels_to_bases_resources(channels=stage.channels, levels=stage.bits,
                                               kind=level_to_base_map(stage.convert)[0],
                                               family=family))
    return parts


COSTS = {
    ConvStage: _conv_cost,
    DenseStage: lambda stage, family: [estimate_mva(stage.folding, family)],
    PoolStage: _pool_cost,
    FlattenStage: lambda stage, family: [flatten_resources(
        height=stage.height, width=stage.width, channels=stage.in_width, family=family)],
    ArgmaxStage: lambda stage, family: [estimate_serial_argmax(
        classes=stage.classes, width=stage.score_width, family=family)
        if stage.mode == "serial" else estimate_argmax(
        classes=stage.classes, width=stage.score_width, pipelined=stage.pipelined,
        family=family)],
    ShortcutStage: lambda stage, family: [shortcut_resources(
        width=stage.queue_width, depth=stage.depth, family=family)] + (
        [] if stage.side is None else COSTS[type(stage.side)](stage.side, family)),
    ConcatStage: lambda stage, family: [concat_resources(
        widths=stage.branch_widths, depths=stage.depths, family=family)] + [
        part for inner in stage.stages for part in COSTS[type(inner)](inner, family)],
}
"""The resource estimates of each stage kind's blocks (the same numbers as the blocks'
``resources(family)``, without building the blocks)."""


def stage_resources(stage, family):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of ``stage``'s blocks on ``family``."""
    parts = COSTS[type(stage)](stage, family)
    return {key: sum(part[key] for part in parts) for key in ("lut4", "ff", "ebr", "dsp")}


class DataflowAccelerator(wiring.Component):
    """The blocks of every stage of ``plan`` (:data:`BLOCKS`), each stream connected to the
    next: submodule ``s<n>_<name>`` for stage n (``s0_window``, ``s0_engine``, ...). The
    ``s`` port of a :class:`~popcorn.hdl.shortcut.Shortcut` feeds the ``r`` port of the
    next engine that has one (the end of its residual block).

    Ports: ``i`` one input pixel per transfer (``plan.in_width`` bits,
    :func:`~popcorn.mapping.stages.pack_pixels`), ``plan.in_words`` per image, raster
    order, through a :class:`~popcorn.hdl.handshake.RegisterSlice` (submodule ``input``:
    the producer outside, the host link, meets flip-flops only; the UP5K demo's clock
    ran from the link's word register through the first engine's input buffer and
    back, 17.8 ns); ``o`` the scores and the class (``plan.out_width`` bits, see
    :meth:`~popcorn.mapping.network_map.NetworkPlan.unpack_outputs`). Timing: every
    handshake as :meth:`~popcorn.mapping.network_map.NetworkPlan.cycle_model` predicts.
    With ``probes``, ports ``probe<n>_fire`` and ``probe<n>_payload`` show every word that
    leaves stage n (n < the argmax's), for locating where an RTL departs from the golden
    model (:func:`popcorn.sim.network.first_divergence`).
    """

    def __init__(self, plan, *, probes=False):
        if not isinstance(plan, NetworkPlan):
            raise TypeError(f"plan must be a NetworkPlan, not {plan!r}")
        self._plan = plan
        self._probes = probes
        ports = {"i": In(stream.Signature(plan.in_width)),
                 "o": Out(stream.Signature(plan.out_width))}
        if probes:
            for n, stage in enumerate(plan.stages[:-1]):
                ports[f"probe{n}_fire"] = Out(1)
                ports[f"probe{n}_payload"] = Out(stage.out_width)
        super().__init__(ports)

    @property
    def plan(self):
        return self._plan

    def elaborate(self, platform):
        m = Module()
        m.submodules.input = entry = RegisterSlice(self._plan.in_width)
        wiring.connect(m, wiring.flipped(self.i), entry.i)
        previous, shortcut = entry.o, None
        for n, stage in enumerate(self._plan.stages):
            if self._probes and n:
                m.d.comb += [getattr(self, f"probe{n - 1}_fire").eq(previous.valid &
                                                                    previous.ready),
                             getattr(self, f"probe{n - 1}_payload").eq(previous.payload)]
            for name, block in stage_blocks(stage):
                m.submodules[f"s{n}_{name}"] = block
                wiring.connect(m, previous, block.i)
                previous = block.o
                if isinstance(block, Shortcut):
                    shortcut = block.s
                elif isinstance(block, MatrixVectorActivation) and block.folding.side_bits:
                    wiring.connect(m, shortcut, block.r)
        wiring.connect(m, previous, wiring.flipped(self.o))
        return m
