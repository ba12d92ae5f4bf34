"""Ternary weights {-s, 0, +s}: two ``zo`` bases with coefficients (+s, -s), their JSON round
trip, the float reference and the integer model on the M x N datapath."""

import numpy as np
import pytest

from popcorn.golden.float_ref import float_forward
from popcorn.golden.integer_model import run_integer, to_integer
from popcorn.golden.predict import input_thermometer
from popcorn.golden.quantizers import quantize_weights
from popcorn.network import (Activation, BatchNorm, Conv2d, Dense, FixedPointActivation, Flatten,
                             Network, PaActivation, Scores, TernaryWeights, load_network,
                             save_network)

RNG = np.random.default_rng(5)


def _ternary(*shape):
    return RNG.integers(-1, 2, shape).astype(np.float64)


def test_exact_ternary_weights_per_tensor():
    units = _ternary(6, 10)
    bases = quantize_weights(0.75 * units, TernaryWeights())
    assert bases.encoding == "zo" and bases.bases == 2
    np.testing.assert_array_equal(bases.bits[0], units > 0)
    np.testing.assert_array_equal(bases.bits[1], units < 0)
    np.testing.assert_array_equal(bases.alpha, np.tile([0.75, -0.75], (6, 1)))
    np.testing.assert_array_equal(bases.values(), 0.75 * units)


def test_exact_ternary_weights_per_channel_conv():
    units = _ternary(4, 3, 2, 2)
    units[2] = 0                                  # an all-zero output channel
    scale = np.array([0.5, 2.0, 1.0, 0.125])[:, None, None, None]
    bases = quantize_weights(units * scale, TernaryWeights(per_channel=True))
    assert bases.bits.shape == (2, 4, 12)
    np.testing.assert_array_equal(bases.alpha[:, 0], [0.5, 2.0, 0.0, 0.125])
    np.testing.assert_array_equal(bases.values(), units * scale)


def test_threshold_and_mean_magnitude():
    w = np.array([[0.1, -0.2, 0.6, -1.0], [0.3, 0.0, -0.3, 0.2]])
    bases = quantize_weights(w, TernaryWeights(threshold=0.25))
    # |w| > 0.25: 0.6, 1.0, 0.3, 0.3 -> s = 2.2 / 4 over the tensor
    expected = 0.55 * np.array([[0, 0, 1, -1], [1, 0, -1, 0]])
    np.testing.assert_allclose(bases.values(), expected, rtol=0, atol=1e-15)
    per_row = quantize_weights(w, TernaryWeights(per_channel=True, threshold=0.25)).values()
    np.testing.assert_allclose(per_row, [[0, 0, 0.8, -0.8], [0.3, 0, -0.3, 0]], rtol=0,
                               atol=1e-15)
    assert not quantize_weights(np.zeros((2, 3)), TernaryWeights()).values().any()


@pytest.mark.parametrize("value", [-0.5, float("nan"), True, "1"])
def test_bad_threshold(value):
    with pytest.raises(ValueError, match="ternary threshold must be a finite non-negative "
                                         "number"):
        TernaryWeights(threshold=value)


def _network():
    """8-bit pixels -> ternary conv -> BN -> ternary (PA) activation -> ternary dense."""
    conv = Conv2d(_ternary(3, 2, 3, 3), TernaryWeights(), RNG.integers(-4, 5, 3) / 4)
    bn = BatchNorm(RNG.random(3) + 0.5, RNG.normal(size=3), RNG.normal(size=3) * 2,
                   RNG.random(3) + 0.5)
    act = Activation(PaActivation(np.array([-0.5, 0.5]), np.array([1.0, 2.0])))
    dense = Dense(_ternary(4, 3 * 3 * 3) * 0.5, TernaryWeights(per_channel=True, threshold=0.1))
    return Network((2, 5, 5), FixedPointActivation(8, 2.0 ** -8),
                   (conv, bn, act, Flatten(), dense, Scores()))


def test_file_round_trip(tmp_path):
    net = _network()
    save_network(net, tmp_path / "t.npz")
    back = load_network(tmp_path / "t.npz")
    assert back.layers[0].quantizer == TernaryWeights()
    assert back.layers[4].quantizer == TernaryWeights(per_channel=True, threshold=0.1)
    assert back.layers[4].quantizer.to_json() == {"scheme": "ternary", "per_channel": True,
                                                  "threshold": 0.1}
    x = RNG.integers(0, 256, (4, 2, 5, 5))
    np.testing.assert_array_equal(float_forward(back, x / 256).scores,
                                  float_forward(net, x / 256).scores)


def test_float_reference_and_integer_model_agree_with_numpy():
    """The float reference against a direct NumPy forward pass; the integer model's scores
    (pixels k / 256, coefficients +-1 x {1, 2} x 0.5, biases in quarters: every Y is exact in
    8 fractional bits, so are the thresholds) equal it exactly."""
    net = _network()
    codes = RNG.integers(0, 256, (6, 2, 5, 5))
    x = codes / 256
    conv, bn, _, _, dense, _ = net.layers
    cols = np.stack([x[:, :, i:i + 3, j:j + 3].reshape(6, -1)
                     for i in range(3) for j in range(3)], axis=1)            # (B, 9, 18)
    y = cols @ conv.weight.reshape(3, -1).T + conv.bias                       # (B, 9, 3)
    r = (y - bn.mean) / np.sqrt(bn.var + bn.eps) * bn.gamma + bn.beta
    a = (r >= -0.5).astype(float) + (r >= 0.5)                                # 0, 1, 2
    a = np.moveaxis(a, 1, 2).reshape(6, -1)                                   # C-major flatten
    scores = a @ dense.weight.T
    result = float_forward(net, x)
    np.testing.assert_allclose(result.scores, scores, rtol=0, atol=1e-12)
    integer = to_integer(net, 8)
    linear = [s for s in integer.stages if s.kind in ("dense", "conv2d")]
    assert [s.weight_encoding for s in linear] == ["zo", "zo"]
    assert [s.coefficients.shape[1] for s in linear] == [2, 2]
    out = run_integer(integer, input_thermometer(net, codes))
    np.testing.assert_array_equal(out.scores, np.rint(scores * 256).astype(np.int64))
