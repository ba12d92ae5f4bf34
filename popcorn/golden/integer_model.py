"""The integer golden model: the specification the hardware is checked against, bit for bit.

:func:`to_integer` maps a :class:`~popcorn.network.Network` once, with ``frac_bits`` = F
fractional bits, to an :class:`IntegerNetwork` of stages; :func:`run_integer` runs it on
thermometer-coded inputs. Semantics (ARCHITECTURE.md, "Integer semantics"):

* **Dense / Conv2d** (:class:`IntLinear`): weight bases T_i (``uint8`` (M, out, K)) and
  activation bases V_j derived from the input thermometer code; every pair through
  :func:`~popcorn.golden.binary.binary_dot` (the four popcount identities);
  ``Y[c] = sum_ij Phi[c,i,j] dot_ij + B[c]`` with ``Phi = rint(2**F alpha_ci beta_j)`` and
  ``B = rint(2**F b)`` (``int64``; rint rounds half to even). Convolution padding feeds
  all-zero bits (activation code 0).
* **BatchNorm + Activation** (:class:`IntThreshold`): comparator k of the quantizer,
  ``[R >= t_k]`` on ``R = gamma (y - mean) / sqrt(var + eps) + beta`` with y = Y / 2**F,
  becomes per channel ``[Y >= T]`` with ``T = ceil(2**F tau)``,
  ``tau = mean + (t_k - beta) sqrt(var + eps) / gamma`` (direction +1); for gamma < 0
  ``[Y <= floor(2**F tau)]`` (direction -1); strict comparators (ABC-Net) use
  ``floor(.) + 1`` and ``ceil(.) - 1``. gamma = 0, or a threshold no Y in
  [y_min, y_max] can cross, gives a constant bit (direction 0). The bits form the
  thermometer code the next layer's bases derive from. Without a BatchNorm, tau = t_k.
* **MaxPool2d**: bitwise OR of thermometer codes over each window.
* **Flatten**: C-major, the comparator axis stays last.
* **BatchNorm + Scores**: folded into the last layer's Phi and B (per-class affine).
* **Scores**: the last Y, ``int64`` (B, classes), in units of 2**-F; argmax with ties to the
  lowest index.

Thermometer tensors are ``uint8`` (batch, *shape, L), L the quantizer's comparator count.
"""

from dataclasses import dataclass

import numpy as np

from popcorn.network.validate import NetworkError

from .binary import binary_dot
from .quantizers import base_coefficients, comparators, quantize_weights, \
    thermometer_to_bases
from .widths import accumulator_range
from .windows import im2col, pool_windows

__all__ = ["IntLinear", "IntThreshold", "IntMaxPool", "IntFlatten", "IntScores", "IntegerNetwork",
           "IntegerResult", "to_integer", "run_integer", "linear_dots", "codes_thermometer",
           "apply_thresholds"]

_LIMIT = 2 ** 62


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
    frac_bits : F. kernel, stride, padding : convolution geometry (Dense: None, 1, 0).
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
    stride: int = 1
    padding: int = 0

    @property
    def fan_in(self):
        return self.weight_bits.shape[2]


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
    layer: int
    kernel: int
    stride: int

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
    """The mapped network: ``stages`` in order, ``frac_bits`` F, and the input quantizer and
    shape (inputs enter as its thermometer code)."""

    input_shape: tuple
    input_quantizer: object
    stages: tuple
    frac_bits: int


@dataclass(frozen=True, eq=False)
class IntegerResult:
    """``scores`` ``int64`` (B, classes) in units of 2**-F, ``argmax`` ``int64`` (B,), and
    ``trace``: the output of every stage (Y ``int64`` for linear stages, thermometer codes
    for the others)."""

    scores: np.ndarray
    argmax: np.ndarray
    trace: list


def _rint(values, what, where):
    scaled = np.rint(values)
    if (np.abs(scaled) >= _LIMIT).any():
        raise NetworkError(f"{where}: {what} overflows 62 bits with these fractional bits; "
                           f"lower frac_bits")
    return scaled.astype(np.int64)


def _linear_stage(index, layer, quantizer, frac_bits, fold):
    where = f"layer {index} ({layer.kind})"
    bases = quantize_weights(layer.weight, layer.quantizer)
    beta = base_coefficients(quantizer)
    phi = bases.alpha[:, :, None] * beta[None, None, :]
    bias = np.zeros(layer.weight.shape[0]) if layer.bias is None else layer.bias.astype(np.float64)
    if fold is not None:
        scale = fold.gamma / np.sqrt(fold.var.astype(np.float64) + fold.eps)
        phi = phi * scale[:, None, None]
        bias = (bias - fold.mean) * scale + fold.beta
    unit = 2.0 ** frac_bits
    conv = layer.kind == "conv2d"
    return IntLinear(
        layer=index, kind=layer.kind, weight_bits=bases.bits, weight_encoding=bases.encoding,
        act_encoding=quantizer.encoding, input_quantizer=quantizer,
        coefficients=_rint(phi * unit, "a coefficient", where),
        bias=_rint(bias * unit, "the bias", where), real_coefficients=phi, real_bias=bias,
        frac_bits=frac_bits, kernel=tuple(layer.kernel) if conv else None,
        stride=layer.stride if conv else 1, padding=layer.padding if conv else 0)


def _threshold_stage(index, linear, norm, quantizer):
    """Fold ``norm`` (BatchNorm or None) and ``quantizer`` into integer comparators on Y."""
    comp = comparators(quantizer)
    t = comp.thresholds
    channels = linear.coefficients.shape[0]
    unit = 2.0 ** linear.frac_bits
    y_min, y_max = (np.array(v, dtype=np.int64) for v in accumulator_range(
        linear.coefficients, linear.bias, linear.weight_encoding, linear.act_encoding,
        linear.fan_in))
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


def to_integer(network, frac_bits=8):
    """Map ``network`` to its :class:`IntegerNetwork` with ``frac_bits`` fractional bits.

    Raises
    ------
    NetworkError
        for XNOR-Net input scaling (``SignActivation(mean_scaling=True)``), which multiplies
        by a real-valued map the integer model has no input for, or coefficients that
        overflow 62 bits.
    """
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)) or \
            not 0 <= frac_bits <= 48:
        raise ValueError(f"frac_bits must be an integer in 0 .. 48, not {frac_bits!r}")
    quantizer = network.input_quantizer
    layers = network.layers
    stages = []
    previous = None
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
            previous = _linear_stage(index, layer, quantizer, int(frac_bits), fold)
            stages.append(previous)
        elif kind == "activation":
            norm = layers[index - 1] if layers[index - 1].kind == "batchnorm" else None
            quantizer = layer.quantizer
            stages.append(_threshold_stage(index, previous, norm, quantizer))
        elif kind == "maxpool2d":
            stages.append(IntMaxPool(index, layer.kernel, layer.stride))
        elif kind == "flatten":
            stages.append(IntFlatten(index))
        elif kind == "scores":
            stages.append(IntScores(index))
    return IntegerNetwork(network.input_shape, network.input_quantizer, tuple(stages),
                          int(frac_bits))


def codes_thermometer(codes, levels):
    """Thermometer code ``uint8`` (..., levels) of integer codes 0 .. levels: bit k = [q > k]."""
    codes = np.asarray(codes, dtype=np.int64)
    return (codes[..., None] > np.arange(levels)).astype(np.uint8)


def linear_dots(stage, thermo):
    """All M x N binary dot products of ``stage`` on an input thermometer code.

    Returns ``int64`` (M, N, B, *spatial, out): Dense ``(M, N, B, out)``, Conv2d
    ``(M, N, B, Ho, Wo, out)``.
    """
    bases = thermometer_to_bases(thermo, stage.input_quantizer)  # (B, *shape, N)
    bases = np.moveaxis(bases, -1, 1)                             # (B, N, *shape)
    if stage.kind == "conv2d":
        bases = im2col(bases, stage.kernel, stage.stride, stage.padding, 0)  # (B, N, Ho, Wo, K)
    m, n = stage.coefficients.shape[1:]
    return np.stack([np.stack([
        binary_dot(stage.weight_bits[i], np.take(bases, j, axis=1), stage.weight_encoding,
                   stage.act_encoding) for j in range(n)]) for i in range(m)])


def _linear(stage, thermo):
    dots = linear_dots(stage, thermo)
    y = np.einsum("ij...c,cij->...c", dots, stage.coefficients) + stage.bias
    return np.moveaxis(y, -1, 1) if stage.kind == "conv2d" else y


def apply_thresholds(stage, y):
    """Comparator bits ``uint8`` (B, C, ..., L) of an :class:`IntThreshold` on Y (B, C, ...)."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2) + (-1,)
    t, d = stage.thresholds.reshape(shape), stage.direction.reshape(shape)
    y = y[..., None]
    bits = np.where(d > 0, y >= t, np.where(d < 0, y <= t, stage.constant.reshape(shape) == 1))
    return bits.astype(np.uint8)


def _maxpool(stage, thermo):
    moved = np.moveaxis(thermo, -1, 2)  # (B, C, L, H, W)
    pooled = np.bitwise_or.reduce(pool_windows(moved, stage.kernel, stage.stride), axis=-1)
    return np.moveaxis(pooled, 2, -1)


def run_integer(integer_network, thermo):
    """Run the integer model on an input thermometer code (B, *input_shape, L).

    Use :func:`popcorn.golden.predict.input_thermometer` to quantize raw inputs.
    """
    value = np.asarray(thermo, dtype=np.uint8)
    trace = []
    for stage in integer_network.stages:
        if stage.kind in ("dense", "conv2d"):
            value = _linear(stage, value)
        elif stage.kind == "threshold":
            value = apply_thresholds(stage, value)
        elif stage.kind == "maxpool2d":
            value = _maxpool(stage, value)
        elif stage.kind == "flatten":
            value = value.reshape(value.shape[0], -1, value.shape[-1])
        trace.append(value)
    return IntegerResult(value, np.argmax(value, axis=1), trace)
