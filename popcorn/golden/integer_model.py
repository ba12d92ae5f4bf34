"""The integer golden model: the specification the hardware is checked against, bit for bit.

:func:`to_integer` maps a :class:`~popcorn.network.Network` once, with ``frac_bits`` = F
fractional bits, to an :class:`IntegerNetwork` of stages; :func:`run_integer` runs it on
thermometer-coded inputs. Semantics (ARCHITECTURE.md, "Integer semantics"):

* **Dense / Conv2d** (:class:`IntLinear`): weight bases T_i (``uint8`` (M, out, K)) and
  activation bases V_j derived from the input thermometer code; every pair through
  the four popcount identities of :func:`~popcorn.golden.binary.binary_dot` (computed on
  64-bit words by :func:`~popcorn.golden.binary.packed_dot`);
  ``Y[c] = sum_ij Phi[c,i,j] dot_ij + B[c]`` with ``Phi = rint(2**F alpha_ci beta_j)`` and
  ``B = rint(2**F b)``, F the layer's own fractional bits (at least ``frac_bits``, see
  :func:`to_integer`) (``int64``; rint rounds half to even). Convolution padding feeds
  all-zero bits (activation code 0); with ``padding_fill="zero"`` on ``pm1`` activations
  the padded taps then contribute nothing: Y gains the per-position correction of
  :mod:`popcorn.golden.borders`. A grouped Conv2d (``groups`` g > 1, a depthwise one) is
  quantized as its ``(out, in / g, kh, kw)`` weight, then runs as the dense convolution of
  its block-diagonal bases (zero bits outside each output's group, ``zo`` weights only):
  K = in * kh * kw, g times the taps an output needs, so the model, the hardware's weight
  ROM and its cycles all pay g times the necessary work (a dedicated depthwise engine is
  future work); the accumulator widths count the dense K.
* **BatchNorm + Activation** (:class:`IntThreshold`): comparator k of the quantizer,
  ``[R >= t_k]`` on ``R = gamma (y - mean) / sqrt(var + eps) + beta`` with y = Y / 2**F,
  becomes per channel ``[Y >= T]`` with ``T = ceil(2**F tau)``,
  ``tau = mean + (t_k - beta) sqrt(var + eps) / gamma`` (direction +1); for gamma < 0
  ``[Y <= floor(2**F tau)]`` (direction -1); strict comparators (ABC-Net) use
  ``floor(.) + 1`` and ``ceil(.) - 1``. gamma = 0, or a threshold no Y in
  [y_min, y_max] can cross, gives a constant bit (direction 0). The bits form the
  thermometer code the next layer's bases derive from. Without a BatchNorm, tau = t_k.
* **MaxPool2d**: bitwise OR of thermometer codes over each window (AND, the minimum, on
  its ``minimum`` channels).
* **Flatten**: C-major, the comparator axis stays last.
* **GlobalAvgPool2d**: a Flatten, the average folded into the Dense after it: its weight
  bases repeat each channel's bits over the H*W positions and its Phi is divided by H*W
  (``W mean_p x_p = sum_p (W / HW) x_p``, exact before rounding; F_l rises with the
  smaller Phi, :func:`layer_frac_bits`).
* **BatchNorm + Scores**: folded into the last layer's Phi and B (per-class affine).
* **Scores**: the last Y, ``int64`` (B, classes), in units of 2**-F of the last layer;
  argmax with ties to the
  lowest index.

Thermometer tensors are ``uint8`` (batch, *shape, L), L the quantizer's comparator count.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from popcorn.network.sequences import has_sequences
from popcorn.network.validate import NetworkError

from .binary import _BLOCK, WORD, pack_bits, packed_dot, popcount_block, popcount_scratch
from .borders import border_correction
from .quantizers import base_coefficients, comparators, quantize_weights, \
    thermometer_to_bases
from .widths import accumulator_range
from .windows import im2col, pool_windows

__all__ = ["IntLinear", "IntThreshold", "IntMaxPool", "IntFlatten", "IntScores", "IntegerNetwork",
           "IntegerResult", "to_integer", "run_integer", "linear_dots", "codes_thermometer",
           "apply_thresholds", "layer_frac_bits", "CHUNK", "MAX_FRAC_BITS"]

_LIMIT = 2 ** 62
MAX_FRAC_BITS = 48

#: Images per chunk of :func:`run_integer` (a CNV-sized network needs about 4 MB per image
#: in a chunk; see benchmarks/golden_speed.py).
CHUNK = 32


@dataclass(frozen=True, eq=False)
class IntLinear:
    """A Dense or Conv2d layer of the integer model.

    Attributes
    ----------
    layer : index in the network; kind : ``"dense"`` or ``"conv2d"``.
    weight_bits : ``uint8`` (M, out, K); weight_encoding, act_encoding : ``"pm1"``/``"zo"``.
    input_quantizer : the activation quantizer whose thermometer code this layer reads.
    coefficients : ``int64`` (out, M, N), Phi; bias : ``int64`` (out,), B.
    real_coefficients, real_bias : ``float64``, what Phi / 2**F and B / 2**F approximate.
    frac_bits : F. kernel, stride, padding : convolution geometry, pairs ``(h, w)``
    (Dense: None, (1, 1), (0, 0)).
    padding_fill : ``"lowest"`` or ``"zero"``, as :class:`~popcorn.network.layers.Conv2d`.
    groups : the Conv2d's ``groups`` g; ``weight_bits`` are already the dense block-diagonal
    bases (K = in * kh * kw), g only says how many of them are structural zeros.
    """

    layer: int
    kind: str
    weight_bits: np.ndarray
    weight_encoding: str
    act_encoding: str
    input_quantizer: object
    coefficients: np.ndarray
    bias: np.ndarray
    real_coefficients: np.ndarray
    real_bias: np.ndarray
    frac_bits: int
    kernel: tuple = None
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    padding_fill: str = "lowest"
    groups: int = 1

    @property
    def zero_fill_differs(self):
        """True when padding with the value 0 differs from padding with code 0: a padded
        Conv2d with ``padding_fill="zero"`` on ``pm1`` activations
        (:func:`~popcorn.golden.borders.border_correction`)."""
        return self.kind == "conv2d" and any(self.padding) and self.padding_fill == "zero" \
            and self.act_encoding == "pm1"

    @property
    def fan_in(self):
        return self.weight_bits.shape[2]

    @cached_property
    def weight_words(self):
        """The weight bases packed by :func:`~popcorn.golden.binary.pack_bits`, all M stacked:
        ``uint64`` (M * out, ceil(K / 64)), row ``i * out + c`` = base i of output c, K in
        the weight's C-major order."""
        bits = np.asarray(self.weight_bits, dtype=np.uint8)
        return pack_bits(bits.reshape(-1, bits.shape[2]))

    @property
    def packs_channels(self):
        """True when the model packs a Conv2d's input channels into words before taking
        windows (then a window is kh * kw * ceil(C / 64) words, K in (ky, kx, c) order):
        when that is no more words than packing each C-major window, ceil(K / 64) (C a
        multiple of 64, as in CNV's hidden layers)."""
        if self.kind != "conv2d":
            return False
        kh, kw = self.kernel
        channels = self.fan_in // (kh * kw)
        return kh * kw * -(-channels // WORD) <= -(-self.fan_in // WORD)

    @cached_property
    def weight_columns(self):
        """The weight words the model runs on, words by output: ``uint64`` (M, W, out);
        :attr:`weight_words`, or with :attr:`packs_channels` each base's (C, kh, kw) bits
        reordered to (kh, kw, C) and packed per (ky, kx)."""
        bits = np.asarray(self.weight_bits, dtype=np.uint8)
        m, out = bits.shape[:2]
        if self.packs_channels:
            kh, kw = self.kernel
            bits = bits.reshape(m, out, -1, kh, kw).transpose(0, 1, 3, 4, 2)
            words = pack_bits(bits).reshape(m, out, -1)           # (M, out, kh * kw * Cw)
        else:
            words = self.weight_words.reshape(m, out, -1)
        return np.ascontiguousarray(words.transpose(0, 2, 1))


@dataclass(frozen=True, eq=False)
class IntThreshold:
    """Comparators after a layer, per channel c and comparator k (all (C, L)):
    ``direction`` ``int8``: +1 -> bit ``[Y >= T]``, -1 -> ``[Y <= T]``, 0 -> ``constant``;
    ``thresholds`` ``int64`` T (0 where constant; otherwise y_min < T <= y_max for +1 and
    y_min <= T < y_max for -1, so T fits the accumulator width); ``constant`` ``uint8``.
    The thermometer code it emits is read by the bases of ``quantizer``."""

    layer: int
    quantizer: object
    thresholds: np.ndarray
    direction: np.ndarray
    constant: np.ndarray

    kind = "threshold"


@dataclass(frozen=True)
class IntMaxPool:
    """``minimum``: the channels pooled by the AND of their codes (their minimum), as
    :class:`~popcorn.network.layers.MaxPool2d`; ``kernel``, ``stride`` pairs ``(h, w)``."""
    layer: int
    kernel: tuple
    stride: tuple
    minimum: tuple = ()

    kind = "maxpool2d"


@dataclass(frozen=True)
class IntFlatten:
    layer: int

    kind = "flatten"


@dataclass(frozen=True)
class IntScores:
    layer: int

    kind = "scores"


@dataclass(frozen=True, eq=False)
class IntegerNetwork:
    """The mapped network: ``stages`` in order, ``frac_bits`` F (what :func:`to_integer` was
    given: every layer has at least F, ``IntLinear.frac_bits``), and the input quantizer and
    shape (inputs enter as its thermometer code)."""

    input_shape: tuple
    input_quantizer: object
    stages: tuple
    frac_bits: int

    @property
    def score_frac_bits(self):
        """The fractional bits of the scores: the last Dense/Conv2d layer's F_l."""
        linear = [s for s in self.stages if s.kind in ("dense", "conv2d")]
        return linear[-1].frac_bits if linear else self.frac_bits


@dataclass(frozen=True, eq=False)
class IntegerResult:
    """``scores`` ``int64`` (B, classes) in units of 2**-F (F = the network's
    ``score_frac_bits``), ``argmax`` ``int64`` (B,), and
    ``trace``: the output of every stage (Y ``int64`` for linear stages, thermometer codes
    for the others), or None when :func:`run_integer` ran with ``trace=False``."""

    scores: np.ndarray
    argmax: np.ndarray
    trace: list


def _rint(values, what, where):
    scaled = np.rint(values)
    if (np.abs(scaled) >= _LIMIT).any():
        raise NetworkError(f"{where}: {what} overflows 62 bits with these fractional bits; "
                           f"lower frac_bits")
    return scaled.astype(np.int64)


def layer_frac_bits(phi, frac_bits, per_layer=True):
    """The fractional bits F_l of a layer with real coefficients ``phi``: ``frac_bits`` F,
    raised (``per_layer``) until the largest ``|phi|`` keeps F significant bits, i.e.
    ``2**(F-1) <= 2**F_l max|phi|``: ``F_l = max(F, F - 1 - floor(log2 max|phi|))``, at
    most :data:`MAX_FRAC_BITS` (and F when every phi is 0)."""
    top = float(np.abs(phi).max()) if np.size(phi) else 0.0
    if not per_layer or not 0.0 < top < np.inf:
        return int(frac_bits)
    raised = int(frac_bits) - 1 - int(np.floor(np.log2(top)))
    return max(int(frac_bits), min(raised, MAX_FRAC_BITS))


def _linear_stage(index, layer, quantizer, frac_bits, fold, per_layer, average=1):
    """The IntLinear of ``layer``; ``average`` > 1: a Dense after a GlobalAvgPool2d of that
    many positions (bits repeated, Phi divided)."""
    where = f"layer {index} ({layer.kind})"
    bases = quantize_weights(layer.weight, layer.quantizer)
    bits = bases.bits
    conv = layer.kind == "conv2d"
    if conv and layer.groups != 1:
        bits = _block_diagonal_bits(layer, bases, where)
    beta = base_coefficients(quantizer)
    phi = bases.alpha[:, :, None] * beta[None, None, :] / average
    if average > 1:
        bits = np.repeat(bits, average, axis=2)        # (M, out, C) -> (M, out, C*HW), C-major
    bias = np.zeros(layer.weight.shape[0]) if layer.bias is None else layer.bias.astype(np.float64)
    if fold is not None:
        scale = fold.gamma / np.sqrt(fold.var.astype(np.float64) + fold.eps)
        phi = phi * scale[:, None, None]
        bias = (bias - fold.mean) * scale + fold.beta
    frac_bits = layer_frac_bits(phi, frac_bits, per_layer)
    unit = 2.0 ** frac_bits
    return IntLinear(
        layer=index, kind=layer.kind, weight_bits=bits, weight_encoding=bases.encoding,
        act_encoding=quantizer.encoding, input_quantizer=quantizer,
        coefficients=_rint(phi * unit, "a coefficient", where),
        bias=_rint(bias * unit, "the bias", where), real_coefficients=phi, real_bias=bias,
        frac_bits=frac_bits, kernel=tuple(layer.kernel) if conv else None,
        stride=layer.stride if conv else (1, 1), padding=layer.padding if conv else (0, 0),
        padding_fill=layer.padding_fill if conv else "lowest",
        groups=layer.groups if conv else 1)


def _block_diagonal_bits(layer, bases, where):
    """The weight bases (M, out, in * kh * kw) of the dense convolution a grouped Conv2d
    runs as (:meth:`~popcorn.network.layers.Conv2d.block_diagonal`): all-zero bits outside
    each output's group, weight 0 for ``zo`` bases. A ``pm1`` base has no 0 (bit 0 is -1):
    refused."""
    if bases.encoding == "pm1":
        raise NetworkError(f"{where}: groups={layer.groups} needs a weight of 0 outside each "
                           f"output's group, which {layer.quantizer.scheme} weights (pm1 "
                           f"bases) cannot hold; use zo weights (fixedpoint, ternary, pa)")
    m, out = bases.bits.shape[:2]
    per_group = bases.bits.reshape(m, out, layer.weight.shape[1], -1).transpose(1, 2, 0, 3)
    return layer.block_diagonal(per_group).transpose(2, 0, 1, 3).reshape(m, out, -1)


def _threshold_stage(index, linear, norm, quantizer, *, shift=0.0, y_range=None):
    """Fold ``norm`` (BatchNorm or None) and ``quantizer`` into integer comparators on Y.
    ``shift``: a value added to the normalized pre-activation before the comparators (a
    residual shortcut's, :mod:`popcorn.golden.integer_graph`); ``y_range``: (y_min, y_max)
    per channel when Y is not ``linear``'s alone."""
    comp = comparators(quantizer)
    t = comp.thresholds - shift
    channels = linear.coefficients.shape[0]
    unit = 2.0 ** linear.frac_bits
    y_min, y_max = (np.array(v, dtype=np.int64) for v in (y_range or accumulator_range(
        linear.coefficients, linear.bias, linear.weight_encoding, linear.act_encoding,
        linear.fan_in)))
    thresholds = np.zeros((channels, len(t)), dtype=np.int64)
    direction = np.zeros((channels, len(t)), dtype=np.int8)
    constant = np.zeros((channels, len(t)), dtype=np.uint8)
    for c in range(channels):
        if norm is None:
            gamma, beta, mean, sigma = 1.0, 0.0, 0.0, 1.0
        else:
            gamma, beta, mean = float(norm.gamma[c]), float(norm.beta[c]), float(norm.mean[c])
            sigma = float(np.sqrt(np.float64(norm.var[c]) + norm.eps))
        if gamma == 0:
            constant[c] = (beta > t) if comp.strict else (beta >= t)
            continue
        theta = (mean + (t - beta) * sigma / gamma) * unit  # R >= t  <=>  y >=(<=) theta/2**F
        if gamma > 0:
            thr = np.floor(theta) + 1 if comp.strict else np.ceil(theta)
            always, never = thr <= y_min[c], thr > y_max[c]
        else:
            thr = np.ceil(theta) - 1 if comp.strict else np.floor(theta)
            always, never = thr >= y_max[c], thr < y_min[c]
        live = ~(always | never)
        direction[c, live] = 1 if gamma > 0 else -1
        thresholds[c, live] = thr[live].astype(np.int64)
        constant[c] = always
    return IntThreshold(index, quantizer, thresholds, direction, constant)


def to_integer(network, frac_bits=8, *, per_layer=True):
    """Map ``network`` to its :class:`IntegerNetwork` with at least ``frac_bits`` fractional
    bits.

    ``frac_bits`` F is the precision knob: each Dense/Conv2d layer l rounds its coefficients
    Phi = rint(2**F_l phi) and bias with its own F_l (``IntLinear.frac_bits``), F raised
    until the layer's largest |phi| keeps F significant bits (:func:`layer_frac_bits`:
    ``F_l = max(F, F - 1 - floor(log2 max|phi|))``); the comparators after it are computed
    in the same units, and the scores are in units of 2**-F_l of the last layer
    (:attr:`IntegerNetwork.score_frac_bits`). Why: phi = alpha_i beta_j (times gamma/sigma
    when a batch norm is folded) is far below 1 in XNOR-Net, ABC-Net and PA-Net layers
    (ABC-Net CNN on MNIST, M = N = 5: max |phi| 0.06, 0.03, 0.02), and one fixed F = 8 left
    their coefficients 3-4 significant bits (Phi in 0 .. 16, 0 .. 7, 0 .. 5): the integer
    model fell from the float model's 0.978 to 0.768. Layers with max |phi| >= 1/2 (BNN
    and BinaryConnect hidden layers, phi = 1) keep F exactly. The accumulator widths
    (:mod:`popcorn.golden.widths`) follow from the integer coefficients, so they grow with F_l
    as they must. ``per_layer=False`` uses F in every layer (the model before issue 9).

    Raises
    ------
    NetworkError
        for XNOR-Net input scaling (``SignActivation(mean_scaling=True)``), which multiplies
        by a real-valued map the integer model has no input for, or coefficients that
        overflow 62 bits.
    """
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)) or \
            not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise ValueError(f"frac_bits must be an integer in 0 .. {MAX_FRAC_BITS}, not {frac_bits!r}")
    if has_sequences(network):
        raise NetworkError("the network runs over sequences; map its graph over maps, "
                           "to_integer_graph(popcorn.network.sequences.as_2d(network))")
    quantizer = network.input_quantizer
    layers = network.layers
    stages = []
    previous = None
    average = 1                       # positions of a GlobalAvgPool2d before the next Dense
    sources = [("input", network.input_quantizer)] + [
        (f"layer {i} (activation)", layer.quantizer) for i, layer in enumerate(layers)
        if layer.kind == "activation"]
    for where, source in sources:
        if getattr(source, "mean_scaling", False):
            raise NetworkError(f"{where}: XNOR-Net input scaling (mean_scaling=True) needs the "
                               f"real-valued input, which the integer model does not have; use "
                               f"SignActivation() (or the float reference, --float)")
    for index, layer in enumerate(layers):
        kind = layer.kind
        if kind in ("dense", "conv2d"):
            after = layers[index + 1: index + 3]
            fold = after[0] if len(after) == 2 and after[0].kind == "batchnorm" and \
                after[1].kind == "scores" else None
            previous = _linear_stage(index, layer, quantizer, int(frac_bits), fold, per_layer,
                                     average)
            stages.append(previous)
            average = 1
        elif kind == "activation":
            norm = layers[index - 1] if layers[index - 1].kind == "batchnorm" else None
            quantizer = layer.quantizer
            stages.append(_threshold_stage(index, previous, norm, quantizer))
        elif kind == "maxpool2d":
            stages.append(IntMaxPool(index, layer.kernel, layer.stride, layer.minimum))
        elif kind == "flatten":
            stages.append(IntFlatten(index))
        elif kind == "globalavgpool":
            _, height, width = network.shapes[index]
            average = height * width
            stages.append(IntFlatten(index))
        elif kind == "scores":
            stages.append(IntScores(index))
    return IntegerNetwork(network.input_shape, network.input_quantizer, tuple(stages),
                          int(frac_bits))


def codes_thermometer(codes, levels):
    """Thermometer code ``uint8`` (..., levels) of integer codes 0 .. levels: bit k = [q > k]."""
    codes = np.asarray(codes, dtype=np.int64)
    out = np.empty(codes.shape + (levels,), dtype=np.uint8)
    np.greater(codes[..., None], np.arange(levels), out=out.view(bool))
    return out


def _packed_bases(stage, thermo):
    """The input bases of ``stage``, K packed into words as in
    :attr:`IntLinear.weight_columns`: ``uint64`` (B, N, *spatial, W)."""
    bases = thermometer_to_bases(thermo, stage.input_quantizer)  # (B, *shape, N)
    if stage.packs_channels:                                      # pack C, then windows
        words = pack_bits(np.moveaxis(bases, 1, -1))              # (B, H, W, N, Cw)
        words = np.moveaxis(words, 3, 1)                          # (B, N, H, W, Cw)
        kh, kw = stage.kernel
        (ph, pw), (sh, sw) = stage.padding, stage.stride
        if ph or pw:                                              # zero bits = zero words
            words = np.pad(words, [(0, 0)] * 2 + [(ph, ph), (pw, pw), (0, 0)])
        win = sliding_window_view(words, (kh, kw), axis=(2, 3))   # (B, N, Ho', Wo', Cw, kh, kw)
        win = win[:, :, ::sh, ::sw].transpose(0, 1, 2, 3, 5, 6, 4)
        return win.reshape(win.shape[:4] + (int(np.prod(win.shape[4:])),))
    bases = np.moveaxis(bases, -1, 1)                             # (B, N, *shape)
    if stage.kind == "conv2d":
        bases = im2col(bases, stage.kernel, stage.stride, stage.padding, 0)  # (B, N, Ho, Wo, K)
    return pack_bits(bases)


def _pair_dots(stage, words):
    """Yield (j, dots) per activation base j: ``int64`` (rows, M, out), rows = B * spatial."""
    m, n = stage.coefficients.shape[1:]
    out = stage.coefficients.shape[0]
    columns = stage.weight_columns                                # (M, W, out)
    weights = columns.transpose(0, 2, 1).reshape(m * out, columns.shape[1])
    for j in range(n):
        v = words[:, j].reshape(int(np.prod(words.shape[:1] + words.shape[2:-1])),
                                words.shape[-1])
        dots = packed_dot(weights, v, stage.fan_in, stage.weight_encoding, stage.act_encoding)
        yield j, dots.reshape(len(dots), m, out)


def linear_dots(stage, thermo):
    """All M x N binary dot products of ``stage`` on an input thermometer code.

    Returns ``int64`` (M, N, B, *spatial, out): Dense ``(M, N, B, out)``, Conv2d
    ``(M, N, B, Ho, Wo, out)``. Computed by :func:`~popcorn.golden.binary.packed_dot`,
    equal to :func:`~popcorn.golden.binary.binary_dot` of every pair
    (:func:`popcorn.golden.integer_reference.reference_linear_dots`).
    """
    words = _packed_bases(stage, np.asarray(thermo, dtype=np.uint8))
    m, n = stage.coefficients.shape[1:]
    lead = words.shape[:1] + words.shape[2:-1]
    result = np.empty((m, n) + lead + (stage.coefficients.shape[0],), dtype=np.int64)
    for j, dots in _pair_dots(stage, words):
        for i in range(m):
            result[i, j] = dots[:, i].reshape(result.shape[2:])
    border = _border(stage, thermo)
    if border is not None:
        result += border.dots[:, border.class_map()][:, None, None]
    return result


def _border(stage, thermo):
    """The stage's :class:`~popcorn.golden.borders.BorderCorrection` on input ``thermo``
    (B, C, H, W, L), or None."""
    if not stage.zero_fill_differs:
        return None
    return border_correction(stage, *thermo.shape[2:4])


def _linear(stage, thermo):
    """Y = sum_ij Phi[c, i, j] dot_ij + B[c], ``int64`` (B, out) or (B, out, Ho, Wo).

    A block of rows (image x output position) at a time, every pair's popcounts straight into
    Y. The constant parts of the identities are gathered once per channel: with
    ``pc_ij`` = pc(XOR) (pm1 x pm1) or pc(AND) (the others),

        pm1 x pm1:  Phi (K - 2 pc)       = K Phi      - 2 Phi pc
        pm1 x zo:   Phi (2 pc - pc(v_j)) = 2 Phi pc   - Phi pc(v_j)
        zo  x pm1:  Phi (2 pc - pc(t_i)) = 2 Phi pc   - Phi pc(t_i)
        zo  x zo:   Phi pc

    int64 arithmetic wraps modulo 2**64 and is a ring there, so this regrouping is
    bit-identical to the reference's sum of Phi * dot (and widths.py shows the true sums fit
    in 64 bits anyway).
    """
    words = _packed_bases(stage, thermo)                          # (B, N, *spatial, W)
    batch, n = words.shape[:2]
    spatial = words.shape[2:-1]
    positions = int(np.prod(spatial))
    rows = batch * positions
    out, m = stage.coefficients.shape[:2]
    acts = words.reshape(batch, n, positions, words.shape[-1]).swapaxes(0, 1).reshape(
        n, rows, words.shape[-1])                                 # (N, rows, W), a small copy
    phi = stage.coefficients
    wenc, aenc = stage.weight_encoding, stage.act_encoding
    xor = wenc == "pm1" and aenc == "pm1"
    constant = stage.bias.copy()
    if xor:
        constant += stage.fan_in * phi.sum(axis=(1, 2))
        factor = -2
    else:
        factor = 1 if wenc == "zo" and aenc == "zo" else 2
        if wenc == "zo" and aenc == "pm1":
            weight_pc = np.bitwise_count(stage.weight_words).sum(axis=1, dtype=np.int64)
            constant -= (phi * weight_pc.reshape(m, out).T[:, :, None]).sum(axis=(1, 2))
    scaled = np.ascontiguousarray((factor * phi).transpose(1, 2, 0))  # (M, N, out)
    column_sums = np.ascontiguousarray(phi.sum(axis=1).T)          # (N, out), pm1 x zo
    columns = stage.weight_columns                                # (M, W, out)
    y = np.empty((rows, out), dtype=np.int64)
    block = max(1, _BLOCK // max(out, 1))
    scratch = popcount_scratch(min(block, rows), out)
    product = np.empty((min(block, rows), out), dtype=np.int64)
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        part, prod = y[start:stop], product[:stop - start]
        part[...] = constant
        for j in range(n):
            v = acts[j, start:stop]
            if wenc == "pm1" and aenc == "zo":
                act_pc = np.bitwise_count(v).sum(axis=1, dtype=np.int64)
                np.multiply(act_pc[:, None], column_sums[j][None, :], out=prod)
                np.subtract(part, prod, out=part)
            for i in range(m):
                counts = popcount_block(v, columns[i], xor, scratch)
                np.multiply(counts, scaled[i, j], out=prod)
                np.add(part, prod, out=part)
    y = y.reshape((batch,) + spatial + (out,))
    border = _border(stage, thermo)
    if border is not None:
        y += border.correction(phi)[border.class_map()]
    return np.moveaxis(y, -1, 1) if stage.kind == "conv2d" else y


def apply_thresholds(stage, y):
    """Comparator bits ``uint8`` (B, C, ..., L) of an :class:`IntThreshold` on Y (B, C, ...)."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2) + (-1,)
    t, d = stage.thresholds.reshape(shape), stage.direction.reshape(shape)
    y = y[..., None]
    out = np.empty(y.shape[:-1] + (t.shape[-1],), dtype=np.uint8)
    if (stage.direction > 0).all():                  # the common case: one comparison
        np.greater_equal(y, t, out=out.view(bool))
        return out
    bits = np.where(d > 0, y >= t, np.where(d < 0, y <= t, stage.constant.reshape(shape) == 1))
    out[...] = bits
    return out


def _maxpool(stage, thermo):
    """OR of the windows; on the ``minimum`` channels AND, as NOT OR NOT."""
    moved = np.moveaxis(thermo, -1, 2)  # (B, C, L, H, W)
    invert = np.zeros((moved.shape[1], 1, 1, 1), np.uint8)
    invert[list(stage.minimum)] = 1
    pooled = np.bitwise_or.reduce(pool_windows(moved ^ invert, stage.kernel, stage.stride),
                                  axis=-1) ^ invert
    return np.moveaxis(pooled, 2, -1)


def _run_stages(integer_network, value, outputs, linear=None):
    """Every stage on ``value``; each stage's output appended to ``outputs`` unless None.
    ``linear`` replaces the linear stages' arithmetic (the reference model's)."""
    linear = linear or _linear
    for stage in integer_network.stages:
        if stage.kind in ("dense", "conv2d"):
            value = linear(stage, value)
        elif stage.kind == "threshold":
            value = apply_thresholds(stage, value)
        elif stage.kind == "maxpool2d":
            value = _maxpool(stage, value)
        elif stage.kind == "flatten":
            value = value.reshape(value.shape[0], int(np.prod(value.shape[1:-1])), value.shape[-1])
        if outputs is not None:
            outputs.append(value)
    return value


def run_integer(integer_network, thermo, trace=True, *, chunk=CHUNK):
    """Run the integer model on an input thermometer code (B, *input_shape, L).

    Images go through all stages ``chunk`` at a time, so the working memory is bounded by the
    chunk, not the batch. ``trace=True`` (the default) also returns every stage's output for
    the whole batch in ``IntegerResult.trace``, which grows with B; ``trace=False`` keeps
    only the scores (``trace`` is then None), for large batches.

    Use :func:`popcorn.golden.predict.input_thermometer` to quantize raw inputs.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, not {chunk!r}")
    thermo = np.asarray(thermo, dtype=np.uint8)
    scores, traces = [], []
    for start in range(0, max(len(thermo), 1), int(chunk)):
        outputs = [] if trace else None
        scores.append(_run_stages(integer_network, thermo[start:start + chunk], outputs))
        traces.append(outputs)
    scores = np.concatenate(scores) if len(scores) > 1 else scores[0]
    if trace:
        traces = [np.concatenate(parts) if len(parts) > 1 else parts[0]
                  for parts in zip(*traces)]
    return IntegerResult(scores, np.argmax(scores, axis=1), traces if trace else None)
