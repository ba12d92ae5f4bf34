"""Accumulator widths: extreme inputs reach them and never overflow (checked with Python ints)."""

import numpy as np
import pytest

from popcorn.golden.binary import values
from popcorn.golden.examples import SCHEMES, random_network
from popcorn.golden.integer_model import run_integer, to_integer
from popcorn.golden.predict import input_thermometer
from popcorn.golden.quantizers import thermometer_to_bases
from popcorn.golden.widths import dot_range, layer_widths, signed_width, unsigned_width
from popcorn.golden.windows import im2col
from popcorn.network import (AbcActivation, AbcWeights, BnnWeights, Dense, FixedPointActivation,
                             Network, PaWeights, Scores, SignActivation, XnorWeights)


def test_signed_width():
    cases = {(0, 0): 1, (-1, 0): 1, (0, 1): 2, (-2, 1): 2, (-128, 127): 8, (-129, 0): 9,
             (0, 128): 9, (-(2 ** 40), 2 ** 40 - 1): 41}
    for (lo, hi), width in cases.items():
        assert signed_width(lo, hi) == width, (lo, hi)
    assert [unsigned_width(k) for k in (0, 1, 2, 255, 256)] == [1, 1, 2, 8, 9]
    assert dot_range("zo", "zo", 9) == (0, 9) and dot_range("pm1", "zo", 9) == (-9, 9)


def python_int_preactivation(stage, thermo):
    """Y recomputed with Python ints from plain +-1/0-1 values (no popcount identity)."""
    bases = np.moveaxis(thermometer_to_bases(thermo, stage.input_quantizer), -1, 1)
    if stage.kind == "conv2d":
        bases = im2col(bases, stage.kernel, stage.stride, stage.padding, 0)
    v = values(bases, stage.act_encoding).astype(object)          # (B, N, ..., K)
    t = values(stage.weight_bits, stage.weight_encoding).astype(object)  # (M, out, K)
    phi, bias = stage.coefficients.astype(object), stage.bias.astype(object)
    y = bias
    for i in range(t.shape[0]):
        for j in range(v.shape[1]):
            y = y + np.take(v, j, axis=1).dot(t[i].T) * phi[:, i, j]
    return np.moveaxis(y, -1, 1) if stage.kind == "conv2d" else y


def check_stages(net, inputs, frac_bits=8):
    """Every linear stage: int64 Y == Python-int Y, inside [y_min, y_max] and the width.

    Returns (widths, list of Y per linear stage)."""
    integer = to_integer(net, frac_bits)
    widths = layer_widths(integer)
    thermo = input_thermometer(net, inputs)
    result = run_integer(integer, thermo)
    seen = []
    linear = [s for s in range(len(integer.stages)) if integer.stages[s].kind in ("dense", "conv2d")]
    for s, width in zip(linear, widths):
        stage = integer.stages[s]
        before = thermo if s == 0 else result.trace[s - 1]
        y = result.trace[s]
        exact = python_int_preactivation(stage, before)
        assert (y.astype(object) == exact).all()
        assert width.y_min <= min(exact.ravel()) and max(exact.ravel()) <= width.y_max
        top = 2 ** (width.accumulator_bits - 1)
        assert -top <= width.y_min and width.y_max <= top - 1
        assert width.layer == stage.layer and width.fan_in == stage.fan_in
        seen.append(exact)
    by_layer = {w.layer: w for w in widths}
    for stage in integer.stages:
        if stage.kind in ("dense", "conv2d"):
            width = by_layer[stage.layer]
        elif stage.kind == "threshold":                     # thresholds fit the accumulator
            live = stage.thresholds[stage.direction != 0]
            assert ((live >= width.y_min) & (live <= width.y_max)).all()
    return widths, seen


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("layout", ["conv", "dense"])
def test_extreme_pixels_fit(scheme, layout):
    net = random_network(scheme, seed=2, layout=layout)
    shape = net.input_shape
    inputs = np.stack([np.zeros(shape, np.int64), np.full(shape, 255),
                       np.random.default_rng(0).integers(0, 256, shape)])
    check_stages(net, inputs)


K = 12


@pytest.mark.parametrize("weights, input_quantizer, high, low", [
    (BnnWeights(), SignActivation(), 1.0, -1.0),                       # all +1, all -1
    (XnorWeights(), SignActivation(), 1.0, -1.0),
    (BnnWeights(), FixedPointActivation(8, 1 / 255), 255, 0),           # maximum pixel, zero
    (PaWeights.with_bases(4), FixedPointActivation(8, 1 / 255), 255, 0),
    (AbcWeights.with_bases(3), AbcActivation(np.array([0.0, 0.5]), np.array([0.5, 1.0])), 9.0, -9.0),
])
def test_extremes_reach_the_width(weights, input_quantizer, high, low):
    net = Network((K,), input_quantizer, (Dense(np.full((2, K), 0.75), weights), Scores()))
    inputs = np.array([np.full(K, high), np.full(K, low)])
    if input_quantizer.quantizer == "fixedpoint":
        inputs = inputs.astype(np.int64)
    (width,), (y,) = check_stages(net, inputs, frac_bits=5)
    assert max(y.ravel()) == width.y_max                                # the bound is attained
    if weights.encoding == "pm1" and input_quantizer.encoding == "pm1":
        assert min(y.ravel()) == width.y_min
    assert width.popcount_bits == unsigned_width(K)


def test_most_negative_extreme_is_reached():
    net = Network((K,), FixedPointActivation(8, 1 / 255),
                  (Dense(np.full((1, K), -0.5), BnnWeights()), Scores()))
    (width,), (y,) = check_stages(net, np.full((1, K), 255))
    assert y[0, 0] == width.y_min == -width.y_max
    assert width.accumulator_bits == signed_width(width.y_min, width.y_max)
