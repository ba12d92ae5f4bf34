"""Grouped and depthwise convolutions (``Conv2d(groups=g)``, PyTorch semantics): the IR and
its file, the float reference against ``torch.nn.functional.conv2d(..., groups=g)``, and the
integer model (the dense block-diagonal convolution) against the float reference, on the
MobileNet-style network of seed 004 (depthwise at fixed point, pointwise binary)."""

import numpy as np
import pytest

from popcorn.golden.examples import SCHEMES, random_separable_network
from popcorn.golden.float_ref import float_forward
from popcorn.golden.integer_model import run_integer, to_integer
from popcorn.golden.predict import input_thermometer
from popcorn.golden.quantizers import quantize_activations, quantize_weights
from popcorn.network import (Activation, BnnWeights, Conv2d, Dense, FixedPointActivation,
                             FixedPointWeights, Flatten, Network, NetworkError, Scores,
                             SignActivation, TernaryWeights, load_network, save_network)
from popcorn.network.fileformat import network_to_json

from .test_integer_model import layerwise

torch = pytest.importorskip("torch")


def test_groups_shape_and_validation():
    conv = Conv2d(np.ones((6, 2, 3, 3)), TernaryWeights(), groups=3)
    assert conv.in_channels == 6 and conv.output_shape((6, 5, 5)) == (6, 3, 3)
    with pytest.raises(ValueError, match=r"groups \(4\) must divide the 6 output channels"):
        Conv2d(np.ones((6, 1, 3, 3)), TernaryWeights(), groups=4)
    with pytest.raises(ValueError, match="groups must be a positive integer, not 0"):
        Conv2d(np.ones((6, 1, 3, 3)), TernaryWeights(), groups=0)
    layers = (Conv2d(np.ones((4, 1, 3, 3)), TernaryWeights(), groups=2),
              Activation(FixedPointActivation(2, 1.0)), Flatten(),
              Dense(np.ones((2, 36)), BnnWeights()), Scores())
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): weight has 2 input channels "
                                           r"but the input has 4"):
        Network((4, 5, 5), FixedPointActivation(8, 1 / 255), layers)


def test_block_diagonal_weight():
    weight = np.arange(4 * 2 * 1 * 1, dtype=np.float64).reshape(4, 2, 1, 1) + 1
    dense = Conv2d(weight, TernaryWeights(), groups=2).block_diagonal(weight)[..., 0, 0]
    np.testing.assert_array_equal(dense, [[1, 2, 0, 0], [3, 4, 0, 0],
                                          [0, 0, 5, 6], [0, 0, 7, 8]])


def test_file_holds_groups_only_when_not_one(tmp_path):
    net = random_separable_network("abc", seed=1)
    kinds = [layer.get("groups") for layer in network_to_json(net)["layers"]
             if layer["kind"] == "conv2d"]
    assert kinds == [None, 4, None]
    save_network(net, tmp_path / "s.npz")
    back = load_network(tmp_path / "s.npz")
    assert [getattr(layer, "groups", None) for layer in back.layers if layer.kind == "conv2d"] \
        == [1, 4, 1]
    assert back.layers[3].quantizer == FixedPointWeights(4, per_channel=True)
    x = np.random.default_rng(0).random((3, 1, 6, 6))
    np.testing.assert_array_equal(float_forward(back, x).scores, float_forward(net, x).scores)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("stride, fill", [(1, "lowest"), (2, "zero")])
def test_float_reference_is_torch_grouped_conv(scheme, stride, fill):
    """Each convolution of the separable network, fed the float reference's quantized
    input, gives torch's ``conv2d(..., groups=g)`` of the quantized weight."""
    net = random_separable_network(scheme, seed=3, stride=stride, padding_fill=fill)
    x = np.random.default_rng(4).random((5, 1, 6, 6))
    result = float_forward(net, x)
    values = [None] + result.trace
    checked = 0
    for index, layer in enumerate(net.layers):             # the padded layers read zo
        if layer.kind != "conv2d":                          # codes: code 0 is the value 0,
            continue                                        # both fills are torch's
        inputs = values[index] if index else quantize_activations(x, net.input_quantizer)
        weight = quantize_weights(layer.weight, layer.quantizer).values()
        expected = torch.nn.functional.conv2d(
            torch.from_numpy(inputs), torch.from_numpy(weight), torch.from_numpy(layer.bias),
            stride=layer.stride, padding=layer.padding, groups=layer.groups).numpy()
        np.testing.assert_allclose(result.trace[index], expected, rtol=1e-12, atol=1e-12)
        checked += layer.groups > 1
    assert checked == 1


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("stride, fill", [(1, "lowest"), (2, "zero")])
def test_integer_model_follows_the_float_reference(scheme, stride, fill):
    """Layer by layer within the derived rounding bound, the comparators exact
    (:func:`tests.golden.test_integer_model.layerwise`); the depthwise stage runs the dense
    block-diagonal convolution: 4 x 3 zo x zo base pairs, K = C * 9."""
    net = random_separable_network(scheme, seed=2, stride=stride, padding_fill=fill)
    x = np.random.default_rng(5).random((16, 1, 6, 6))
    for frac_bits in (6, 12):
        layerwise(net, x, frac_bits)
    depthwise = to_integer(net).stages[2]
    assert (depthwise.weight_encoding, depthwise.act_encoding) == ("zo", "zo")
    assert depthwise.coefficients.shape == (4, 4, 3) and depthwise.fan_in == 4 * 9
    bits = depthwise.weight_bits.reshape(4, 4, 4, 9)             # (M, out, in, taps)
    off_group = ~np.eye(4, dtype=bool)
    assert not bits[:, off_group].any()


def test_integer_scores_agree_with_float_at_high_precision():
    net = random_separable_network("pa", seed=6)
    x = np.random.default_rng(7).random((32, 1, 6, 6))
    integer = to_integer(net, 16)
    scores = run_integer(integer, input_thermometer(net, x)).scores / 2.0 ** integer.score_frac_bits
    np.testing.assert_allclose(scores, float_forward(net, x).scores, rtol=0, atol=1e-3)


def test_pm1_weights_cannot_be_grouped_in_the_integer_model():
    """A pm1 base has no 0 for the weights outside a channel's group: the float reference
    computes the layer, the integer model refuses it naming the layer."""
    layers = (Conv2d(np.ones((4, 1, 3, 3)), BnnWeights(), groups=4),
              Activation(FixedPointActivation(2, 1.0)), Flatten(),
              Dense(np.ones((2, 36)), BnnWeights()), Scores())
    net = Network((4, 5, 5), FixedPointActivation(8, 1 / 255), layers)
    assert float_forward(net, np.ones((1, 4, 5, 5))).scores.shape == (1, 2)
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): groups=4 needs a weight of 0 "
                                           r"outside each output's group, which bnn weights "
                                           r"\(pm1 bases\) cannot hold"):
        to_integer(net)


def test_xnor_input_scaling_before_a_grouped_conv_is_refused():
    layers = (Conv2d(np.ones((4, 1, 3, 3)), TernaryWeights(), groups=4),
              Activation(FixedPointActivation(2, 1.0)), Flatten(),
              Dense(np.ones((2, 36)), BnnWeights()), Scores())
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): XNOR-Net input scaling "
                                           r"\(mean_scaling\) averages over all input channels"):
        Network((4, 5, 5), SignActivation(mean_scaling=True), layers)
