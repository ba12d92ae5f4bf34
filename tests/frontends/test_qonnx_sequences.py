"""QONNX graphs over sequences ``(batch, C, T)``: a 1-D Conv, MaxPool, GlobalMaxPool and
ReduceMax import as :class:`Conv1d`, :class:`MaxPool1d` and :class:`GlobalMaxPool`, checked
against qonnx's ``execute_onnx`` (float reference within ``RTOL``, the integer model's argmax
equal except near ties); seed 003's n-gram text CNN exported by Brevitas, imported and
mapped; the 1-D cases popcorn refuses, by message."""

import re

import numpy as np
import pytest

from ._qonnx_helpers import (BATCH, QONNX, OnnxGraph, QuantConv1d, QuantIdentity, QuantLinear,
                            SignedBinaryWeightPerTensorConst, Uint8ActPerTensorFloat,
                            check_float, check_integer, export, nn, randomize_batchnorms,
                            run_qonnx, sign, torch, train)

from popcorn.frontends import QonnxImportError, import_qonnx, network_summary
from popcorn.network import Graph, Network

C, T = 3, 12


def _quantize(g, kind, data):
    """The input quantizer ``kind``: "sign" (BipolarQuant, scale 0.5: the next weights are
    scaled), "unsigned" (4-bit Quant, scale 1/4) or "signed" (3-bit Quant, scale 1/4: codes
    shifted by -1, the shift in the next layer's bias)."""
    if kind == "sign":
        return g.sign("q", data, 0.5)
    bits, signed = {"unsigned": (4.0, 0), "signed": (3.0, 1)}[kind]
    return g.node("Quant", "q", data, g.const(0.25), g.const(0.0), g.const(bits),
                  domain=QONNX, signed=signed, narrow=0, rounding_mode="ROUND")


def _inputs(kind, shape, seed):
    """Random inputs for the quantizer ``kind``, off the fixed-point code boundaries (qonnx
    rounds half to even in float32, popcorn half up in float64)."""
    rng = np.random.default_rng(seed)
    if kind == "sign":
        return rng.normal(size=(BATCH,) + shape).astype(np.float32)
    codes = rng.integers(-6, 18, (BATCH,) + shape)
    return ((codes + rng.uniform(-0.4, 0.4, codes.shape)) * 0.25).astype(np.float32)


def _conv(g, name, data, inputs, outputs, kernel, seed, *, stride=1, pad=0, weights="binary"):
    """A Conv of a 3-D weight ±alpha (``weights`` "binary": alpha 1, "scaled": 0.75, or
    "ternary": {-1, 0, 1}) and a bias."""
    rng = np.random.default_rng(seed)
    values = [-1.0, 0.0, 1.0] if weights == "ternary" else [-1.0, 1.0]
    weight = rng.choice(values, (outputs, inputs, kernel)) * (0.75 if weights == "scaled" else 1)
    return g.node("Conv", name, data, g.const(weight), g.const(rng.integers(-2, 3, outputs) / 2),
                  kernel_shape=[kernel], strides=[stride], pads=[pad, pad])


def _batchnorm(g, name, data, channels, seed, spread=2.0):
    """Random statistics, every third gamma negative."""
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.5, 2, channels)
    gamma[::3] *= -1
    return g.node("BatchNormalization", name, data, *(g.const(v) for v in (
        gamma, rng.normal(size=channels), rng.normal(size=channels) * spread,
        rng.uniform(0.5, 2, channels))))


def _check(net, path, x):
    reference = run_qonnx(path, x)
    check_float(net, x, reference)
    wrong, near = check_integer(net, x, reference)
    assert wrong <= near and near <= len(x) // 2   # a wrong model flips most inputs


def _kinds(net):
    layers = net.layers if isinstance(net, Network) else [node.layer for node in net.nodes]
    return [layer.kind for layer in layers]


@pytest.mark.parametrize("quantizer, stride, pad, weights, fill", [
    ("sign", 1, 1, "binary", "zero"),       # ±1 padded with ONNX's 0: the value 0
    ("sign", 2, 2, "ternary", "zero"),
    ("unsigned", 2, 1, "binary", "lowest"),  # code 0 is the value 0
    ("unsigned", 1, 0, "scaled", "lowest"),
    ("signed", 1, 0, "binary", "lowest"),   # a shifted activation, unpadded
])
def test_conv1d(tmp_path, quantizer, stride, pad, weights, fill):
    """Quantizer -> 1-D Conv -> BatchNorm -> sign -> Flatten -> MatMul: a Conv1d with the
    ONNX attributes, the input scale and shift folded into its weights and bias, the padding
    filled as a 2-D Conv's; the weight scale 0.75 folded into the BatchNorm."""
    g = OnnxGraph((C, T))
    y = _conv(g, "conv", _quantize(g, quantizer, "x"), C, 8, 3, seed=1, stride=stride, pad=pad,
              weights=weights)
    s = g.sign("s", _batchnorm(g, "bn", y, 8, seed=2))
    steps = (T + 2 * pad - 3) // stride + 1
    path = g.save(tmp_path / "m.onnx", g.matmul("fc", g.node("Flatten", "flat", s), 8 * steps,
                                                5, seed=3))
    net = import_qonnx(path)
    assert net.input_shape == (C, T)
    assert _kinds(net) == ["conv1d", "batchnorm", "activation", "flatten", "dense", "scores"]
    conv = net.layers[0]
    assert (conv.kernel, conv.stride, conv.padding, conv.padding_fill) == (3, stride, pad, fill)
    assert conv.quantizer.scheme == ("ternary" if weights == "ternary" else "bnn")
    assert f"conv1d     {(C, T)} -> {(8, steps)}" in network_summary(net)[1]
    _check(net, path, _inputs(quantizer, (C, T), seed=4))


@pytest.mark.parametrize("before", [False, True])
def test_maxpool1d(tmp_path, before):
    """A MaxPool of kernel 3, stride 2 over time after the quantizer, or before it (then
    moved after it; the BatchNorm between them decreasing on every third channel, pooled by
    the minimum there), the quantizer a per-channel MultiThreshold (data_layout NCW)."""
    g = OnnxGraph((C, T))
    y = _conv(g, "conv", g.sign("q", "x"), C, 6, 2, seed=5)
    if before:
        y = _batchnorm(g, "bn", g.node("MaxPool", "pool", y, kernel_shape=[3], strides=[2]), 6,
                       seed=6)
    thresholds = np.array([-1.0, 0.0, 1.0]) + np.random.default_rng(7).integers(-2, 3, (6, 1))
    s = g.node("MultiThreshold", "mt", y, g.const(thresholds), domain=QONNX, out_scale=1.0,
               out_bias=0.0, data_layout="NCW")
    if not before:
        s = g.node("MaxPool", "pool", s, kernel_shape=[3], strides=[2])
    path = g.save(tmp_path / "m.onnx", g.matmul("fc", g.node("Flatten", "flat", s), 6 * 5, 4,
                                                seed=8))
    net = import_qonnx(path)
    pool = next(layer for layer in net.layers if layer.kind == "maxpool1d")
    assert (pool.kernel, pool.stride, pool.minimum) == (3, 2, (0, 3) if before else ())
    assert _kinds(net).index("maxpool1d") == _kinds(net).index("activation") + 1
    _check(net, path, _inputs("sign", (C, T), seed=9) * 2)


def _global_max(g, data, how):
    """The maximum over time (or over the map) of ``data`` as ``how`` says, flattened where
    ONNX keeps the reduced axes."""
    axes = [2, 3] if how.endswith("map") else [-1]
    if how.startswith("global"):
        return g.node("Flatten", "flat", g.node("GlobalMaxPool", "max", data))
    if how == "reducemax-keepdims-0":
        return g.node("ReduceMax", "max", data, axes=axes, keepdims=0)
    if how == "reducemax-input":       # opset 18: the axes are an input
        return g.node("ReduceMax", "max", data, g.const(axes, np.int64), keepdims=0)
    return g.node("Flatten", "flat", g.node("ReduceMax", "max", data, axes=axes, keepdims=1))


@pytest.mark.parametrize("before", [False, True])
@pytest.mark.parametrize("how", ["global", "reducemax-keepdims-1", "reducemax-keepdims-0",
                                 "reducemax-input", "global-map", "reducemax-map"])
def test_global_max_pool(tmp_path, how, before):
    """GlobalMaxPool and ReduceMax over time ((batch, C, T)) or over the map ((batch, C, H,
    W), axes 2 and 3) import as GlobalMaxPool, after the quantizer or before it (a
    BatchNorm between: the minimum on its decreasing channels); the Flatten after it is a
    no-op."""
    shape = (C, 3, 4) if how.endswith("map") else (C, T)
    g = OnnxGraph(shape)
    weight = np.random.default_rng(10).choice([-1.0, 1.0], (6, C) + (1,) * (len(shape) - 1))
    y = g.node("Conv", "conv", g.sign("q", "x"), g.const(weight))
    if before:
        s = g.sign("s", _batchnorm(g, "bn", _global_max(g, y, how), 6, seed=11, spread=0.5))
    else:
        s = _global_max(g, g.sign("s", _batchnorm(g, "bn", y, 6, seed=11)), how)
    path = g.save(tmp_path / "m.onnx", g.node("Gemm", "fc", s, g.const(
        np.random.default_rng(12).choice([-1.0, 1.0], (6, 4))), g.const(np.arange(4) / 4)),
                  opset=18 if how == "reducemax-input" else 13)
    net = import_qonnx(path)
    kinds = _kinds(net)
    assert kinds == (["conv2d" if len(shape) == 3 else "conv1d", "batchnorm", "activation",
                      "globalmaxpool", "dense", "scores"])
    assert net.layers[3].minimum == ((0, 3) if before else ())
    assert network_summary(net)[4].endswith(
        ("over the map" if len(shape) == 3 else "over time")
        + (", minimum on 2 channels" if before else ""))
    _check(net, path, _inputs("sign", shape, seed=13))


def test_ngram_branches(tmp_path):
    """Seed 003's text model by hand: three n-gram Conv1d (n = 3, 4, 5; the first padded)
    of the quantized input, BatchNorm, sign, a maximum over time each (ReduceMax,
    GlobalMaxPool + Flatten, ReduceMax before the sign), concatenated, Gemm."""
    g = OnnxGraph((C, T))
    q = _quantize(g, "unsigned", "x")
    ends = []
    for n, how in zip((3, 4, 5), ("reducemax-keepdims-0", "global", "before")):
        y = _conv(g, f"conv{n}", q, C, 4, n, seed=20 + n, pad=1 if n == 3 else 0)
        if how == "before":
            y = g.node("ReduceMax", f"max{n}", y, axes=[2], keepdims=0)
            ends.append(g.sign(f"s{n}", _batchnorm(g, f"bn{n}", y, 4, seed=n, spread=0.5)))
            continue
        s = g.sign(f"s{n}", _batchnorm(g, f"bn{n}", y, 4, seed=n))
        if how == "global":
            ends.append(g.node("Flatten", f"flat{n}", g.node("GlobalMaxPool", f"max{n}", s)))
        else:
            ends.append(g.node("ReduceMax", f"max{n}", s, axes=[2], keepdims=0))
    cat = g.node("Concat", "cat", *ends, axis=1)
    rng = np.random.default_rng(30)
    path = g.save(tmp_path / "m.onnx", g.node("Gemm", "fc", cat, g.const(
        rng.choice([-1.0, 1.0], (5, 12))), g.const(rng.integers(-2, 3, 5) / 4), transB=1))
    graph = import_qonnx(path)
    assert isinstance(graph, Graph)
    nodes = {node.name: node for node in graph.nodes}
    assert nodes["cat"].inputs == ("max3", "max4", "max5")
    assert [nodes[name].layer.kind for name in ("max3", "max4", "max5")] == ["globalmaxpool"] * 3
    assert nodes["max5"].layer.minimum == (0, 3) and nodes["max5"].inputs == ("s5",)
    assert graph.shapes["cat"] == (12,)
    _check(graph, path, _inputs("unsigned", (C, T), seed=31))


class _TextCnn(nn.Module):
    """Seed 003's text CNN in Brevitas: an 8-bit input quantizer, three binary n-gram
    QuantConv1d (n = 3, 4, 5; the second with Brevitas's weight scale 0.1, folded into its
    BatchNorm), BatchNorm1d and sign each, a maximum over time (``x.amax(-1)``,
    ``AdaptiveMaxPool1d(1)`` + flatten, and ``amax`` before the BatchNorm and sign),
    concatenated, QuantLinear."""

    def __init__(self, channels=4, filters=6, classes=5):
        super().__init__()
        self.q0 = QuantIdentity(act_quant=Uint8ActPerTensorFloat)
        self.convs = nn.ModuleList(
            QuantConv1d(channels, filters, n, bias=False,
                        weight_quant=SignedBinaryWeightPerTensorConst,
                        weight_scaling_const=0.1 if n == 4 else 1.0) for n in (3, 4, 5))
        self.norms = nn.ModuleList(nn.BatchNorm1d(filters) for _ in range(3))
        self.signs = nn.ModuleList(sign() for _ in range(3))
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.fc = QuantLinear(3 * filters, classes, bias=True,
                              weight_quant=SignedBinaryWeightPerTensorConst,
                              weight_scaling_const=1.0)

    def forward(self, x):
        x = self.q0(x)
        a = self.signs[0](self.norms[0](self.convs[0](x))).amax(-1)
        b = torch.flatten(self.pool(self.signs[1](self.norms[1](self.convs[1](x)))), 1)
        c = self.signs[2](self.norms[2](self.convs[2](x).amax(-1)))
        return self.fc(torch.cat([a, b, c], dim=1))


def test_brevitas_text_cnn(tmp_path):
    """Exported by Brevitas (opset 20: ReduceMax with its axes an input, AdaptiveMaxPool1d a
    MaxPool over the whole sequence), imported as a Graph whose float scores are PyTorch's
    and qonnx's, integer argmax qonnx's except near ties; mapped, stage after stage the
    words give the integer graph model's scores."""
    from ..mapping.test_network_map import check_graph_words
    from popcorn.mapping.network_map import map_network

    torch.manual_seed(40)
    rng = np.random.default_rng(40)
    x = rng.random((BATCH, 4, 16)).astype(np.float32)
    model = _TextCnn()
    train(model, torch.as_tensor(x), 5, seed=40)
    randomize_batchnorms(model, x, 40)
    path = export(model, x, tmp_path / "text.onnx")
    graph = import_qonnx(path)
    assert isinstance(graph, Graph) and graph.input_shape == (4, 16)
    scale = graph.input_quantizer.scale
    codes = rng.integers(0, 256, x.shape)
    x = ((codes + rng.uniform(-0.4, 0.4, x.shape)) * scale).astype(np.float32)
    reference = run_qonnx(path, x)
    with torch.no_grad():
        ours = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(reference, ours, rtol=0, atol=1e-4 * np.abs(ours).max())
    kinds = _kinds(graph)
    assert kinds.count("conv1d") == 3 and kinds.count("globalmaxpool") == 2
    assert kinds.count("maxpool1d") == kinds.count("flatten") == 1   # AdaptiveMaxPool1d
    assert kinds[-3:] == ["concat", "dense", "scores"]
    assert [layer.quantizer.scheme for layer in (n.layer for n in graph.nodes)
            if layer.kind in ("conv1d", "dense")] == ["bnn"] * 4
    _check(graph, path, x)
    plan = map_network(graph)
    assert [stage.kind for stage in plan.stages][-2:] == ["dense", "argmax"]
    check_graph_words(plan, graph, seed=41)


# -- refusals ---------------------------------------------------------------------------

def _refusal(case):
    """A sequence graph with the one refused node of ``case``; the message expected."""
    g = OnnxGraph((C, T))
    q = _quantize(g, "signed" if case == "padded shifted" else "sign", "x")
    weight = g.const(np.ones((4, C, 3)))
    if case == "dilations":
        y = g.node("Conv", "conv", q, weight, dilations=[2])
        return g, y, "node '/conv' (Conv): dilations=[2]; popcorn imports dilations=1 only"
    if case == "group":
        y = g.node("Conv", "conv", q, g.const(np.ones((3, 1, 3))), group=3)
        return g, y, ("node '/conv' (Conv): group=3; popcorn imports group=1 only for 1-D "
                      "convolutions (grouped and depthwise ones are 2-D)")
    if case == "asymmetric pads":
        y = g.node("Conv", "conv", q, weight, pads=[0, 1])
        return g, y, ("node '/conv' (Conv): pads=[0, 1]; popcorn imports the same padding "
                      "at both ends of each axis (begin = end)")
    if case == "padded shifted":
        y = g.node("Conv", "conv", q, weight, pads=[1, 1])
        return g, y, "node '/conv' (Conv): pads=1 on pa activations shifted by -1: ONNX pads"
    y = g.node("Conv", "conv", q, weight)
    if case == "padded pool":
        p = g.node("MaxPool", "pool", g.sign("s", y), kernel_shape=[2], pads=[1, 1])
        return g, p, "node '/pool' (MaxPool): pads=[1, 1]; popcorn pools without padding"
    if case == "2-D pool":
        p = g.node("MaxPool", "pool", g.sign("s", y), kernel_shape=[1, 2])
        return g, p, ("node '/pool' (MaxPool): kernel_shape=[1, 2], strides=[1, 1] on (4, 10); "
                      "popcorn imports 1-D pooling of (C, T) sequences and 2-D pooling of (C, "
                      "H, W) maps")
    if case == "max over channels":
        p = g.node("ReduceMax", "max", g.sign("s", y), axes=[1], keepdims=0)
        return g, p, ("node '/max' (ReduceMax): ReduceMax over axes [1] of (4, 10); popcorn "
                      "imports a maximum over time (axis 2 of (batch, C, T): x.amax(-1), "
                      "AdaptiveMaxPool1d(1)) or over the whole map (axes 2 and 3 of (batch, "
                      "C, H, W))")
    if case == "max over everything":
        p = g.node("ReduceMax", "max", g.sign("s", y), keepdims=0)
        return g, p, "node '/max' (ReduceMax): ReduceMax over all axes of (4, 10)"
    assert case == "unlaid thresholds"
    p = g.node("MultiThreshold", "mt", y, g.const(np.arange(4.0)[:, None]), domain=QONNX)
    return g, p, ("node '/mt' (MultiThreshold): per-channel thresholds on a (batch, C, T) "
                  "sequence without a data_layout, which qonnx reads as NWC; popcorn imports "
                  "channels on axis 1: set data_layout='NCW'")


@pytest.mark.parametrize("case", ["dilations", "group", "asymmetric pads", "padded shifted",
                                  "padded pool", "2-D pool", "max over channels",
                                  "max over everything", "unlaid thresholds"])
def test_refused_sequence_nodes(tmp_path, case):
    g, out, message = _refusal(case)
    path = g.save(tmp_path / "m.onnx", g.node("Flatten", "flat_end", out))
    with pytest.raises(QonnxImportError, match=re.escape(message)):
        import_qonnx(path)
