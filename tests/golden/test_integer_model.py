"""The integer golden model against the float reference, layer by layer, with the derived bound.

For a Dense/Conv2d layer fed the same input bases, ``|Y / 2**F - y| <= bound`` where
``bound = (K * sum_ij |e_ij| + |e_b|) / 2**F <= (M*N*K + 1) / 2**(F+1)``
(:func:`popcorn.golden.widths.rounding_error_bound`); the folded comparators are exact:
the integer bits equal the float quantizer applied to ``BatchNorm(Y / 2**F)``. Together these
say the integer model is the float reference with coefficients rounded to F fractional bits.
The only slack is float64 rounding of the reference itself (1e-9 relative).
"""

import numpy as np
import pytest

from popcorn.golden.compare import compare_models
from popcorn.golden.examples import SCHEMES, random_network
from popcorn.golden.float_ref import batchnorm_forward, conv_pad_value, float_forward, linear_forward
from popcorn.golden.integer_model import codes_thermometer, layer_frac_bits, run_integer, to_integer
from popcorn.golden.predict import input_thermometer, predict
from popcorn.golden.quantizers import bases_to_values, thermometer, thermometer_to_bases
from popcorn.golden.widths import rounding_error_bound
from popcorn.network import (Activation, BatchNorm, BnnWeights, Dense, FixedPointActivation, Flatten,
                             MaxPool2d, Network,
                             NetworkError, PaActivation, Scores, SignActivation, XnorWeights)


def layerwise(net, x, frac_bits):
    """Check every stage of ``net`` on inputs ``x``; return the largest bound seen."""
    integer = to_integer(net, frac_bits)
    thermo = input_thermometer(net, x)
    result = run_integer(integer, thermo)
    worst = 0.0
    for s, stage in enumerate(integer.stages):
        before = thermo if s == 0 else result.trace[s - 1]
        after = result.trace[s]
        if stage.kind in ("dense", "conv2d"):
            assert stage.frac_bits >= frac_bits
            unit = 2.0 ** stage.frac_bits                     # the layer's own F_l
            q = stage.input_quantizer
            a = bases_to_values(thermometer_to_bases(before, q), q)
            layer = net.layers[stage.layer]
            if layer.kind == "dense" and layer.in_features != a.shape[1]:   # after a global
                a = a.reshape(len(a), layer.in_features, -1).mean(axis=-1)  # average pool
            y = linear_forward(layer, a, conv_pad_value(layer, q))
            rest = net.layers[stage.layer + 1:]
            if rest[0].kind == "batchnorm" and rest[1].kind == "scores":
                y = batchnorm_forward(rest[0], y)
            bound = rounding_error_bound(stage)
            m, n = stage.coefficients.shape[1:]
            assert bound <= (m * n * stage.fan_in + 1) / 2.0 ** (stage.frac_bits + 1)
            error = np.abs(after / unit - y)
            assert error.max() <= bound + 1e-9 * (1 + np.abs(y).max()), (stage.layer, error.max(), bound)
            worst = max(worst, bound)
        elif stage.kind == "threshold":
            norm = net.layers[stage.layer - 1]
            y = before / unit                                 # unit of the linear stage before
            r = batchnorm_forward(norm, y) if norm.kind == "batchnorm" else y
            assert np.array_equal(after, thermometer(r, stage.quantizer)), stage.layer
        elif stage.kind == "maxpool2d":
            levels = before.sum(axis=-1)
            kh, kw = stage.kernel
            b, c, h, w = levels.shape
            windows = levels[:, :, :h // kh * kh, :w // kw * kw].reshape(b, c, h // kh, kh,
                                                                         w // kw, kw)
            top = windows.max(axis=(3, 5))
            top[:, list(stage.minimum)] = windows[:, list(stage.minimum)].min(axis=(3, 5))
            assert np.array_equal(after, codes_thermometer(top, before.shape[-1]))
    return result, worst


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("layout", ["conv", "conv-zero", "dense", "gap", "sequence",
                                    "sequence-zero", "rect", "rect-zero"])
@pytest.mark.parametrize("seed", [0, 1])
def test_integer_matches_float_within_bound(scheme, layout, seed):
    layout, _, fill = layout.partition("-")
    net = random_network(scheme, seed=seed, layout=layout, padding_fill=fill or "lowest")
    x = np.random.default_rng(seed + 10).random((24,) + net.input_shape)
    for frac_bits in (4, 10):
        layerwise(net, x, frac_bits)


def test_bound_shrinks_with_frac_bits():
    net = random_network("abc", seed=4)
    x = np.random.default_rng(0).random((8,) + net.input_shape)
    bounds = [layerwise(net, x, f)[1] for f in (2, 6, 10, 14)]
    assert all(a > b for a, b in zip(bounds, bounds[1:])), bounds


def bnn_mlp(rng):
    return Network((10,), SignActivation(), (
        Dense(rng.normal(size=(8, 10)), BnnWeights()),
        BatchNorm(rng.normal(size=8), rng.normal(size=8), rng.normal(size=8), rng.random(8) + 0.5),
        Activation(SignActivation()), Dense(rng.normal(size=(4, 8)), BnnWeights()), Scores()))


def test_bnn_is_exact_end_to_end():
    rng = np.random.default_rng(5)
    net = bnn_mlp(rng)
    x = rng.normal(size=(64, 10))
    integer = predict(net, x, frac_bits=0)
    reference = float_forward(net, x)
    assert rounding_error_bound(to_integer(net, 0).stages[0]) == 0.0
    assert np.array_equal(integer.scores, reference.scores)
    assert np.array_equal(integer.argmax, reference.argmax)


def test_negative_and_zero_gamma():
    net = Network((4,), FixedPointActivation(1, 1.0), (
        Dense(np.array([[1.0, 2.0, -1.0, 0.5]] * 3), XnorWeights(), np.array([0.1, 0.1, 0.1])),
        BatchNorm(np.array([2.0, -2.0, 0.0]), np.array([0.0, 0.0, 0.3]), np.array([0.2, 0.2, 0.2]),
                  np.array([1.0, 1.0, 1.0])),
        Activation(PaActivation(np.array([-0.5, 0.25, 1.0]), np.array([1.0, 2.0, 3.0]))),
        Dense(np.ones((2, 3)), XnorWeights()), Scores()))
    integer = to_integer(net, 6)
    stage = integer.stages[1]
    assert stage.direction[0].tolist() == [1, 1, 1]
    assert stage.direction[1].tolist() == [-1, -1, -1]
    assert stage.direction[2].tolist() == [0, 0, 0]
    assert stage.constant[2].tolist() == [1, 1, 0]            # beta = 0.3: above -0.5 and 0.25
    codes = np.array([[(n >> i) & 1 for i in range(4)] for n in range(16)])
    layerwise(net, codes, 6)                                  # all 16 inputs


def test_constant_when_threshold_out_of_reach():
    net = Network((2,), FixedPointActivation(1, 1.0), (
        Dense(np.ones((1, 2)), BnnWeights()), Activation(PaActivation(np.array([-9.0, 1.0, 9.0]),
                                                                       np.array([1.0, 2.0, 3.0]))),
        Dense(np.ones((2, 1)), BnnWeights()), Scores()))
    stage = to_integer(net, 3).stages[1]
    # Y ranges over [-2, 2] * 8: -9 always passes, 9 never does, 1 is a live comparator
    assert stage.direction.tolist() == [[0, 1, 0]] and stage.constant.tolist() == [[1, 0, 0]]
    assert stage.thresholds.tolist() == [[0, 8, 0]]
    layerwise(net, np.array([[0, 0], [0, 1], [1, 1]]), 3)


def test_mean_scaling_refused():
    rng = np.random.default_rng(0)
    net = Network((10,), SignActivation(mean_scaling=True),
                  (Dense(rng.normal(size=(3, 10)), XnorWeights()), Scores()))
    with pytest.raises(NetworkError, match=r"input: XNOR-Net input scaling \(mean_scaling=True\) needs "
                                           r"the real-valued input"):
        to_integer(net)
    assert predict(net, rng.normal(size=(2, 10)), use_float=True).scores.shape == (2, 3)


def test_frac_bits_checked():
    with pytest.raises(ValueError, match="frac_bits must be an integer in 0 .. 48, not 49"):
        to_integer(bnn_mlp(np.random.default_rng(0)), 49)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("layout", ["conv", "dense"])
def test_end_to_end_scores_within_bound(scheme, layout):
    net = random_network(scheme, seed=6, layout=layout)
    x = np.random.default_rng(2).random((48,) + net.input_shape)
    for frac_bits in (6, 14):
        c = compare_models(net, x, frac_bits)
        slack = 1e-9 * (1 + np.abs(float_forward(net, x).scores).max())
        assert c.max_agreeing_score_error <= c.score_bound + slack, c
    assert c.diverged <= c.samples // 8, c        # 14 fractional bits: flips are rare


def test_comparison_of_exact_network():
    rng = np.random.default_rng(7)
    net = bnn_mlp(rng)
    c = compare_models(net, rng.normal(size=(32, 10)), 0)
    assert (c.diverged, c.max_score_error, c.score_bound, c.argmax_agreement) == (0, 0.0, 0.0, 1.0)


def test_pooling_the_fixed_point_input():
    net = Network((1, 4, 4), FixedPointActivation(2, 0.5), (
        MaxPool2d(2), Flatten(), Dense(np.random.default_rng(0).normal(size=(3, 4)), XnorWeights()),
        Scores()))
    codes = np.random.default_rng(1).integers(0, 4, (16, 1, 4, 4))
    layerwise(net, codes, 8)                   # includes OR pooling == max of 3-level codes


def test_coefficient_overflow():
    net = Network((2,), FixedPointActivation(1, 1.0),
                  (Dense(np.full((1, 2), 1e6), XnorWeights()), Scores()))
    with pytest.raises(NetworkError, match=r"layer 0 \(dense\): a coefficient overflows 62 bits with "
                                           r"these fractional bits; lower frac_bits"):
        to_integer(net, 48)


@pytest.mark.parametrize("top, expected", [
    (1.0, 8), (3.0, 8), (0.5, 8),          # the largest |phi| already has 8 significant bits
    (0.49, 9),                             # 0.49 * 2**9 = 250.9 >= 128, 0.49 * 2**8 < 128
    (0.064, 11),                           # 0.064 * 2**11 = 131 >= 128, * 2**10 = 65.5
    (2.0 ** -20, 27), (1e-30, 48), (0.0, 8)])
def test_layer_frac_bits(top, expected):
    phi = np.array([[[top, -top / 3]], [[top / 7, 0.0]]])
    assert layer_frac_bits(phi, 8) == expected
    assert layer_frac_bits(-phi, 8) == expected
    assert layer_frac_bits(phi, 8, per_layer=False) == 8
    if 1e-20 < top < 0.5:                  # raised: the largest Phi has exactly 8 bits
        assert 2 ** 7 <= np.rint(top * 2.0 ** expected) < 2 ** 8


def test_per_layer_frac_bits_in_the_model():
    net = random_network("abc", seed=1)
    integer, fixed = to_integer(net, 6), to_integer(net, 6, per_layer=False)
    for stage, old in zip(integer.stages, fixed.stages):
        if stage.kind not in ("dense", "conv2d"):
            continue
        top = np.abs(stage.real_coefficients).max()
        assert old.frac_bits == 6
        assert stage.frac_bits == max(6, 5 - int(np.floor(np.log2(top))))
        assert np.array_equal(stage.coefficients, np.rint(stage.real_coefficients *
                                                          2.0 ** stage.frac_bits))
    assert integer.frac_bits == 6 and integer.score_frac_bits == integer.stages[-2].frac_bits
    bnn = to_integer(bnn_mlp(np.random.default_rng(0)), 5)
    assert [s.frac_bits for s in bnn.stages if s.kind == "dense"] == [5, 5]   # phi = 1
