"""The bit-packed integer model against its first definition (every base pair through
``binary_dot``, :mod:`popcorn.golden.integer_reference`): scores, argmax and every stage of
the trace equal, bit for bit, for the five schemes, the four encoding pairs, convolutions with
stride and padding, pooling, fan-ins across 64-bit word boundaries, and any chunking."""

import numpy as np
import pytest

from popcorn.golden.binary import binary_dot, pack_bits, packed_dot
from popcorn.golden.examples import SCHEMES, random_network, scheme_quantizers
from popcorn.golden.float_ref import batchnorm_forward, conv_pad_value, linear_forward
from popcorn.golden.integer_model import linear_dots, run_integer, to_integer
from popcorn.golden.integer_reference import reference_linear_dots, reference_run_integer
from popcorn.golden.predict import input_thermometer, predict
from popcorn.golden.quantizers import quantize_activations
from popcorn.golden.windows import pool_windows
from popcorn.network import (Activation, BatchNorm, Conv2d, Dense, FixedPointActivation, Flatten,
                             MaxPool2d, Network, Scores)


def assert_same(result, reference):
    assert result.scores.dtype == reference.scores.dtype == np.int64
    assert np.array_equal(result.scores, reference.scores)
    assert np.array_equal(result.argmax, reference.argmax)
    assert len(result.trace) == len(reference.trace)
    for s, (got, want) in enumerate(zip(result.trace, reference.trace)):
        assert got.shape == want.shape and got.dtype == want.dtype, s
        assert np.array_equal(got, want), s


@pytest.mark.parametrize("k", [1, 5, 63, 64, 65, 127, 128, 129, 300])
@pytest.mark.parametrize("weight_encoding", ["pm1", "zo"])
@pytest.mark.parametrize("act_encoding", ["pm1", "zo"])
def test_packed_dot_equals_binary_dot(k, weight_encoding, act_encoding):
    rng = np.random.default_rng(k)
    density = rng.uniform(0.05, 0.95)
    t = (rng.random((7, k)) < density).astype(np.uint8)
    rows = 40000 // k + 5                           # several row blocks for small K
    v = (rng.random((rows, k)) < 1 - density).astype(np.uint8)
    v[0], v[1] = 0, 1                               # all-zero and all-one vectors
    expected = binary_dot(t, v, weight_encoding, act_encoding)
    got = packed_dot(pack_bits(t), pack_bits(v), k, weight_encoding, act_encoding)
    assert got.dtype == np.int64 and np.array_equal(got, expected)


def test_pack_bits_layout():
    bits = np.zeros((2, 70), dtype=np.uint8)
    bits[0, 0] = bits[0, 63] = bits[1, 64] = bits[1, 69] = 1
    words = pack_bits(bits)
    assert words.dtype == np.uint64 and words.shape == (2, 2)
    assert [[int(w) for w in row] for row in words] == [[1 + (1 << 63), 0], [0, 1 + (1 << 5)]]


def test_packed_dot_checks():
    with pytest.raises(ValueError, match="act_encoding must be one of"):
        packed_dot(np.zeros((1, 1), np.uint64), np.zeros((1, 1), np.uint64), 3, "pm1", "pm2")
    with pytest.raises(ValueError, match="K = 65 bits need 2 words, not 1"):
        packed_dot(np.zeros((1, 1), np.uint64), np.zeros((1, 1), np.uint64), 65)


PLANS = {
    # fan-ins 27 .. 130 bits (1 to 3 words), windows packed after im2col
    "narrow": [("conv", 10, 3, 1, 1), ("pool",), ("conv", 12, 3, 2, 1), ("flatten",),
               ("dense", 130), ("dense", 5)],
    # 128 and 65 input channels: channels packed into words before the windows (3x3, 1x1)
    "wide": [("conv", 128, 3, 1, 1), ("conv", 65, 3, 2, 1), ("conv", 7, 1, 1, 0),
             ("pool",), ("flatten",), ("dense", 5)],
}


def mixed_network(seed, plan="narrow", padding_fill="lowest"):
    """Random layers that mix weight schemes and activation quantizers, so every encoding pair
    (pm1/zo x pm1/zo) occurs, with padded and strided convolutions (padded with
    ``padding_fill``) and pooling; batch norms calibrated on random inputs."""
    rng = np.random.default_rng(seed)
    input_quantizer = FixedPointActivation(8, 1 / 255)
    values = quantize_activations(rng.random((16, 3, 9, 9)), input_quantizer)
    quantizer, layers = input_quantizer, []
    plan = PLANS[plan]
    for step in plan:
        if step[0] == "pool":
            layers.append(MaxPool2d(2))
            values = pool_windows(values, 2, 2).max(axis=-1)
            continue
        if step[0] == "flatten":
            layers.append(Flatten())
            values = values.reshape(len(values), -1)
            continue
        weights, _ = scheme_quantizers(SCHEMES[rng.integers(len(SCHEMES))], rng)
        _, act = scheme_quantizers(SCHEMES[rng.integers(len(SCHEMES))], rng)
        if step[0] == "conv":
            _, out, kernel, stride, padding = step
            layer = Conv2d(rng.uniform(-0.5, 0.5, (out, values.shape[1], kernel, kernel)), weights,
                           rng.normal(0, 0.1, out), stride=stride, padding=padding,
                           padding_fill=padding_fill)
        else:
            layer = Dense(rng.uniform(-0.5, 0.5, (step[1], values.shape[1])), weights,
                          rng.normal(0, 0.1, step[1]))
        layers.append(layer)
        y = linear_forward(layer, values, conv_pad_value(layer, quantizer))
        if step == plan[-1]:
            break
        axes = (0,) + tuple(range(2, y.ndim))
        channels = y.shape[1]
        norm = BatchNorm(rng.uniform(0.5, 1.5, channels) * np.where(rng.random(channels) < 0.3, -1, 1),
                         rng.normal(0, 0.3, channels), y.mean(axis=axes), y.var(axis=axes) + 1e-3)
        layers += [norm, Activation(act)]
        values = quantize_activations(batchnorm_forward(norm, y), act)
        quantizer = act
    return Network((3, 9, 9), input_quantizer, tuple(layers) + (Scores(),))


SEEDS = range(10)


@pytest.mark.parametrize("plan", PLANS)
def test_mixed_networks_cover_every_encoding_pair(plan):
    """Over SEEDS, every pair occurs (in "wide", among the channel-packed convolutions)."""
    pairs = set()
    for seed in SEEDS:
        pairs |= {(s.weight_encoding, s.act_encoding) for s in to_integer(
            mixed_network(seed, plan)).stages if s.kind in ("dense", "conv2d") and
            (plan == "narrow" or s.packs_channels)}
    assert pairs == {("pm1", "pm1"), ("pm1", "zo"), ("zo", "pm1"), ("zo", "zo")}


def test_both_window_packings_are_exercised():
    for plan, expected in (("narrow", [False, False]), ("wide", [False, True, True])):
        stages = to_integer(mixed_network(0, plan)).stages
        assert [s.packs_channels for s in stages if s.kind == "conv2d"] == expected


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("fill", ["lowest", "zero"])
@pytest.mark.parametrize("seed", SEEDS)
def test_mixed_network_equals_reference(seed, fill, plan):
    net = mixed_network(seed, plan, fill)
    x = np.random.default_rng(seed + 100).random((13,) + net.input_shape)
    for frac_bits in (3, 12):
        integer = to_integer(net, frac_bits)
        thermo = input_thermometer(net, x)
        reference = reference_run_integer(integer, thermo)
        for chunk in (1, 5, 64):
            assert_same(run_integer(integer, thermo, chunk=chunk), reference)
        fast = run_integer(integer, thermo, trace=False, chunk=4)
        assert fast.trace is None
        assert np.array_equal(fast.scores, reference.scores)
        assert np.array_equal(fast.argmax, reference.argmax)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("layout", ["conv", "conv-zero", "dense", "gap", "sequence",
                                    "sequence-zero", "rect", "rect-zero"])
def test_random_networks_equal_reference(scheme, layout):
    layout, _, fill = layout.partition("-")
    for seed in (0, 1, 2):
        net = random_network(scheme, seed=seed, layout=layout, padding_fill=fill or "lowest")
        x = np.random.default_rng(seed).random((21,) + net.input_shape)
        integer = to_integer(net, 8)
        thermo = input_thermometer(net, x)
        reference = reference_run_integer(integer, thermo)
        assert_same(run_integer(integer, thermo), reference)
        assert_same(run_integer(integer, thermo, chunk=2), reference)
        for stage, before in zip(integer.stages, [thermo] + reference.trace):
            if stage.kind in ("dense", "conv2d"):
                assert np.array_equal(linear_dots(stage, before),
                                      reference_linear_dots(stage, before))


def test_zero_fill_is_exercised():
    """Zero padding differs from code-0 padding in the "wide" and "narrow" plans' pm1
    convolutions: their corrections are not all zero, and the scores move."""
    corrected = 0
    for seed in SEEDS:
        for plan in PLANS:
            lowest, zero = (to_integer(mixed_network(seed, plan, fill)) for fill in ("lowest", "zero"))
            stages = [s for s in zero.stages if s.kind == "conv2d" and s.zero_fill_differs]
            corrected += len(stages)
            if stages:
                x = np.random.default_rng(seed).random((4, 3, 9, 9))
                thermo = input_thermometer(mixed_network(seed, plan), x)
                assert not np.array_equal(run_integer(lowest, thermo).scores,
                                          run_integer(zero, thermo).scores)
    assert corrected >= 5


def test_multiple_bases_are_exercised():
    for scheme in ("abc", "pa"):
        stages = [s for s in to_integer(random_network(scheme)).stages if s.kind == "conv2d"]
        assert all(min(s.coefficients.shape[1:]) > 1 for s in stages[1:])


def test_predict_in_chunks_equals_one_batch():
    net = mixed_network(3)
    codes = np.random.default_rng(0).integers(0, 256, (11,) + net.input_shape)
    reference = reference_run_integer(to_integer(net, 8), input_thermometer(net, codes))
    seen = []
    result = predict(net, codes, chunk=4, progress=lambda done, total: seen.append((done, total)))
    assert np.array_equal(result.scores, reference.scores)
    assert np.array_equal(result.argmax, reference.argmax)
    assert seen == [(4, 11), (8, 11), (11, 11)]


def test_empty_batch():
    net = random_network("abc", layout="conv")
    integer = to_integer(net)
    thermo = input_thermometer(net, np.zeros((0,) + net.input_shape))
    result = run_integer(integer, thermo)
    assert result.scores.shape == (0, 5) and result.argmax.shape == (0,)
    assert_same(result, reference_run_integer(integer, thermo))


def test_chunk_checked():
    net = random_network("bnn", layout="dense")
    with pytest.raises(ValueError, match="chunk must be a positive integer, not 0"):
        run_integer(to_integer(net), input_thermometer(net, np.zeros((1, 12))), chunk=0)
