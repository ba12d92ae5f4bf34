"""Brevitas -> QONNX -> popcorn: the imported network computes what qonnx computes.

Each test trains a tiny Brevitas network for a few steps on random data, gives its batch
norms non-trivial statistics, exports it with ``export_qonnx(..., dynamo=False)``, imports it
and compares popcorn's float reference with qonnx's ``execute_onnx`` on the same inputs
(same argmax, scores within ``RTOL`` = 1e-4 of the largest score), then the integer golden
model's argmax (equal except near ties, counted).
"""

import numpy as np
import pytest

from ._qonnx_helpers import (BATCH, QuantIdentity, QuantLinear, SignedBinaryWeightPerTensorConst,
                            Uint8ActPerTensorFloat, binary_conv, binary_linear, check_float,
                            check_integer, export, nn, randomize_batchnorms, run_qonnx, sign,
                            torch, train)

from popcorn.frontends import import_qonnx, network_summary
from popcorn.golden.float_ref import float_forward
from popcorn.network import load_network, save_network


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)   # model initialisation does not depend on the test order


def _kinds(network):
    return [layer.kind for layer in network.layers]


def _schemes(network):
    return [layer.quantizer.scheme for layer in network.layers if layer.kind in ("dense", "conv2d")]


def _mlp(weight_scale, final_bn):
    layers = [sign(),
              binary_linear(16, 32, weight_scale), nn.BatchNorm1d(32), sign(),
              binary_linear(32, 24, weight_scale), nn.BatchNorm1d(24), sign(),
              binary_linear(24, 10, weight_scale)]
    if final_bn:
        layers.append(nn.BatchNorm1d(10))
    return nn.Sequential(*layers)


def _roundtrip(tmp_path, model, x, classes, seed=0):
    torch.manual_seed(seed)
    train(model, torch.as_tensor(x, dtype=torch.float32), classes, seed=seed)
    randomize_batchnorms(model, x, seed)
    path = export(model, x[:BATCH], tmp_path / "model.onnx")
    return path, run_qonnx(path, x)


def test_bnn_mlp(tmp_path):
    x = np.random.default_rng(1).normal(size=(BATCH, 16)).astype(np.float32)
    model = _mlp(1.0, final_bn=True)
    path, reference = _roundtrip(tmp_path, model, x, 10)
    net = import_qonnx(path)
    assert net.input_shape == (16,)
    assert net.input_quantizer.quantizer == "sign"
    assert _kinds(net) == ["dense", "batchnorm", "activation"] * 2 + ["dense", "batchnorm",
                                                                      "scores"]
    assert _schemes(net) == ["bnn"] * 3
    for layer in net.layers:
        if layer.kind == "dense":
            assert set(np.unique(layer.weight)) <= {-1.0, 1.0}
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_bnn_mlp_without_final_batchnorm_is_exact_in_integers(tmp_path):
    x = np.random.default_rng(2).normal(size=(BATCH, 16)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, _mlp(1.0, final_bn=False), x, 10, seed=2)
    net = import_qonnx(path)
    assert _kinds(net)[-2:] == ["dense", "scores"]
    check_float(net, x, reference)
    # +-1 weights, sign activations, no bias: every integer is exact, scores included.
    assert check_integer(net, x, reference)[0] == 0
    from popcorn.golden.predict import predict

    scores = predict(net, x, frac_bits=0).scores
    np.testing.assert_array_equal(scores, np.rint(reference).astype(np.int64))


@pytest.mark.parametrize("fold_scales", [True, False])
def test_xnor_scaled_weights(tmp_path, fold_scales):
    """Brevitas's default binary weight scale 0.1: alpha folded into the BatchNorm (BNN
    weights) or kept as XNOR-Net alpha; the last layer (no BatchNorm) is XNOR either way."""
    x = np.random.default_rng(3).normal(size=(BATCH, 16)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, _mlp(0.1, final_bn=False), x, 10, seed=3)
    net = import_qonnx(path, fold_scales=fold_scales)
    hidden = "bnn" if fold_scales else "xnor"
    assert _schemes(net) == [hidden, hidden, "xnor"]
    last = net.layers[-2]
    np.testing.assert_allclose(np.abs(last.weight), 0.1, rtol=1e-6)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_fixed_point_input_mlp(tmp_path):
    """Brevitas's Uint8ActPerTensorFloat exports as Quant(signed=0, narrow=0, zero point 0):
    an 8-bit fixed-point input quantizer with the trained scale."""
    rng = np.random.default_rng(4)
    model = nn.Sequential(QuantIdentity(act_quant=Uint8ActPerTensorFloat),
                          binary_linear(20, 16), nn.BatchNorm1d(16), sign(),
                          binary_linear(16, 6, bias=True))
    x = rng.random((BATCH, 20)).astype(np.float32) * 1.2 - 0.1
    train(model, torch.as_tensor(x), 6, seed=4)
    randomize_batchnorms(model, x, 4)
    path = export(model, x, tmp_path / "model.onnx")
    net = import_qonnx(path)
    quantizer = net.input_quantizer
    assert (quantizer.quantizer, quantizer.bits) == ("fixedpoint", 8)
    # Keep inputs off the code boundaries (k + 1/2) scale: qonnx rounds x / scale half to
    # even in float32, popcorn half up in float64 (module docstring).
    codes = rng.integers(-20, 280, size=(BATCH, 20))
    x = ((codes + rng.uniform(-0.4, 0.4, codes.shape)) * quantizer.scale).astype(np.float32)
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


class _Cnn(nn.Module):
    def __init__(self, pool_first=False, pad_signs=0):
        super().__init__()
        self.pool_first = pool_first
        self.q0 = QuantIdentity(act_quant=Uint8ActPerTensorFloat)
        self.c1 = binary_conv(2, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.q1 = sign()
        self.pool = nn.MaxPool2d(2)
        self.c2 = binary_conv(6, 8, 3, scale=0.25, stride=1, padding=pad_signs)
        self.bn2 = nn.BatchNorm2d(8)
        self.q2 = sign()
        self.flat = nn.Flatten()
        side = 3 + 2 * pad_signs
        self.fc = binary_linear(8 * side * side, 5, bias=True)

    def forward(self, x):
        x = self.bn1(self.c1(self.q0(x)))
        x = self.q1(self.pool(x)) if self.pool_first else self.pool(self.q1(x))
        x = self.q2(self.bn2(self.c2(x)))
        return self.fc(self.flat(x))


@pytest.mark.parametrize("pool_first, pad_signs", [(False, 0), (True, 0), (False, 1)])
def test_cnn(tmp_path, pool_first, pad_signs):
    """Conv (padding 1 on the fixed-point input) + BatchNorm + sign + MaxPool + Conv + Flatten
    + Linear; with ``pool_first`` the graph pools before the sign, which popcorn reorders;
    with ``pad_signs`` the second Conv pads its +-1 maps with 0, as ONNX does
    (``padding_fill="zero"``), the first still with code 0 (value 0 too)."""
    rng = np.random.default_rng(5)
    x = rng.random((BATCH, 2, 10, 10)).astype(np.float32)
    model = _Cnn(pool_first, pad_signs)
    path, _ = _roundtrip(tmp_path, model, x, 5, seed=5)
    net = import_qonnx(path)
    assert _kinds(net) == ["conv2d", "batchnorm", "activation", "maxpool2d", "conv2d", "batchnorm",
                           "activation", "flatten", "dense", "scores"]
    assert net.layers[0].padding == (1, 1) and net.layers[3].kernel == (2, 2)
    assert (net.layers[0].padding_fill, net.layers[4].padding, net.layers[4].padding_fill) == \
        ("lowest", (pad_signs,) * 2, "zero" if pad_signs else "lowest")
    assert _schemes(net) == ["bnn", "bnn", "bnn"]   # conv2's 0.25 folded into bn2
    scale = net.input_quantizer.scale
    codes = rng.integers(0, 256, size=x.shape)
    x = ((codes + rng.uniform(-0.4, 0.4, x.shape)) * scale).astype(np.float32)
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


class _MapMean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


@pytest.mark.parametrize("pool", ["adaptive", "whole-map", "mean"])
def test_global_average_pool(tmp_path, pool):
    """Sign maps padded with 0, averaged over the map (AdaptiveAvgPool2d(1) exports a
    GlobalAveragePool, AvgPool2d(map) an AveragePool, ``x.mean((2, 3))`` a ReduceMean),
    flattened into the scores layer: a GlobalAvgPool2d, the Flatten after it dropped; equal
    to qonnx's executor."""
    averaging = {"adaptive": nn.AdaptiveAvgPool2d(1), "whole-map": nn.AvgPool2d(5),
                 "mean": _MapMean()}[pool]
    model = nn.Sequential(sign(), binary_conv(2, 6, 3, padding=1), nn.BatchNorm2d(6), sign(),
                          averaging, nn.Flatten(), binary_linear(6, 4, bias=True))
    x = np.random.default_rng(12).normal(size=(BATCH, 2, 5, 5)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, model, x, 4, seed=12)
    net = import_qonnx(path)
    assert _kinds(net) == ["conv2d", "batchnorm", "activation", "globalavgpool", "dense",
                           "scores"]
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_imported_network_round_trips_through_the_file_format(tmp_path):
    x = np.random.default_rng(6).normal(size=(BATCH, 16)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, _mlp(0.1, final_bn=True), x, 10, seed=6)
    net = import_qonnx(path)
    save_network(net, tmp_path / "net.npz")
    again = load_network(tmp_path / "net.npz")
    np.testing.assert_array_equal(float_forward(again, x).scores, float_forward(net, x).scores)
    from qonnx.core.modelwrapper import ModelWrapper

    import onnx

    for model in (onnx.load(str(path)), ModelWrapper(str(path))):   # not only paths
        other = import_qonnx(model)
        np.testing.assert_array_equal(float_forward(other, x).scores, float_forward(net, x).scores)
    lines = network_summary(again)
    assert lines[0].startswith("input") and "sign" in lines[0]
    assert len(lines) == len(net.layers) + 1


def test_per_tensor_activation_scale_multiplies_the_next_weights(tmp_path):
    """A binary activation with scale 0.5 (Brevitas: ``max_val=0.5, min_val=-0.5``; a
    ``scaling_const`` override is ignored): the scale goes into the next layer's alpha."""
    from brevitas.quant.binary import SignedBinaryActPerTensorConst

    def half_sign():
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst, max_val=0.5, min_val=-0.5)

    model = nn.Sequential(half_sign(), binary_linear(12, 8), nn.BatchNorm1d(8), half_sign(),
                          binary_linear(8, 4))
    x = np.random.default_rng(7).normal(size=(BATCH, 12)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, model, x, 4, seed=7)
    net = import_qonnx(path)
    assert _schemes(net) == ["bnn", "xnor"]
    np.testing.assert_allclose(np.abs(net.layers[-2].weight), 0.5)
    check_float(net, x, reference)


def test_quant_relu_hidden_fixed_point(tmp_path):
    """QuantReLU(bit_width=2) exports Relu -> Quant(signed=0): a 2-bit fixed-point
    activation (BinaryConnect-style) with the Relu absorbed."""
    from brevitas.nn import QuantReLU

    model = nn.Sequential(sign(), binary_linear(16, 12), nn.BatchNorm1d(12),
                          QuantReLU(bit_width=2), binary_linear(12, 5))
    x = np.random.default_rng(8).normal(size=(BATCH, 16)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, model, x, 5, seed=8)
    net = import_qonnx(path)
    act = net.layers[2].quantizer
    assert (act.quantizer, act.bits) == ("fixedpoint", 2)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_per_channel_weight_scales(tmp_path):
    """Brevitas per-output-channel binary weight scales: alpha_c per output, folded into the
    BatchNorm per channel (BNN weights) or kept as XNOR-Net alpha on the last layer."""
    from brevitas.inject.enum import ScalingImplType, StatsOp

    class PerChannelBinary(SignedBinaryWeightPerTensorConst):
        scaling_impl_type = ScalingImplType.PARAMETER_FROM_STATS
        scaling_stats_op = StatsOp.AVE
        scaling_per_output_channel = True

    def layer(i, o):
        return QuantLinear(i, o, bias=False, weight_quant=PerChannelBinary)

    model = nn.Sequential(sign(), layer(16, 12), nn.BatchNorm1d(12), sign(), layer(12, 6))
    x = np.random.default_rng(9).normal(size=(BATCH, 16)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, model, x, 6, seed=9)
    net = import_qonnx(path)
    assert _schemes(net) == ["bnn", "xnor"]
    alpha = np.abs(net.layers[-2].weight).mean(axis=1)
    assert len(np.unique(alpha)) == 6
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_signed_activations(tmp_path):
    """Signed Quant activations (Brevitas Int*ActPerTensorFloat): codes low .. high become
    unsigned codes shifted by low * scale, the shift going into the next layer's bias; after
    a linear layer a non-narrow one is a fixed point behind a BatchNorm shift, otherwise (the
    input, narrow range) PA pieces at (q - 1/2) scale."""
    from brevitas.quant import Int8ActPerTensorFloat

    def signed(bits, narrow=False):
        return QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits, narrow_range=narrow)

    model = nn.Sequential(signed(4), binary_linear(10, 12), signed(2),
                          binary_linear(12, 16), nn.BatchNorm1d(16), signed(3, narrow=True),
                          binary_linear(16, 4, bias=True))   # a bias breaks exact score ties
    x = np.random.default_rng(10).normal(size=(BATCH, 10)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, model, x, 4, seed=10)
    net = import_qonnx(path)
    assert net.input_quantizer.quantizer == "pa" and net.input_quantizer.bases == 15
    quantizers = [layer.quantizer for layer in net.layers if layer.kind == "activation"]
    assert [(q.quantizer, q.bases) for q in quantizers] == [("fixedpoint", 2), ("pa", 6)]
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near
