"""QONNX import: binary networks exported by Brevitas into a :class:`~popcorn.network.Network`,
or a :class:`~popcorn.network.Graph` where they branch (residual blocks, concatenations).

:func:`import_qonnx` reads a QONNX graph (a file, an ``onnx.ModelProto`` or a qonnx
``ModelWrapper``), folds its constant subgraphs (weight quantizers, weight transposes), walks
the data paths from the graph input to the graph output in node order and maps every node
on them:

=========================  ===============================================================
node                       popcorn
=========================  ===============================================================
BipolarQuant (data)        :class:`SignActivation` (input quantizer or Activation); its
                           scale s > 0 (per tensor) multiplies the next layer's weights
Quant (data)               zero point 0, rounding ROUND / HALF_EVEN / HALF_UP, scalar
                           scale, bitwidth 1 .. 16. Unsigned, narrow = 0:
                           :class:`FixedPointActivation` (bits, scale). Signed (codes
                           low .. high): the unsigned code q - low, the value shift
                           low * scale moving into the next layer's bias; after a
                           MatMul/Gemm/Conv/BatchNorm a non-narrow one is a fixed point
                           behind a BatchNorm shift, otherwise (input, narrow range)
                           :class:`PaActivation` pieces at (q - 1/2) scale. A 1-bit signed
                           Quant is bipolar (as qonnx executes it) -> sign
MultiThreshold (data)      data_layout NC, NCW (set it: qonnx reads an unset one of a
                           sequence as NWC) or NCHW. One threshold with ``out_bias =
                           -out_scale/2`` -> Sign (behind a BatchNorm that moves
                           per-channel thresholds to 0); otherwise
                           levels ``out_scale * count`` -> :class:`PaActivation` (shared
                           thresholds, or per-channel ones that differ by a shift), out_bias
                           moving into the next layer's bias (ABC-like bipolar levels
                           included); out_scale > 0
Mul, Div, Sub, Add (a      on the raw input (scalars: FINN's ``2x - 1``): folded into the
constant: a x + b)         input quantizer's thresholds (below); after a MatMul/Gemm/Conv:
                           Add/Sub the layer's bias, otherwise (per channel) composed into
                           the BatchNorm after the layer (one is made if there is none), e.g.
                           FINN's final TensorNorm ``(x - mean) / sqrt(var + eps) * w + b``,
                           which BatchNorm-before-Scores folds into the last layer; on
                           quantized activations: a scalar positive scale / shift, folded
                           into the next layer
MatMul, Gemm               :class:`Dense` (Gemm: transA = 0, transB, alpha, beta * C)
Conv                       :class:`Conv2d` on (C, H, W) maps, :class:`Conv1d` (a 3-D
                           weight) on (C, T) sequences: any kernel_shape and strides, pads
                           the same at both ends of each axis, dilations = 1; group g
                           dividing the input and output channels -> ``Conv2d(groups=g)``
                           (depthwise: g = C; a Conv1d has group = 1)
BatchNormalization         :class:`BatchNorm` (after a MatMul/Gemm/Conv; a second one is
                           composed into the first)
MaxPool                    :class:`MaxPool2d` (any 2-D kernel and stride, no padding),
                           :class:`MaxPool1d` (a 1-D one, on sequences); a MaxPool of
                           pre-activations is moved after the next quantizer
                           across per-channel affine maps (BatchNormalization, Add/Sub,
                           Mul/Div by constants) and Relu: exact, as every quantizer here is
                           non-decreasing, so q(g(max y)) = max q(g(y)) where g increases
                           and min q(g(y)) on the channels where it decreases (gamma < 0, a
                           negative Mul): those are pooled by the minimum
                           (``MaxPool2d.minimum``). Any other node between them is refused
                           naming the MaxPool and that node
GlobalMaxPool, ReduceMax   :class:`GlobalMaxPool` (the maximum over time of (C, T), over the
over axis 2 of (N, C, T)   map of (C, H, W); keepdims 0 or 1, axes an attribute or, opset
or axes 2 and 3            18, an input), before the quantizer too, like MaxPool; the
                           Flatten after it is a no-op
GlobalAveragePool,         :class:`GlobalAvgPool2d` of quantized activations (a scale and
AveragePool over the       shift pass through the mean unchanged); the Flatten after it is
whole map, ReduceMean      a no-op
over axes 2 and 3
Flatten (axis 1), Reshape  :class:`Flatten` (a no-op on a vector is dropped, a Reshape must
to a vector                flatten); a Reshape of the raw input (FINN's FC models) keeps the
                           graph's input shape and puts the Flatten after the input quantizer
                           (element-wise, so they commute)
Relu (just before an       nothing: the unsigned Quant (zero point 0) maps negatives to 0
unsigned Quant: QuantReLU) anyway
Add of two data tensors    :class:`~popcorn.network.Add` (below, Branches): quantized
                           activations (an identity shortcut) + a pre-activation, or two
                           pre-activations (a 1 x 1 downsampling shortcut and its
                           BatchNormalization); the sum quantized next
Concat                     :class:`~popcorn.network.Concat` (axis 1) of quantized
                           activations of one quantizer (kind, levels, scale and shift)
Identity                   nothing
Constant, and any node     folded: BipolarQuant / Quant with qonnx's own functions, standard
whose inputs are all       ops with ``onnx.reference``
constants
=========================  ===============================================================

Branches. A data tensor read by several nodes (a fork) must be quantized activations (the
input after its quantizer, an activation quantizer's output, pooling or flattening of
those); each reader starts a branch from it. Branches join in an ``Add`` or a ``Concat``
only, and every node must lead to the graph output. Where the walk never forks, the result
is a :class:`~popcorn.network.Network` exactly as for a chain; otherwise a
:class:`~popcorn.network.Graph` (file format version 2) whose nodes are named after their
ONNX nodes (``/layer1/conv1/Conv`` -> ``layer1.conv1.Conv``, Brevitas's
``act_quant``/``export_handler`` parts left out; ``_2``, ``_3`` ... where two would be
equal, e.g. a BatchNorm made for an affine map or a threshold shift and the node it came
from), the Scores last (``scores``). An Add is what popcorn's integer model carries
(:mod:`popcorn.golden.integer_graph`): the sum of quantized activations whose values are the
quantizer's own (scale 1, no shift: a BipolarQuant of scale 1, an unsigned Quant) and a
MatMul/Gemm/Conv output or its BatchNormalization (Brevitas's ResNet block,
``sign(BN(conv2(.)) + x)``), or of two such pre-activations, of one shape; the sum must be
read by an activation quantizer (optionally through Identity, or a Relu before an unsigned
Quant), whose per-channel threshold shift (a MultiThreshold's, a signed Quant's) moves
into a pre-activation branch's BatchNorm. A MaxPool of pre-activations does not cross an
Add. Refused, naming the ONNX node: an Add whose sum is not quantized next (or is the
graph output), an Add of two quantized tensors, of another Add's sum or of scaled or
shifted shortcut activations, a Concat of different quantizers, of pre-activations or
along another axis than 1, a fork of pre-activations or of the raw input, a dead branch.
What the graph's own validation (:func:`~popcorn.network.graph.validate_graph`) refuses
(e.g. a Concat of global averages) names the ONNX node too.

A constant value shift o of the activations (signed Quant, MultiThreshold out_bias) is
exact in the next layer: ``W (s a + o) + b = (s W) a + (b + o sum(W))``. ONNX pads a
convolution with the value 0: where popcorn's lowest code already means 0 (``s pad + o =
0``: unsigned fixed point, unshifted PA pieces) the layer pads with it, otherwise, for
activations without a shift (o = 0: signs, ABC-Net bases), with the value 0
(``padding_fill="zero"``, :class:`~popcorn.network.layers.Conv2d`); a shifted activation
(o != 0) padded is refused, since neither fill gives 0 after the shift moved into the bias.

Input preprocessing. Scalar Mul/Div/Add/Sub on the raw input before the input quantizer
(``x' = a x + b``, a > 0; FINN's ``2x - 1``) move into the quantizer's thresholds:
``[x' >= t_k]`` is ``[x >= (t_k - b) / a]``. Thresholds of the form ``(k - 1/2) sigma`` for
2**bits - 1 uniform levels give :class:`FixedPointActivation` (bits, sigma) on the raw input
(CNV's signed 8-bit Q1.7 Quant of ``2x - 1`` is the unsigned 8-bit fixed point of x with
scale 2**-8; TFC-w1a1's ``sign(2x - 1)`` is the 1-bit fixed point ``[x >= 1/2]``), a single
threshold at 0 a :class:`SignActivation`, anything else :class:`PaActivation` pieces at the
thresholds (the ternary input of the FC w2a2 models: ``[x >= 1/4]``, ``[x >= 3/4]``); the
lowest level's value moves into the first layer's bias as above. A negative or per-element
preprocessing is refused.

Ternary (FINN's w2a2 "2-bit" signed narrow ``Quant``, values {-s, 0, +s}). Activations: the
signed narrow Quant is :class:`PaActivation` with two ``zo`` pieces at ``(q - 1/2) s``,
q = 0, 1 (values s, 2 s), and the shift -s moves into the next layer's bias. This keeps every
downstream stage exact: the pieces derive from a 2-comparator thermometer code, so the
quantizer is non-decreasing and max-pooling stays an OR of thermometer codes; the value
shift is a bias. It does not keep padding (the shift is in the bias, see above), so a
padded convolution of ternary activations is refused (FINN's CNV has no padding).
Weights: below.

Weights (after folding) must be binary, ternary or fixed point. Binary or ternary: every
output row ``±alpha_c`` (binary) or ``{-alpha_c, 0, +alpha_c}`` (ternary, when some weight
of the layer is 0) with alpha_c > 0; binary weights of a grouped convolution are ternary
(``zo`` bases hold the zeros outside each output's group, which ``pm1`` ones cannot).
alpha = 1 everywhere gives :class:`BnnWeights` (:class:`TernaryWeights`: two ``zo`` bases
``[w > 0]``, ``[w < 0]`` with coefficients +1 and -1 on the M x N datapath); otherwise, when a
BatchNorm follows, alpha (times the previous activation scale) is folded into the BatchNorm
(``mean / alpha``, ``(var + eps) / alpha**2``, ``bias / alpha``) and the weights stay
±1 (or {-1, 0, +1}); without a BatchNorm they become :class:`XnorWeights` (ternary:
:class:`TernaryWeights`, per output channel when the alpha_c differ), whose alpha (mean abs of
the non-zero weights per output) is exactly alpha_c. Fixed point (any other weights, from a
signed b-bit weight ``Quant``, 3 <= b <= 16, zero point 0: Brevitas's
``Int8WeightPerTensorFloat``, ``Int8WeightPerChannelFloat``, any ``weight_bit_width``):
:class:`FixedPointWeights` (b, per_channel), when ``w / s`` are integers within
±(2**(b-1) - 1) for ``s = max|W| / (2**(b-1) - 1)`` over the tensor (per_channel False,
tried first) or each output (True), so the weights come back exactly; the weight
``Quant``'s code -2**(b-1) (not narrow range) or a scale above ``max|W| / (2**(b-1) - 1)``
(a constant scale) is refused with the offending output and value. The activation shift
moves into the bias with each output's own weights (a grouped one's, its group's inputs).
The graph's last layer must be linear (MatMul, Gemm, Conv, optionally with BatchNorm): its
outputs are the class scores, and :class:`Scores` is appended. Any other node raises
:class:`UnsupportedNode` naming it and its op type; a supported node that popcorn cannot
express exactly raises :class:`QonnxImportError` naming the node and the attribute. Nothing
is silently dropped.

Brevitas pitfalls (Brevitas 0.13.4, qonnx 1.0.0)
------------------------------------------------
* ``SignedBinaryWeightPerTensorConst`` has a constant scale of **0.1**, not 1: pass
  ``weight_scaling_const=1.0`` for true ±1 (BNN) weights. A scale != 1 is imported
  exactly (folded into the BatchNorm, or XNOR-style alpha), but it is easy to miss.
  ``SignedBinaryActPerTensorConst`` has scale 1.
* ``SignedBinaryActPerTensorConst`` ignores a subclass's ``scaling_const``; a binary
  activation with scale 0.5 is ``QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
  max_val=0.5, min_val=-0.5)``.
* Export with ``export_qonnx(model, x, path, dynamo=False)``: the TorchScript exporter keeps
  the module path in node names (``/fc1/MatMul``, ``/1/weight_quant/export_handler/Quant``),
  which popcorn's messages quote. (torch 2.13's default dynamo exporter also produced a
  BipolarQuant/Gemm graph that imports, in a one-layer probe, but with names such as
  ``node__symbolic_1`` that do not say which layer is meant.) The batch size of ``x`` is
  frozen into the graph; popcorn ignores the batch axis.
* Brevitas writes the initializers also as graph inputs (``keep_initializers_as_inputs``):
  popcorn takes as the data input the one graph input without an initializer.
* The exported quantizers are the *inference* ones: BatchNorm uses running statistics
  (``model.eval()`` before export), and a stats-based activation scale (e.g.
  ``Uint8ActPerTensorFloat``) is frozen at its current value.
* qonnx's ``Quant`` rounds with ``np.round`` (half to even) for ``rounding_mode="ROUND"``;
  popcorn's comparators (:class:`FixedPointActivation`, and the PA pieces of a signed Quant)
  round half up; ``HALF_UP`` in qonnx rounds half away from zero. They differ only on inputs
  exactly halfway between two codes (``x / scale = k + 1/2``; for HALF_UP only negative
  ones). qonnx also computes ``x / scale`` in float32, popcorn compares x with
  ``(k - 1/2) scale`` in float64, so an input within float32 rounding of a code boundary can
  land one code apart. ``tests/frontends`` pins the tie case.
* FINN's ``bnn_pynq`` models (:mod:`popcorn.frontends.bnn_pynq`) export a ``Reshape`` whose
  target has the batch size of the export's example input frozen in; qonnx's executor then
  needs batches of exactly that size. Their inputs are images in [0, 1] (CNV: 3 x 32 x 32,
  FC: 1 x 28 x 28), fed to ``popcorn predict`` as floats (integer inputs to a fixed-point
  input quantizer are its codes, not pixels 0 .. 255).
* ONNX ``Conv`` pads with the value 0: a padded convolution of ±1 maps imports with
  ``padding_fill="zero"`` (exact, a per-border-position correction in the hardware; the
  folded accelerator refuses it), one of unsigned maps pads with code 0 (the same value);
  one of shifted activations (a ternary signed Quant) is an error.
* Sequences (torch 2.13 exports opset 20): ``QuantConv1d`` is a Conv of a 3-D weight,
  ``x.amax(-1)`` a ReduceMax whose axes are an input (keepdims 0), ``nn.AdaptiveMaxPool1d(1)``
  a MaxPool over the whole sequence (a :class:`MaxPool1d`, then the Flatten after it a
  :class:`Flatten` of the ``(C, 1)`` codes); both compute the maximum over time. A
  MultiThreshold on a sequence needs ``data_layout="NCW"`` unless its thresholds are
  shared: qonnx reads an unset layout of a 3-D tensor as NWC.
* ``nn.Flatten``/``torch.flatten`` export an ONNX ``Flatten``; ``x.view(x.size(0), -1)``
  exports a ``Shape``/``Gather``/``Concat`` chain on the data tensor, which popcorn refuses
  (a side branch): use ``nn.Flatten``.
* A QuantIdentity/QuantReLU that returns a QuantTensor is fine; a float operation between a
  quantizer and the next layer (a Dropout is removed in eval mode, but a ``Mul``/``Div`` is
  not) is an unsupported node.
"""

import dataclasses
import os
import re

import numpy as np

from popcorn.golden.float_ref import pad_value
from popcorn.network import (INPUT, Activation, Add, BatchNorm, BnnWeights, Concat, Conv1d,
                             Conv2d, Dense, FixedPointActivation, FixedPointWeights, Flatten,
                             GlobalAvgPool2d, GlobalMaxPool, Graph, MaxPool1d, MaxPool2d,
                             Network, NetworkError, Node, PaActivation, Scores, SignActivation,
                             TernaryWeights, XnorWeights)
from popcorn.network.graph import same_quantizer
from popcorn.network.validate import pair_text

from .errors import QONNX_EXTRA_HINT, MissingExtra, QonnxImportError, UnsupportedNode

try:
    import onnx
    from onnx import numpy_helper
    from qonnx.custom_op.general.bipolar_quant import binary_quant
    from qonnx.custom_op.general.intquant import int_quant
    from qonnx.custom_op.general.multithreshold import multithreshold
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise MissingExtra(f"importing QONNX models needs onnx and qonnx ({error}); install them "
                       f"with: {QONNX_EXTRA_HINT}") from error

__all__ = ["import_qonnx", "SUPPORTED_OPS"]

#: Op types popcorn maps (data path) or folds (constant subgraphs).
SUPPORTED_OPS = ("Add", "AveragePool", "BatchNormalization", "BipolarQuant", "Concat",
                 "Constant", "Conv", "Div", "Flatten", "Gemm", "GlobalAveragePool",
                 "GlobalMaxPool", "Identity", "MatMul", "MaxPool", "Mul", "MultiThreshold",
                 "Quant", "ReduceMax", "ReduceMean", "Relu", "Reshape", "Sub", "Transpose")

_QUANTIZERS = ("BipolarQuant", "Quant", "MultiThreshold")
_LINEAR = ("MatMul", "Gemm", "Conv")
_AFFINE = ("Add", "Sub", "Mul", "Div")
# what may stand between a MaxPool of pre-activations and its quantizer: non-decreasing maps
_BEFORE_QUANTIZER = _QUANTIZERS + _AFFINE + ("BatchNormalization", "Relu", "Identity")
_ROUNDINGS = ("ROUND", "HALF_EVEN", "HALF_UP")
_DOMAINS = ("", "ai.onnx", "qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")


# -- loading and constants ----------------------------------------------------------------

def _load(model):
    if isinstance(model, (str, os.PathLike)):
        try:
            return onnx.load(os.fspath(model))
        except FileNotFoundError:
            raise QonnxImportError(f"{os.fspath(model)}: no such file") from None
        except Exception as error:
            raise QonnxImportError(f"{os.fspath(model)}: not an ONNX model ({error})") from None
    if isinstance(model, onnx.ModelProto):
        return model
    inner = getattr(model, "model", None)  # qonnx ModelWrapper
    if isinstance(inner, onnx.ModelProto):
        return inner
    raise TypeError(f"model must be a path, an onnx.ModelProto or a qonnx ModelWrapper, not "
                    f"{type(model).__name__}")


def _node_label(node, index):
    name = node.name or f"#{index}"
    return f"node '{name}' ({node.op_type})"


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _unsupported(node, index):
    name = node.name or f"#{index}"
    return UnsupportedNode(f"node '{name}' has op type '{node.op_type}', which popcorn cannot "
                           f"import; supported: {', '.join(SUPPORTED_OPS)}")


def _fold(node, index, inputs):
    """Evaluate a node whose inputs are all constants; return its output arrays."""
    op = node.op_type
    attrs = _attrs(node)
    if op == "BipolarQuant":
        return [binary_quant(inputs[0], inputs[1])]
    if op == "Quant":
        return [int_quant(inputs[0], inputs[1], inputs[2], inputs[3],
                          signed=attrs.get("signed", 1), narrow=attrs.get("narrow", 0),
                          rounding_mode=_text(attrs.get("rounding_mode", "ROUND")))]
    if op == "MultiThreshold":
        return [multithreshold(inputs[0], inputs[1], attrs.get("out_scale"),
                               attrs.get("out_bias"))]
    if node.domain not in ("", "ai.onnx"):
        raise _unsupported(node, index)
    from onnx.reference import ReferenceEvaluator

    try:
        names = [n for n in node.input]
        feeds = {n: v for n, v in zip(names, inputs) if n}
        return list(ReferenceEvaluator(node).run(None, feeds))
    except Exception as error:
        raise QonnxImportError(f"{_node_label(node, index)}: cannot evaluate it on its constant "
                               f"inputs ({error})") from None


def _describe(path):
    """A path's activations for messages: their quantizer, scale and shift."""
    return (f"{path.quantizer.to_json()}, value x {path.act_scale:g} + {path.act_offset:g}")


def _tensor_shape(value_info):
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)


# -- the mapping --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Origin:
    """The quantizer node a folded weight comes from (for messages, and the bit width of
    fixed-point weights): its label; for a Quant its bit width, signedness and zero point
    (``bits`` None: a BipolarQuant)."""

    label: str
    bits: float = None
    signed: bool = True
    zero: float = 0.0

    def __str__(self):
        if self.bits is None:
            return self.label
        return f"{self.label}, {'signed' if self.signed else 'unsigned'} {self.bits:g}-bit"


class _Linear:
    """A Dense/Conv1d/Conv2d under construction (``kind`` "dense", "conv1d", "conv2d"):
    weight, bias; ``stride`` and ``padding`` one value per axis, ``groups`` of a Conv2d."""

    def __init__(self, label, kind, weight, bias, stride=(), padding=(), origin=None,
                 padding_fill="lowest", groups=1):
        self.label, self.kind, self.origin = label, kind, origin
        self.weight = weight
        self.bias = bias
        self.stride, self.padding, self.padding_fill = stride, padding, padding_fill
        self.groups = groups

    def split(self):
        """(units, alpha, unit scheme) with ``weight = alpha_c * units``, alpha (out,) > 0:

        * binary (every output row ``±alpha_c``): units ±1, :class:`BnnWeights`; of a grouped
          convolution :class:`TernaryWeights` (``zo`` bases hold the zeros outside each
          output's group, ``pm1`` ones cannot);
        * ternary (``{-alpha_c, 0, +alpha_c}``, some weight exactly 0): units {-1, 0, +1},
          :class:`TernaryWeights` (alpha 1 for an all-zero output);
        * otherwise fixed point (:meth:`fixed_point`): the weight itself, alpha 1.
        """
        w = self.weight
        rows = np.abs(w.reshape(w.shape[0], -1))
        counts = (rows > 0).sum(axis=1)
        lo = np.where(rows > 0, rows, np.inf).min(axis=1)
        hi = rows.max(axis=1)
        spread = [c for c in range(w.shape[0]) if counts[c] and hi[c] - lo[c] > 1e-6 * hi[c]]
        if spread:
            return w, np.ones(w.shape[0]), self.fixed_point(spread[0])
        ternary = bool((rows == 0).any()) or self.groups != 1
        alpha = rows.sum(axis=1) / np.maximum(counts, 1)
        alpha[counts == 0] = alpha[counts > 0].max() if counts.any() else 1.0
        units = np.sign(w) if ternary else np.where(w >= 0, 1.0, -1.0)
        return units, alpha, TernaryWeights() if ternary else BnnWeights()

    def fixed_point(self, output):
        """:class:`FixedPointWeights` (b, per_channel) that give the weight back exactly: the
        weight comes from a signed b-bit Quant (b > 2, zero point 0) and ``w / s`` are
        integers with ``|w / s| <= 2**(b-1) - 1`` for ``s = max|W| / (2**(b-1) - 1)`` over
        the tensor (per_channel False) or each output (True). Raise naming ``output`` (a
        row with several magnitudes) or the first row off the grid otherwise."""
        w = self.weight.reshape(self.weight.shape[0], -1)
        rows = np.abs(w)
        origin = self.origin
        problems = ["no weight Quant"] if origin is None or origin.bits is None else \
            (["unsigned"] if not origin.signed else []) \
            + ([f"zero point {origin.zero:g}"] if origin.zero else []) \
            + ([f"bit width {origin.bits:g}"] if origin.bits != int(origin.bits)
               or not 2 < origin.bits <= 16 else [])
        if problems:
            distinct = np.unique(rows[output])
            raise QonnxImportError(
                f"{self.label}: weights are not binary or ternary: output {output} has "
                f"{len(distinct)} distinct magnitudes in [{rows[output].min():.6g}, "
                f"{rows[output].max():.6g}]"
                + (f" (they come from {origin})" if origin else "")
                + "; popcorn imports ±alpha weights per output (BipolarQuant, or a 1-bit "
                "signed Quant, e.g. Brevitas's SignedBinaryWeightPerTensorConst), ternary "
                "{-alpha, 0, +alpha} ones (a 2-bit signed narrow Quant) and fixed-point ones "
                "from a signed Quant of 3 .. 16 bits with zero point 0 (e.g. Brevitas's "
                "Int8WeightPerTensorFloat or Int8WeightPerChannelFloat, any weight_bit_width), "
                f"here: {', '.join(problems)}")
        bits = int(origin.bits)
        top = 2 ** (bits - 1) - 1
        for per_channel in (False, True):
            top_w = rows.max(axis=1, keepdims=True) if per_channel else rows.max()
            codes = w / np.where(top_w > 0, top_w / top, 1.0)
            off = np.abs(codes - np.rint(codes)) > top * 2.0 ** -20
            if not off.any():
                return FixedPointWeights(bits, per_channel=per_channel)
        c = int(np.flatnonzero(off.any(axis=1))[0])
        code = codes[c][off[c]][0]
        raise QonnxImportError(
            f"{self.label}: {bits}-bit weights (from {origin}) not on popcorn's fixed-point "
            f"grid: output {c} has w / s = {code:.6g}, not an integer, for s = max|w| / {top} "
            f"= {float(rows[c].max()) / top:.6g}; popcorn's FixedPointWeights takes codes "
            f"-{top} .. {top} whose largest |code| is {top} per tensor or per output channel "
            f"(a narrow-range, max-scaled quantizer: Brevitas's narrow_range=True, not a "
            f"code -{top + 1} or a constant scale)")

    def layer(self, weight, scheme, bias):
        if self.kind == "dense":
            return Dense(weight, scheme, bias)
        if self.kind == "conv1d":
            return Conv1d(weight, scheme, bias, stride=self.stride[0], padding=self.padding[0],
                          padding_fill=self.padding_fill)
        return Conv2d(weight, scheme, bias, stride=self.stride, padding=self.padding,
                      padding_fill=self.padding_fill, groups=self.groups)


#: The walk state of one data tensor (the importer's attributes of these names), kept per
#: :class:`_Path` while the importer walks another.
_PATH_FIELDS = ("items", "names", "state", "act_scale", "act_offset", "quantizer",
                "pending_pools", "shape", "sum_of")

# ONNX name parts of Brevitas's quantizer wrappers, left out of popcorn's node names
_WRAPPERS = ("act_quant", "weight_quant", "input_quant", "output_quant", "export_handler")


def _readable(onnx_name):
    """A graph node name from an ONNX node's: ``/q1/act_quant/export_handler/BipolarQuant``
    -> ``q1.BipolarQuant``, ``#7`` (unnamed) -> ``node7``; letters, digits and ``_.:-``."""
    if onnx_name.startswith("#"):
        return f"node{onnx_name[1:]}"
    parts = [part for part in onnx_name.split("/") if part and part not in _WRAPPERS]
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", ".".join(parts)) or "node"


class _Path:
    """A chain of the walk from the input, a fork or a join to the next fork or join:
    ``reads`` the paths whose last tensors its first item reads (none: the graph input; a
    join's first item is the :class:`Add` or :class:`Concat`), and the walk state of its
    last tensor (``_PATH_FIELDS``)."""

    def __init__(self, reads, fields):
        self.reads = reads
        for name in _PATH_FIELDS:
            setattr(self, name, fields[name])


class _Importer:
    def __init__(self, proto, fold_scales):
        self.graph = proto.graph
        self.fold_scales = fold_scales
        self.input_quantizer = None
        self.pre_scale = 1.0       # raw input preprocessing: the quantizer reads
        self.pre_shift = 0.0       #   pre_scale * x + pre_shift
        self.raw_flatten = False   # a Reshape of the raw input to a vector
        self.paths = []            # every _Path, in the order they start (topological)
        self.path = None           # the current one; its walk state (_PATH_FIELDS):
        self.items = []            # popcorn layers, _Linear, or ("bn", label, BatchNorm)
        self.names = []            # the ONNX node name of each item
        self.state = "raw"         # raw | codes | linear | normalized | sum (of an Add)
        self.act_scale = 1.0       # qonnx value = act_scale * popcorn value + act_offset
        self.act_offset = 0.0
        self.quantizer = None      # the current activation quantizer (for padding)
        self.pending_pools = []    # (label, max pool, decreasing channels, name) before
        #                            their quantizer
        self.shape = None
        self.sum_of = None         # in state sum: (the Add's label, its pre-activation _Path)

    # -- paths: the walk state of each data tensor

    def _save(self):
        if self.path is not None:
            for name in _PATH_FIELDS:
                setattr(self.path, name, getattr(self, name))

    def _load(self, path):
        self._save()
        self.path = path
        for name in _PATH_FIELDS:
            setattr(self, name, getattr(path, name))

    def _start(self, reads, **fields):
        """Start a new path reading ``reads`` from the current walk state with ``fields``
        changed (no items), and make it current."""
        self._save()
        state = {name: getattr(self, name) for name in _PATH_FIELDS}
        state.update(items=[], names=[], pending_pools=list(self.pending_pools))
        state.update(fields)
        self.paths.append(_Path(reads, state))
        self._load(self.paths[-1])

    def _append(self, item, name=None):
        """Append ``item`` to the current path, from the ONNX node ``name`` (default: the
        node being mapped)."""
        self.items.append(item)
        self.names.append(self.name if name is None else name)

    # -- graph walking

    def run(self):
        graph = self.graph
        const = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        data_inputs = [i for i in graph.input if i.name not in const]
        if len(data_inputs) != 1:
            raise QonnxImportError(f"the graph has {len(data_inputs)} data inputs "
                                   f"({', '.join(i.name for i in data_inputs) or 'none'}); popcorn "
                                   f"imports networks with one input")
        if len(graph.output) != 1:
            raise QonnxImportError(f"the graph has {len(graph.output)} outputs; popcorn imports "
                                   f"networks with one output (the class scores)")
        shape = _tensor_shape(data_inputs[0])
        if len(shape) not in (2, 3, 4) or any(d is None or d < 1 for d in shape[1:]):
            raise QonnxImportError(f"graph input '{data_inputs[0].name}' has shape {shape}; "
                                   f"popcorn imports (batch, features), (batch, C, T) or "
                                   f"(batch, C, H, W) inputs with fixed sizes")
        self.input_shape = tuple(int(d) for d in shape[1:])
        self.shape = self.input_shape
        self._start([])

        data_nodes = []
        origin = self.origin = {}     # folded tensor -> the quantizer node it comes from
        for index, node in enumerate(graph.node):
            if node.op_type == "Constant":
                attrs = _attrs(node)
                if "value" not in attrs:
                    raise QonnxImportError(f"{_node_label(node, index)}: only tensor-valued "
                                           f"Constant nodes ('value') are supported")
                const[node.output[0]] = numpy_helper.to_array(attrs["value"])
            elif node.input and all(not n or n in const for n in node.input):
                values = _fold(node, index, [const[n] if n else None for n in node.input])
                for name, value in zip(node.output, values):
                    const[name] = np.asarray(value)
                    origin[name] = self._origin(node, index, const, origin)
            else:
                data_nodes.append((index, node))
        self.const = const

        consumers = {}
        for index, node in data_nodes:
            for name in node.input:
                if name and name not in const:
                    consumers.setdefault(name, []).append((index, node))
        outputs = {o.name for o in graph.output}
        paths = {data_inputs[0].name: self.path}   # data tensor -> the path ending with it
        made_by = {}                               # data tensor -> the label of its node
        for index, node in data_nodes:
            label = _node_label(node, index)
            self.name = node.name or f"#{index}"
            data = [n for n in node.input if n and n not in const]
            unknown = [n for n in data if n not in paths]
            if unknown:
                raise QonnxImportError(f"{label} reads '{unknown[0]}', which no earlier node "
                                       f"computes from the graph input; popcorn imports "
                                       f"graphs with one data input, nodes in topological "
                                       f"order")
            for extra in node.output[1:]:
                if extra and (extra in consumers or extra in outputs):
                    raise QonnxImportError(f"{label}: its output {extra!r} is used; popcorn "
                                           f"imports only the first output of a node")
            branches = [self._branch(name, consumers[name], paths[name]) for name in data]
            if node.op_type == "Concat" or node.op_type == "Add" and len(data) == 2:
                self._join(label, node, data, branches)
            else:
                if len(data) != 1 or node.input[0] != data[0] and node.op_type not in _AFFINE:
                    raise QonnxImportError(f"{label} takes {data} as its data inputs; popcorn "
                                           f"imports nodes with one data input (the first), "
                                           f"and joins branches with Add and Concat only")
                self._load(branches[0])
                users = consumers.get(node.output[0], [])
                self.map_node(label, node, users[0][1] if len(users) == 1 else None)
            self._save()
            paths[node.output[0]] = self.path
            made_by[node.output[0]] = label
        for name, label in made_by.items():
            if name not in consumers and name not in outputs:
                raise QonnxImportError(f"{label}: its output '{name}' is not used; popcorn "
                                       f"imports graphs whose every node leads to the output "
                                       f"(remove the dead branch)")
        end = graph.output[0].name
        if end not in paths:
            raise QonnxImportError(f"the graph output '{end}' is not computed from the graph "
                                   f"input")
        self._load(paths[end])
        return self.finish()

    def _branch(self, name, users, path):
        """The path that continues from data tensor ``name`` (read by ``users``) to the
        node being mapped: ``path``, or a new one where the tensor forks (quantized
        activations only)."""
        if len(users) == 1:
            return path
        nodes = ", ".join(_node_label(n, i) for i, n in users)
        if path.state != "codes":
            what = {"raw": "the unquantized input", "sum": "the sum of an Add"}.get(
                path.state, "pre-activations")
            raise QonnxImportError(
                f"tensor '{name}' ({what}) feeds {len(users)} nodes ({nodes}); popcorn "
                f"branches quantized activations only: put the activation quantizer "
                f"(BipolarQuant, Quant or MultiThreshold) before the branches")
        self._load(path)
        self._start([path])
        return self.path

    @staticmethod
    def _origin(node, index, const, origin):
        """The :class:`_Origin` of a folded node's output: the node itself if it is a
        BipolarQuant or Quant, else that of its first input that has one (or None)."""
        if node.op_type == "BipolarQuant":
            return _Origin(_node_label(node, index))
        if node.op_type == "Quant":
            zero = np.asarray(const[node.input[2]], dtype=np.float64)
            return _Origin(_node_label(node, index),
                           float(np.asarray(const[node.input[3]]).reshape(-1)[0]),
                           bool(_attrs(node).get("signed", 1)),
                           float(np.abs(zero).max()) if zero.size else 0.0)
        return next((origin[n] for n in node.input if n in origin), None)

    def constant(self, node, position, label, what):
        if len(node.input) <= position or not node.input[position]:
            return None
        name = node.input[position]
        if name not in self.const:
            raise QonnxImportError(f"{label}: its {what} ('{name}') must be a constant")
        return np.asarray(self.const[name], dtype=np.float64)

    def scalar(self, node, position, label, what):
        value = self.constant(node, position, label, what)
        if value is None or value.size != 1:
            raise QonnxImportError(f"{label}: popcorn imports a per-tensor (scalar) {what}, not "
                                   f"shape {None if value is None else value.shape}")
        return float(value.reshape(()))

    # -- joins: Add of two branches, Concat

    def _join(self, label, node, data, branches):
        for path in branches:
            if path.pending_pools:
                self._load(path)
                self._pool_refused(f"{label} joins it with another branch")
        if node.op_type == "Add":
            self._join_add(label, data, branches)
        else:
            self._join_concat(label, node, data, branches)

    def _join_add(self, label, data, branches):
        """An Add of two branches: quantized activations (an identity shortcut) and a
        pre-activation, or two pre-activations; its sum must be quantized next."""
        states = [path.state for path in branches]
        for name, path in zip(data, branches):
            if path.state == "sum":
                raise QonnxImportError(
                    f"{label} adds the sum of an Add ('{name}'); popcorn adds quantized "
                    f"activations (an identity shortcut) or pre-activations (a MatMul, Gemm or "
                    f"Conv output, or its BatchNormalization)")
        if states == ["codes", "codes"]:
            raise QonnxImportError(
                f"{label} adds two quantized tensors ('{data[0]}', '{data[1]}'); popcorn adds "
                f"an identity shortcut to a pre-activation (a MatMul, Gemm or Conv output, or "
                f"its BatchNormalization), or two pre-activations: add the main branch before "
                f"its activation quantizer")
        for name, path in zip(data, branches):
            if path.state == "codes" and (path.act_scale, path.act_offset) != (1.0, 0.0):
                raise QonnxImportError(
                    f"{label}: the shortcut '{name}' holds {path.quantizer.quantizer} "
                    f"activations scaled by {path.act_scale:g} and shifted by "
                    f"{path.act_offset:g}; popcorn adds a shortcut's activations with the "
                    f"values of its quantizer (scale 1, no shift): use a BipolarQuant of "
                    f"scale 1 or an unsigned Quant (zero point 0)")
        if branches[0].shape != branches[1].shape:
            raise QonnxImportError(f"{label} adds tensors of shapes {branches[0].shape} and "
                                   f"{branches[1].shape}; popcorn adds tensors of one shape "
                                   f"(no broadcasting)")
        preact = next(path for path in branches if path.state != "codes")
        self._start(branches, items=[Add()], names=[self.name], state="sum", quantizer=None,
                    act_scale=1.0, act_offset=0.0, shape=branches[0].shape, pending_pools=[],
                    sum_of=(label, preact))

    def _join_concat(self, label, node, data, branches):
        """A Concat (axis 1) of quantized activations of one quantizer, scale and shift."""
        rank = 1 + len(branches[0].shape)
        axis = int(_attrs(node).get("axis", 1))
        if axis % rank != 1:
            raise QonnxImportError(f"{label}: axis={axis}; popcorn concatenates along the "
                                   f"channel axis (1) only")
        if len(data) != len([name for name in node.input if name]):
            raise QonnxImportError(f"{label} concatenates a constant; popcorn concatenates "
                                   f"the branches' activations only")
        for name, path in zip(data, branches):   # (never the raw input: it forks first)
            if path.state != "codes":
                what = "the sum of an Add" if path.state == "sum" else "pre-activations"
                raise QonnxImportError(
                    f"{label} concatenates {what} ('{name}'); popcorn "
                    f"concatenates quantized activations: quantize every branch before it")
        first = branches[0]
        for name, path in zip(data[1:], branches[1:]):
            if not same_quantizer(first.quantizer, path.quantizer) or \
                    (first.act_scale, first.act_offset) != (path.act_scale, path.act_offset):
                raise QonnxImportError(
                    f"{label} concatenates activations of different quantizers "
                    f"('{data[0]}': {_describe(first)}; '{name}': {_describe(path)}); popcorn "
                    f"concatenates activations of one quantizer: quantize every branch alike")
        shapes = [path.shape for path in branches]
        if len({shape[1:] for shape in shapes}) != 1:
            raise QonnxImportError(f"{label} concatenates tensors of shapes "
                                   f"{', '.join(map(str, shapes))}; all but the channel axis "
                                   f"must be equal")
        self._start(branches, items=[Concat()], names=[self.name],
                    shape=(sum(shape[0] for shape in shapes),) + shapes[0][1:],
                    quantizer=first.quantizer, act_scale=first.act_scale,
                    act_offset=first.act_offset, state="codes", pending_pools=[], sum_of=None)

    # -- nodes

    def map_node(self, label, node, next_node):
        op = node.op_type
        handler = getattr(self, f"_map_{op}", None)
        if handler is None or node.domain not in _DOMAINS:
            raise UnsupportedNode(f"node '{self.name}' has op type '{op}', which popcorn cannot "
                                  f"import; supported: {', '.join(SUPPORTED_OPS)}")
        if self.pending_pools and op not in _BEFORE_QUANTIZER and \
                not (op in ("Flatten", "Reshape") and len(self.shape) == 1):   # a no-op
            self._pool_refused(f"{label} follows it before any activation quantizer")
        if self.state == "sum" and op not in _QUANTIZERS + ("Identity", "Relu"):
            self._sum_refused(f"{label} reads it")
        handler(label, node, _attrs(node), next_node)

    def _pool_refused(self, why):
        pool_label = self.pending_pools[0][0]
        raise QonnxImportError(f"{pool_label}: max-pooling of pre-activations ({why}); popcorn "
                               f"pools quantized activations, and moves a MaxPool after its "
                               f"quantizer only across per-channel affine maps "
                               f"(BatchNormalization, Add/Sub, Mul/Div by constants) and "
                               f"Relu: put the activation quantizer "
                               f"(BipolarQuant, Quant or MultiThreshold) directly before or after "
                               f"the MaxPool")

    def _sum_refused(self, why):
        raise QonnxImportError(f"{self.sum_of[0]}: {why}; popcorn's integer model folds an "
                               f"Add into the activation quantizer that reads its sum: quantize "
                               f"the sum next (BipolarQuant, Quant or MultiThreshold, a Relu "
                               f"before an unsigned Quant)")

    def _map_Identity(self, label, node, attrs, next_node):
        pass

    def _set_quantizer(self, label, quantizer, scale, offset=0.0):
        if self.state == "raw":
            self.input_quantizer = quantizer
        elif self.state in ("linear", "normalized", "sum"):
            self._append(Activation(quantizer))
        else:
            raise QonnxImportError(f"{label}: an activation quantizer on already quantized "
                                   f"activations; popcorn quantizes the output of a MatMul, Gemm, "
                                   f"Conv or BatchNormalization (or the input) once")
        self.quantizer = quantizer
        self.act_scale, self.act_offset = scale, offset
        if self.state == "raw" and self.raw_flatten:
            self._append(Flatten())
        self.state = "codes"
        self.sum_of = None
        for _, pool, decreasing, name in self.pending_pools:   # q(max x) = max q(x): q increases
            self._append(dataclasses.replace(
                pool, minimum=tuple(int(c) for c in np.flatnonzero(decreasing))), name)
        self.pending_pools = []

    def _decreasing(self, channels):
        """A map decreasing on ``channels`` (bool per channel) follows the pending pools:
        their max becomes a min there, and a min a max again."""
        for _, _, decreasing, _ in self.pending_pools:
            decreasing ^= np.broadcast_to(channels, decreasing.shape)

    def _preprocessed(self):
        return self.state == "raw" and (self.pre_scale, self.pre_shift) != (1.0, 0.0)

    def _input_quantizer(self, label, thresholds, values):
        """The input quantizer behind a preprocessing ``x' = a x + b`` (a > 0): comparators
        ``[x' >= t_k]`` are ``[x >= (t_k - b) / a]`` on the raw input; ``values`` (L + 1) are
        the quantized values of the L + 1 levels. Thresholds ``(k - 1/2) sigma`` with
        2**bits - 1 uniform levels give :class:`FixedPointActivation`, anything else
        :class:`PaActivation`; value = act_scale * popcorn value + act_offset."""
        a, b = self.pre_scale, self.pre_shift
        if a <= 0:
            raise QonnxImportError(f"{label}: the input is multiplied by {a:g} before this "
                                   f"quantizer; popcorn folds the preprocessing into the input "
                                   f"quantizer's thresholds, which needs a positive factor")
        t = (np.asarray(thresholds, dtype=np.float64) - b) / a
        v = np.asarray(values, dtype=np.float64)
        levels = len(t)
        step = (v[-1] - v[0]) / levels
        uniform = step > 0 and np.allclose(v, v[0] + step * np.arange(levels + 1), rtol=0,
                                           atol=1e-12 * np.abs(v).max())
        sigma = 2 * t[0]
        bits = levels.bit_length()
        if levels == 1 and t[0] == 0 and v[0] == -v[1] and v[1] > 0:
            self._set_quantizer(label, SignActivation(), float(v[1]))
        elif uniform and levels == 2 ** bits - 1 and bits <= 16 and sigma > 0 and \
                np.array_equal(t, (np.arange(1, levels + 1) - 0.5) * sigma):
            self._set_quantizer(label, FixedPointActivation(bits, float(sigma)),
                                float(step / sigma), float(v[0]))
        else:
            self._set_quantizer(label, PaActivation(t, v[1:] - v[0]), 1.0, float(v[0]))

    def _map_BipolarQuant(self, label, node, attrs, next_node):
        scale = self.scalar(node, 1, label, "scale")
        if scale <= 0:
            raise QonnxImportError(f"{label}: scale must be positive, not {scale}")
        if self._preprocessed():
            self._input_quantizer(label, [0.0], [-scale, scale])
            return
        self._set_quantizer(label, SignActivation(), scale)

    def _map_Quant(self, label, node, attrs, next_node):
        scale = self.scalar(node, 1, label, "scale")
        zero = self.scalar(node, 2, label, "zero point")
        bits = self.scalar(node, 3, label, "bit width")
        signed, narrow = int(attrs.get("signed", 1)), int(attrs.get("narrow", 0))
        rounding = _text(attrs.get("rounding_mode", "ROUND")).upper()
        if scale <= 0:
            raise QonnxImportError(f"{label}: scale must be positive, not {scale}")
        if zero != 0:
            raise QonnxImportError(f"{label}: cannot import as a fixed-point activation: zero "
                                   f"point {zero:g} (must be 0)")
        if bits == 1 and signed:  # qonnx executes a 1-bit signed Quant as bipolar
            if self._preprocessed():
                self._input_quantizer(label, [0.0], [-scale, scale])
                return
            self._set_quantizer(label, SignActivation(), scale)
            return
        problems = []
        if rounding not in _ROUNDINGS:
            problems.append(f"rounding_mode={rounding!r} (must be one of {', '.join(_ROUNDINGS)})")
        if bits != int(bits) or not 1 <= bits <= 16:
            problems.append(f"bit width {bits:g} (must be an integer in 1 .. 16)")
        if problems:
            raise QonnxImportError(f"{label}: cannot import as a fixed-point activation: "
                                   + "; ".join(problems))
        bits = int(bits)
        low = -(2 ** (bits - 1)) + narrow if signed else 0
        high = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - narrow
        if high <= low or (signed or narrow) and high - low > 255:
            kind = ("signed" if signed else "unsigned") + (", narrow" if narrow else "")
            raise QonnxImportError(f"{label}: {high - low + 1} levels ({kind}, {bits} bits); "
                                   f"popcorn imports 2 .. 256 levels, or an unsigned non-narrow "
                                   f"quantizer of up to 16 bits")
        if self._preprocessed():
            codes = np.arange(low, high + 1)
            self._input_quantizer(label, (codes[1:] - 0.5) * scale, codes * scale)
        elif not signed and not narrow:
            self._set_quantizer(label, FixedPointActivation(bits, scale), 1.0)
        elif signed and not narrow and self.state in ("linear", "normalized", "sum"):
            # code q - low of x is the unsigned code of x - low * scale: shift, then fixed point
            self._shift_before_activation(label, np.full(self.shape[0], low * scale))
            self._set_quantizer(label, FixedPointActivation(bits, scale), 1.0, low * scale)
        else:
            # levels low .. high as PA pieces: [x >= (q - 1/2) scale], value (q - low) scale
            levels = np.arange(low + 1, high + 1)
            quantizer = PaActivation((levels - 0.5) * scale, (levels - low) * scale)
            self._set_quantizer(label, quantizer, 1.0, low * scale)

    def _map_Relu(self, label, node, attrs, next_node):
        """Brevitas's QuantReLU exports Relu -> Quant(signed=0): an unsigned quantizer with
        zero point 0 already maps every negative input to code 0, so the Relu is absorbed."""
        unsigned = next_node is not None and next_node.op_type == "Quant" \
            and not _attrs(next_node).get("signed", 1) \
            and len(next_node.input) > 2 and next_node.input[2] in self.const \
            and np.all(self.const[next_node.input[2]] == 0)
        if not unsigned:
            raise QonnxImportError(f"{label}: popcorn imports a Relu only directly before an "
                                   f"unsigned Quant with zero point 0 (Brevitas QuantReLU), "
                                   f"which absorbs it")

    def _map_MultiThreshold(self, label, node, attrs, next_node):
        thresholds = self.constant(node, 1, label, "thresholds")
        layout = _text(attrs.get("data_layout", "")) or None
        if layout not in (None, "NC", "NCW", "NCHW"):
            raise QonnxImportError(f"{label}: data_layout={layout!r}; popcorn imports NC, NCW "
                                   f"and NCHW tensors")
        if thresholds.ndim != 2 or not np.isfinite(thresholds).all():
            raise QonnxImportError(f"{label}: thresholds must be a finite (channels, steps) "
                                   f"matrix, not shape {thresholds.shape}")
        if layout is None and len(self.shape) == 2 and thresholds.shape[0] != 1:
            raise QonnxImportError(f"{label}: per-channel thresholds on a (batch, C, T) "
                                   f"sequence without a data_layout, which qonnx reads as NWC; "
                                   f"popcorn imports channels on axis 1: set data_layout='NCW'")
        out_scale = float(attrs.get("out_scale", 1.0))
        out_bias = float(attrs.get("out_bias", 0.0))
        channels = self.shape[0]
        if thresholds.shape[0] not in (1, channels):
            raise QonnxImportError(f"{label}: {thresholds.shape[0]} threshold rows for "
                                   f"{channels} channels")
        thresholds = np.sort(np.broadcast_to(thresholds, (channels, thresholds.shape[1])), axis=1)
        steps = thresholds.shape[1]
        if out_scale <= 0:
            raise QonnxImportError(f"{label}: out_scale must be positive (a non-decreasing "
                                   f"quantizer), not {out_scale}")
        if (thresholds == thresholds[:1]).all():
            shared, offset = thresholds[0], np.zeros(channels)
        else:  # per channel: one shared set shifted by t[c, 0] (a BatchNorm beta)
            offset = thresholds[:, 0].copy()
            shared = thresholds[0] - offset[0]
            span = float(np.abs(thresholds).max())
            if not np.allclose(thresholds - offset[:, None], shared, rtol=0, atol=1e-12 * span):
                raise QonnxImportError(f"{label}: per-channel thresholds that are not one shared "
                                       f"set shifted per channel; popcorn cannot express them")
        if self._preprocessed() and not np.any(offset):
            ends, counts = np.unique(shared, return_counts=True)
            values = out_bias + out_scale * np.concatenate([[0], np.cumsum(counts)])
            self._input_quantizer(label, ends, values)
            return
        if steps == 1 and out_bias == -out_scale / 2:
            quantizer, scale, bias = SignActivation(), out_scale / 2, 0.0
            offset = offset + shared[0]                      # [x >= t_c]  <=>  [x - t_c >= 0]
        else:  # levels out_scale * count: PA pieces; out_bias moves into the next layer's bias
            ends, counts = np.unique(shared, return_counts=True)
            quantizer = PaActivation(ends, out_scale * np.cumsum(counts).astype(np.float64))
            scale, bias = 1.0, out_bias
        if np.any(offset != 0):
            if self.state == "raw":
                raise QonnxImportError(f"{label}: input thresholds must be the same for every "
                                       f"channel (and 0 for bipolar ones); popcorn's input "
                                       f"quantizers do not shift per channel")
            self._shift_before_activation(label, offset)
        self._set_quantizer(label, quantizer, scale, bias)

    def _shift_before_activation(self, label, offset):
        """Subtract ``offset`` per channel from the pre-activation (a BatchNorm's beta; from
        an Add's sum: from its pre-activation branch)."""
        if self.state == "sum":
            here = self.path
            self._load(self.sum_of[1])
            self._shift_before_activation(label, offset)
            self._load(here)
        elif self.state == "normalized":
            _, bn_label, bn = self.items[-1]
            self.items[-1] = ("bn", bn_label, BatchNorm(bn.gamma, bn.beta - offset, bn.mean,
                                                        bn.var, bn.eps))
        elif self.state == "linear":
            ones = np.ones_like(offset)
            self._append(("bn", label, BatchNorm(ones, -offset, np.zeros_like(offset),
                                                      ones.copy(), 1e-30)))
            self.state = "normalized"
        else:
            raise QonnxImportError(f"{label}: thresholds on already quantized activations")

    def _need_codes(self, label, what):
        if self.state == "codes":
            return
        if self.state == "raw":
            raise QonnxImportError(f"{label}: the graph input reaches this {what} unquantized; "
                                   f"popcorn needs an input quantizer (BipolarQuant, Quant or "
                                   f"MultiThreshold) first, e.g. a Brevitas QuantIdentity")
        raise QonnxImportError(f"{label}: a {what} on pre-activations; popcorn's {what} reads "
                               f"quantized activations: put an activation quantizer before it")

    def _add_linear(self, label, kind, weight, bias, stride=(), padding=(), origin=None,
                    groups=1):
        """Append a ``kind`` ("dense", "conv1d", "conv2d") layer of ``weight`` and ``bias``
        on the current activations, their scale and shift folded in and the padding fill
        chosen to give ONNX's 0 (module docstring); ``stride``, ``padding``: one value per
        axis of a convolution; ``groups``: a grouped Conv2d's (its weight ``(out, in / g,
        ...)``, so a row's sum is over its own group's inputs)."""
        self._need_codes(label, "MatMul/Gemm/Conv" if kind == "dense" else "Conv")
        pad = pad_value(self.quantizer) * self.act_scale + self.act_offset
        fill = "lowest"
        if any(padding) and pad != 0:
            if self.act_offset:
                raise QonnxImportError(
                    f"{label}: pads={pair_text(padding)} on {self.quantizer.quantizer} "
                    f"activations shifted by {self.act_offset:g}: ONNX pads with 0, and the "
                    f"shift moves into this layer's bias, so neither popcorn padding (the "
                    f"lowest code, value {pad:g}, or the value 0 before the shift) gives 0 at "
                    f"the borders; use padding 0, or an unshifted activation before it (sign, "
                    f"unsigned)")
            fill = "zero"
        if self.act_offset:   # W (s a + o) + b = (s W) a + (b + o sum(W))
            extra = self.act_offset * weight.reshape(weight.shape[0], -1).sum(axis=1)
            bias = extra if bias is None else bias + extra
        weight = weight * self.act_scale
        self._append(_Linear(label, kind, weight, bias, stride, padding, origin, fill, groups))
        self.state = "linear"
        self.shape = (weight.shape[0],) + tuple(
            (n + 2 * p - k) // s + 1
            for n, k, s, p in zip(self.shape[1:], weight.shape[2:], stride, padding))

    def _vector(self, label, what):
        if len(self.shape) != 1:
            raise QonnxImportError(f"{label}: a {what} on a tensor of shape {self.shape}; "
                                   f"flatten it first (nn.Flatten)")

    def _map_MatMul(self, label, node, attrs, next_node):
        self._need_codes(label, "MatMul")
        self._vector(label, "MatMul")
        weight = self.constant(node, 1, label, "weight")
        if weight.ndim != 2 or weight.shape[0] != self.shape[0]:
            raise QonnxImportError(f"{label}: weight of shape {weight.shape} does not multiply "
                                   f"a vector of {self.shape[0]}")
        self._add_linear(label, "dense", weight.T.copy(), None,
                         origin=self.origin.get(node.input[1]))

    def _map_Gemm(self, label, node, attrs, next_node):
        self._need_codes(label, "Gemm")
        self._vector(label, "Gemm")
        if attrs.get("transA", 0):
            raise QonnxImportError(f"{label}: transA=1 is not supported (the data must be "
                                   f"(batch, features))")
        weight = self.constant(node, 1, label, "weight")
        if weight.ndim != 2:
            raise QonnxImportError(f"{label}: weight must be 2-D, not shape {weight.shape}")
        weight = (weight if attrs.get("transB", 0) else weight.T) * float(attrs.get("alpha", 1.0))
        if weight.shape[1] != self.shape[0]:
            raise QonnxImportError(f"{label}: weight of shape {weight.shape} (out, in) does not "
                                   f"multiply a vector of {self.shape[0]}")
        bias = self.constant(node, 2, label, "bias C")
        if bias is not None:
            try:
                bias = np.broadcast_to(bias, (1, weight.shape[0])).reshape(-1) \
                    * float(attrs.get("beta", 1.0))
            except ValueError:
                raise QonnxImportError(f"{label}: bias C of shape {bias.shape} is not one value "
                                       f"per output") from None
        self._add_linear(label, "dense", np.ascontiguousarray(weight), bias,
                         origin=self.origin.get(node.input[1]))

    def _map_Conv(self, label, node, attrs, next_node):
        self._need_codes(label, "Conv")
        weight = self.constant(node, 1, label, "weight")
        axes = weight.ndim - 2
        if axes not in (1, 2) or len(self.shape) != axes + 1:
            raise QonnxImportError(f"{label}: popcorn imports 1-D convolutions of (C, T) "
                                   f"sequences and 2-D convolutions of (C, H, W) maps, not "
                                   f"weight {weight.shape} on input {self.shape}")
        groups = int(attrs.get("group", 1))
        if groups != 1 and axes == 1:
            raise QonnxImportError(f"{label}: group={groups}; popcorn imports group=1 only for "
                                   f"1-D convolutions (grouped and depthwise ones are 2-D)")
        if groups < 1 or self.shape[0] % groups or weight.shape[0] % groups:
            raise QonnxImportError(f"{label}: group={groups} does not divide the "
                                   f"{self.shape[0]} input and {weight.shape[0]} output "
                                   f"channels")
        if any(d != 1 for d in attrs.get("dilations", [1] * axes)):
            raise QonnxImportError(f"{label}: dilations={list(attrs['dilations'])}; popcorn "
                                   f"imports dilations=1 only")
        auto_pad = _text(attrs.get("auto_pad", "NOTSET"))
        if auto_pad not in ("NOTSET", "VALID"):
            raise QonnxImportError(f"{label}: auto_pad={auto_pad}; give explicit pads")
        pads = [int(p) for p in attrs.get("pads", [0] * 2 * axes)]
        if pads[:axes] != pads[axes:]:
            ends = "top = bottom, left = right" if axes == 2 else "begin = end"
            raise QonnxImportError(f"{label}: pads={pads}; popcorn imports the same padding at "
                                   f"both ends of each axis ({ends})")
        strides = tuple(int(s) for s in attrs.get("strides", [1] * axes))
        if "kernel_shape" in attrs and list(attrs["kernel_shape"]) != list(weight.shape[2:]):
            raise QonnxImportError(f"{label}: kernel_shape={list(attrs['kernel_shape'])} does "
                                   f"not match the weight {weight.shape}")
        if weight.shape[1] * groups != self.shape[0]:
            per_group = f" per group ({groups} groups)" if groups != 1 else ""
            raise QonnxImportError(f"{label}: weight has {weight.shape[1]} input channels"
                                   f"{per_group}, the input {self.shape[0]}")
        bias = self.constant(node, 2, label, "bias")
        self._add_linear(label, f"conv{axes}d", weight, bias, strides, tuple(pads[:axes]),
                         origin=self.origin.get(node.input[1]), groups=groups)

    def _map_BatchNormalization(self, label, node, attrs, next_node):
        if self.state not in ("linear", "normalized"):
            raise QonnxImportError(f"{label}: a BatchNormalization must follow a MatMul, Gemm or "
                                   f"Conv (popcorn folds it into thresholds or the scores)")
        if attrs.get("training_mode", 0):
            raise QonnxImportError(f"{label}: training_mode=1; export the model in eval mode")
        gamma, beta, mean, var = (self.constant(node, i, label, what) for i, what in
                                  enumerate(("scale", "bias", "mean", "var"), start=1))
        eps = float(attrs.get("epsilon", 1e-5))
        try:
            bn = BatchNorm(gamma, beta, mean, var, eps)
        except (TypeError, ValueError) as error:
            raise QonnxImportError(f"{label}: {error}") from None
        if bn.channels != self.shape[0]:
            raise QonnxImportError(f"{label}: {bn.channels} channels, the input has "
                                   f"{self.shape[0]}")
        self._decreasing(bn.gamma < 0)
        if self.state == "normalized":   # a second one: an affine map of the first
            scale = bn.gamma.astype(np.float64) / np.sqrt(bn.var.astype(np.float64) + bn.eps)
            self._affine_after_linear(label, scale, bn.beta - bn.mean * scale)
            return
        self._append(("bn", label, bn))
        self.state = "normalized"

    # -- constant element-wise Add / Sub / Mul / Div: affine maps a x + b

    def _affine_constant(self, label, node):
        """(a, b) arrays such that the node computes ``a * x + b`` on its data input x."""
        op = node.op_type
        data_first = node.input[0] not in self.const
        value = np.asarray(self.const[node.input[1] if data_first else node.input[0]],
                           dtype=np.float64)
        one, zero = np.ones_like(value), np.zeros_like(value)
        if op == "Add":
            return one, value
        if op == "Sub":
            return (one, -value) if data_first else (-one, value)
        if op == "Mul":
            return value, zero
        if not data_first:
            raise QonnxImportError(f"{label}: a constant divided by the data (1/x) is not an "
                                   f"affine map; popcorn imports Div by a constant only")
        if (value == 0).any():
            raise QonnxImportError(f"{label}: division by 0")
        return 1.0 / value, zero

    def _per_channel(self, label, value, what):
        try:
            full = np.broadcast_to(value, (1,) + self.shape)
        except ValueError:
            raise QonnxImportError(f"{label}: a constant of shape {value.shape} does not apply "
                                   f"to a tensor of shape {self.shape}") from None
        per_channel = full.reshape(self.shape[0], -1)
        if not (per_channel == per_channel[:, :1]).all():
            raise QonnxImportError(f"{label}: the {what} varies within a channel; popcorn "
                                   f"imports one {what} per channel")
        return per_channel[:, 0].copy()

    def _map_affine(self, label, node, attrs, next_node):
        a, b = self._affine_constant(label, node)
        if self.state == "raw":
            if a.size != 1 or b.size != 1:
                raise QonnxImportError(
                    f"{label}: a constant of shape {(a if a.size != 1 else b).shape} on the "
                    f"raw input; popcorn folds input preprocessing into the input quantizer, "
                    f"which is the same for every input element: use one scalar")
            a, b = float(a.reshape(())), float(b.reshape(()))
            self.pre_scale, self.pre_shift = a * self.pre_scale, a * self.pre_shift + b
        elif self.state == "codes":
            if a.size != 1 or b.size != 1 or float(a.reshape(())) <= 0:
                raise QonnxImportError(
                    f"{label}: an {node.op_type} on quantized activations; popcorn folds a "
                    f"scalar positive scale or a scalar shift into the next layer, not shape "
                    f"{(a if a.size != 1 else b).shape} constants or a negative scale")
            a, b = float(a.reshape(())), float(b.reshape(()))
            self.act_scale, self.act_offset = a * self.act_scale, a * self.act_offset + b
        elif self.state == "linear" and node.op_type in ("Add", "Sub") and (a == 1).all() \
                and isinstance(self.items[-1], _Linear):
            linear = self.items[-1]
            bias = self._per_channel(label, b, "added constant")
            linear.bias = bias if linear.bias is None else linear.bias + bias
        else:
            scale = self._per_channel(label, np.broadcast_to(a, np.broadcast(a, b).shape),
                                      "scale")
            shift = self._per_channel(label, np.broadcast_to(b, np.broadcast(a, b).shape),
                                      "shift")
            self._decreasing(scale < 0)
            self._affine_after_linear(label, scale, shift)

    _map_Add = _map_Sub = _map_Mul = _map_Div = _map_affine

    def _affine_after_linear(self, label, scale, shift):
        """Compose ``scale * y + shift`` (per channel) into the BatchNorm after the layer."""
        if self.state == "linear":
            ones = np.ones(self.shape[0])
            self._append(("bn", label, BatchNorm(ones, np.zeros_like(ones),
                                                      np.zeros_like(ones), ones.copy(), 1e-30)))
            self.state = "normalized"
        _, bn_label, bn = self.items[-1]
        gamma = bn.gamma.astype(np.float64) * scale
        beta = bn.beta.astype(np.float64) * scale + shift
        self.items[-1] = ("bn", bn_label, BatchNorm(gamma, beta, bn.mean.astype(np.float64),
                                                    bn.var.astype(np.float64), bn.eps))

    def _map_MaxPool(self, label, node, attrs, next_node):
        kernel = [int(k) for k in attrs.get("kernel_shape", [])]
        axes = len(kernel)
        strides = [int(s) for s in attrs.get("strides", [1] * axes)]
        pads = list(attrs.get("pads", [0] * 2 * axes))
        if axes not in (1, 2) or len(strides) != axes or len(self.shape) != axes + 1:
            raise QonnxImportError(f"{label}: kernel_shape={kernel}, strides={strides} on "
                                   f"{self.shape}; popcorn imports 1-D pooling of (C, T) "
                                   f"sequences and 2-D pooling of (C, H, W) maps")
        if any(pads):
            raise QonnxImportError(f"{label}: pads={pads}; popcorn pools without padding")
        if any(d != 1 for d in attrs.get("dilations", [1] * axes)):
            raise QonnxImportError(f"{label}: dilations={list(attrs['dilations'])}; popcorn "
                                   f"imports dilations=1 only")
        auto_pad = _text(attrs.get("auto_pad", "NOTSET"))
        if auto_pad not in ("NOTSET", "VALID"):
            raise QonnxImportError(f"{label}: auto_pad={auto_pad}; popcorn pools without padding")
        if attrs.get("ceil_mode", 0) and any(
                (n - k) % s for n, k, s in zip(self.shape[1:], kernel, strides)):
            raise QonnxImportError(f"{label}: ceil_mode=1 with a window that does not tile the "
                                   f"{'x'.join(map(str, self.shape[1:]))} input; popcorn pools "
                                   f"with ceil_mode=0")
        self._max_pool(label, MaxPool1d(kernel[0], strides[0]) if axes == 1 else
                       MaxPool2d(tuple(kernel), tuple(strides)))

    def _max_pool(self, label, pool):
        """Append the max pool ``pool`` of quantized activations, or hold it, if it pools
        pre-activations, until the next quantizer, which it follows (module docstring)."""
        if self.state == "codes":
            self._append(pool)
        elif self.state in ("linear", "normalized"):
            self.pending_pools.append((label, pool, np.zeros(self.shape[0], bool), self.name))
        else:
            raise QonnxImportError(f"{label}: max-pooling of the raw input; popcorn pools "
                                   f"quantized activations: put the input quantizer before it")
        try:
            self.shape = pool.output_shape(self.shape)
        except ValueError as error:
            raise QonnxImportError(f"{label}: {error}") from None

    def _map_GlobalMaxPool(self, label, node, attrs, next_node):
        if len(self.shape) not in (2, 3):
            raise QonnxImportError(f"{label}: a maximum over a tensor of shape {self.shape}; "
                                   f"popcorn imports the maximum over time of (C, T) sequences "
                                   f"and over the whole map of (C, H, W) maps")
        self._max_pool(label, GlobalMaxPool())

    def _map_ReduceMax(self, label, node, attrs, next_node):
        axes = self._reduce_axes(label, node, attrs)
        if len(self.shape) not in (2, 3) or axes != list(range(2, 1 + len(self.shape))):
            raise QonnxImportError(
                f"{label}: ReduceMax over {'all axes' if axes is None else f'axes {axes}'} of "
                f"{self.shape}; popcorn imports a maximum over time (axis 2 of (batch, C, T): "
                f"x.amax(-1), AdaptiveMaxPool1d(1)) or over the whole map (axes 2 and 3 of "
                f"(batch, C, H, W))")
        self._map_GlobalMaxPool(label, node, attrs, next_node)

    def _map_GlobalAveragePool(self, label, node, attrs, next_node):
        if len(self.shape) != 3:
            raise QonnxImportError(f"{label}: average pooling a tensor of shape {self.shape}")
        self._need_codes(label, "GlobalAveragePool")
        self._append(GlobalAvgPool2d())
        self.shape = (self.shape[0],)

    def _map_AveragePool(self, label, node, attrs, next_node):
        kernel = [int(k) for k in attrs.get("kernel_shape", [])]
        pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
        if len(self.shape) != 3 or kernel != list(self.shape[1:]) or any(pads):
            raise QonnxImportError(f"{label}: AveragePool kernel_shape={kernel}, pads={pads} "
                                   f"on {self.shape}; popcorn imports average pooling over the "
                                   f"whole map only (GlobalAveragePool, AdaptiveAvgPool2d(1))")
        self._map_GlobalAveragePool(label, node, attrs, next_node)

    def _reduce_axes(self, label, node, attrs):
        """The sorted axes (of the tensor with its batch axis) a Reduce* node reduces: its
        ``axes`` attribute, or (opset 18) input; None if it has neither (every axis)."""
        axes = attrs.get("axes")
        if axes is None:
            axes = self.constant(node, 1, label, "axes")
        return None if axes is None else sorted(int(a) % (1 + len(self.shape))
                                                for a in np.ravel(axes))

    def _map_ReduceMean(self, label, node, attrs, next_node):
        axes = self._reduce_axes(label, node, attrs)
        if len(self.shape) != 3 or axes != [2, 3]:
            raise QonnxImportError(f"{label}: ReduceMean over axes {axes} of {self.shape}; "
                                   f"popcorn imports a mean over the whole map only (axes 2 "
                                   f"and 3: x.mean((2, 3)), AdaptiveAvgPool2d(1))")
        self._map_GlobalAveragePool(label, node, attrs, next_node)

    def _flatten(self, label, what):
        if len(self.shape) == 1:
            return
        if self.state == "raw":   # the input quantizer is element-wise: flatten after it
            self.raw_flatten = True
            self.shape = (int(np.prod(self.shape)),)
            return
        self._need_codes(label, what)
        self._append(Flatten())
        self.shape = (int(np.prod(self.shape)),)

    def _map_Flatten(self, label, node, attrs, next_node):
        if attrs.get("axis", 1) != 1:
            raise QonnxImportError(f"{label}: axis={attrs['axis']}; popcorn flattens with axis=1 "
                                   f"(keeping the batch axis)")
        self._flatten(label, "Flatten")

    def _map_Reshape(self, label, node, attrs, next_node):
        target = self.constant(node, 1, label, "target shape")
        target = [int(d) for d in target]
        size = int(np.prod(self.shape))
        per_sample = target[1:]
        if len(per_sample) == 1 and per_sample[0] in (-1, size) or \
                (len(target) == 1 + len(self.shape) and per_sample == list(self.shape)):
            self._flatten(label, "Reshape")
            return
        raise QonnxImportError(f"{label}: reshape of {self.shape} to {target}; popcorn imports "
                               f"only a flatten to (batch, {size})")

    # -- the end

    def finish(self):
        """The imported network: a :class:`Network` if the walk never branched (one path),
        else a :class:`Graph`."""
        if self.state == "sum":
            self._sum_refused("its sum is the graph output")
        if self.state not in ("linear", "normalized"):
            where = "the input" if self.state == "raw" else "a quantizer or pooling"
            raise QonnxImportError(f"the graph ends with quantized activations (after {where}); "
                                   "popcorn's class scores are the last MatMul/Gemm/Conv (or its "
                                   "BatchNormalization) outputs: remove the final quantizer")
        if self.pending_pools:
            self._pool_refused("the graph ends before any activation quantizer")
        if len(self.paths) > 1:
            return self._graph()
        layers = self._layers(self.items) + [Scores()]
        try:
            return Network(self.input_shape, self.input_quantizer, tuple(layers))
        except NetworkError as error:
            raise QonnxImportError(f"the imported network is not valid: {error}") from None

    def _layers(self, items):
        """popcorn layers of a path's ``items``, one per item: binary weight scales folded
        into the BatchNorm after them (``fold_scales``) or kept as XNOR-Net alpha."""
        layers = []
        for position, item in enumerate(items):
            if isinstance(item, _Linear):
                follower = items[position + 1] if position + 1 < len(items) else None
                signs, alpha, unit = item.split()
                if np.all(alpha == 1.0):
                    layers.append(item.layer(signs, unit, item.bias))
                elif self.fold_scales and isinstance(follower, tuple):
                    layers.append(item.layer(signs, unit,
                                             None if item.bias is None else item.bias / alpha))
                    _, bn_label, bn = follower
                    inv = 1.0 / alpha ** 2
                    eps = float(bn.eps * inv.min())
                    var = (bn.var.astype(np.float64) + bn.eps) * inv - eps
                    items[position + 1] = ("bn", bn_label, BatchNorm(
                        bn.gamma.astype(np.float64), bn.beta.astype(np.float64),
                        bn.mean / alpha, np.maximum(var, 0.0), eps))
                else:
                    weight = signs * alpha.reshape((-1,) + (1,) * (signs.ndim - 1))
                    scheme = TernaryWeights(per_channel=bool((alpha != alpha[0]).any())) \
                        if isinstance(unit, TernaryWeights) else XnorWeights()
                    layers.append(item.layer(weight, scheme, item.bias))
            elif isinstance(item, tuple):
                layers.append(item[2])
            else:
                layers.append(item)
        return layers

    def _graph(self):
        """The :class:`Graph` of the paths: nodes named after their ONNX nodes
        (:func:`_readable`, made unique with ``_2``, ``_3`` ...), the Scores last."""
        self._save()
        onnx_names = {}              # graph node name -> its ONNX node's name (None: Scores)
        ends = {}                    # id(path) -> the name of its last tensor
        nodes = []

        def node(onnx_name, layer, reads):
            name = base = "scores" if onnx_name is None else _readable(onnx_name)
            count = 1
            while name in onnx_names or name == INPUT:
                count += 1
                name = f"{base}_{count}"
            onnx_names[name] = onnx_name
            nodes.append(Node(name, layer, reads))
            return name

        for path in self.paths:
            reads = [ends[id(p)] for p in path.reads] or [INPUT]
            for layer, onnx_name in zip(self._layers(path.items), path.names):
                reads = [node(onnx_name, layer, reads)]
            ends[id(path)] = reads[0]
        node(None, Scores(), [ends[id(self.path)]])
        try:
            return Graph(self.input_shape, self.input_quantizer, tuple(nodes))
        except NetworkError as error:
            named = re.match(r"node '([^']*)'", str(error))
            onnx_name = onnx_names.get(named.group(1)) if named else None
            where = f"node '{onnx_name}': " if onnx_name else ""
            raise QonnxImportError(f"{where}the imported graph is not valid: {error}") from None


def import_qonnx(model, *, fold_scales=True):
    """Import a QONNX model exported by Brevitas (or FINN-streamlined) as a popcorn network.

    Parameters
    ----------
    model : path (str or os.PathLike) of an ``.onnx`` file, an ``onnx.ModelProto`` or a qonnx
        ``ModelWrapper``.
    fold_scales : fold binary weight scales (alpha != 1) into a following BatchNorm, keeping
        BNN weights (default); False keeps them as XNOR-Net alpha.

    Returns
    -------
    :class:`popcorn.network.Network`, ending with :class:`Scores`; a
    :class:`popcorn.network.Graph` (its last node the Scores) if the data path branches
    (module docstring, Branches). Its float reference
    (:func:`popcorn.golden.float_ref.float_forward`) computes what qonnx's ``execute_onnx``
    computes, up to float rounding (see the module docstring for the rounding caveats).

    Raises
    ------
    UnsupportedNode
        for a node whose op type popcorn does not import (the message names the node and op
        type and lists the supported ones).
    QonnxImportError
        for a supported node popcorn cannot express (naming the node and the attribute), a
        branch or join the integer model cannot carry (naming the node), or a file that is not an ONNX model; and for a graph that
        breaks the importer's expectations in a way no check above names (an attribute or
        initializer of the wrong type or shape, say): then with the exception it raised,
        chained.
    """
    proto = _load(model)
    try:
        return _Importer(proto, bool(fold_scales)).run()
    except NetworkError:
        raise
    except Exception as error:         # a malformed graph must still end in popcorn's error
        raise QonnxImportError(
            f"the graph could not be imported ({type(error).__name__}: {error}); it is "
            f"malformed or unusual: check it with `onnx.checker.check_model`, and report it "
            f"with the model if it is valid") from error
