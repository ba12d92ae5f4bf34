"""Quantizer specifications: how a layer's weights and a tensor's activations become bases.

These are descriptions only (hyperparameters and trained coefficients); the arithmetic lives
in :mod:`popcorn.golden.quantizers`. Every spec is a frozen dataclass with ``to_json()``; the
small trained vectors of the activation quantizers (shifts, endpoints, coefficients) are
``float64`` arrays, stored as ``.npz`` arrays by :mod:`popcorn.network.fileformat`.

Weight schemes (``scheme`` in JSON), M bases each, see ARCHITECTURE.md:

* :class:`BnnWeights` (``bnn``): M = 1 ``pm1``, alpha = 1 (seed 001);
* :class:`BinaryConnectWeights` (``binaryconnect``): M = 1 ``pm1``, alpha = 1 (seed 002);
* :class:`XnorWeights` (``xnor``): M = 1 ``pm1``, alpha = mean abs per output channel (seed 003);
* :class:`AbcWeights` (``abc``): M ``pm1``, alpha by least squares (seed 000);
* :class:`PaWeights` (``pa``): M ``zo`` pieces, alpha = mean of each piece (seed 004);
* :class:`TernaryWeights` (``ternary``): M = 2 ``zo`` bases ``[w > t]``, ``[w < -t]``,
  alpha = (+s, -s) (FINN's w2a2 "2-bit" signed narrow weights, ARCHITECTURE.md);
* :class:`FixedPointWeights` (``fixedpoint``): M = bits ``zo`` bit planes of a signed
  two's-complement code, alpha = s 2**b, the top one -s 2**(bits-1) (seed 004's MobileNet
  keeps its depthwise layers at fixed point).

Activation quantizers (``quantizer`` in JSON), N bases each:

* :class:`SignActivation` (``sign``): N = 1 ``pm1``, beta = 1 (or XNOR-Net's mean abs);
* :class:`AbcActivation` (``abc``): N ``pm1``, shifts v_j and betas (seed 000);
* :class:`PaActivation` (``pa``): N ``zo`` one-hot pieces, endpoints v_i and betas (seed 004);
* :class:`FixedPointActivation` (``fixedpoint``): N = bits ``zo`` bit planes, beta_b = scale 2**b.
"""

from dataclasses import dataclass, fields

import numpy as np

from .validate import (check_bool, check_finite_vector, check_positive_float, check_positive_int,
                       check_int, check_increasing, check_nondecreasing)

__all__ = [
    "BnnWeights", "BinaryConnectWeights", "XnorWeights", "AbcWeights", "PaWeights",
    "TernaryWeights", "FixedPointWeights", "SignActivation", "AbcActivation", "PaActivation", "FixedPointActivation",
    "WEIGHT_SCHEMES", "ACTIVATION_QUANTIZERS", "abc_default_shifts", "pa_default_endpoints",
    "PA_TABLE1_ENDPOINTS",
]


def abc_default_shifts(bases):
    """ABC-Net weight shifts ``u_i = -1 + 2 (i - 1) / (M - 1)``, ``u = (0,)`` for M = 1.

    Seed 000 states ``B_i = sign(W - mean(W) + u_i std(W))`` but leaves the u_i to the reader;
    this is the even spread over [-1, 1] of the original ABC-Net paper (Lin et al. 2017,
    Sec. 3.1), which the seed re-implements.
    """
    check_positive_int(bases, "ABC-Net weight base count")
    if bases == 1:
        return (0.0,)
    return tuple(-1.0 + 2.0 * i / (bases - 1) for i in range(bases))


PA_TABLE1_ENDPOINTS = (-1.5, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 1.5)


def pa_default_endpoints(bases):
    """PA-Net weight endpoints u_1 < ... < u_M in units of std(W), for even M.

    M = 8 returns Table 1 of seed 004. Every other even M follows the seed's wording
    ("almost uniformly sampled from -2.0 std to 2.0 std except those near 0.0"): the positive
    endpoints are the centres of M/2 equal cells of (0, 2], ``(2k - 1) / (M/2)`` for
    k = 1..M/2, mirrored for the negative ones (M = 2: +-1; M = 4: +-0.5, +-1.5).
    """
    check_positive_int(bases, "PA-Net weight base count")
    if bases % 2:
        raise ValueError(f"PA-Net weight base count must be even (M/2 pieces on each side of "
                         f"the zero piece, seed 004 eq. 6), not {bases!r}")
    if bases == 8:
        return PA_TABLE1_ENDPOINTS
    half = bases // 2
    positive = [(2 * k - 1) / half for k in range(1, half + 1)]
    return tuple([-p for p in reversed(positive)] + positive)


# -- weight schemes -----------------------------------------------------------------------

class _OneBaseWeights:
    """Shared members of the one-``pm1``-base weight schemes (BNN, BinaryConnect, XNOR-Net).

    A subclass is a frozen dataclass that sets ``scheme``; its JSON is ``scheme`` followed by
    its dataclass fields, in declaration order.
    """

    encoding = "pm1"

    @property
    def bases(self):
        return 1

    def to_json(self):
        return {"scheme": self.scheme, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class BnnWeights(_OneBaseWeights):
    """BNN: one ``pm1`` base, ``sign(W)`` with sign(0) = +1, alpha = 1 (seed 001)."""

    scheme = "bnn"


@dataclass(frozen=True)
class BinaryConnectWeights(_OneBaseWeights):
    """BinaryConnect: one ``pm1`` base, alpha = 1 (seed 002).

    Deterministic: +1 where ``w > 0``, -1 otherwise (seed 002 writes ``w > 0``: a zero weight
    becomes -1, unlike BNN's sign). Stochastic: +1 with probability
    ``clip((w + 1) / 2, 0, 1)``, drawn with ``numpy.random.default_rng(seed)`` so a saved
    network always maps to the same bases.
    """

    stochastic: bool = False
    seed: int = 0

    scheme = "binaryconnect"

    def __post_init__(self):
        check_bool(self.stochastic, "BinaryConnect stochastic")
        check_int(self.seed, "BinaryConnect seed")
        if self.seed < 0:
            raise ValueError(f"BinaryConnect seed must be a non-negative integer, not {self.seed!r}")


@dataclass(frozen=True)
class XnorWeights(_OneBaseWeights):
    """XNOR-Net: one ``pm1`` base ``sign(W)``, alpha = mean abs(W) per output channel (seed 003,
    eqs. 5-6)."""

    scheme = "xnor"


@dataclass(frozen=True)
class AbcWeights:
    """ABC-Net: M ``pm1`` bases ``sign(W - mean(W) + u_i std(W))``, alpha by least squares
    over the whole tensor (seed 000). ``shifts`` are the u_i (default
    :func:`abc_default_shifts`)."""

    shifts: tuple

    scheme = "abc"
    encoding = "pm1"

    def __post_init__(self):
        shifts = check_finite_vector(self.shifts, "ABC-Net weight shifts")
        if not len(shifts):
            raise ValueError("ABC-Net weight shifts need at least one base, not 0")
        object.__setattr__(self, "shifts", tuple(float(u) for u in shifts))

    @classmethod
    def with_bases(cls, bases):
        return cls(abc_default_shifts(bases))

    @property
    def bases(self):
        return len(self.shifts)

    def to_json(self):
        return {"scheme": self.scheme, "bases": self.bases, "shifts": list(self.shifts)}


@dataclass(frozen=True)
class PaWeights:
    """PA-Net: M ``zo`` piece indicators, endpoints ``mean(W) + c_i std(W)`` (seed 004, eq. 6
    and Table 1), alpha_i = mean of the weights in piece i (eq. 7), the middle piece 0.

    ``endpoints`` are the c_i, strictly increasing, M even (default
    :func:`pa_default_endpoints`). Seed 004 says the endpoints are "fixed using mean(W) and
    std(W)" and tabulates them "x std(W)": popcorn reads that as offsets from mean(W).
    Pieces are closed on the left: a weight equal to an endpoint belongs to the piece above.
    """

    endpoints: tuple

    scheme = "pa"
    encoding = "zo"

    def __post_init__(self):
        ends = check_finite_vector(self.endpoints, "PA-Net weight endpoints")
        if len(ends) % 2:
            raise ValueError(f"PA-Net weight base count must be even (M/2 pieces on each side of "
                             f"the zero piece, seed 004 eq. 6), not {len(ends)!r}")
        if not len(ends):
            raise ValueError("PA-Net weight endpoints need at least two bases, not 0")
        check_increasing(ends, "PA-Net weight endpoints")
        object.__setattr__(self, "endpoints", tuple(float(u) for u in ends))

    @classmethod
    def with_bases(cls, bases):
        return cls(pa_default_endpoints(bases))

    @property
    def bases(self):
        return len(self.endpoints)

    def to_json(self):
        return {"scheme": self.scheme, "bases": self.bases, "endpoints": list(self.endpoints)}


@dataclass(frozen=True)
class TernaryWeights:
    """Ternary weights {-s, 0, +s}: two ``zo`` bases ``T_1 = [w > t]``, ``T_2 = [w < -t]`` with
    coefficients ``alpha = (+s, -s)`` (ARCHITECTURE.md: ternary = two {0, 1} bases with
    coefficients +1 and -1 on the M x N datapath; FINN's w2a2 "2-bit" signed narrow ``Quant``).

    ``threshold`` t >= 0: weights with ``|w| <= t`` become 0 (default 0: only exact zeros).
    s is the mean of ``|w|`` over the non-zero (``|w| > t``) weights, over the whole tensor
    (``per_channel=False``) or per output channel (``per_channel=True``), 0 where there are
    none; weights already in {-s_c, 0, +s_c} (what the QONNX importer produces) are exact.
    """

    per_channel: bool = False
    threshold: float = 0.0

    scheme = "ternary"
    encoding = "zo"

    def __post_init__(self):
        check_bool(self.per_channel, "ternary per_channel")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) \
                or not np.isfinite(self.threshold) or self.threshold < 0:
            raise ValueError(f"ternary threshold must be a finite non-negative number, not "
                             f"{self.threshold!r}")
        object.__setattr__(self, "threshold", float(self.threshold))

    @property
    def bases(self):
        return 2

    def to_json(self):
        return {"scheme": self.scheme, "per_channel": self.per_channel,
                "threshold": self.threshold}


@dataclass(frozen=True)
class FixedPointWeights:
    """Signed fixed-point weights ``w = s * code``: ``bits`` ``zo`` bases, the bit planes of
    the ``bits``-bit two's-complement code, with coefficients ``alpha_b = s 2**b`` for
    b < bits - 1 and ``-s 2**(bits-1)`` for the sign plane, so that
    ``sum_b alpha_b T_b = s * code``. On the M x N datapath with fixed-point activations
    (:class:`FixedPointActivation`, ``zo`` bit planes) this is exact fixed-point
    multiply-accumulate; a code 0 is all planes 0, so a weight can be exactly zero.

    ``code = clip(rint(w / s), -(2**(bits-1) - 1), 2**(bits-1) - 1)`` (rint: half to even),
    ``s = max|W| / (2**(bits-1) - 1)`` over the whole tensor (``per_channel=False``) or each
    output channel's filter (``per_channel=True``), s = 0 (all codes 0) where every weight
    is 0. This is the narrow range of Brevitas' max-scaled integer weight quantizers
    (``narrow_range=True``, their default for weights, and FINN's): weights ``s * code``
    whose largest ``|code|`` is ``2**(bits-1) - 1`` come back exactly. The code
    ``-2**(bits-1)`` is never produced; the sign plane's coefficient spans it anyway.
    ``bits`` is 2 to 16.

    The engine multiplies only the M x N coefficients by popcounts: a per-tensor s makes them
    constants (shift-adds), a per-channel s ROM entries, which ``multiply="dsp"``
    (:class:`~popcorn.mapping.linear.LinearFolding`) maps to DSP blocks; no multiplier per
    weight.
    """

    bits: int
    per_channel: bool = False

    scheme = "fixedpoint"
    encoding = "zo"

    def __post_init__(self):
        check_positive_int(self.bits, "fixed-point weight bits")
        if not 2 <= self.bits <= 16:
            raise ValueError(f"fixed-point weight bits must be 2 to 16 (a sign plane and at "
                             f"least one magnitude plane), not {self.bits!r}")
        check_bool(self.per_channel, "fixed-point weight per_channel")
        object.__setattr__(self, "bits", int(self.bits))

    @property
    def bases(self):
        return self.bits

    def to_json(self):
        return {"scheme": self.scheme, "bits": self.bits, "per_channel": self.per_channel}


WEIGHT_SCHEMES = {cls.scheme: cls for cls in
                  (BnnWeights, BinaryConnectWeights, XnorWeights, AbcWeights, PaWeights,
                   TernaryWeights, FixedPointWeights)}


# -- activation quantizers ----------------------------------------------------------------

@dataclass(frozen=True)
class SignActivation:
    """``pm1`` sign with sign(0) = +1 (seeds 001, 003): one comparator ``[x >= 0]``.

    ``mean_scaling=True`` is XNOR-Net's input scaling (seed 003, eqs. 7-8): the next layer's
    output is multiplied by beta = mean abs(X) (dense) or the K map (conv: channel mean of
    abs(X), box-filtered by the kernel). Only the float reference supports it: the integer
    model has no real-valued input to average.
    """

    mean_scaling: bool = False

    quantizer = "sign"
    encoding = "pm1"
    arrays = ()

    def __post_init__(self):
        check_bool(self.mean_scaling, "sign mean_scaling")

    @property
    def bases(self):
        return 1

    def to_json(self):
        return {"quantizer": self.quantizer, "mean_scaling": self.mean_scaling}


def _coefficient_vectors(obj, names, label):
    vectors = [check_finite_vector(getattr(obj, n), f"{label} {n}") for n in names]
    lengths = {len(v) for v in vectors}
    if len(lengths) != 1:
        detail = ", ".join(f"{n} has {len(v)}" for n, v in zip(names, vectors))
        raise ValueError(f"{label} vectors must have one entry per base: {detail}")
    if not len(vectors[0]):
        raise ValueError(f"{label} needs at least one base, not 0")
    for n, v in zip(names, vectors):
        object.__setattr__(obj, n, v)


@dataclass(frozen=True, eq=False)
class AbcActivation:
    """ABC-Net activation: N ``pm1`` bases ``H_v(R) = 2 I[clip(R + v, 0, 1) > 0.5] - 1``
    (seed 000), A ~ sum_j beta_j H_{v_j}(R).

    As a comparator, base j is ``[R > 0.5 - v_j]`` (strict). ``shifts`` v_j and ``betas``
    beta_j are ``float64`` vectors of length N; the betas must be positive so that the
    quantizer is non-decreasing (max-pooling as OR relies on it).
    """

    shifts: np.ndarray
    betas: np.ndarray

    quantizer = "abc"
    encoding = "pm1"
    arrays = ("shifts", "betas")

    def __post_init__(self):
        _coefficient_vectors(self, self.arrays, "ABC-Net activation")
        if (self.betas <= 0).any():
            raise ValueError(f"ABC-Net activation betas must be positive (a non-decreasing "
                             f"quantizer), not {self.betas.tolist()!r}")

    @property
    def bases(self):
        return len(self.shifts)

    def to_json(self):
        return {"quantizer": self.quantizer, "bases": self.bases}


@dataclass(frozen=True, eq=False)
class PaActivation:
    """PA-Net activation: N ``zo`` one-hot pieces at endpoints v_1 < ... < v_N (seed 004,
    eqs. 10, 17-18): value 0 below v_1, beta_i on ``[v_i, v_{i+1})``, beta_N from v_N up.

    Pieces are closed on the left (comparators ``[R >= v_i]``). ``betas`` must be
    non-negative and non-decreasing so that the quantizer is non-decreasing (max-pooling as
    OR of thermometer codes relies on it).
    """

    endpoints: np.ndarray
    betas: np.ndarray

    quantizer = "pa"
    encoding = "zo"
    arrays = ("endpoints", "betas")

    def __post_init__(self):
        _coefficient_vectors(self, self.arrays, "PA-Net activation")
        check_increasing(self.endpoints, "PA-Net activation endpoints")
        check_nondecreasing(np.concatenate([[0.0], self.betas]),
                            "PA-Net activation betas (after the zero piece)")

    @property
    def bases(self):
        return len(self.endpoints)

    def to_json(self):
        return {"quantizer": self.quantizer, "bases": self.bases}


@dataclass(frozen=True)
class FixedPointActivation:
    """Unsigned fixed point: code ``q = clip(floor(x / scale + 1/2), 0, 2**bits - 1)``,
    value ``scale * q``, bases = the ``bits`` ``zo`` bit planes of q with beta_b = scale * 2**b.

    This is the input quantizer (8-bit pixels: ``bits=8, scale=1/255``) and BinaryConnect's
    inference-time activation (seed 002 trains with real activations; popcorn fixes them to
    ``bits`` bits at inference; negative values saturate at 0, as after a ReLU).
    As comparators: ``[x >= (k - 1/2) scale]`` for k = 1 .. 2**bits - 1.
    """

    bits: int
    scale: float

    quantizer = "fixedpoint"
    encoding = "zo"
    arrays = ()

    def __post_init__(self):
        check_positive_int(self.bits, "fixed-point bit width")
        if self.bits > 16:
            raise ValueError(f"fixed-point bit width must be at most 16 (2**bits - 1 "
                             f"comparators), not {self.bits!r}")
        object.__setattr__(self, "scale", check_positive_float(self.scale, "fixed-point scale"))

    @property
    def bases(self):
        return self.bits

    def to_json(self):
        return {"quantizer": self.quantizer, "bits": self.bits, "scale": self.scale}


ACTIVATION_QUANTIZERS = {cls.quantizer: cls for cls in
                         (SignActivation, AbcActivation, PaActivation, FixedPointActivation)}
