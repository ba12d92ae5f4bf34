"""Signed fixed-point weights: ``bits`` ``zo`` bit planes of a two's-complement code with
coefficients s 2**b (the sign plane's -s 2**(bits-1)), exact on their grid, their JSON round
trip, and the integer model on the M x N datapath."""

import numpy as np
import pytest

from popcorn.golden.float_ref import float_forward
from popcorn.golden.integer_model import run_integer, to_integer
from popcorn.golden.predict import input_thermometer
from popcorn.golden.quantizers import quantize_weights
from popcorn.network import (Activation, Conv2d, Dense, FixedPointActivation, FixedPointWeights, Flatten,
                             Network, NetworkError, Scores, load_network, save_network)
from popcorn.network.fileformat import network_to_json

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_bit_planes_and_coefficients_reproduce_the_codes(bits):
    top = 2 ** (bits - 1) - 1
    codes = RNG.integers(-top, top + 1, (5, 3, 3, 3))
    codes[0, 0, 0, 0] = top                       # the grid's largest code is present
    bases = quantize_weights(0.125 * codes, FixedPointWeights(bits))
    assert bases.encoding == "zo" and bases.bases == bits and bases.bits.shape == (bits, 5, 27)
    scale = 0.125 * 2.0 ** np.arange(bits)
    scale[-1] *= -1
    np.testing.assert_array_equal(bases.alpha, np.tile(scale, (5, 1)))
    twos = (bases.bits * (2 ** np.arange(bits))[:, None, None]).sum(axis=0)
    np.testing.assert_array_equal(twos, codes.reshape(5, -1) % 2 ** bits)
    np.testing.assert_array_equal(bases.values(), 0.125 * codes)


def test_per_channel_grid_stays_exact_and_zero_channels_vanish():
    codes = RNG.integers(-7, 8, (4, 6))
    codes[:, 0] = [7, -7, 0, 7]
    codes[2] = 0                                  # an all-zero output channel: s = 0
    scale = np.array([0.5, 3.0, 1.0, 2.0 ** -6])[:, None]
    bases = quantize_weights(codes * scale, FixedPointWeights(4, per_channel=True))
    np.testing.assert_array_equal(bases.alpha[:, 0], [0.5, 3.0, 0.0, 2.0 ** -6])
    np.testing.assert_array_equal(bases.values(), codes * scale)
    assert not bases.bits[:, 2].any()


def test_off_grid_weights_round_to_the_nearest_code():
    w = np.array([[0.7, -0.2, 0.05, -0.7], [0.36, -0.34, 0.0, 0.1]])
    values = quantize_weights(w, FixedPointWeights(3)).values()     # s = 0.7 / 3
    np.testing.assert_allclose(values, np.rint(w / (0.7 / 3)) * (0.7 / 3), rtol=0, atol=1e-15)
    assert not quantize_weights(np.zeros((2, 3)), FixedPointWeights(4)).values().any()


@pytest.mark.parametrize("bits, message", [
    (1, "fixed-point weight bits must be 2 to 16"),
    (17, "fixed-point weight bits must be 2 to 16"),
    (0, "fixed-point weight bits must be a positive integer"),
    (True, "fixed-point weight bits must be a positive integer")])
def test_bad_bits(bits, message):
    with pytest.raises(ValueError, match=message):
        FixedPointWeights(bits)


def test_bad_per_channel():
    with pytest.raises(TypeError, match="fixed-point weight per_channel must be a boolean"):
        FixedPointWeights(4, per_channel=1)


def _network():
    """8-bit pixels -> fixed-point conv (4 bits, per channel) -> 3-bit activation (thresholds
    (k - 1/2) / 3, never a dyadic Y) -> flatten -> dense (3 bits)."""
    codes = RNG.integers(-7, 8, (3, 2, 3, 3))
    codes[:, 0, 0, 0] = -7                        # every channel on the grid of s = 1/4
    conv = Conv2d(codes * 0.25, FixedPointWeights(4, True), RNG.integers(-4, 5, 3) / 4)
    dense = Dense(RNG.integers(-3, 4, (4, 27)) * 0.5, FixedPointWeights(3))
    return Network((2, 5, 5), FixedPointActivation(8, 2.0 ** -8),
                   (conv, Activation(FixedPointActivation(3, 1 / 3)), Flatten(), dense,
                    Scores()))


def test_file_round_trip(tmp_path):
    net = _network()
    save_network(net, tmp_path / "f.npz")
    back = load_network(tmp_path / "f.npz")
    assert back.layers[0].quantizer == FixedPointWeights(4, per_channel=True)
    assert network_to_json(back)["layers"][3]["weights"] == {
        "scheme": "fixedpoint", "bits": 3, "per_channel": False}
    x = RNG.integers(0, 256, (3, 2, 5, 5)) / 256
    np.testing.assert_array_equal(float_forward(back, x).scores, float_forward(net, x).scores)


def test_file_with_bad_bits_names_the_layer(tmp_path):
    from ._files import edit_file

    save_network(_network(), tmp_path / "f.npz")
    edit_file(tmp_path / "f.npz", lambda meta: meta["layers"][0]["weights"].update(bits=1))
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): fixed-point weight bits must "
                                           r"be 2 to 16"):
        load_network(tmp_path / "f.npz")


def test_integer_model_is_exact_fixed_point_arithmetic():
    """4 x 8-bit planes (M = 4 weight bases, N = 8 input bases, zo x zo): the first layer's
    Y is the exact integer convolution of the codes (weights in quarters, pixels in
    2**-8, biases in quarters: exact in 10 fractional bits)."""
    net = _network()
    codes = RNG.integers(0, 256, (4, 2, 5, 5))
    integer = to_integer(net, 10, per_layer=False)
    conv = integer.stages[0]
    assert (conv.weight_encoding, conv.act_encoding) == ("zo", "zo")
    assert conv.coefficients.shape[1:] == (4, 8)
    out = run_integer(integer, input_thermometer(net, codes))
    weight = net.layers[0].weight
    cols = np.stack([codes[:, :, i:i + 3, j:j + 3].reshape(4, -1)
                     for i in range(3) for j in range(3)], axis=2)         # (B, 18, 9)
    y = np.einsum("bkp,ok->bop", cols, weight.reshape(3, -1)) / 256 + net.layers[0].bias[:, None]
    np.testing.assert_array_equal(out.trace[0].reshape(4, 3, 9), np.rint(y * 2 ** 10))
    float_scores = float_forward(net, codes / 256).scores   # the dense layer's Phi = alpha
    np.testing.assert_allclose(out.scores / 2 ** 10, float_scores,  # 2**b / 3 rounded: 3 x 3
                               rtol=0, atol=9 * 27 * 2.0 ** -11)      # pairs, dots up to 27
