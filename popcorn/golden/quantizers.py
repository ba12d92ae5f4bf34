"""The quantizers of the five schemes, as the seed documents define them, and ternary and
fixed-point weights.

Weights: :func:`quantize_weights` turns a real weight tensor and a weight scheme
(:mod:`popcorn.network.schemes`) into :class:`WeightBases`: M bit tensors and coefficients
alpha, ``W ~ sum_i alpha_i T_i``.

Activations: every activation quantizer is a non-decreasing staircase of its real input, so
it is a set of L comparators against sorted thresholds (:func:`comparators`). Their outputs
form a thermometer code (bit k set => all bits below k set); :func:`thermometer_to_bases`
derives the N bases from it (sign: the single comparator; ABC-Net: one comparator per base;
PA-Net: one-hot pieces ``u_i AND NOT u_{i+1}``; fixed point: the bit planes of the level),
and ``A ~ sum_j beta_j V_j`` (:func:`base_coefficients`).

Bits are ``uint8`` 0/1; encodings are those of :mod:`popcorn.golden.binary`.
"""

from dataclasses import dataclass

import numpy as np

from .binary import sign_bits, values

__all__ = ["WeightBases", "hard_sigmoid", "bnn_weights", "binaryconnect_weights", "xnor_weights",
           "abc_weights", "pa_weights", "ternary_weights", "fixed_point_weights", "quantize_weights", "Comparators", "comparators",
           "thermometer", "thermometer_to_bases", "base_coefficients", "bases_to_values",
           "quantize_activations"]


@dataclass(frozen=True, eq=False)
class WeightBases:
    """M weight bases of a layer with ``out`` outputs and fan-in K (= in or in*kh*kw).

    Attributes
    ----------
    bits : ``uint8`` (M, out, K), the bases T_i, rows in the weight's C-major order.
    encoding : ``"pm1"`` or ``"zo"``.
    alpha : ``float64`` (out, M), the coefficient of base i for output c (per-tensor schemes
        repeat one row).
    shape : the real weight's shape.
    """

    bits: np.ndarray
    encoding: str
    alpha: np.ndarray
    shape: tuple

    @property
    def bases(self):
        return self.bits.shape[0]

    def values(self):
        """The approximated weight ``sum_i alpha_i T_i``, ``float64`` of the weight's shape."""
        vals = values(self.bits, self.encoding).astype(np.float64)
        approx = np.einsum("mok,om->ok", vals, self.alpha)
        return approx.reshape(self.shape)


def _matrix(weight):
    weight = np.asarray(weight, dtype=np.float64)
    return weight.reshape(weight.shape[0], -1)


def _per_tensor(bits, alpha, weight, encoding):
    out = weight.shape[0]
    return WeightBases(bits.astype(np.uint8), encoding,
                       np.tile(np.asarray(alpha, dtype=np.float64), (out, 1)), weight.shape)


def hard_sigmoid(x):
    """``clip((x + 1) / 2, 0, 1)`` (seed 002)."""
    return np.clip((np.asarray(x, dtype=np.float64) + 1) / 2, 0, 1)


def bnn_weights(weight):
    """BNN (seed 001): ``sign(W)`` with sign(0) = +1, one ``pm1`` base, alpha = 1."""
    w = _matrix(weight)
    return _per_tensor(sign_bits(w)[None], [1.0], np.asarray(weight), "pm1")


def binaryconnect_weights(weight, stochastic=False, seed=0):
    """BinaryConnect (seed 002), one ``pm1`` base, alpha = 1.

    Deterministic: bit 1 (+1) where ``w > 0`` (the seed's strict inequality: 0 -> -1).
    Stochastic: bit 1 with probability :func:`hard_sigmoid` (w), drawn from
    ``numpy.random.default_rng(seed)`` (one uniform draw per weight, C-major order).
    """
    w = _matrix(weight)
    if stochastic:
        draw = np.random.default_rng(seed).random(w.shape)
        bits = draw < hard_sigmoid(w)
    else:
        bits = w > 0
    return _per_tensor(bits[None], [1.0], np.asarray(weight), "pm1")


def xnor_weights(weight):
    """XNOR-Net (seed 003, eqs. 5-6): ``B = sign(W)`` (sign(0) = +1), alpha = mean abs(W) over
    each output channel's filter."""
    w = _matrix(weight)
    alpha = np.abs(w).mean(axis=1)[:, None]
    return WeightBases(sign_bits(w)[None], "pm1", alpha, np.asarray(weight).shape)


def abc_weights(weight, shifts):
    """ABC-Net (seed 000): ``B_i = sign(W - mean(W) + u_i std(W))``, alpha minimizing
    ``||w - B alpha||^2`` over the whole tensor (``numpy.linalg.lstsq``; minimum-norm when
    bases coincide).

    mean and std are over the whole tensor (population std, ddof = 0); sign(0) = +1 as in the
    seed's Sign.
    """
    w = np.asarray(weight, dtype=np.float64).ravel()
    centred = w - w.mean()
    std = w.std()
    bits = np.stack([sign_bits(centred + u * std) for u in shifts])
    design = (2.0 * bits - 1.0).T
    alpha = np.linalg.lstsq(design, w, rcond=None)[0]
    out = np.asarray(weight).shape[0]
    return _per_tensor(bits.reshape(len(shifts), out, -1), alpha, np.asarray(weight), "pm1")


def pa_weights(weight, endpoints):
    """PA-Net (seed 004, eqs. 6-7 and 16): M ``zo`` piece indicators.

    Endpoints ``u_k = mean(W) + c_k std(W)`` (``endpoints`` are the c_k). With p the number
    of endpoints at or below a weight, pieces p = 0 .. M/2 - 1 are bases 1 .. M/2, piece
    p = M/2 (around the mean) is the zero piece, pieces p = M/2 + 1 .. M are bases
    M/2 + 1 .. M. alpha_i is the mean of the weights in piece i, 0 for an empty piece.
    """
    w = np.asarray(weight, dtype=np.float64)
    flat = w.ravel()
    m = len(endpoints)
    u = flat.mean() + np.asarray(endpoints, dtype=np.float64) * flat.std()
    piece = np.searchsorted(u, flat, side="right")
    base_of_piece = [p if p < m // 2 else p - 1 for p in range(m + 1)]
    bits = np.zeros((m, flat.size), dtype=np.uint8)
    alpha = np.zeros(m)
    for p in range(m + 1):
        if p == m // 2:
            continue
        inside = piece == p
        bits[base_of_piece[p]] = inside
        if inside.any():
            alpha[base_of_piece[p]] = flat[inside].mean()
    return _per_tensor(bits.reshape(m, w.shape[0], -1), alpha, w, "zo")


def ternary_weights(weight, per_channel=False, threshold=0.0):
    """Ternary weights (FINN's w2a2 signed narrow 2-bit ``Quant``): two ``zo`` bases
    ``T_1 = [w > t]`` and ``T_2 = [w < -t]``, alpha = (+s, -s).

    s is the mean of ``|w|`` over the weights with ``|w| > t``, over the whole tensor or (with
    ``per_channel``) over each output channel's filter; 0 where no weight is non-zero.
    """
    w = _matrix(weight)
    plus, minus = w > threshold, w < -threshold
    nonzero = plus | minus
    magnitude = np.where(nonzero, np.abs(w), 0.0)
    if per_channel:
        count = nonzero.sum(axis=1)
        s = np.where(count > 0, magnitude.sum(axis=1) / np.maximum(count, 1), 0.0)
    else:
        count = int(nonzero.sum())
        s = np.full(w.shape[0], magnitude.sum() / count if count else 0.0)
    alpha = np.stack([s, -s], axis=1)
    bits = np.stack([plus, minus]).astype(np.uint8)
    return WeightBases(bits, "zo", alpha, np.asarray(weight).shape)


def fixed_point_weights(weight, bits, per_channel=False):
    """Signed fixed-point weights (:class:`~popcorn.network.schemes.FixedPointWeights`):
    ``bits`` ``zo`` bases, the bit planes of ``code = clip(rint(w / s), -(2**(bits-1) - 1),
    2**(bits-1) - 1)`` in two's complement, alpha_b = s 2**b, the sign plane's
    -s 2**(bits-1); ``s = max|W| / (2**(bits-1) - 1)`` over the tensor or (``per_channel``)
    each output channel's filter, 0 where all weights are 0."""
    w = _matrix(weight)
    top = 2 ** (bits - 1) - 1
    magnitude = np.abs(w)
    s = (magnitude.max(axis=1) if per_channel else np.full(w.shape[0], magnitude.max())) / top
    codes = np.clip(np.rint(w / np.where(s > 0, s, 1.0)[:, None]), -top, top).astype(np.int64)
    planes = ((codes & (2 ** bits - 1))[None] >> np.arange(bits)[:, None, None]) & 1
    alpha = s[:, None] * 2.0 ** np.arange(bits)
    alpha[:, -1] *= -1
    return WeightBases(planes.astype(np.uint8), "zo", alpha, np.asarray(weight).shape)


def quantize_weights(weight, scheme):
    """:class:`WeightBases` of ``weight`` under a weight scheme of :mod:`popcorn.network.schemes`."""
    name = scheme.scheme
    if name == "bnn":
        return bnn_weights(weight)
    if name == "binaryconnect":
        return binaryconnect_weights(weight, scheme.stochastic, scheme.seed)
    if name == "xnor":
        return xnor_weights(weight)
    if name == "abc":
        return abc_weights(weight, scheme.shifts)
    if name == "pa":
        return pa_weights(weight, scheme.endpoints)
    if name == "ternary":
        return ternary_weights(weight, scheme.per_channel, scheme.threshold)
    if name == "fixedpoint":
        return fixed_point_weights(weight, scheme.bits, scheme.per_channel)
    raise ValueError(f"weight scheme must be one of bnn, binaryconnect, xnor, abc, pa, ternary, "
                     f"fixedpoint, not {name!r}")


@dataclass(frozen=True, eq=False)
class Comparators:
    """The comparators an activation quantizer is made of.

    ``thresholds`` (L,) ascending ``float64``; bit k is ``[x > t_k]`` if ``strict`` else
    ``[x >= t_k]``; ``rank`` (ABC-Net only) maps base j to its comparator.
    """

    thresholds: np.ndarray
    strict: bool
    rank: np.ndarray = None


def comparators(quantizer):
    """The :class:`Comparators` of an activation quantizer.

    * sign: ``[x >= 0]`` (sign(0) = +1, seeds 001, 003);
    * ABC-Net: ``H_v(x) = +1  <=>  clip(x + v, 0, 1) > 0.5  <=>  x > 0.5 - v`` (seed 000);
    * PA-Net: ``[x >= v_i]`` (seed 004, pieces closed on the left);
    * fixed point: ``[x >= (k - 1/2) scale]``, k = 1 .. 2**bits - 1 (round half up).
    """
    name = quantizer.quantizer
    if name == "sign":
        return Comparators(np.zeros(1), False)
    if name == "abc":
        t = 0.5 - quantizer.shifts
        order = np.argsort(t, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return Comparators(t[order], True, rank)
    if name == "pa":
        return Comparators(np.asarray(quantizer.endpoints, dtype=np.float64), False)
    if name == "fixedpoint":
        k = np.arange(1, 2 ** quantizer.bits)
        return Comparators((k - 0.5) * quantizer.scale, False)
    raise ValueError(f"activation quantizer must be one of sign, abc, pa, fixedpoint, not {name!r}")


def thermometer(x, quantizer):
    """Comparator outputs, ``uint8`` (..., L), for real ``x`` (...).

    Every quantizer is evaluated through its :func:`comparators`, the thresholds the hardware's
    integer comparators are derived from. For ABC-Net that is ``x > t`` with ``t = 0.5 - v``
    rounded to float64, not seed 000's ``clip(x + v, 0, 1) > 0.5`` evaluated in float: the two
    are equal in exact arithmetic, but the float sum ``x + v`` can round onto 0.5 (x = 1e-45,
    v = 0.5 gives -1 where the exact answer, and the comparator, give +1). The training side
    (``popcorn.train.quantizers.ABCActivationFn``) computes the same ``r > 0.5 - v``.
    """
    comp = comparators(quantizer)
    x = np.asarray(x, dtype=np.float64)[..., None]
    bits = x > comp.thresholds if comp.strict else x >= comp.thresholds
    return bits.astype(np.uint8)


def thermometer_to_bases(thermo, quantizer):
    """The N activation bases, ``uint8`` (..., N), from a thermometer code (..., L)."""
    thermo = np.asarray(thermo, dtype=np.uint8)
    name = quantizer.quantizer
    if name == "sign":
        return thermo
    if name == "abc":
        return thermo[..., comparators(quantizer).rank]
    if name == "pa":
        above = np.concatenate([thermo[..., 1:], np.zeros_like(thermo[..., :1])], axis=-1)
        return thermo & (1 - above)
    level = thermo.sum(axis=-1, dtype=np.int64)
    return ((level[..., None] >> np.arange(quantizer.bits)) & 1).astype(np.uint8)


def base_coefficients(quantizer):
    """beta_j, ``float64`` (N,): sign 1, ABC-Net/PA-Net their betas, fixed point scale * 2**b."""
    name = quantizer.quantizer
    if name == "sign":
        return np.ones(1)
    if name in ("abc", "pa"):
        return np.asarray(quantizer.betas, dtype=np.float64)
    return quantizer.scale * 2.0 ** np.arange(quantizer.bits)


def bases_to_values(bases, quantizer):
    """The real activations ``sum_j beta_j V_j``, ``float64`` (...), of bases (..., N)."""
    vals = values(bases, quantizer.encoding).astype(np.float64)
    return vals @ base_coefficients(quantizer)


def quantize_activations(x, quantizer):
    """The quantized value of real ``x`` (float64, same shape)."""
    return bases_to_values(thermometer_to_bases(thermometer(x, quantizer), quantizer), quantizer)
