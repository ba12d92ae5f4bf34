"""Each quantizer against its seed document's formula."""

from fractions import Fraction

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from popcorn.golden.float_ref import linear_forward
from popcorn.golden.quantizers import (abc_weights, binaryconnect_weights, bnn_weights, comparators,
                                       hard_sigmoid, pa_weights, quantize_activations,
                                       quantize_weights, thermometer, thermometer_to_bases,
                                       xnor_weights)
from popcorn.network import (AbcActivation, AbcWeights, Conv2d, Dense, FixedPointActivation,
                             PaActivation, PaWeights, SignActivation, XnorWeights,
                             abc_default_shifts, pa_default_endpoints)

FLOATS = st.floats(-4, 4, allow_nan=False, width=64)
TENSORS = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
                     elements=FLOATS)


def doc_sign(x):
    """sign(x), +1 for x >= 0 (seeds 000, 001, 003)."""
    return np.where(x >= 0, 1.0, -1.0)


# -- BNN (seed 001) ---------------------------------------------------------------------

def test_bnn_sign_of_zero_is_plus_one():
    w = np.array([[0.0, -0.0, -1e-300, 2.0]])
    bases = bnn_weights(w)
    assert bases.bits.tolist() == [[[1, 1, 0, 1]]] and bases.alpha.tolist() == [[1.0]]
    assert quantize_activations(np.array([0.0, -1e-300, 3.0]), SignActivation()).tolist() == [1, -1, 1]


@settings(max_examples=50, deadline=None)
@given(TENSORS)
def test_bnn_weights_are_sign(w):
    assert np.array_equal(bnn_weights(w).values(), doc_sign(w))


# -- BinaryConnect (seed 002) -----------------------------------------------------------

def test_hard_sigmoid():
    assert hard_sigmoid(np.array([-2, -1, 0, 0.5, 1, 3])).tolist() == [0, 0, 0.5, 0.75, 1, 1]


def test_binaryconnect_deterministic_zero_is_minus_one():
    w = np.array([[0.0, 1e-9, -1e-9, 0.7]])
    assert binaryconnect_weights(w).values().tolist() == [[-1, 1, -1, 1]]


def test_binaryconnect_stochastic():
    w = np.array([[-1.5, -1.0, 0.0, 0.5, 1.0, 1.5]]).repeat(20000, axis=0)
    bases = binaryconnect_weights(w, stochastic=True, seed=7)
    expected = np.random.default_rng(7).random(w.shape) < hard_sigmoid(w)
    assert np.array_equal(bases.bits[0], expected)
    frequency = bases.bits[0].mean(axis=0)
    p = hard_sigmoid(w[0])
    assert frequency[0] == 0 and frequency[1] == 0 and frequency[-1] == 1 and frequency[-2] == 1
    assert (np.abs(frequency - p) <= 5 * np.sqrt(p * (1 - p) / len(w)) + 1e-12).all()
    assert not np.array_equal(binaryconnect_weights(w, True, seed=8).bits, bases.bits)


# -- XNOR-Net (seed 003) ----------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(TENSORS)
def test_xnor_alpha_is_mean_abs_per_filter(w):
    bases = xnor_weights(w)
    alpha = np.abs(w.reshape(len(w), -1)).mean(axis=1)
    assert np.allclose(bases.alpha[:, 0], alpha, rtol=1e-12, atol=0)
    expected = doc_sign(w) * alpha.reshape((-1,) + (1,) * (w.ndim - 1))
    assert np.allclose(bases.values(), expected, rtol=1e-12, atol=0)


def test_xnor_input_scaling_dense():
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 6)), rng.normal(size=(2, 6))
    layer = Dense(w, XnorWeights())
    y = linear_forward(layer, doc_sign(x), magnitude=np.abs(x))
    alpha = np.abs(w).mean(axis=1)
    beta = np.abs(x).mean(axis=1, keepdims=True)
    assert np.allclose(y, beta * (doc_sign(x) @ doc_sign(w).T) * alpha)


def test_xnor_input_scaling_conv_k_map():
    rng = np.random.default_rng(1)
    w, x = rng.normal(size=(2, 3, 3, 3)), rng.normal(size=(1, 3, 5, 5))
    layer = Conv2d(w, XnorWeights(), stride=2, padding=1)
    y = linear_forward(layer, doc_sign(x), pad=-1.0, magnitude=np.abs(x))
    a = np.pad(np.abs(x[0]).mean(axis=0), 1)                 # A = mean_c |I|, zero padded
    h = np.pad(doc_sign(x[0]), ((0, 0), (1, 1), (1, 1)), constant_values=-1.0)
    alpha = np.abs(w).reshape(2, -1).mean(axis=1)
    for o in range(2):
        for i in range(3):
            for j in range(3):
                k = a[2 * i:2 * i + 3, 2 * j:2 * j + 3].mean()      # K = A * k (box filter)
                dot = (h[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * doc_sign(w[o])).sum()
                assert np.isclose(y[0, o, i, j], dot * k * alpha[o])


# -- ABC-Net (seed 000) -----------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(TENSORS, st.integers(1, 6))
def test_abc_bases_and_least_squares_alpha(w, m):
    shifts = abc_default_shifts(m)
    bases = abc_weights(w, shifts)
    flat = w.ravel()
    design = np.stack([doc_sign(flat - flat.mean() + u * flat.std()) for u in shifts], axis=1)
    assert np.array_equal(2.0 * bases.bits.reshape(m, -1).T - 1, design)
    alpha = np.linalg.lstsq(design, flat, rcond=None)[0]
    assert np.allclose(bases.alpha[0], alpha, rtol=1e-9, atol=1e-12)
    assert np.allclose(bases.values().ravel(), design @ alpha, rtol=1e-9, atol=1e-12)


def test_abc_default_shifts_spread():
    assert np.allclose(abc_default_shifts(5), [-1, -0.5, 0, 0.5, 1])
    assert AbcWeights.with_bases(4).shifts == abc_default_shifts(4)


def exact_h_v(r, v):
    """Seed 000's ``H_v(r) = 2 * 1[clip(r + v, 0, 1) > 0.5] - 1`` in exact rational arithmetic."""
    return 1.0 if min(max(Fraction(r) + Fraction(v), 0), 1) > Fraction(1, 2) else -1.0


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 30), elements=FLOATS),
       st.lists(st.integers(-3 * 2 ** 39, 3 * 2 ** 39), min_size=1, max_size=4))
def test_abc_activation_is_h_v(r, shift_steps):
    # Shifts on a 2**-40 grid, so 0.5 - v is exact in float64 and the comparator x > 0.5 - v
    # must equal the exact H_v everywhere, float ties included (a float clip(x + v) would not:
    # 1e-45 + 0.5 rounds onto 0.5).
    shifts = np.array(shift_steps, dtype=np.float64) / 2.0 ** 40
    edges = 0.5 - shifts
    r = np.concatenate([r, edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf),
                        [1.401298464324817e-45, -1.401298464324817e-45, 0.0]])
    betas = np.arange(1.0, len(shifts) + 1)
    quantizer = AbcActivation(shifts, betas)
    h = np.array([[exact_h_v(x, v) for v in shifts] for x in r])
    bases = thermometer_to_bases(thermometer(r, quantizer), quantizer)
    assert np.array_equal(2.0 * bases - 1, h)
    assert np.allclose(quantize_activations(r, quantizer), h @ betas)


# -- PA-Net (seed 004) ------------------------------------------------------------------

def doc_pa_weights(w, c):
    """Eqs. 6-7 read directly: pieces of mean + c * std, the middle piece 0."""
    m = len(c)
    u = w.mean() + np.asarray(c) * w.std()
    edges = [-np.inf] + list(u) + [np.inf]
    out = np.zeros_like(w)
    for p in range(m + 1):
        inside = (w >= edges[p]) & (w < edges[p + 1])
        if p != m // 2 and inside.any():
            out[inside] = w[inside].mean()
    return out


@settings(max_examples=60, deadline=None)
@given(TENSORS, st.sampled_from([2, 4, 6, 8, 10]))
def test_pa_weights_are_piece_means(w, m):
    ends = pa_default_endpoints(m)
    bases = pa_weights(w, ends)
    assert bases.encoding == "zo"
    assert (bases.bits.sum(axis=0) <= 1).all()            # one-hot or the zero piece
    assert np.allclose(bases.values(), doc_pa_weights(w, ends), rtol=1e-12, atol=1e-12)


def test_pa_endpoints_relative_to_mean_and_std():
    w = np.random.default_rng(2).normal(size=(16, 9))
    ends = pa_default_endpoints(8)
    bits = pa_weights(w, ends).bits
    assert np.array_equal(pa_weights(3 * w + 5, ends).bits, bits)


def test_pa_table1():
    assert PaWeights.with_bases(8).endpoints == (-1.5, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 1.5)


def test_pa_error_falls_with_m():
    w = np.random.default_rng(3).normal(size=(64, 32, 3, 3))
    errors = [np.linalg.norm(w - quantize_weights(w, PaWeights.with_bases(m)).values())
              / np.linalg.norm(w) for m in (2, 4, 6, 8, 10, 12, 16, 32)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 30), elements=FLOATS), st.integers(1, 5),
       st.integers(0, 2 ** 32 - 1))
def test_pa_activation_is_eq10(r, n, seed):
    rng = np.random.default_rng(seed)
    ends = np.cumsum(rng.uniform(0.1, 1.0, n)) - 1
    betas = np.cumsum(rng.uniform(0.0, 1.0, n))
    r = np.concatenate([r, ends])
    quantizer = PaActivation(ends, betas)
    edges = list(ends) + [np.inf]
    expected = np.zeros_like(r)
    for i in range(n):
        expected[(r >= edges[i]) & (r < edges[i + 1])] = betas[i]
    bases = thermometer_to_bases(thermometer(r, quantizer), quantizer)
    assert (bases.sum(axis=-1) <= 1).all()
    assert np.array_equal(quantize_activations(r, quantizer), expected)


# -- fixed point and the thermometer code ----------------------------------------------

def test_fixed_point_rounds_half_up_and_saturates():
    q = FixedPointActivation(3, 0.5)
    x = np.array([-1.0, 0.0, 0.24, 0.25, 0.74, 0.75, 3.4, 3.5, 100.0])
    assert quantize_activations(x, q).tolist() == [0, 0, 0, 0.5, 0.5, 1.0, 3.5, 3.5, 3.5]
    planes = thermometer_to_bases(thermometer(np.array([2.5]), q), q)
    assert planes.tolist() == [[1, 0, 1]]                 # code 5


QUANTIZERS = [SignActivation(), FixedPointActivation(3, 0.25),
              AbcActivation(np.array([0.9, -0.2, 0.4]), np.array([0.5, 0.25, 1.0])),
              PaActivation(np.array([-0.5, 0.0, 0.7]), np.array([0.1, 0.1, 2.0]))]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 40), elements=FLOATS),
       st.sampled_from(range(len(QUANTIZERS))))
def test_thermometer_and_monotone(x, which):
    quantizer = QUANTIZERS[which]
    x = np.sort(x)
    code = thermometer(x, quantizer)
    assert code.shape[-1] == len(comparators(quantizer).thresholds)
    assert (np.diff(code.astype(int), axis=-1) <= 0).all()          # thermometer
    assert (np.diff(quantize_activations(x, quantizer)) >= 0).all()  # non-decreasing
