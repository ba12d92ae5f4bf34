"""Quantizers of the five schemes as PyTorch autograd functions and modules.

Every forward computes exactly the binary bases the golden model (``popcorn.golden``) and the
hardware use; every backward is the estimator its source document gives. Conventions shared
by all schemes:

* ``sign(x) = +1 if x >= 0 else -1``: sign(0) = +1 (seed 001 "Sign", seed 004 eq. 1,
  ``popcorn.golden.binary.sign_bits``), for BNN, XNOR-Net and ABC-Net. BinaryConnect is the
  exception: seed 002 writes its deterministic binarization ``+1 if w > 0``, so a zero
  weight is -1 there, as in ``popcorn.golden.quantizers.binaryconnect_weights``.
* Statistics of a weight tensor (ABC-Net, PA-Net) are over the whole tensor, with the
  population standard deviation (``numpy.std`` default, ``ddof = 0``), computed in float64.
* Pieces and comparator levels are half-open, ``lo <= x < hi``: a level is ``[x >= T]``, as
  in ``popcorn.golden`` (thermometer codes, PA one-hot pieces), except ABC-Net's activation
  bases, strict ``[x > 0.5 - v]`` as ``H_v`` is written in seed 000.
* Every activation quantizer is non-decreasing in its input (``constrain()`` keeps ABC/PA
  coefficients so), so max-pooling before or after it gives the same codes.

Weight quantizers are modules with ``forward(w) -> w_hat`` (the float weight the layer uses)
and ``bases(w) -> (bits, alpha, encoding)`` (the bases ``popcorn.golden`` derives from the same
weights); activation quantizers are modules ``forward(x) -> x_hat`` with their trainable
shifts/endpoints and coefficients.
"""

import torch
from torch import nn

from popcorn.network.schemes import PA_TABLE1_ENDPOINTS, pa_default_endpoints

__all__ = [
    "sign", "ap2", "hard_sigmoid", "SignSTE", "BinarizeIdentity", "StochasticSign",
    "ABCActivationFn", "PAWeightFn", "PAActivationFn",
    "WeightQuantizer", "FloatWeight", "BinaryConnectWeight", "BNNWeight", "XNORWeight",
    "ABCWeight", "PAWeight", "FixedPointWeight", "abc_shifts", "abc_alpha", "pa_weight_endpoints", "pa_pieces",
    "PA_TABLE1_M8",
    "SignActivation", "ABCActivation", "PAActivation", "FixedPointReLU",
    "ShiftBatchNorm", "ShiftAdaMax",
]


def sign(x):
    """``+1`` where ``x >= 0``, ``-1`` elsewhere (sign(0) = +1, seed 001), same dtype as x."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def ap2(x):
    """Approximate power of two (seed 001, Algorithm 3): ``sign(x) * 2**round(log2 |x|)``.

    Zero stays zero. Rounding is ``torch.round`` of the base-2 logarithm (half to even).
    """
    mag = torch.exp2(torch.round(torch.log2(x.abs().clamp_min(torch.finfo(x.dtype).tiny))))
    return torch.where(x == 0, torch.zeros_like(x), torch.sign(x) * mag)


class _AP2STE(torch.autograd.Function):
    """AP2 forward, identity backward (shift-based training treats the shift as a multiply)."""

    @staticmethod
    def forward(ctx, x):
        return ap2(x)

    @staticmethod
    def backward(ctx, g):
        return g


class SignSTE(torch.autograd.Function):
    """``sign`` forward; straight-through backward cancelled where ``|x| > 1``.

    BNN (seed 001, after Courbariaux, Hubara et al.): ``dC/dx = dC/dsign * 1[|x| <= 1]``.
    Used for BNN weights and activations and XNOR-Net's ``B = sign(W)``, ``H = sign(X)``.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


class BinarizeIdentity(torch.autograd.Function):
    """BinaryConnect's deterministic binarization (seed 002): ``+1 if x > 0 else -1`` (a zero
    is -1); plain straight-through (identity) backward, as seed 004 eq. 2.

    The gradient with respect to the binary weight updates the real-valued weight unchanged;
    the real weight is then clipped to [-1, 1].
    """

    @staticmethod
    def forward(ctx, x):
        return torch.where(x > 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, g):
        return g


class StochasticSign(torch.autograd.Function):
    """Stochastic binarization of seed 002: ``+1`` with probability ``hard_sigmoid(w)``.

    ``hard_sigmoid(x) = clip((x + 1) / 2, 0, 1)``; identity backward, as
    :class:`BinarizeIdentity`.
    The random numbers come from ``generator`` so runs are reproducible.
    """

    @staticmethod
    def forward(ctx, x, generator):
        p = ((x + 1) / 2).clamp(0, 1)
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return torch.where(u < p, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, g):
        return g, None


def hard_sigmoid(x):
    """``clip((x + 1) / 2, 0, 1)`` (seed 002)."""
    return ((x + 1) / 2).clamp(0, 1)


# --------------------------------------------------------------------------- weights


class WeightQuantizer(nn.Module):
    """Base class: ``forward(w)`` is the float weight used in training and inference.

    ``bases(w)`` returns ``(bits, alpha, encoding)``: ``bits`` a ``uint8`` tensor of shape
    ``(M, *w.shape)`` (bit 1 = +1 for ``pm1``, 1 for ``zo``), ``alpha`` the coefficients
    (shape ``(M,)`` or ``(M, out_channels)``) with ``forward(w) == sum_i alpha_i * value(bits_i)``.
    ``clip`` is the range real weights are clipped to after each update (``None``: none).
    """

    scheme = "float"
    clip = None
    bases_count = 0
    encoding = None

    def forward(self, w):
        return w

    def bases(self, w):
        return None, None, None


class FloatWeight(WeightQuantizer):
    """Real weights (XNOR-Net first and last layers, seed 003)."""


class BinaryConnectWeight(WeightQuantizer):
    """BinaryConnect weights (seed 002): ``w_b = sign(w)``, or stochastic with ``hard_sigmoid``.

    Deterministic: ``+1`` where ``w > 0`` (seed 002; zero -> -1). Stochastic (only
    in training mode; evaluation and export use the deterministic sign): ``+1`` with
    probability ``clip((w + 1) / 2, 0, 1)``. Backward: identity (:class:`BinarizeIdentity`); the
    real weights are clipped to [-1, 1] after each update (``clip``). One ``pm1`` base, alpha 1.
    """

    scheme = "binaryconnect"
    clip = 1.0
    bases_count = 1
    encoding = "pm1"

    def __init__(self, stochastic=False, generator=None):
        super().__init__()
        self.stochastic = bool(stochastic)
        self.generator = generator

    def forward(self, w):
        if self.stochastic and self.training:
            return StochasticSign.apply(w, self.generator)
        return BinarizeIdentity.apply(w)

    def bases(self, w):
        return (w > 0).to(torch.uint8)[None], torch.ones(1, dtype=torch.float64), "pm1"


class BNNWeight(WeightQuantizer):
    """BNN weights (seed 001): ``W_b = sign(W)``, STE cancelled where ``|W| > 1``.

    Real weights are clipped to [-1, 1] after each update. One ``pm1`` base, alpha 1.
    """

    scheme = "bnn"
    clip = 1.0
    bases_count = 1
    encoding = "pm1"

    def forward(self, w):
        return SignSTE.apply(w)

    def bases(self, w):
        return (w >= 0).to(torch.uint8)[None], torch.ones(1, dtype=torch.float64), "pm1"


class XNORWeight(WeightQuantizer):
    """XNOR-Net weights (seed 003, eqs. 5-6): ``W ~ alpha * B``, ``B = sign(W)``.

    ``alpha = ||W_c||_l1 / n`` per output filter ``c`` (mean of ``|W|`` over all but the first
    axis). Backward: autograd of ``alpha(W) * SignSTE(W)``, i.e. the XNOR-Net weight gradient
    ``g * (alpha * 1[|W| <= 1]) + (1/n) * sign(W) * sum(g * sign(W))`` per filter.
    One ``pm1`` base; ``alpha`` has shape ``(1, out_channels)``.
    """

    scheme = "xnor"
    bases_count = 1
    encoding = "pm1"

    def forward(self, w):
        alpha = w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
        return alpha * SignSTE.apply(w)

    def bases(self, w):
        alpha = w.detach().double().abs().mean(dim=tuple(range(1, w.dim())))
        return (w >= 0).to(torch.uint8)[None], alpha[None], "pm1"


class FixedPointWeight(WeightQuantizer):
    """Signed fixed-point weights, what seed 004's MobileNet keeps its depthwise layers at:
    ``s * clip(round(W / s), -(2**(bits-1) - 1), 2**(bits-1) - 1)``, ``s = max|W| /
    (2**(bits-1) - 1)`` over the tensor or (``per_channel``) each output filter, as
    ``popcorn.network.FixedPointWeights`` defines them; the straight-through estimator
    passes the gradient unchanged. ``bits`` ``zo`` bases, the two's-complement bit planes
    of the code, alpha ``s 2**b`` (the sign plane's ``-s 2**(bits-1)``)."""

    scheme = "fixedpoint"
    encoding = "zo"

    def __init__(self, bits=4, per_channel=True):
        super().__init__()
        self.bits = int(bits)
        self.per_channel = bool(per_channel)
        self.bases_count = self.bits

    def _scale_codes(self, w):
        top = 2 ** (self.bits - 1) - 1
        dims = tuple(range(1, w.dim())) if self.per_channel else tuple(range(w.dim()))
        s = w.abs().amax(dim=dims, keepdim=True) / top
        codes = torch.clamp(torch.round(w / torch.where(s > 0, s, torch.ones_like(s))),
                            -top, top)
        return s, codes

    def forward(self, w):
        s, codes = self._scale_codes(w.detach())
        return w + (s * codes - w).detach()

    def bases(self, w):
        s, codes = self._scale_codes(w.detach().double())
        planes = (codes.to(torch.int64) & (2 ** self.bits - 1))[None] >> \
            torch.arange(self.bits).reshape(-1, *[1] * w.dim())
        alpha = s.reshape(1, -1) * 2.0 ** torch.arange(self.bits, dtype=torch.float64)[:, None]
        alpha[-1] *= -1
        return (planes & 1).to(torch.uint8), alpha, "zo"


def abc_shifts(m):
    """ABC-Net weight shifts ``u_i = -1 + 2 (i - 1) / (M - 1)``, i = 1..M; ``u = 0`` for M = 1.

    Seed 000 gives ``B_i = sign(W - mean(W) + u_i std(W))`` but not the values of ``u_i``;
    these evenly spaced shifts in [-1, 1] are the ones of the ABC-Net paper it re-implements
    (Lin, Zhao, Pan 2017, section 3.1).
    """
    if m == 1:
        return torch.zeros(1, dtype=torch.float64)
    return torch.linspace(-1.0, 1.0, m, dtype=torch.float64)


def abc_alpha(w, bits):
    """Least-squares coefficients ``argmin_alpha ||w - B alpha||^2`` (seed 000), float64.

    ``bits`` is ``(M, *w.shape)`` ``pm1`` bits; solved with LAPACK ``gelsd`` (minimum-norm
    solution when bases coincide), as ``numpy.linalg.lstsq`` does.
    """
    b = (2.0 * bits.reshape(bits.shape[0], -1).double() - 1.0).T
    target = w.detach().reshape(-1, 1).double()
    return torch.linalg.lstsq(b, target, driver="gelsd").solution[:, 0]


class ABCWeight(WeightQuantizer):
    """ABC-Net weights (seed 000): ``W ~ sum_i alpha_i B_i``.

    ``B_i = sign(W - mean(W) + u_i * std(W))`` over the whole tensor (population std), with
    ``u_i`` from :func:`abc_shifts` unless given; ``alpha`` by least squares
    (:func:`abc_alpha`), recomputed at every forward and treated as a constant by autograd.
    Backward: straight-through, ``dC/dW = dC/dW_hat`` (the report: "as if identity").
    M ``pm1`` bases, ``alpha`` of shape ``(M,)``.
    """

    scheme = "abc"
    encoding = "pm1"

    def __init__(self, m=3, shifts=None):
        super().__init__()
        if int(m) != m or m < 1:
            raise ValueError(f"ABC-Net weight base count M must be a positive integer, not {m!r}")
        self.bases_count = int(m)
        u = abc_shifts(self.bases_count) if shifts is None else torch.as_tensor(
            shifts, dtype=torch.float64)
        if u.shape != (self.bases_count,):
            raise ValueError(f"ABC-Net needs {self.bases_count} weight shifts, not {u.tolist()}")
        self.register_buffer("shifts", u)

    def _bits(self, w):
        wd = w.detach().double()
        mean, std = wd.mean(), wd.std(correction=0)
        z = wd - mean
        return torch.stack([(z + u * std >= 0) for u in self.shifts]).to(torch.uint8)

    def bases(self, w):
        bits = self._bits(w)
        return bits, abc_alpha(w, bits), "pm1"

    def forward(self, w):
        bits, alpha, _ = self.bases(w)
        w_hat = torch.einsum("m,m...->...", alpha, 2.0 * bits.double() - 1.0).to(w.dtype)
        return w + (w_hat - w).detach()


# Seed 004, Table 1 and the rule for other M: one definition, popcorn.network's.
PA_TABLE1_M8 = PA_TABLE1_ENDPOINTS
pa_weight_endpoints = pa_default_endpoints


def pa_pieces(w, u):
    """Piece index per weight for endpoints ``u`` (M,): the M+1 half-open pieces of eq. 6.

    Returns ``k`` in 0..M with ``k = #{i : w >= u_i}``: piece 0 is ``w < u_1``, piece k is
    ``u_k <= w < u_{k+1}``, piece M is ``w >= u_M``; piece M/2 is the zero piece.
    """
    return torch.bucketize(w, u, right=True)


class PAWeightFn(torch.autograd.Function):
    """PA-Net weight forward (eqs. 6-7) and piecewise-linear backward (eqs. 8-9).

    Arguments: ``w``, absolute endpoints ``u`` (M,, float64, increasing), ``lam`` (lambda_W).
    Forward: ``W_hat = alpha_k`` for the weights in piece ``k`` (:func:`pa_pieces`),
    ``alpha_k`` the mean of the weights in the piece (0 for an empty piece), and 0 in the
    middle piece. Backward: the forward steps from one level to the next at each ``u_i``
    with a jump ``J_i`` (``alpha_2 - alpha_1``, ..., ``0 - alpha_{M/2}``,
    ``alpha_{M/2+1} - 0``, ..., ``alpha_M - alpha_{M-1}``); eq. 8 gives the weights around
    ``u_i`` (between the midpoints ``s_{i-1} = (u_{i-1} + u_i) / 2`` and ``s_i``, eq. 9;
    half-open, the outermost regions unbounded) the slope ``lambda_W * J_i``.
    """

    @staticmethod
    def forward(ctx, w, u, lam):
        alpha, levels = _pa_weight_levels(w, u)
        piece = pa_pieces(w.detach().double(), u)
        w_hat = levels[piece].to(w.dtype)
        jumps = levels[1:] - levels[:-1]                              # J_1..J_M
        s = (u[1:] + u[:-1]) / 2                                      # s_1..s_{M-1}
        region = torch.bucketize(w.detach().double(), s, right=True)  # 0..M-1 -> u_{k+1}
        ctx.save_for_backward((lam * jumps)[region].to(w.dtype))
        return w_hat

    @staticmethod
    def backward(ctx, g):
        (slope,) = ctx.saved_tensors
        return g * slope, None, None


def _pa_weight_levels(w, u):
    """``alpha`` (M,) and the M+1 piece values (alphas with 0 inserted at M/2), float64."""
    m = u.numel()
    wd = w.detach().double().reshape(-1)
    piece = pa_pieces(wd, u)
    sums = torch.zeros(m + 1, dtype=torch.float64).index_add_(0, piece, wd)
    counts = torch.bincount(piece, minlength=m + 1).double()
    means = torch.where(counts > 0, sums / counts.clamp_min(1), torch.zeros_like(sums))
    alpha = torch.cat([means[: m // 2], means[m // 2 + 1:]])
    levels = means.clone()
    levels[m // 2] = 0.0
    return alpha, levels


class PAWeight(WeightQuantizer):
    """PA-Net weights (seed 004, eqs. 6-9): M pieces at fixed endpoints, alpha = piece mean.

    Endpoints ``u_i = mean(W) + c_i * std(W)`` with ``c`` from :func:`pa_weight_endpoints`
    (Table 1 for M = 8) or given; "fixed using mean(W) and std(W)" is read as centred on the
    mean (whole tensor, population std). The M bases are ``zo`` piece indicators (eq. 16):
    base ``i`` is 1 where the weight lies in the i-th non-zero piece; ``alpha_i`` its mean.
    ``lam`` is eq. 8's lambda_W (it only scales the weight gradient).
    """

    scheme = "pa"
    encoding = "zo"

    def __init__(self, m=8, endpoints=None, lam=1.0):
        super().__init__()
        c = pa_weight_endpoints(m) if endpoints is None else tuple(float(e) for e in endpoints)
        if len(c) % 2 or len(c) < 2 or any(b <= a for a, b in zip(c, c[1:])):
            raise ValueError(f"PA-Net weight endpoints must be an even number of increasing "
                             f"values, not {list(c)!r}")
        self.bases_count = len(c)
        self.register_buffer("endpoints", torch.tensor(c, dtype=torch.float64))
        self.lam = float(lam)

    def absolute_endpoints(self, w):
        wd = w.detach().double()
        return wd.mean() + self.endpoints * wd.std(correction=0)

    def forward(self, w):
        return PAWeightFn.apply(w, self.absolute_endpoints(w), self.lam)

    def bases(self, w):
        u = self.absolute_endpoints(w)
        alpha, _ = _pa_weight_levels(w, u)
        piece = pa_pieces(w.detach().double(), u)
        m = self.bases_count
        ids = [k for k in range(m + 1) if k != m // 2]
        bits = torch.stack([(piece == k) for k in ids]).to(torch.uint8)
        return bits, alpha, "zo"


# --------------------------------------------------------------------------- activations


class SignActivation(nn.Module):
    """Sign activation of BNN (seed 001) and XNOR-Net (seed 003): ``sign(x)``, STE |x| <= 1.

    One ``pm1`` base, beta = 1 (XNOR-Net's input scale beta = ||X||_l1 / n is not applied: it
    would need a per-position multiplier; the hardware keeps the pure sign).
    """

    kind = "sign"
    encoding = "pm1"
    bases_count = 1

    def forward(self, x):
        return SignSTE.apply(x)

    def pad_value(self):
        """The value of activation code 0 (bit 0 = -1)."""
        return -1.0


class ABCActivationFn(torch.autograd.Function):
    """One ABC-Net activation base (seed 000): ``H_v(R) = 2 * 1[clip(R + v, 0, 1) > 0.5] - 1``.

    That is +1 iff ``R > 0.5 - v`` (strict), computed in that form as
    ``popcorn.golden.quantizers.comparators`` does. Backward, ``window="report"``: the report's
    ``dC/dR = dC/dH * 1[0 <= R - v <= 1]``; ``window="clip"``: ``1[0 <= R + v <= 1]``, the
    linear part of ``h_v``. The shift gets the same straight-through gradient,
    ``dC/dv = sum(dC/dH * window)``.
    """

    @staticmethod
    def forward(ctx, r, v, window):
        ctx.save_for_backward(r, v)
        ctx.window = window
        return torch.where(r > 0.5 - v, torch.ones_like(r), -torch.ones_like(r))

    @staticmethod
    def backward(ctx, g):
        r, v = ctx.saved_tensors
        z = r - v if ctx.window == "report" else r + v
        gr = g * ((z >= 0) & (z <= 1)).to(g.dtype)
        return gr, gr.sum().reshape(v.shape), None


class ABCActivation(nn.Module):
    """ABC-Net activations (seed 000): ``A = sum_j beta_j H_{v_j}(R)``, N ``pm1`` bases.

    Shifts ``v`` (N,) and coefficients ``beta`` (N,) are trainable, one set per layer.
    Initial shifts put the thresholds ``0.5 - v_j`` evenly in [-1, 1]; for N = 1, ``v = 0``
    (threshold 0.5), which centres the report window ``0 <= R - v <= 1`` on the base's own
    flip point (the window contains it only for ``|v| <= 1/4``; with ``v = 0.5`` it misses
    it and an N = 1 network barely trains: 0.20 on the MNIST subset). Initial ``beta_j = 1 / N``. ``window`` selects the
    backward (:class:`ABCActivationFn`).
    Base ``j`` is ``[R > 0.5 - v_j]`` (strict). ``constrain()`` keeps every ``beta_j`` at
    least ``min_beta`` > 0 after each update: a non-decreasing quantizer, which
    ``popcorn.network.AbcActivation`` requires (max-pooling as OR of thermometer codes).
    """

    min_beta = 1e-3

    kind = "abc"
    encoding = "pm1"

    def __init__(self, n=3, window="report"):
        super().__init__()
        if int(n) != n or n < 1:
            raise ValueError(f"ABC-Net activation base count N must be a positive integer, "
                             f"not {n!r}")
        if window not in ("report", "clip"):
            raise ValueError(f"window must be 'report' or 'clip', not {window!r}")
        self.bases_count = int(n)
        self.window = window
        t = torch.full((1,), 0.5) if n == 1 else torch.linspace(-1.0, 1.0, self.bases_count)
        self.shifts = nn.Parameter(0.5 - t)
        self.beta = nn.Parameter(torch.full((self.bases_count,), 1.0 / self.bases_count))

    def forward(self, r):
        out = 0
        for j in range(self.bases_count):
            out = out + self.beta[j] * ABCActivationFn.apply(r, self.shifts[j], self.window)
        return out

    @torch.no_grad()
    def constrain(self):
        self.beta.clamp_(min=self.min_beta)

    def pad_value(self):
        """The value of activation code 0 (all bases -1): ``-sum(beta)``."""
        return -float(self.beta.detach().double().sum())


class PAActivationFn(torch.autograd.Function):
    """PA-Net activation forward (eqs. 10, 17-18) and backward (eqs. 11-14), seed 004.

    Forward: ``A_hat = 0`` for ``A < v_1``, ``beta_i`` for ``v_i <= A < v_{i+1}``, ``beta_N`` for
    ``A >= v_N`` (half-open; ``v`` must be non-decreasing). Backward, with ``beta_0 = 0`` and
    eq. 12's ``t_i = (v_i + v_{i+1}) / 2`` (i = 1..N-1), ``t_N = v_N + lambda_delta`` and
    ``t_0 = 2 v_1 - t_1`` (eq. 12 prints ``2.0 x v_0 - s_1``, names that do not exist for
    activations; we read it as the mirror of ``t_1`` about ``v_1``; for N = 1,
    ``t_0 = v_1 - lambda_delta``):

    * eq. 11: ``dA_hat/dA = lambda_A (beta_i - beta_{i-1})`` on ``t_{i-1} <= A < t_i``, 0 outside
      ``[t_0, t_N)``;
    * eq. 13: ``dC/dbeta_i = sum(dC/dA_hat)`` over the activations in piece i;
    * eq. 14: ``dC/dv_i = sign14 * lambda_A (beta_i - beta_{i-1}) * sum(dC/dA_hat)`` over
      ``t_{i-1} <= A < t_i``. Eq. 14 is printed with ``sign14 = +1``; the derivative of the
      surrogate of eq. 11 (a ramp at ``v_i`` that moves right as ``v_i`` grows) carries
      ``-1``, which is our default: with ``+1`` gradient descent moves the endpoints the wrong
      way.
    """

    @staticmethod
    def forward(ctx, a, v, beta, lam_a, lam_delta, sign14):
        n = v.numel()
        vd = v.detach()
        piece = torch.bucketize(a.detach(), vd.contiguous(), right=True)  # 0..N
        levels = torch.cat([torch.zeros(1, dtype=beta.dtype), beta.detach()])
        out = levels[piece].to(a.dtype)
        if n > 1:
            mids = (vd[1:] + vd[:-1]) / 2
            t0 = 2 * vd[0] - mids[0]
        else:
            mids = vd[:0]
            t0 = vd[0] - lam_delta
        t = torch.cat([t0.reshape(1), mids, (vd[-1] + lam_delta).reshape(1)])   # t_0..t_N
        region = torch.bucketize(a.detach(), t.contiguous(), right=True)        # 0..N+1
        ctx.save_for_backward(piece, region, levels)
        ctx.lam_a, ctx.sign14, ctx.n = lam_a, sign14, n
        return out

    @staticmethod
    def backward(ctx, g):
        piece, region, levels = ctx.saved_tensors
        n, lam_a = ctx.n, ctx.lam_a
        jumps = levels[1:] - levels[:-1]                               # beta_i - beta_{i-1}
        slopes = torch.cat([torch.zeros(1, dtype=jumps.dtype), lam_a * jumps,
                            torch.zeros(1, dtype=jumps.dtype)])        # regions 0..N+1
        ga = g * slopes[region].to(g.dtype)
        flat_g = g.reshape(-1)
        per_piece = torch.zeros(n + 2, dtype=g.dtype).index_add_(0, piece.reshape(-1), flat_g)
        gbeta = per_piece[1:n + 1]
        per_region = torch.zeros(n + 2, dtype=g.dtype).index_add_(0, region.reshape(-1), flat_g)
        gv = ctx.sign14 * lam_a * jumps.to(g.dtype) * per_region[1:n + 1]
        return ga, gv, gbeta.to(levels.dtype), None, None, None


class PAActivation(nn.Module):
    """PA-Net activations (seed 004): N ``zo`` pieces at trainable endpoints ``v`` with
    trainable ``beta`` (one set per layer), forward/backward of :class:`PAActivationFn`.

    Initial endpoints ``v_i = 2 i / (N + 1)`` (positive, as the document initialises them)
    and ``beta_i = v_i``. ``constrain()``, after each update, keeps the endpoints strictly
    increasing (``v_{i+1} >= v_i + min_gap``) and the coefficients non-negative and
    non-decreasing (``0 <= beta_1 <= ... <= beta_N``): the document leaves them free, but
    ``popcorn.network.PaActivation`` needs a non-decreasing quantizer (max-pooling as OR of
    thermometer codes, comparators in order).
    Base ``i`` is ``[v_i <= x < v_{i+1}]``: the one-hot piece of the thermometer ``[x >= v_k]``.
    """

    min_gap = 1e-3

    kind = "pa"
    encoding = "zo"

    def __init__(self, n=3, lam_a=1.0, lam_delta=1.0, sign14=-1.0):
        super().__init__()
        if int(n) != n or n < 1:
            raise ValueError(f"PA-Net activation piece count N must be a positive integer, "
                             f"not {n!r}")
        self.bases_count = int(n)
        init = torch.arange(1, n + 1, dtype=torch.float32) * 2 / (n + 1)
        self.endpoints = nn.Parameter(init.clone())
        self.beta = nn.Parameter(init.clone())
        self.lam_a, self.lam_delta, self.sign14 = float(lam_a), float(lam_delta), float(sign14)

    def forward(self, a):
        return PAActivationFn.apply(a, self.endpoints, self.beta, self.lam_a, self.lam_delta,
                                    self.sign14)

    @torch.no_grad()
    def constrain(self):
        v = self.endpoints
        for i in range(1, v.numel()):
            v[i] = torch.maximum(v[i], v[i - 1] + self.min_gap)
        self.beta.copy_(torch.cummax(self.beta.clamp(min=0), 0).values)

    def pad_value(self):
        return 0.0


class FixedPointReLU(nn.Module):
    """ReLU quantized to an unsigned ``bits``-bit fixed-point value with ``frac_bits``
    fractional bits: ``q = clamp(floor(x * 2**f + 1/2), 0, 2**bits - 1)``, value ``q / 2**f``.

    The activations of a BinaryConnect network (seed 002 keeps them real, after ReLU) in the
    form the hardware takes (ARCHITECTURE.md: ``bits`` ``zo`` bit planes, ``beta_b = 2**(b-f)``).
    Straight-through backward inside the representable range ``[0, (2**bits - 1) / 2**f]``.
    ``bits = None`` is the plain real ReLU of the document.
    """

    kind = "fixed_point"
    encoding = "zo"

    def __init__(self, bits=4, frac_bits=2):
        super().__init__()
        self.bits = None if bits is None else int(bits)
        self.frac_bits = int(frac_bits)
        self.bases_count = self.bits

    def forward(self, x):
        if self.bits is None:
            return torch.relu(x)
        scale = 2.0 ** self.frac_bits
        top = (2 ** self.bits - 1) / scale
        clipped = x.clamp(0, top)
        q = torch.floor(clipped * scale + 0.5) / scale
        return clipped + (q - clipped).detach()

    def pad_value(self):
        return 0.0


# --------------------------------------------------------------------------- shift-based BNN


class ShiftBatchNorm(nn.Module):
    """Shift-based batch normalization (seed 001, Algorithm 3), per channel (axis 1).

    Training: ``C = x - mean_B(x)``, ``var = mean_B(C * AP2(C))``,
    ``x_hat = C * AP2(1 / (sqrt(var) + eps))``, ``y = AP2(gamma) * x_hat + beta``; AP2 is
    straight-through in the backward. Evaluation uses running mean and ``var`` the same way.
    As an affine map, ``y = scale * x + shift`` with
    ``scale = AP2(gamma) * AP2(1 / (sqrt(var) + eps))``.
    """

    def __init__(self, channels, eps=1e-5, momentum=0.1):
        super().__init__()
        self.channels, self.eps, self.momentum = int(channels), float(eps), float(momentum)
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def _view(self, t, x):
        return t.reshape((1, -1) + (1,) * (x.dim() - 2))

    def forward(self, x):
        dims = [0] + list(range(2, x.dim()))
        if self.training:
            mean = x.mean(dim=dims)
            c = x - self._view(mean, x)
            var = (c * _AP2STE.apply(c)).mean(dim=dims)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
            c = x - self._view(mean, x)
        inv = _AP2STE.apply(1.0 / (torch.sqrt(var.clamp_min(0)) + self.eps))
        return _AP2STE.apply(self._view(self.weight, x)) * c * self._view(inv, x) \
            + self._view(self.bias, x)

    def affine(self):
        """Evaluation-mode ``(scale, shift)`` per channel, float64."""
        inv = ap2(1.0 / (torch.sqrt(self.running_var.double().clamp_min(0)) + self.eps))
        scale = ap2(self.weight.detach().double()) * inv
        return scale, self.bias.detach().double() - scale * self.running_mean.double()


class ShiftAdaMax(torch.optim.Optimizer):
    """Shift-based AdaMax (seed 001): AdaMax with its two multiplications replaced by AP2.

    ``m_t = b1 m_{t-1} + (1 - b1) g``, ``v_t = max(b2 v_{t-1}, |g|)``,
    ``theta_t = theta_{t-1} - AP2(lr / (1 - b1^t)) * m_t * AP2(1 / v_t)``
    (``v_t`` floored at ``eps`` before the reciprocal).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["step"] += 1
                m, v, g = state["m"], state["v"], p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                torch.maximum(v * b2, g.abs(), out=v)
                rate = ap2(torch.tensor(group["lr"] / (1 - b1 ** state["step"]))).item()
                p.sub_(rate * m * ap2(1.0 / v.clamp_min(group["eps"])))
        return loss
