"""The integer golden model of a :class:`~popcorn.network.graph.Graph`: the sequential
model's stages (:mod:`popcorn.golden.integer_model`) per node, and a residual Add folded
into the comparators of the Activation that quantizes it.

Where the Add happens and at which scale (seed 000 section 4, seed 004: a block adds its
shortcut to the main branch's batch-normalized pre-activation, before the activation
quantizer); two cases, by what the shortcut is:

* **Identity shortcut** (:class:`IntResidualThreshold`): a pre-activation P (a Dense/Conv2d
  whose Y is in units of 2**-F, optionally its BatchNorm) plus quantized activations S:
  comparator k of channel c is ``[BN(Y / 2**F) + v(s) >= t_k]``, v(s) the value of the
  shortcut's code s at that position and channel (``sum_j beta_j V_j``). For each code s
  this is P's comparators with t_k - v(s): one table per code, ``thresholds`` (S, C, L),
  exact (no rounding but Y's). In hardware the shortcut's code picks the threshold.
* **Two pre-activations** (:class:`IntAdd`, e.g. a binarized 1 x 1 downsampling shortcut
  and its BatchNorm): each branch's BatchNorm is folded into its coefficients and bias, as
  a BatchNorm before the Scores is, both branches with F = the larger of their own F_l, so
  that ``Y = Y1 + Y2`` is the sum in units of 2**-F; the comparators after it compare Y
  with ``ceil(2**F t_k)`` (an :class:`~popcorn.golden.integer_model.IntThreshold`).

A BatchNorm folded this way must have one reader (the Add, or the Activation or Scores after
it). Scores are in units of 2**-F of the last linear stage, as in the sequential model.
"""

from dataclasses import dataclass

import numpy as np

from popcorn.network.graph import INPUT
from popcorn.network.sequences import as_2d
from popcorn.network.validate import NetworkError

from .integer_model import (IntegerResult, IntFlatten, IntMaxPool, IntScores, _linear,
                            codes_thermometer,
                            _linear_stage, _maxpool, _threshold_stage, apply_thresholds,
                            layer_frac_bits)
from .quantizers import bases_to_values, comparators, thermometer_to_bases
from .widths import accumulator_range

__all__ = ["IntAdd", "IntResidualThreshold", "IntegerGraph", "to_integer_graph",
           "run_integer_graph"]


@dataclass(frozen=True, eq=False)
class IntAdd:
    """``Y = Y1 + Y2`` of two linear stages in the same units; ``y_range`` (y_min, y_max)
    per channel (lists of ints)."""

    layer: str
    y_range: tuple
    frac_bits: int

    kind = "add"


@dataclass(frozen=True, eq=False)
class IntResidualThreshold:
    """Comparators on Y plus an identity shortcut: ``by_code[s]`` the
    :class:`~popcorn.golden.integer_model.IntThreshold` for shortcut code s (0 .. L_s)."""

    layer: str
    by_code: tuple

    kind = "residual"

    @property
    def quantizer(self):
        return self.by_code[0].quantizer


@dataclass(frozen=True, eq=False)
class IntegerGraph:
    """``steps``: (tensor name, stage, names of the tensors it reads), in order; the scores
    are the last step's output, in units of 2**-``score_frac_bits``."""

    input_shape: tuple
    input_quantizer: object
    steps: tuple
    frac_bits: int
    score_frac_bits: int


def _code_values(quantizer):
    """The value of each thermometer code 0 .. L of ``quantizer``."""
    levels = len(comparators(quantizer).thresholds)
    thermo = codes_thermometer(np.arange(levels + 1), levels)
    return bases_to_values(thermometer_to_bases(thermo, quantizer), quantizer)


def to_integer_graph(graph, frac_bits=8, *, per_layer=True):
    """Map ``graph`` to its :class:`IntegerGraph` (``frac_bits`` as
    :func:`~popcorn.golden.integer_model.to_integer`).

    Raises
    ------
    NetworkError
        naming the node, for a BatchNorm with more than one reader, an Add whose shortcut
        is not quantized activations or a pre-activation, or an Add not quantized next.

    A graph over sequences is mapped as its graph over maps
    (:func:`~popcorn.network.sequences.as_2d`), whose input shape the result has.
    """
    graph = as_2d(graph)
    nodes = {node.name: node for node in graph.nodes}
    readers = {name: [] for name in [INPUT, *nodes]}
    for node in graph.nodes:
        for name in node.inputs:
            readers[name].append(node)
    quantizers = {INPUT: graph.input_quantizer}
    shapes = graph.shapes
    linear, steps = {}, []

    def source(name):
        """(linear stage name, BatchNorm or None) of a pre-activation tensor."""
        node = nodes[name]
        if node.layer.kind == "batchnorm":
            if len(readers[name]) != 1:
                raise NetworkError(f"{node.where} has {len(readers[name])} readers; a "
                                   f"BatchNorm folds into the one that reads it")
            return node.inputs[0], node.layer
        return name, None

    def build(name, fold=None, bits=None):
        node = nodes[name]
        read = node.inputs[0]
        average = 1
        if nodes.get(read) is not None and nodes[read].layer.kind == "globalavgpool":
            _, h, w = shapes[nodes[read].inputs[0]]
            average = h * w
        stage = _linear_stage(name, node.layer, quantizers[read],
                              int(frac_bits if bits is None else bits), fold,
                              per_layer and bits is None, average)
        linear[name] = stage
        return stage

    for node in graph.nodes:
        kind, name = node.layer.kind, node.name
        if kind in ("dense", "conv2d"):
            after = readers[name][0] if len(readers[name]) == 1 else None
            fold = after.layer if after is not None and after.layer.kind == "batchnorm" and \
                [r.layer.kind for r in readers[after.name]] == ["scores"] else None
            steps.append((name, build(name, fold), node.inputs))
        elif kind == "activation":
            quantizers[name] = node.layer.quantizer
            read = nodes[node.inputs[0]]
            if read.layer.kind == "add":
                steps += _add_steps(read, node, source, build, linear, quantizers, frac_bits)
                continue
            lin, norm = source(read.name)
            stage = _threshold_stage(name, linear[lin], norm, node.layer.quantizer)
            steps.append((name, stage, (lin,)))
        elif kind == "add":
            if [r.layer.kind for r in readers[name]] != ["activation"]:
                raise NetworkError(f"{node.where}: its sum must be read by one Activation")
        elif kind == "maxpool2d":
            quantizers[name] = quantizers[node.inputs[0]]
            steps.append((name, IntMaxPool(name, node.layer.kernel, node.layer.stride,
                                           node.layer.minimum), node.inputs))
        elif kind in ("flatten", "globalavgpool", "concat"):
            quantizers[name] = quantizers[node.inputs[0]]
            steps.append((name, IntFlatten(name) if kind != "concat" else _Concat(name),
                          node.inputs))
        elif kind == "scores":
            lin, _ = source(node.inputs[0])
            steps.append((name, IntScores(name), (lin,)))
    # an Add of two pre-activations rebuilt its branches with their BatchNorms folded
    steps = [(name, linear.get(name, stage), inputs) for name, stage, inputs in steps]
    last = [stage for _, stage, _ in steps if stage.kind in ("dense", "conv2d")][-1]
    return IntegerGraph(graph.input_shape, graph.input_quantizer, tuple(steps),
                        int(frac_bits), last.frac_bits)


@dataclass(frozen=True)
class _Concat:
    layer: str

    kind = "concat"


def _add_steps(add, act, source, build, linear, quantizers, frac_bits):
    """The steps of ``act`` (an Activation) quantizing ``add``'s sum."""
    kinds = [quantizers.get(name) is not None for name in add.inputs]
    if kinds.count(True) == 1:                       # identity shortcut: codes
        short = add.inputs[kinds.index(True)]
        lin, norm = source(add.inputs[kinds.index(False)])
        by_code = tuple(_threshold_stage(act.name, linear[lin], norm, act.layer.quantizer,
                                         shift=float(v))
                        for v in _code_values(quantizers[short]))
        return [(act.name, IntResidualThreshold(act.name, by_code), (lin, short))]
    (lin1, norm1), (lin2, norm2) = (source(name) for name in add.inputs)
    bits = max(layer_frac_bits(s.real_coefficients * _scale(n)[:, None, None], frac_bits)
               for s, n in ((linear[lin1], norm1), (linear[lin2], norm2)))
    first, second = build(lin1, norm1, bits), build(lin2, norm2, bits)
    ranges = [accumulator_range(s.coefficients, s.bias, s.weight_encoding, s.act_encoding,
                                s.fan_in) for s in (first, second)]
    y_range = tuple([a + b for a, b in zip(ranges[0][k], ranges[1][k])] for k in (0, 1))
    total = IntAdd(add.name, y_range, bits)
    threshold = _threshold_stage(act.name, first, None, act.layer.quantizer, y_range=y_range)
    return [(add.name, total, (lin1, lin2)), (act.name, threshold, (add.name,))]


def _scale(norm):
    """gamma / sigma of a BatchNorm (1 without one), per channel."""
    if norm is None:
        return np.ones(1)
    return norm.gamma / np.sqrt(norm.var.astype(np.float64) + norm.eps)


def run_integer_graph(integer_graph, thermo, trace=True):
    """Run the integer graph model on an input thermometer code (B, *input_shape, L) (or
    (B, C, T, L) of a sequence, the graph's (C, 1, T)): an
    :class:`~popcorn.golden.integer_model.IntegerResult` whose ``trace`` holds every
    step's output in step order (Y for linear stages and Adds, thermometer codes else)."""
    thermo = np.asarray(thermo, dtype=np.uint8)
    tensors = {INPUT: thermo.reshape(len(thermo), *integer_graph.input_shape, thermo.shape[-1])}
    outputs = []
    for name, stage, inputs in integer_graph.steps:
        ins = [tensors[n] for n in inputs]
        kind = stage.kind
        if kind in ("dense", "conv2d"):
            value = _linear(stage, ins[0])
        elif kind == "threshold":
            value = apply_thresholds(stage, ins[0])
        elif kind == "residual":
            code = ins[1].sum(axis=-1, dtype=np.int64)[..., None]        # (B, C, ..., 1)
            every = np.stack([apply_thresholds(t, ins[0]) for t in stage.by_code])
            value = np.take_along_axis(every, code[None], axis=0)[0]
        elif kind == "add":
            value = ins[0] + ins[1]
        elif kind == "maxpool2d":
            value = _maxpool(stage, ins[0])
        elif kind == "flatten":
            value = ins[0].reshape(len(ins[0]), -1, ins[0].shape[-1])
        elif kind == "concat":
            value = np.concatenate(ins, axis=1)
        else:                                                           # scores
            value = ins[0]
        tensors[name] = value
        outputs.append(value)
    scores = outputs[-1]
    return IntegerResult(scores, np.argmax(scores, axis=1), outputs if trace else None)

