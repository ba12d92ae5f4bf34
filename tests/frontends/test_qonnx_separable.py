"""Depthwise-separable networks: grouped convolutions (``Conv`` ``group`` g) and multi-bit
weights (a signed ``Quant`` of b > 2 bits) import as ``Conv2d(groups=g)`` and
``FixedPointWeights(b, per_channel)``; popcorn's float reference equals qonnx's
``execute_onnx``, the integer model's argmax equals it except near ties, and a Brevitas
MobileNet-style block maps to hardware whose stage references give the integer model's
scores."""

import re

import numpy as np
import pytest

from ._qonnx_helpers import (BATCH, QONNX, OnnxGraph, QuantConv2d, QuantIdentity,
                            Uint8ActPerTensorFloat, binary_conv, binary_linear, check_float,
                            check_integer, export, nn, randomize_batchnorms, run_qonnx, sign,
                            torch, train)

from popcorn.frontends import QonnxImportError, import_qonnx, network_summary


def _weights(network):
    return [(layer.quantizer.to_json(), getattr(layer, "groups", 1))
            for layer in network.layers if layer.kind in ("dense", "conv2d")]


def _quant(g, name, data, scale, bits, signed, narrow=0, zero=0.0):
    return g.node("Quant", name, data, g.const(scale), g.const(zero), g.const(float(bits)),
                  domain=QONNX, signed=signed, narrow=narrow, rounding_mode="ROUND")


def _grid_weight(rng, shape, bits, per_channel):
    """Float weights whose signed narrow ``bits``-bit Quant reaches the largest code in
    every output (per channel) or somewhere (per tensor), and that scale."""
    top = 2 ** (bits - 1) - 1
    codes = rng.integers(-top, top + 1, shape)
    codes.reshape(shape[0], -1)[:, 0] = top * rng.choice([-1, 1], shape[0])
    scale = rng.uniform(0.05, 0.3, (shape[0],) + (1,) * (len(shape) - 1)) if per_channel \
        else np.float32(0.1)
    noise = rng.uniform(-0.3, 0.3, shape)
    return (codes + noise) * scale, scale


def _bn(g, name, data, rng, channels):
    return g.node("BatchNormalization", name, data, g.const(rng.uniform(0.5, 1.5, channels)),
                  g.const(rng.normal(0, 0.3, channels)), g.const(rng.normal(0, 1, channels)),
                  g.const(rng.uniform(0.5, 2, channels)))


def _depthwise_graph(seed=0, channels=4):
    """Quant (unsigned 3-bit) -> depthwise Conv 3x3 stride 2 pads 1 (4-bit per-channel
    weights) -> BN -> Relu/Quant (unsigned 2-bit) -> pointwise binary Conv -> BN ->
    BipolarQuant -> Flatten -> Gemm (binary)."""
    rng = np.random.default_rng(seed)
    g = OnnxGraph((channels, 7, 7))
    q = _quant(g, "in", "x", 0.25, 3, signed=0)
    weight, scale = _grid_weight(rng, (channels, 1, 3, 3), 4, per_channel=True)
    w = _quant(g, "dw_w", g.const(weight), scale.astype(np.float32), 4, signed=1, narrow=1)
    y = g.node("Conv", "dw", q, w, g.const(rng.normal(0, 0.2, channels)), group=channels,
               kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = g.node("Relu", "relu", _bn(g, "dw_bn", y, rng, channels))
    y = _quant(g, "act", y, 0.5, 2, signed=0)
    y = g.node("Conv", "pw", y, g.const(rng.choice([-1.0, 1.0], (6, channels, 1, 1))))
    y = g.sign("sign", _bn(g, "pw_bn", y, rng, 6))
    y = g.node("Flatten", "flat", y)
    return g, g.node("Gemm", "fc", y, g.const(rng.choice([-1.0, 1.0], (5, 6 * 4 * 4))),
                     transB=1)


def _inputs(seed, shape):
    """Inputs off the input quantizer's code boundaries (qonnx and popcorn round ties apart)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, 9, (BATCH,) + shape)
    return ((codes + rng.uniform(-0.4, 0.4, codes.shape)) * 0.25).astype(np.float32)


def test_depthwise_conv_with_per_channel_4bit_weights(tmp_path):
    g, out = _depthwise_graph()
    path = g.save(tmp_path / "dw.onnx", out)
    net = import_qonnx(path)
    assert _weights(net) == [({"scheme": "fixedpoint", "bits": 4, "per_channel": True}, 4),
                             ({"scheme": "bnn"}, 1), ({"scheme": "bnn"}, 1)]
    depthwise = net.layers[0]
    assert (depthwise.stride, depthwise.padding, depthwise.weight.shape) == \
        ((2, 2), (1, 1), (4, 1, 3, 3))
    summary = "\n".join(network_summary(net))
    assert "4 groups (depthwise), fixed point 4-bit weights (scale" in summary
    assert ", per channel), bias" in summary
    x = _inputs(1, (4, 7, 7))
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near and wrong <= len(x) // 10


def test_grouped_conv_folds_the_activation_shift_per_group(tmp_path):
    """g = 2 on a signed (shifted) input: the shift times each output's own weight row (its
    group's inputs) moves into the bias. 3-bit per-tensor weights; binary ones of a grouped
    conv import as ternary (zo bases hold the zeros outside each group)."""
    rng = np.random.default_rng(2)
    g = OnnxGraph((4, 5, 5))
    q = _quant(g, "in", "x", 0.25, 3, signed=1)
    weight, scale = _grid_weight(rng, (6, 2, 3, 3), 3, per_channel=False)
    w = _quant(g, "w", g.const(weight), scale, 3, signed=1, narrow=1)
    y = g.sign("s1", _bn(g, "bn1", g.node("Conv", "conv", q, w, group=2), rng, 6))
    y = g.node("Conv", "conv2", y, g.const(rng.choice([-1.0, 1.0], (4, 3, 1, 1))), group=2)
    y = g.node("Flatten", "flat", g.sign("s2", _bn(g, "bn2", y, rng, 4)))
    out = g.node("MatMul", "fc", y, g.const(rng.choice([-1.0, 1.0], (4 * 3 * 3, 3))))
    path = g.save(tmp_path / "grouped.onnx", out)
    net = import_qonnx(path)
    assert _weights(net) == [({"scheme": "fixedpoint", "bits": 3, "per_channel": False}, 2),
                             ({"scheme": "ternary", "per_channel": False, "threshold": 0.0}, 2),
                             ({"scheme": "bnn"}, 1)]
    assert net.input_quantizer.quantizer == "pa"
    x = _inputs(3, (4, 5, 5)) - 1.0
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


def test_dense_with_4bit_per_tensor_weights(tmp_path):
    rng = np.random.default_rng(4)
    g = OnnxGraph((12,))
    q = _quant(g, "in", "x", 0.25, 3, signed=0)
    weight, scale = _grid_weight(rng, (8, 12), 4, per_channel=False)
    w = _quant(g, "w", g.const(weight.T), scale, 4, signed=1, narrow=1)   # (in, out)
    y = g.sign("s", _bn(g, "bn", g.node("MatMul", "fc1", q, w), rng, 8))
    out = g.node("MatMul", "fc2", y, g.const(rng.choice([-1.0, 1.0], (8, 4))))
    path = g.save(tmp_path / "dense.onnx", out)
    net = import_qonnx(path)
    assert _weights(net)[0] == ({"scheme": "fixedpoint", "bits": 4, "per_channel": False}, 1)
    assert "fixed point 4-bit weights (scale 0.1)" in network_summary(net)[1]
    x = _inputs(5, (12,))
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near


# -- Brevitas ------------------------------------------------------------------------------

def _mobilenet(channels=4, pointwise=6, classes=5):
    from brevitas.nn import QuantReLU
    from brevitas.quant import Int8WeightPerChannelFloat

    return nn.Sequential(
        QuantIdentity(act_quant=Uint8ActPerTensorFloat),
        binary_conv(1, channels, 3, padding=1), nn.BatchNorm2d(channels),
        QuantReLU(bit_width=4),
        QuantConv2d(channels, channels, 3, stride=2, padding=1, groups=channels, bias=False,
                    weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4),
        nn.BatchNorm2d(channels), QuantReLU(bit_width=4),
        binary_conv(channels, pointwise, 1), nn.BatchNorm2d(pointwise), sign(),
        nn.Flatten(), binary_linear(pointwise * 4 * 4, classes))


def test_brevitas_mobilenet_block_imports_and_maps(tmp_path):
    """QuantIdentity (8-bit) -> binary conv 3x3 -> BN -> QuantReLU 4-bit -> depthwise 3x3
    stride 2 (4-bit per-channel weights) -> BN -> QuantReLU -> binary pointwise -> BN ->
    sign -> QuantLinear: the float reference equals PyTorch and qonnx; the mapped
    accelerator's stage references give the integer model's scores."""
    from popcorn.golden.integer_model import run_integer, to_integer
    from popcorn.golden.predict import input_thermometer
    from popcorn.mapping.network_map import map_network
    from tests.mapping.test_network_map import chained

    torch.manual_seed(0)
    model = _mobilenet()
    x = np.random.default_rng(6).random((BATCH, 1, 8, 8)).astype(np.float32)
    train(model, torch.as_tensor(x), 5, seed=6)
    randomize_batchnorms(model, x, 6)
    path = export(model, x, tmp_path / "mobilenet.onnx")
    net = import_qonnx(path)
    assert _weights(net) == [({"scheme": "bnn"}, 1),
                             ({"scheme": "fixedpoint", "bits": 4, "per_channel": True}, 4),
                             ({"scheme": "bnn"}, 1), ({"scheme": "bnn"}, 1)]
    assert [(layer.quantizer.quantizer, getattr(layer.quantizer, "bits", 1))
            for layer in net.layers if layer.kind == "activation"] == \
        [("fixedpoint", 4), ("fixedpoint", 4), ("sign", 1)]
    reference = run_qonnx(path, x)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.as_tensor(x)).numpy(), reference, rtol=0,
                                   atol=1e-4 * np.abs(reference).max())
    check_float(net, x, reference)
    # 8 fractional bits flip hidden activations of most inputs (the 8-bit input's
    # coefficients scale * 2**b round coarsely); 16 flip none here
    assert check_integer(net, x, reference, frac_bits=16)[0] == 0

    plan = map_network(net, target_cycles=200)
    assert [s.kind for s in plan.stages] == ["conv2d"] * 3 + ["dense", "argmax"]
    assert plan.stages[3].folding.gather        # the Dense engine gathers the map
    inputs = np.random.default_rng(7).integers(0, 256, (6,) + net.input_shape)
    golden = run_integer(to_integer(net), input_thermometer(net, inputs))
    assert chained(plan, inputs) == plan.pack_outputs(golden.scores, golden.argmax)


# -- refusals ------------------------------------------------------------------------------

def _refused(tmp_path, weight_quant, weight, group=1):
    """A Quant input, a Conv 1x1 of ``weight`` (through ``weight_quant(g, name)`` if given)
    with ``group``, BN, sign, a binary MatMul; the import's error message."""
    g = OnnxGraph((4, 2, 2))
    w = g.const(weight)
    if weight_quant:
        w = weight_quant(g, w)
    y = g.node("Conv", "conv", _quant(g, "in", "x", 0.25, 3, signed=0), w, group=group)
    y = g.node("Flatten", "flat", g.sign("s", _bn(g, "bn", y, np.random.default_rng(0),
                                                  weight.shape[0])))
    out = g.node("MatMul", "fc", y, g.const(np.ones((weight.shape[0] * 4, 2))))
    with pytest.raises(QonnxImportError) as error:
        import_qonnx(g.save(tmp_path / "refused.onnx", out))
    return str(error.value)


_CODES = np.array([-7, -3, 0, 5], dtype=np.float64).reshape(1, 4, 1, 1).repeat(2, axis=0)


def test_non_narrow_code_is_refused(tmp_path):
    codes = _CODES.copy()
    codes[0, 0] = -8                  # a non-narrow 4-bit code
    message = _refused(tmp_path, lambda g, w: _quant(g, "wq", w, 0.1, 4, signed=1),
                       codes * 0.1)
    assert message.startswith("node '/conv' (Conv): 4-bit weights (from node '/wq' (Quant), "
                              "signed 4-bit) not on popcorn's fixed-point grid: output 0 has "
                              "w / s = -2.625, not an integer, for s = max|w| / 7 = 0.114286")
    assert message.endswith("(a narrow-range, max-scaled quantizer: Brevitas's "
                            "narrow_range=True, not a code -8 or a constant scale)")


def test_constant_scale_below_the_largest_code_is_refused(tmp_path):
    codes = np.clip(_CODES, -5, 5)    # largest |code| 5 of 7
    message = _refused(tmp_path, lambda g, w: _quant(g, "wq", w, 0.1, 4, signed=1, narrow=1),
                       codes * 0.1)
    assert re.search(r"output 0 has w / s = -4\.2, not an integer, for s = max\|w\| / 7", message)


@pytest.mark.parametrize("case, text", [
    ("zero point", "here: zero point 1"), ("unsigned", "here: unsigned, zero point 1"),
    ("float", "here: no weight Quant")])
def test_multibit_weights_without_a_signed_zero_point_0_quant_are_refused(tmp_path, case,
                                                                           text):
    quant = None if case == "float" else \
        lambda g, w: _quant(g, "wq", w, 0.1, 4, signed=int(case != "unsigned"), zero=1.0)
    message = _refused(tmp_path, quant, _CODES * 0.1)
    assert message.startswith("node '/conv' (Conv): weights are not binary or ternary: "
                              "output 0 has ")
    assert message.endswith(text)


def test_group_that_does_not_divide_the_channels_is_refused(tmp_path):
    message = _refused(tmp_path, None, np.ones((3, 1, 1, 1)), group=3)
    assert message == ("node '/conv' (Conv): group=3 does not divide the 4 input and 3 output "
                       "channels")
