"""Brevitas -> QONNX -> popcorn graphs: residual blocks (identity and 1x1 downsampling
shortcuts) and a two-branch Concat, imported as :class:`popcorn.network.Graph` and compared
with qonnx's ``execute_onnx`` (float reference within ``RTOL``, the integer graph model's
argmax equal except near ties); then the refusals, on hand-built graphs, by message."""

import re

import numpy as np
import pytest
from click.testing import CliRunner

from ._qonnx_helpers import (BATCH, QONNX, OnnxGraph, binary_conv, binary_linear, check_float,
                            check_integer, export, nn, onnx, randomize_batchnorms, run_qonnx,
                            sign, torch, train)

from popcorn.cli import main
from popcorn.frontends import QonnxImportError, import_qonnx
from popcorn.golden.float_ref import float_forward
from popcorn.network import INPUT, Graph, Network, load_graph


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _roundtrip(tmp_path, model, x, classes, seed):
    train(model, torch.as_tensor(x), classes, steps=3, seed=seed)
    randomize_batchnorms(model, x, seed)
    path = export(model, x, tmp_path / "model.onnx")
    return path, run_qonnx(path, x)


def _inputs(graph):
    return {node.name: node.inputs for node in graph.nodes}


def _kind(graph, name):
    return name if name == INPUT else {n.name: n.layer.kind for n in graph.nodes}[name]


class _ResNet(nn.Module):
    """A binary input conv, one residual block (two padded 3x3 binary convs with BatchNorm,
    their sum with the shortcut quantized by ``after``), Flatten, Linear. ``down``: the
    block halves the map, its shortcut a 1x1 stride-2 binary conv + BatchNorm (weight scale
    0.25, folded into that BatchNorm or kept as XNOR alpha)."""

    def __init__(self, down, after):
        super().__init__()
        width, out, stride = 4, 6 if down else 4, 2 if down else 1
        self.q0 = sign()
        self.conv0, self.bn0, self.q1 = binary_conv(2, width, 3, padding=1), \
            nn.BatchNorm2d(width), sign()
        self.conv1, self.bn1, self.q2 = binary_conv(width, out, 3, padding=1, stride=stride), \
            nn.BatchNorm2d(out), sign()
        self.conv2, self.bn2 = binary_conv(out, out, 3, padding=1), nn.BatchNorm2d(out)
        self.short = nn.Sequential(binary_conv(width, out, 1, scale=0.25, stride=2),
                                   nn.BatchNorm2d(out)) if down else None
        self.after = after
        side = 6 // stride
        self.flat, self.fc = nn.Flatten(), binary_linear(out * side * side, 5, bias=True)

    def forward(self, x):
        x = self.q1(self.bn0(self.conv0(self.q0(x))))
        y = self.bn2(self.conv2(self.q2(self.bn1(self.conv1(x)))))
        shortcut = x if self.short is None else self.short(x)
        return self.fc(self.flat(self.after(y + shortcut)))


@pytest.mark.parametrize("after", ["sign", "relu2"])
def test_identity_residual_block(tmp_path, after):
    """The shortcut is the block's quantized input, added to conv2's BatchNorm, then a sign
    (or a 2-bit QuantReLU: Relu -> unsigned Quant)."""
    from brevitas.nn import QuantReLU

    x = np.random.default_rng(20).normal(size=(BATCH, 2, 6, 6)).astype(np.float32)
    model = _ResNet(False, sign() if after == "sign" else QuantReLU(bit_width=2))
    path, reference = _roundtrip(tmp_path, model, x, 5, seed=20)
    graph = import_qonnx(path)
    assert isinstance(graph, Graph)
    [add] = [node for node in graph.nodes if node.layer.kind == "add"]
    assert sorted(_kind(graph, name) for name in add.inputs) == ["activation", "batchnorm"]
    shortcut = next(name for name in add.inputs if _kind(graph, name) == "activation")
    # the shortcut is the block input: the activation the block's first conv reads
    assert [n.layer.kind for n in graph.nodes if n.inputs == (shortcut,)] == ["conv2d"]
    [quantizer] = [node for node in graph.nodes if node.inputs == (add.name,)]
    assert quantizer.layer.kind == "activation"
    assert quantizer.layer.quantizer.quantizer == ("sign" if after == "sign" else "fixedpoint")
    onnx_names = [node.name for node in onnx.load(str(path)).graph.node]
    assert "/Add" in onnx_names and add.name == "Add"
    assert _inputs(graph)["conv2.Conv"] == ("q2.BipolarQuant",)
    check_float(graph, x, reference)
    wrong, near = check_integer(graph, x, reference)
    assert wrong <= near and near <= len(x) // 2   # a wrong model flips most inputs


@pytest.mark.parametrize("fold_scales", [True, False])
def test_downsampling_residual_block(tmp_path, fold_scales):
    """The shortcut is a 1x1 stride-2 binary conv (scale 0.25) and its BatchNorm: an Add of
    two pre-activations."""
    x = np.random.default_rng(21).normal(size=(BATCH, 2, 6, 6)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, _ResNet(True, sign()), x, 5, seed=21)
    graph = import_qonnx(path, fold_scales=fold_scales)
    nodes = {node.name: node for node in graph.nodes}
    add = nodes["Add"]
    assert [nodes[name].layer.kind for name in add.inputs] == ["batchnorm", "batchnorm"]
    short = nodes[nodes[add.inputs[1]].inputs[0]].layer
    assert (short.kind, short.kernel, short.stride) == ("conv2d", (1, 1), (2, 2))
    assert short.quantizer.scheme == ("bnn" if fold_scales else "xnor")
    assert graph.shapes["Add"] == (6, 3, 3)
    check_float(graph, x, reference)
    wrong, near = check_integer(graph, x, reference)
    assert wrong <= near and near <= len(x) // 2   # a wrong model flips most inputs


class _TwoBranches(nn.Module):
    """Two branches from the quantized input (a padded 3x3 and a 1x1 binary conv, each
    BatchNorm + sign), concatenated along the channels, Flatten, Linear."""

    def __init__(self):
        super().__init__()
        self.q0 = sign()
        self.a = nn.Sequential(binary_conv(2, 3, 3, padding=1), nn.BatchNorm2d(3), sign())
        self.b = nn.Sequential(binary_conv(2, 2, 1), nn.BatchNorm2d(2), sign())
        self.flat, self.fc = nn.Flatten(), binary_linear(5 * 4 * 4, 4, bias=True)

    def forward(self, x):
        x = self.q0(x)
        return self.fc(self.flat(torch.cat([self.a(x), self.b(x)], dim=1)))


def test_concat_of_two_branches(tmp_path):
    x = np.random.default_rng(22).normal(size=(BATCH, 2, 4, 4)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, _TwoBranches(), x, 4, seed=22)
    graph = import_qonnx(path)
    nodes = {node.name: node for node in graph.nodes}
    [concat] = [node for node in graph.nodes if node.layer.kind == "concat"]
    assert [nodes[name].layer.kind for name in concat.inputs] == ["activation", "activation"]
    assert [graph.shapes[name][0] for name in concat.inputs] == [3, 2]
    assert graph.shapes[concat.name] == (5, 4, 4)
    firsts = [node for node in graph.nodes if node.inputs == (INPUT,)]
    assert [node.layer.kind for node in firsts] == ["conv2d", "conv2d"]
    check_float(graph, x, reference)
    wrong, near = check_integer(graph, x, reference)
    assert wrong <= near and near <= len(x) // 2   # a wrong model flips most inputs


def test_popcorn_import_writes_a_graph_file(tmp_path):
    x = np.random.default_rng(23).normal(size=(BATCH, 2, 6, 6)).astype(np.float32)
    path, reference = _roundtrip(tmp_path, _ResNet(True, sign()), x, 5, seed=23)
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    graph = load_graph(out)          # a version-2 file
    assert isinstance(graph, Graph)
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["input", "(2,"] and lines[0].endswith("sign")
    [add] = [line for line in lines if line.split()[0] == "Add"]
    assert add.split()[:4] == ["Add", "<-", "bn2.BatchNormalization,",
                             "short.short.1.BatchNormalization"]
    assert "add" in add.split() and "(6, 3, 3) + (6, 3, 3) -> (6, 3, 3)" in add
    assert [line.split()[:3] for line in lines if "conv0.Conv" in line.split()[:1]] == \
        [["conv0.Conv", "<-", "input"]]
    assert lines[-1] == f"{len(graph.nodes)} nodes (a graph), 5 classes: written to {out}"
    assert len(lines) == len(graph.nodes) + 2
    np.testing.assert_allclose(float_forward(graph, x).scores, reference, rtol=0,
                               atol=1e-4 * np.abs(reference).max())


# -- hand-built graphs: what popcorn refuses, by message --------------------------------

def _block(tmp_path, *, shortcut_scale=1.0, after="sign"):
    """sign(x) -> MatMul -> + sign(x) -> ``after`` -> MatMul: an identity shortcut around a
    layer without BatchNorm."""
    g = OnnxGraph((8,))
    q = g.sign("q", "x", shortcut_scale)
    y = g.matmul("fc1", q, 8, 8, seed=1)
    s = g.node("Add", "add", y, q)
    if after == "sign":
        a = g.sign("q2", s)
    else:
        a = g.node("MultiThreshold", "mt", s, g.const(np.arange(-3.5, 4)[:, None]),
                   domain=QONNX, out_scale=2.0, out_bias=-1.0)
    return g.save(tmp_path / "block.onnx", g.matmul("fc2", a, 8, 3, seed=2))


def test_identity_shortcut_without_batchnorm_and_per_channel_thresholds(tmp_path):
    """A MultiThreshold sign with per-channel thresholds after the Add: the thresholds move
    into a BatchNorm made on the pre-activation branch (the sum's thresholds are at 0)."""
    path = _block(tmp_path, after="multithreshold")
    graph = import_qonnx(path)
    # q is the input quantizer; the BatchNorm made for the thresholds is named after "/mt"
    assert _inputs(graph) == {"fc1": (INPUT,), "mt": ("fc1",), "add": ("mt", INPUT),
                              "mt_2": ("add",), "fc2": ("mt_2",), "scores": ("fc2",)}
    assert [node.layer.kind for node in graph.nodes] == [
        "dense", "batchnorm", "add", "activation", "dense", "scores"]
    x = np.random.default_rng(24).normal(size=(BATCH, 8)).astype(np.float32)
    reference = run_qonnx(path, x)
    check_float(graph, x, reference)
    wrong, near = check_integer(graph, x, reference)
    assert wrong <= near and near <= len(x) // 2   # a wrong model flips most inputs


def _refused(path, message):
    with pytest.raises(QonnxImportError, match=re.escape(message)):
        import_qonnx(path)


def test_sum_not_quantized_next_is_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    s = g.node("Add", "add", g.matmul("fc1", q, 8, 8, seed=1), q)
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", s, 8, 3, seed=2)),
             "node '/add' (Add): node '/fc2' (MatMul) reads it; popcorn's integer model folds "
             "an Add into the activation quantizer that reads its sum: quantize the sum next")


def test_add_of_two_quantized_tensors_is_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    a = g.sign("q1", g.matmul("fc1", q, 8, 8, seed=1))
    s = g.sign("q2", g.node("Add", "add", a, q))
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", s, 8, 3, seed=2)),
             "node '/add' (Add) adds two quantized tensors ('q1', 'q'); popcorn adds an "
             "identity shortcut to a pre-activation")


def test_add_of_a_sum_is_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    inner = g.node("Add", "add1", g.matmul("fc1", q, 8, 8, seed=1), q)
    s = g.sign("q2", g.node("Add", "add2", inner, g.matmul("fc2", q, 8, 8, seed=2)))
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc3", s, 8, 3, seed=3)),
             "node '/add2' (Add) adds the sum of an Add ('add1'); popcorn adds quantized "
             "activations (an identity shortcut) or pre-activations")


def test_scaled_shortcut_is_refused(tmp_path):
    _refused(_block(tmp_path, shortcut_scale=0.5),
             "node '/add' (Add): the shortcut 'q' holds sign activations scaled by 0.5 and "
             "shifted by 0; popcorn adds a shortcut's activations with the values of its "
             "quantizer (scale 1, no shift)")


def test_add_of_the_raw_input_is_refused(tmp_path):
    g = OnnxGraph((8,))
    y = g.matmul("fc1", g.sign("q", "x"), 8, 8, seed=1)
    s = g.sign("q2", g.node("Add", "add", y, "x"))
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", s, 8, 3, seed=2)),
             "tensor 'x' (the unquantized input) feeds 2 nodes (node '/q' (BipolarQuant), "
             "node '/add' (Add)); popcorn branches quantized activations only")


def test_add_of_different_shapes_is_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    s = g.sign("q2", g.node("Add", "add", g.matmul("fc1", q, 8, 1, seed=1), q))
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", s, 8, 3, seed=2)),
             "node '/add' (Add) adds tensors of shapes (1,) and (8,); popcorn adds tensors of "
             "one shape (no broadcasting)")


def test_branching_pre_activations_is_refused(tmp_path):
    g = OnnxGraph((8,))
    y = g.matmul("fc1", g.sign("q", "x"), 8, 8, seed=1)
    s = g.sign("q2", g.node("Add", "add", y, g.matmul("fc2", g.sign("q1", y), 8, 8, seed=2)))
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc3", s, 8, 3, seed=3)),
             "tensor 'fc1' (pre-activations) feeds 2 nodes (node '/q1' (BipolarQuant), node "
             "'/add' (Add)); popcorn branches quantized activations only: put the activation "
             "quantizer (BipolarQuant, Quant or MultiThreshold) before the branches")


def test_pooling_pre_activations_before_an_add_is_refused(tmp_path):
    g = OnnxGraph((2, 4, 4))
    q = g.sign("q", "x")
    pool = g.node("MaxPool", "pool", g.conv("conv1", q, 2, 2, seed=1), kernel_shape=[2, 2],
                  strides=[2, 2])
    short = g.conv("conv2", q, 2, 2, seed=2)
    s = g.sign("q2", g.node("Add", "add", pool, g.node("MaxPool", "pool2", short,
                                                       kernel_shape=[2, 2], strides=[2, 2])))
    flat = g.node("Flatten", "flat", s)
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc", flat, 8, 3, seed=3)),
             "node '/pool' (MaxPool): max-pooling of pre-activations (node '/add' (Add) joins "
             "it with another branch)")


def _concat(tmp_path, first, second, axis=1):
    g = OnnxGraph((2, 4, 4))
    q = g.sign("q", "x")
    a = first(g, g.conv("conv1", q, 2, 2, seed=1))
    b = second(g, g.conv("conv2", q, 2, 3, seed=2))
    cat = g.node("Concat", "cat", a, b, axis=axis)
    flat = g.node("Flatten", "flat", cat)
    size = 5 * 16
    return g.save(tmp_path / "m.onnx", g.matmul("fc", flat, size, 3, seed=3))


def _sign(name):
    return lambda g, data: g.sign(name, data)


def _levels(name, out_scale=1.0):
    return lambda g, data: g.node("MultiThreshold", name, data,
                                  g.const([[-1.0, 0.0, 1.0]]), domain=QONNX,
                                  out_scale=out_scale, out_bias=0.0)


def test_concat_of_multithreshold_branches(tmp_path):
    """Two branches of one 3-threshold MultiThreshold: PA activations, concatenated."""
    path = _concat(tmp_path, _levels("mt1"), _levels("mt2"))
    graph = import_qonnx(path)
    assert _inputs(graph)["cat"] == ("mt1", "mt2")
    x = np.random.default_rng(25).normal(size=(BATCH, 2, 4, 4)).astype(np.float32) * 3
    reference = run_qonnx(path, x)
    check_float(graph, x, reference)
    wrong, near = check_integer(graph, x, reference)
    assert wrong <= near and near <= len(x) // 2   # a wrong model flips most inputs


def test_concat_of_different_quantizers_is_refused(tmp_path):
    _refused(_concat(tmp_path, _sign("s1"), _levels("mt2")),
             "node '/cat' (Concat) concatenates activations of different quantizers ('s1': "
             "{'quantizer': 'sign', 'mean_scaling': False}, value x 1 + 0; 'mt2': ")
    _refused(_concat(tmp_path, _levels("mt1", 2.0), _levels("mt2")),
             "popcorn concatenates activations of one quantizer: quantize every branch alike")


def test_concat_along_another_axis_is_refused(tmp_path):
    _refused(_concat(tmp_path, _sign("s1"), _sign("s2"), axis=3),
             "node '/cat' (Concat): axis=3; popcorn concatenates along the channel axis (1) "
             "only")


def test_concat_of_pre_activations_is_refused(tmp_path):
    _refused(_concat(tmp_path, lambda g, data: data, _sign("s2")),
             "node '/cat' (Concat) concatenates pre-activations ('conv1'); popcorn "
             "concatenates quantized activations: quantize every branch before it")


def test_concat_of_averages_names_the_onnx_node(tmp_path):
    """Caught by the graph's validation (a Concat joins codes, a global average is not),
    which names the ONNX node."""
    def average(name):
        return lambda g, data: g.node("GlobalAveragePool", name, g.sign(f"{name}q", data))

    g = OnnxGraph((2, 4, 4))
    q = g.sign("q", "x")
    cat = g.node("Concat", "cat", average("gap1")(g, g.conv("conv1", q, 2, 2, seed=1)),
                 average("gap2")(g, g.conv("conv2", q, 2, 3, seed=2)), axis=1)
    path = g.save(tmp_path / "m.onnx", g.matmul("fc", g.node("Flatten", "flat", cat), 5, 3,
                                                seed=3))
    _refused(path, "node '/cat': the imported graph is not valid: node 'cat' (concat) cannot "
                   "read 'gap1' (averages): a Concat joins quantized activations")


def test_concat_of_a_constant_or_of_other_sizes_is_refused(tmp_path):
    g = OnnxGraph((2, 4, 4))
    q = g.sign("q", "x")
    cat = g.node("Concat", "cat", g.sign("s1", g.conv("conv1", q, 2, 2, seed=1)),
                 g.const(np.ones((BATCH, 3, 4, 4))), axis=1)
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc", g.node("Flatten", "flat", cat), 80, 3,
                                                  seed=2)),
             "node '/cat' (Concat) concatenates a constant; popcorn concatenates the branches' "
             "activations only")

    def pool(g, data):
        return g.node("MaxPool", "pool", g.sign("s2", data), kernel_shape=[2, 2], strides=[2, 2])

    _refused(_concat(tmp_path, _sign("s1"), pool),
             "node '/cat' (Concat) concatenates tensors of shapes (2, 4, 4), (3, 2, 2); all "
             "but the channel axis must be equal")


def test_forked_or_concatenated_sum_is_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    s = g.node("Add", "add", g.matmul("fc1", q, 8, 8, seed=1), q)
    a, b = g.sign("q2", s), g.sign("q3", s)
    cat = g.node("Concat", "cat", a, b, axis=1)
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", cat, 16, 3, seed=2)),
             "tensor 'add' (the sum of an Add) feeds 2 nodes (node '/q2' (BipolarQuant), "
             "node '/q3' (BipolarQuant)); popcorn branches quantized activations only")
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    s = g.node("Add", "add", g.matmul("fc1", q, 8, 8, seed=1), q)
    cat = g.node("Concat", "cat", s, g.sign("q2", g.matmul("fc3", q, 8, 8, seed=3)), axis=1)
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", cat, 16, 3, seed=2)),
             "node '/cat' (Concat) concatenates the sum of an Add ('add'); popcorn "
             "concatenates quantized activations")


def test_other_joins_and_unordered_nodes_are_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    m = g.sign("q2", g.node("Mul", "mul", g.matmul("fc1", q, 8, 8, seed=1), q))
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc2", m, 8, 3, seed=2)),
             "node '/mul' (Mul) takes ['fc1', 'q'] as its data inputs; popcorn imports nodes "
             "with one data input (the first), and joins branches with Add and Concat only")
    g = OnnxGraph((8,))
    out = g.matmul("fc", g.sign("q", "x"), 8, 3, seed=1)
    g.nodes.reverse()
    _refused(g.save(tmp_path / "m.onnx", out),
             "node '/fc' (MatMul) reads 'q', which no earlier node computes from the graph "
             "input; popcorn imports graphs with one data input, nodes in topological order")


def test_dead_branch_is_refused(tmp_path):
    g = OnnxGraph((8,))
    q = g.sign("q", "x")
    g.matmul("unused", q, 8, 4, seed=1)
    _refused(g.save(tmp_path / "m.onnx", g.matmul("fc", q, 8, 3, seed=2)),
             "node '/unused' (MatMul): its output 'unused' is not used; popcorn imports graphs "
             "whose every node leads to the output")


def test_a_chain_is_still_a_network(tmp_path):
    g = OnnxGraph((8,))
    path = g.save(tmp_path / "m.onnx", g.matmul("fc", g.sign("q", "x"), 8, 3, seed=1))
    assert isinstance(import_qonnx(path), Network)
