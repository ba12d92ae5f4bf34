"""Mapping a whole network onto a streaming dataflow accelerator: one stage per layer.

:func:`map_network` takes a :class:`~popcorn.network.Network`, maps it to the integer model
(:func:`~popcorn.golden.integer_model.to_integer`) and turns its stages into the hardware's
(:mod:`popcorn.mapping.stages`): a Conv2d becomes a sliding window and an engine, a
MaxPool2d an OR-pool, a Flatten a gatherer in front of the Dense engine that reads it, the
scores an argmax. Each engine is folded PE x SIMD so that it needs about
``target_cycles`` per image. The image enters as a stream of pixels (raster order, all
channels of a pixel per word; a vector input (K,) as K one-element pixels).

Cycles come from the cycle models of the stages (:mod:`popcorn.mapping.timing`): the plan
predicts the handshake cycle of every input and output word of a free-running run, which
the RTL tests assert, word for word.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from ..golden.binary import pack_words
from ..golden.borders import border_correction
from ..golden.integer_graph import (IntegerGraph, IntResidualThreshold, run_integer_graph,
                                    to_integer_graph)
from ..golden.integer_model import (IntLinear, IntThreshold, codes_thermometer, run_integer,
                                    to_integer)
from ..golden.predict import input_thermometer
from ..golden.quantizers import base_coefficients, comparators, thermometer_to_bases
from ..hwmath import argmax_latency, class_width, divisors
from ..network.graph import INPUT, Graph
from ..network.sequences import as_2d
from ..network.validate import NetworkError
from .linear import (MAX_SHORTCUT_BITS, LinearFolding, level_to_base_map, pack_scores,
                     takes_tables, unpack_scores)
from .stages import (ArgmaxStage, ConcatStage, ConvStage, DenseStage, FlattenStage, PoolStage,
                     ShortcutStage, branch_depths, input_queue_depth, shortcut_depth,
                     stage_summary)
from .timing import RegisterSliceTiming, chain_cycles

COUNTS = ("logic", "tables")
"""Where the engines' counts come from (``map_network(counts=...)``)."""
PREDICTED_IMAGES = 4
"""Images of the free-running run that :attr:`NetworkPlan.cycles_per_image` and
:attr:`NetworkPlan.latency` are read from (the interval between the last two outputs)."""


def choose_folding(channels, fan_in, target_cycles, simd_multiple=1):
    """The least parallel (pe, simd) whose NF*SF is at most ``target_cycles``, preferring
    wide SIMD (cheap: one popcount tree) over many PEs; the fully parallel (C, K) when no
    folding meets the target. With ``simd_multiple``, only SIMD that are multiples of it,
    None when none meets the target."""
    best = None
    for pe in divisors(channels):
        for simd in divisors(fan_in):
            cycles = (channels // pe) * (fan_in // simd)
            if cycles > target_cycles or simd % simd_multiple:
                continue
            key = (pe * simd, pe)
            if best is None or key < best[0]:
                best = (key, pe, simd)
    if best is None:
        return (channels, fan_in) if simd_multiple == 1 else None
    return best[1:]


@dataclass(frozen=True, eq=False)
class NetworkPlan:
    """A mapped network: ``stages`` in stream order (:mod:`popcorn.mapping.stages`), the
    last an :class:`~popcorn.mapping.stages.ArgmaxStage`; ``integer`` the integer model it
    implements (an :class:`~popcorn.golden.integer_graph.IntegerGraph` for a graph);
    ``network`` the source; ``input_shape`` the stream's (H, W, C) image."""
    network: object
    integer: object
    stages: tuple
    input_shape: tuple
    _cycles: dict = field(default_factory=dict, repr=False)

    @property
    def foldings(self):
        """The engines' :class:`~popcorn.mapping.linear.LinearFolding`, in stream order (a
        residual block's shortcut engine after its ShortcutStage, a Concat's branch engines
        in its ConcatStage's place, branch 0 first)."""
        stages = []
        for stage in self.stages:
            stages += [getattr(stage, "side", None) or stage, *getattr(stage, "stages", ())]
        return tuple(s.folding for s in stages if hasattr(s, "folding"))

    @property
    def classes(self):
        return self.stages[-1].classes

    def summary(self):
        """One dict per stage (:func:`~popcorn.mapping.stages.stage_summary`), a residual
        block's shortcut engine after its ShortcutStage, a Concat's branch stages after its
        ConcatStage (with ``"branch"``: its number): a report's layer table."""
        rows = []
        for stage in self.stages:
            rows.append(stage_summary(stage))
            if getattr(stage, "side", None) is not None:
                rows.append({**stage_summary(stage.side),
                             "output": "Y, added by the block's last layer"})
            for b, branch in enumerate(getattr(stage, "branches", ())):
                rows += [{**stage_summary(inner), "branch": b} for inner in branch]
        return rows

    @property
    def score_width(self):
        return self.stages[-1].score_width

    @property
    def in_width(self):
        """Bits of one input pixel word: C elements of N bases."""
        return self.stages[0].in_width

    @property
    def in_words(self):
        """Input words (pixels) per image."""
        return self.stages[0].in_words

    @property
    def out_width(self):
        return self.classes * self.score_width + class_width(self.classes)

    @property
    def needs_dsp(self):
        """True when a layer's multiplies should go to DSP blocks."""
        return any(f.needs_dsp for f in self.foldings)

    # -- cycles --------------------------------------------------------------------------
    def cycle_model(self, images=PREDICTED_IMAGES):
        """:class:`~popcorn.mapping.timing.ChainCycles` of ``images`` images sent back to
        back into an idle accelerator whose output is always taken (computed once per
        count): the accelerator's input register slice, then every stage's blocks."""
        if images not in self._cycles:
            models = [RegisterSliceTiming()] + [model for stage in self.stages
                                                for model in stage.timing()]
            self._cycles[images] = chain_cycles(models, input_words=images * self.in_words,
                                                output_words=images)
        return self._cycles[images]

    @property
    def _predicted(self):
        return self.cycle_model()

    @property
    def cycles_per_image(self):
        """Initiation interval: cycles between the last two of :data:`PREDICTED_IMAGES`
        images sent back to back."""
        out = self._predicted.outputs
        return out[-1] - out[-2]

    @property
    def latency(self):
        """Cycles from the first input word's handshake to the first result's, on an idle
        accelerator."""
        return self._predicted.outputs[0] - self._predicted.inputs[0]

    # -- words -----------------------------------------------------------------------------
    def input_pixels(self, inputs):
        """The input stream's bits ``uint8`` (B, H*W, C, N) of raw inputs: pixel (y, x) of
        image b at ``[b, y*W + x]``, element c's N bases (fixed point: the code's bits); a
        vector (K,) is K pixels of one element. Where the first engine takes several
        pixels per transfer (:func:`pixels_per_word`): (B, in_words, P*C, N), P
        consecutive pixels in each."""
        thermo = input_thermometer(self.network, inputs)
        bases = thermometer_to_bases(thermo, self.network.input_quantizer)  # (B, *shape, N)
        if bases.ndim == 3:                                                   # (B, K, N)
            bases = bases[:, None, None, :, :]                  # one channel, 1 x K
        elif bases.ndim == 4:                                             # (B, C, T, N)
            bases = bases[:, :, None]                           # a sequence, 1 x T
        b, c, h, w, n = bases.shape
        per = h * w // self.in_words                         # pixels per transfer
        return np.ascontiguousarray(bases.transpose(0, 2, 3, 1, 4)).reshape(
            b, self.in_words, per * c, n)

    def input_words(self, inputs):
        """Input stream words, image after image (Python ints,
        :func:`~popcorn.golden.binary.pack_words` of :meth:`input_pixels`)."""
        return pack_words(self.input_pixels(inputs), axes=2)

    def reference(self, inputs):
        """(scores ``int64`` (B, classes), argmax (B,)) of the integer golden model."""
        thermo = input_thermometer(self.network, inputs)
        run = run_integer_graph if isinstance(self.integer, IntegerGraph) else run_integer
        result = run(self.integer, thermo, trace=False)
        return result.scores, result.argmax

    def pack_outputs(self, scores, argmax):
        """The accelerator's output words: :func:`~popcorn.mapping.linear.pack_scores` with
        the class above the scores."""
        top = self.classes * self.score_width
        return [word | (int(k) << top)
                for word, k in zip(pack_scores(scores, self.score_width), argmax)]

    def unpack_outputs(self, words):
        """(scores, argmax) from the accelerator's output words."""
        top = self.classes * self.score_width
        argmax = np.array([word >> top for word in words], dtype=np.int64)
        return unpack_scores(words, self.classes, self.score_width), argmax


def _stream_weights(linear, spatial):
    """``linear`` with its weight bits permuted from the golden model's C-major element
    order to the stream's: (c, ky, kx) -> (ky, kx, c) for a convolution's windows,
    (c, y, x) -> (y, x, c) for a flattened map (``spatial`` = (H, W) or the kernel)."""
    m, out, k = linear.weight_bits.shape
    h, w = spatial
    bits = linear.weight_bits.reshape(m, out, k // (h * w), h, w).transpose(0, 1, 3, 4, 2)
    return replace(linear, kind="dense", weight_bits=np.ascontiguousarray(bits).reshape(m, out, k))


def pixels_per_word(size, fold_bits, bits, target_cycles):
    """Input pixels per transfer for an image of ``size`` pixels of ``bits`` bits each
    that a Dense engine with element folds of ``fold_bits`` bits gathers: the fewest that
    bring the image's transfers within ``target_cycles``, among counts that divide the
    image and whose word divides the fold (the engine gathers whole words); 1 when one
    pixel a transfer is fast enough or no count qualifies."""
    for per in range(1, size + 1):
        if size % per == 0 and fold_bits % (per * bits) == 0 and size // per <= target_cycles:
            return per
    return 1


class _Stream:
    """What flows between two stages while :func:`map_network` walks the layers."""

    def __init__(self, height, width, channels, bits, quantizer, levels=False):
        self.height, self.width, self.channels, self.bits = height, width, channels, bits
        self.quantizer, self.levels = quantizer, levels
        self.vector = False


def _graph_chain(integer):
    """The steps of an :class:`~popcorn.golden.integer_graph.IntegerGraph` as one chain:
    (stages, names, joins, concats). ``joins[n]`` for the activation step n that closes a
    residual block: (the tensor the block forks, the shortcut's linear stage or None for the
    identity). Of an Add of two pre-activations the shortcut is the branch that reads the
    earlier tensor (the block's input), or the smaller kernel if both read it. A Concat's
    branches come just before it, branch 0 first: ``concats[n]`` for the Concat step n is
    (the tensor forked, ((start, end), ...) the steps of each branch, start == end for the
    tensor itself). Every other step must read the step before it; anything else is
    refused naming the node."""
    steps = {name: (stage, inputs) for name, stage, inputs in integer.steps}
    order = {name: n for n, (name, _, _) in enumerate(integer.steps)}
    order[INPUT] = -1
    sides, adds = {}, {}                         # side linear -> its Add; Add -> (main, side)
    for name, stage, inputs in integer.steps:
        if stage.kind == "add":
            a, b = inputs
            key = {n: (order[steps[n][1][0]], _kernel(steps[n][0])) for n in inputs}
            side = b if key[b] <= key[a] else a
            adds[name] = (a if side == b else b, side)
            sides[side] = name
    branches = _concat_branches(integer)
    inside = {step for _, chains in branches.values() for chain in chains for step in chain}
    walk = []
    for name, stage, inputs in integer.steps:
        if name in inside:
            continue
        if name in branches:
            walk += [(step, *steps[step], branches[name][0] if k == 0 else None)
                     for chain in branches[name][1] for k, step in enumerate(chain)]
        walk.append((name, stage, inputs, None))
    stages, names, joins, concats = [], [], {}, {}
    previous, begun = INPUT, []
    for name, stage, inputs, fork in walk:
        if name in sides or stage.kind == "add":
            continue
        if fork is not None:                    # the first step of a Concat's branch
            previous = fork
            begun.append(len(stages))
        read = inputs[0]
        if stage.kind == "concat":
            fork, chains = branches[name]
            concats[len(stages)] = (fork, _branch_ranges(chains, begun, len(stages)))
            begun = []
        elif read in adds:                      # the activation quantizing an Add's sum
            main, side = adds[read]
            if main != previous:
                raise NetworkError(f"node {read!r} adds {main!r}, not the node before it "
                                   f"({previous!r}); the dataflow accelerator maps a chain "
                                   f"of layers with residual blocks and Concats")
            joins[len(stages)] = (steps[side][1][0], steps[side][0])
        elif read != previous:
            raise NetworkError(f"node {name!r} reads {read!r}, not the node before it "
                               f"({previous!r}); the dataflow accelerator maps a chain of "
                               f"layers with residual blocks and Concats")
        if stage.kind == "residual":
            joins[len(stages)] = (inputs[1], None)
        stages.append(stage)
        names.append(name)
        previous = name
    return stages, names, joins, concats


def _concat_branches(integer):
    """``{Concat step: (the tensor forked, [the step names of each branch, in order])}``:
    a branch walks back from the Concat's input through steps of one input and one reader
    to the tensor every branch reads (read by the branches alone); refused naming the
    Concat otherwise."""
    readers, inputs_of, kinds = {INPUT: []}, {}, {}
    for name, stage, inputs in integer.steps:
        readers[name], inputs_of[name], kinds[name] = [], inputs, stage.kind
        for read in inputs:
            readers[read].append(name)
    takes = ("the dataflow accelerator forks one tensor into chains of Conv2d, MaxPool2d "
             "and Dense layers (with their activations), joined by the Concat")
    found = {}
    for name, stage, inputs in integer.steps:
        if stage.kind != "concat":
            continue
        chains, forks = [], []
        for end in inputs:
            chain, tensor = [], end
            while tensor != INPUT and len(readers[tensor]) == 1:
                if len(inputs_of[tensor]) != 1:
                    raise NetworkError(f"node {name!r}: its branch through {tensor!r} holds "
                                       f"a join ({kinds[tensor]}); {takes}")
                chain.insert(0, tensor)
                tensor = inputs_of[tensor][0]
            chains.append(chain)
            forks.append(tensor)
        if len(set(forks)) != 1:
            raise NetworkError(f"node {name!r}: its branches start from "
                               f"{', '.join(repr(f) for f in dict.fromkeys(forks))}; {takes}")
        fork = forks[0]
        if len(readers[fork]) != len(inputs):
            raise NetworkError(f"node {name!r}: {fork!r}, which its branches fork, is read "
                               f"by {len(readers[fork])} nodes, its {len(inputs)} branches "
                               f"and others; {takes}")
        found[name] = (fork, chains)
    return found


def _branch_ranges(chains, begun, at):
    """((start, end), ...) of each branch's chain steps, given ``begun``: the chain index of
    each non-empty branch's first step, in order; the Concat at ``at``."""
    starts = iter(begun)
    bounds = [next(starts) if chain else None for chain in chains] + [at]
    for b in range(len(chains) - 1, -1, -1):
        if bounds[b] is None:
            bounds[b] = bounds[b + 1]
    return tuple(zip(bounds[:-1], bounds[1:]))


def _kernel(stage):
    """A linear stage's kernel size, kh * kw taps (1 for a Dense layer)."""
    return stage.kernel[0] * stage.kernel[1] if stage.kind == "conv2d" else 1


def _pattern_tables(residual, quantizer):
    """The comparator table of each shortcut pattern (``LinearFolding.shortcut``): the
    pattern of code s's bases selects ``residual.by_code[s]``; patterns no code has
    (never in the stream) take code 0's."""
    levels = len(comparators(quantizer).thresholds)
    bases = thermometer_to_bases(codes_thermometer(np.arange(levels + 1), levels), quantizer)
    code_of = {int((row.astype(np.int64) << np.arange(len(row))).sum()): code
               for code, row in enumerate(bases)}
    return tuple(residual.by_code[code_of.get(pattern, 0)]
                 for pattern in range(1 << bases.shape[1]))


def map_network(network, *, frac_bits=8, target_cycles=64, folding=None, pipeline="auto",
                bases="parallel", multiply="shift-add", counts="logic"):
    """Map ``network`` to a :class:`NetworkPlan`.

    ``network`` is a :class:`~popcorn.network.Network` or a :class:`~popcorn.network.Graph`
    whose joins are Concats or residual blocks (a chain of layers in which an Add, quantized next,
    sums a block's last BatchNorm and its shortcut): the block's input enters a
    :class:`~popcorn.mapping.stages.ShortcutStage`; with an identity shortcut the engine
    of the block's last layer compares with thresholds chosen by the shortcut's code
    (``LinearFolding.shortcut``), with a linear shortcut (a 1 x 1 downsampling convolution
    and its BatchNorm) that layer's engine runs inside the ShortcutStage and the closing
    engine adds its Y (``LinearFolding.addend``). A block's main branch holds Conv2d
    layers (or Dense layers on vectors). ``folding`` then lists a block's shortcut layer
    just before the layer that closes the block. A Concat of branches that all read one
    tensor (read by them alone) through layers of one input (Conv2d, MaxPool2d, Flatten,
    Dense, their activations; or none: the tensor itself) becomes a
    :class:`~popcorn.mapping.stages.ConcatStage` holding the branches' stages; ``folding``
    and :attr:`NetworkPlan.foldings` list their engines in its place, branch 0 (the
    Concat's first input) first, each branch's in order. A Concat inside a residual block,
    or a residual block inside a branch, is refused.

    ``folding`` optionally fixes (pe, simd) per engine: a list, one per Conv2d or Dense in
    order, or a mapping from each such layer's name (``IntLinear.layer``, the ``layer`` of
    :meth:`NetworkPlan.summary`) to its pair, whatever the order; otherwise
    :func:`choose_folding` gives every engine about ``target_cycles`` cycles per image (a
    convolution's engine ``target_cycles / (OH*OW)`` per window).
    ``pipeline`` is the register stages of every popcount tree, or ``"auto"``: one stage
    per two logic levels of the tree. ``bases`` and ``multiply`` are passed to every
    :class:`~popcorn.mapping.linear.LinearFolding`. ``counts``: ``"logic"`` (XNOR/AND and
    popcount trees in logic) or ``"tables"``: every engine that can
    (:func:`~popcorn.mapping.linear.takes_tables`) reads its counts from count tables
    (``weight_code="tables"``), folded as in logic: the board's placement
    (:func:`~popcorn.boards.fit.place_weight_roms`) refolds them to the lanes its block RAM
    holds.

    Raises
    ------
    NetworkError
        naming the layer and the parameter the hardware cannot carry.
    """
    flat = as_2d(network)
    if isinstance(flat, Graph):
        integer = to_integer_graph(flat, frac_bits)
        stages_in, names, joins, concats = _graph_chain(integer)
    else:
        integer = to_integer(flat, frac_bits)
        stages_in, names, joins, concats = list(integer.stages), None, {}, {}
    linears = [s for s in stages_in if isinstance(s, IntLinear)] + \
        [side for _, side in joins.values() if side is not None]
    if isinstance(folding, Mapping):
        layers = [linear.layer for linear in linears]
        if sorted(map(str, folding)) != sorted(map(str, layers)):
            raise ValueError(f"folding names layers {sorted(map(str, folding))}, the "
                             f"network's Conv2d and Dense layers are "
                             f"{sorted(map(str, layers))}")
        engines = dict(folding)
    elif folding is not None and len(folding) != len(linears):
        raise ValueError(f"folding gives {len(folding)} (pe, simd) pairs for "
                         f"{len(linears)} Conv2d and Dense layers")
    else:
        engines = iter(folding) if folding is not None else None
    shape = flat.input_shape
    quantizer = flat.input_quantizer
    n_in = len(base_coefficients(quantizer))
    if len(shape) == 1:
        stream = _Stream(1, shape[0], 1, n_in, quantizer)
    else:
        stream = _Stream(shape[1], shape[2], shape[0], n_in, quantizer)
    input_shape = (stream.height, stream.width, stream.channels)
    stages = []
    options = dict(bases=bases, multiply=multiply)
    if counts not in COUNTS:
        raise ValueError(f"counts must be one of {COUNTS}, not {counts!r}")
    entering = {}           # step index -> (stage index, _Stream) of the stream it reads

    def fold(linear, activation, items, emit, borders=None, shortcut=None, addend=None,
             chosen=None, gather=0):
        channels, fan_in = linear.weight_bits.shape[1:]
        if chosen is not None:
            pe, simd = chosen
        elif isinstance(engines, dict):
            pe, simd = engines[linear.layer]
        elif engines is not None:
            pe, simd = next(engines)
        else:
            pe, simd = choose_folding(channels, fan_in, max(1, target_cycles // items))
        kwargs = dict(options, emit=emit)
        if counts == "tables" and takes_tables(channels // pe * (fan_in // simd), simd,
                                               1 if bases == "parallel"
                                               else linear.coefficients[0].size):
            kwargs["weight_code"] = "tables"
        if borders is not None:
            kwargs["borders"] = borders
        if shortcut is not None:
            kwargs["shortcut"] = shortcut
        if addend is not None:
            kwargs["addend"] = addend
        if gather:
            kwargs["gather"] = gather
        try:
            if pipeline == "auto":
                kwargs["pipeline"] = LinearFolding(linear, activation, pe=pe, simd=simd,
                                                   **kwargs).auto_pipeline
            else:
                kwargs["pipeline"] = pipeline
            return LinearFolding(linear, activation, pe=pe, simd=simd, **kwargs)
        except (TypeError, ValueError) as error:
            message = str(error)
            if not message.startswith("layer"):
                message = f"layer {linear.layer} ({linear.kind}): {message}"
            raise NetworkError(message) from None

    def residual(n, after, where, out, closing):
        """(shortcut tables, addend) of the engine of step n, which closes a residual block
        (its activation, step n + 1, is ``after``); inserts the block's ShortcutStage (and
        its side engine) where the forked stream begins. ``out``: (H, W, C) of the
        block's output, ``closing`` the ConvStage or DenseStage of step n (no folding
        yet)."""
        short, side_linear = joins[n + 1]
        at, source = entering[0 if short == INPUT else names.index(short) + 1]
        main = stages[at:] + [closing]
        for stage in main:
            if not isinstance(stage, ConvStage) and not (
                    isinstance(stage, DenseStage) and
                    (stage.folding is None or not stage.folding.gather)):
                raise NetworkError(f"{where}: the residual block from {short!r} holds layer "
                                   f"{stage.layer} ({stage.kind}); a block's main branch "
                                   f"takes Conv2d layers, or Dense layers on vectors")
        if any(isinstance(stage, ShortcutStage) for stage in main):
            raise NetworkError(f"{where}: residual blocks overlap (another starts after "
                               f"{short!r}); each block must end before the next begins")
        if source.levels:
            raise NetworkError(f"{where}: the shortcut {short!r} is comparator levels "
                               f"before a pool, not activation bases")
        tables = addend = side = None
        if side_linear is None:
            if (source.height, source.width, source.channels) != out:
                raise NetworkError(f"{where}: the shortcut {short!r} is not a map of "
                                   f"{out[0]}x{out[1]}x{out[2]} activation bases")
            if source.bits > MAX_SHORTCUT_BITS:
                raise NetworkError(f"{where}: the shortcut {short!r} has {source.bits} "
                                   f"bases per channel; a residual engine takes at most "
                                   f"{MAX_SHORTCUT_BITS}")
            tables = _pattern_tables(after, source.quantizer)
        else:
            side = _side_stage(side_linear, source, fold)
            shape = (*side.out_shape, side.folding.channels) \
                if isinstance(side, ConvStage) else (1, 1, side.folding.channels)
            if shape != out:
                raise NetworkError(f"{where}: the shortcut layer {side_linear.layer} gives "
                                   f"{shape[0]}x{shape[1]}x{shape[2]}, the block "
                                   f"{out[0]}x{out[1]}x{out[2]}")
            addend = side.folding.y_range()
        minimum = shortcut_depth(main, side)
        stages.insert(at, ShortcutStage(layer=short, height=source.height,
                                        width=source.width, channels=source.channels,
                                        bits=source.bits, minimum=minimum, depth=minimum,
                                        side=side))
        return tables, addend

    fork_at = {ranges[0][0]: c for c, (_, ranges) in concats.items()}
    branch_at = {start: c for c, (_, ranges) in concats.items()
                 for start, end in ranges if start < end}
    forked = {}             # Concat step -> the _Stream its branches read

    n, flatten_at = 0, None
    while n < len(stages_in):
        if n in fork_at:
            forked[fork_at[n]] = stream
        if n in branch_at:
            stream = forked[branch_at[n]]
        entering[n] = (len(stages), stream)
        stage = stages_in[n]
        after = stages_in[n + 1] if n + 1 < len(stages_in) and n + 1 not in branch_at \
            else None
        activation = after if isinstance(after, IntThreshold) else None
        if isinstance(after, IntResidualThreshold):
            activation = after.by_code[0]
        where = f"layer {stage.layer} ({stage.kind})"
        if isinstance(stage, IntLinear) and stage.kind == "conv2d":
            for axis, p, k in zip(("height", "width"), stage.padding, stage.kernel):
                if p >= k:
                    raise NetworkError(f"{where}: padding {p} is not smaller than the kernel "
                                       f"{k} along the {axis}; the sliding window pads less "
                                       f"than a kernel")
            if activation is None:
                raise NetworkError(f"{where}: a convolution must be followed by an "
                                   f"activation; the scores come from a Dense layer")
            pool_next = n + 2 < len(stages_in) and stages_in[n + 2].kind == "maxpool2d" \
                and n + 2 not in branch_at
            levels = pool_next and level_to_base_map(activation.quantizer)[0] != "levels"
            conv = ConvStage(
                layer=stage.layer, height=stream.height, width=stream.width,
                channels=stream.channels, bits=stream.bits, kernel=stage.kernel,
                stride=stage.stride, padding=stage.padding, folding=None,
                queue=input_queue_depth(stream.width) if stages else 0)
            oh, ow = conv.out_shape
            linear = _stream_weights(stage, stage.kernel)
            tables, addend = residual(n, after, where, (oh, ow, stage.weight_bits.shape[1]),
                                      conv) if n + 1 in joins else (None, None)
            folded = fold(linear, activation, oh * ow, "levels" if levels else "bases",
                          border_correction(stage, stream.height, stream.width), tables,
                          addend)
            conv = replace(conv, folding=folded)
            stages.append(conv)
            stream = _Stream(oh, ow, folded.channels, folded.out_bits, activation.quantizer,
                             levels)
            n += 2
            continue
        if isinstance(stage, IntLinear):
            if not stream.vector and stream.height * stream.width > 1:
                # a map: the engine gathers its pixels when they pack into its element
                # folds, else a FlattenStage gathers them into one vector word; the
                # network's input several pixels a transfer where one a cycle would miss
                # the target (a 1 x 1 map, a global pool's, is one vector word already)
                linear = _stream_weights(stage, (stream.height, stream.width))
                folded = fold(linear, activation, 1, "bases")
                pixel = stream.channels * stream.bits
                if engines is None and folded.fold_width % pixel:
                    # a SIMD of whole pixels, if one meets the target: gathering the map
                    # into the engine's input buffer saves the FlattenStage's vector
                    # register and the engine's copy of it (2 x 392 flip-flops on
                    # mnist-cnn-bnn-tiny's dense layer at SIMD 1)
                    whole = pixel // math.gcd(pixel, folded.act_bases)
                    chosen = choose_folding(*linear.weight_bits.shape[1:],
                                            max(1, target_cycles), simd_multiple=whole)
                    if chosen is not None:
                        folded = fold(linear, activation, 1, "bases", chosen=chosen)
                if not stages:
                    pixel *= pixels_per_word(stream.height * stream.width,
                                             folded.fold_width, pixel, target_cycles)
                if folded.fold_width % pixel == 0:
                    # (folded again: a gathering engine's pipeline="auto" differs)
                    folded = fold(linear, activation, 1, "bases",
                                  chosen=(folded.pe, folded.simd), gather=pixel)
                else:
                    stages.append(FlattenStage(
                        layer=flatten_at if flatten_at is not None else stage.layer,
                        height=stream.height, width=stream.width, channels=stream.channels,
                        bits=stream.bits))
            else:
                tables, addend = residual(n, after, where, (1, 1, stage.weight_bits.shape[1]),
                                          DenseStage(layer=stage.layer, folding=None)) \
                    if n + 1 in joins else (None, None)
                folded = fold(stage, activation, 1, "bases", shortcut=tables, addend=addend)
            stages.append(DenseStage(layer=stage.layer, folding=folded))
            if activation is None:
                stream = None
                n += 1
            else:
                stream = _Stream(1, 1, folded.channels, folded.out_bits, activation.quantizer)
                stream.vector = True
                n += 2
            continue
        if stage.kind == "maxpool2d":
            if stream.vector:
                raise NetworkError(f"{where}: pooling a vector")
            if not stream.levels and level_to_base_map(stream.quantizer)[0] != "levels":
                raise NetworkError(f"{where}: pooling the network input of "
                                   f"{stream.quantizer.quantizer} bases is not mapped (their "
                                   f"OR is not their maximum); quantize the input with a "
                                   f"sign or ABC-Net activation, or pool after a layer")
            last_pool = not (after is not None and after.kind == "maxpool2d")
            convert = stream.quantizer if stream.levels and last_pool else None
            out_bits = len(thermometer_to_bases(
                np.zeros((1, stream.bits), np.uint8), convert)[0]) if convert else stream.bits
            pool = PoolStage(layer=stage.layer, height=stream.height, width=stream.width,
                             channels=stream.channels, bits=stream.bits, kernel=stage.kernel,
                             stride=stage.stride, convert=convert, out_bits=out_bits,
                             minimum=stage.minimum, queue=input_queue_depth(stream.width) if stages else 0)
            if stage.kernel[0] > stream.height or stage.kernel[1] > stream.width:
                raise NetworkError(f"{where}: kernel {stage.kernel[0]}x{stage.kernel[1]} does "
                                   f"not fit the {stream.height}x{stream.width} map")
            stages.append(pool)
            oh, ow = pool.out_shape
            stream = _Stream(oh, ow, stream.channels, out_bits, stream.quantizer,
                             stream.levels and not last_pool)
            n += 1
            continue
        if stage.kind == "concat":
            concat = _concat_stage(names[n], forked[n], [
                tuple(stages[entering[start][0]:entering[end][0]])
                for start, end in concats[n][1]])
            del stages[entering[concats[n][1][0][0]][0]:]
            stages.append(concat)
            rows, cols, elements, bits = concat.out_layout
            vector = stream.vector
            stream = _Stream(rows, cols, elements, bits, stream.quantizer)
            stream.vector = vector
            n += 1
            continue
        # flatten: the next Dense gathers the map (FlattenStage); scores: the argmax
        if stage.kind == "flatten":
            flatten_at = stage.layer
        if stage.kind == "scores":
            last = stages[-1].folding
            stages.append(ArgmaxStage(layer=stage.layer, classes=last.channels,
                                      score_width=last.score_width,
                                      mode=argmax_mode(stages, last.channels)))
        n += 1
    return NetworkPlan(network, integer, size_fork_queues(stages), input_shape)


def argmax_mode(stages, classes):
    """The :class:`~popcorn.mapping.stages.ArgmaxStage` mode after ``stages`` (the chain
    that makes the scores, one word per image), the cheapest that takes a word as often
    as they come: ``"serial"`` when their initiation interval, with the scores always
    taken, is at least the :class:`~popcorn.hdl.argmax.SerialArgmax`'s
    ``serial_argmax_latency(classes) + 1`` cycles; else ``"tournament"`` when at least the
    one-word-at-a-time :class:`~popcorn.hdl.argmax.Argmax`'s ``argmax_stages(classes) +
    1``; else ``"pipelined"``. That interval is at least the input's words per image (one
    a cycle), so only a chain of fewer is run (:func:`~popcorn.mapping.timing.chain_cycles`,
    :data:`PREDICTED_IMAGES` images, its fork queues sized by :func:`size_fork_queues`)."""
    serial, tournament = (argmax_latency(classes, mode) + 1 for mode in ("serial", "tournament"))
    if stages[0].in_words >= serial:
        return "serial"
    models = [model for stage in size_fork_queues(stages) for model in stage.timing()]
    out = chain_cycles(models, input_words=PREDICTED_IMAGES * stages[0].in_words,
                       output_words=PREDICTED_IMAGES).outputs
    interval = out[-1] - out[-2]
    return "serial" if interval >= serial else \
        "tournament" if interval >= tournament else "pipelined"


def _side_stage(linear, source, fold):
    """The stage of a residual block's shortcut layer ``linear`` (a 1 x 1 downsampling
    convolution, or a Dense layer) on the forked stream ``source``: its engine emits Y
    (no activation), which the engine that closes the block adds to its own."""
    if linear.kind == "dense":
        return DenseStage(layer=linear.layer, folding=fold(linear, None, 1, "bases"))
    stage = ConvStage(layer=linear.layer, height=source.height, width=source.width,
                      channels=source.channels, bits=source.bits, kernel=linear.kernel,
                      stride=linear.stride, padding=linear.padding, folding=None)
    oh, ow = stage.out_shape
    folded = fold(_stream_weights(linear, linear.kernel), None, oh * ow, "bases",
                  border_correction(linear, source.height, source.width))
    return replace(stage, folding=folded)


def _concat_stage(name, source, branches):
    """The :class:`~popcorn.mapping.stages.ConcatStage` of Concat ``name`` joining
    ``branches`` (tuples of stages) of the forked stream ``source``; refused naming the
    node when the branches end in maps of other shapes."""
    stage = ConcatStage(layer=name, height=source.height, width=source.width,
                        channels=source.channels, bits=source.bits, branches=tuple(branches),
                        minima=(), depths=())
    layouts = stage.branch_layouts
    for b, layout in enumerate(layouts):
        if (layout[0], layout[1], layout[3]) != (layouts[0][0], layouts[0][1], layouts[0][3]):
            raise NetworkError(
                f"node {name!r}: branch {b} ends in {layout[0]}x{layout[1]} pixels of "
                f"{layout[3]}-bit elements, branch 0 in {layouts[0][0]}x{layouts[0][1]} of "
                f"{layouts[0][3]}; the join takes one word of every branch per pixel, so "
                f"the branches must end in maps of one shape and quantizer")
    minima = branch_depths(stage.branches, stage.out_words)
    return replace(stage, minima=minima, depths=minima)


def size_fork_queues(stages):
    """``stages`` with every fork's queues (a
    :class:`~popcorn.mapping.stages.ShortcutStage`'s, a
    :class:`~popcorn.mapping.stages.ConcatStage`'s branch queues) as deep as the larger
    of their deadlock-free minimum and what a stall-free schedule needs: the most words
    the queue's memory held in a free-running run of :data:`PREDICTED_IMAGES` images with
    unbounded queues, plus 2 (the output register, and the write that a full memory
    refuses even in a cycle that reads), so that run is not slowed at all. A queue of the
    minimum alone keeps the branches in step with the join: CNN residual blocks ran at a
    third of the throughput (``tests/mapping/test_timing.py``)."""
    unbounded = 1 << 30
    forks = {n: stage for n, stage in enumerate(stages)
             if isinstance(stage, (ShortcutStage, ConcatStage))}
    if not forks:
        return tuple(stages)
    models = [stage.timing() if n not in forks else
              replace(stage, depth=unbounded).timing() if isinstance(stage, ShortcutStage)
              else replace(stage, depths=(unbounded,) * len(stage.branches)).timing()
              for n, stage in enumerate(stages)]
    chain_cycles([model for group in models for model in group],
                 input_words=PREDICTED_IMAGES * stages[0].in_words,
                 output_words=PREDICTED_IMAGES)
    sized = list(stages)
    for n, stage in forks.items():
        if isinstance(stage, ShortcutStage):
            sized[n] = replace(stage, depth=max(stage.minimum, models[n][0].peak + 2))
        else:
            sized[n] = replace(stage, depths=tuple(
                max(least, peak + 2) for least, peak in zip(stage.minima, models[n][0].peaks)))
    return tuple(sized)
