"""Graph networks (issue 14): residual Adds and Concats in the description, the file format
(version 2) and the float reference, which is checked against the same network written in
PyTorch; every validation error names the node."""

import json

import numpy as np
import pytest

from ._files import edit_file
from popcorn.golden.float_ref import float_forward
from popcorn.golden.examples import random_network
from popcorn.network import (INPUT, Activation, Add, BatchNorm, BnnWeights, Concat, Conv2d,
                             Dense, FixedPointActivation, Flatten, GlobalAvgPool2d, Graph,
                             NetworkError, Node, Scores, SignActivation, load_graph,
                             load_network, network_to_json, save_network)

PIXELS = FixedPointActivation(8, 1 / 255)


def _bn(rng, channels):
    return BatchNorm(rng.uniform(0.5, 1.5, channels) * np.where(rng.random(channels) < 0.3, -1, 1),
                     rng.normal(0, 0.5, channels), rng.normal(0, 2, channels),
                     rng.uniform(1, 9, channels))


def _conv(rng, out, inp, k, stride=1, padding=0):
    return Conv2d(rng.uniform(-1, 1, (out, inp, k, k)), BnnWeights(), stride=stride,
                  padding=padding, padding_fill="zero")


def residual_graph(seed=0):
    """A stem, a block with an identity shortcut, a downsampling block whose shortcut is a
    binarized 1 x 1 convolution of stride 2, a global average pool and the scores."""
    rng = np.random.default_rng(seed)
    sign = Activation(SignActivation())
    return Graph((1, 6, 6), PIXELS, (
        Node("stem", _conv(rng, 4, 1, 3, padding=1), (INPUT,)),
        Node("stem.bn", _bn(rng, 4), ("stem",)),
        Node("x1", sign, ("stem.bn",)),
        Node("b1.conv", _conv(rng, 4, 4, 3, padding=1), ("x1",)),
        Node("b1.bn", _bn(rng, 4), ("b1.conv",)),
        Node("b1.add", Add(), ("b1.bn", "x1")),
        Node("x2", sign, ("b1.add",)),
        Node("b2.conv", _conv(rng, 6, 4, 3, stride=2, padding=1), ("x2",)),
        Node("b2.bn", _bn(rng, 6), ("b2.conv",)),
        Node("b2.short", _conv(rng, 6, 4, 1, stride=2), ("x2",)),
        Node("b2.short.bn", _bn(rng, 6), ("b2.short",)),
        Node("b2.add", Add(), ("b2.bn", "b2.short.bn")),
        Node("x3", sign, ("b2.add",)),
        Node("pool", GlobalAvgPool2d(), ("x3",)),
        Node("fc", Dense(rng.uniform(-1, 1, (5, 6)), BnnWeights()), ("pool",)),
        Node("scores", Scores(), ("fc",)),
    ))


def branch_graph(seed=0):
    """Two convolutions of the input (3 x 3 and 1 x 1), each quantized by a sign, joined
    along the channels, flattened into the scores layer."""
    rng = np.random.default_rng(seed)
    sign = Activation(SignActivation())
    return Graph((1, 5, 5), PIXELS, (
        Node("a", _conv(rng, 3, 1, 3, padding=1), (INPUT,)),
        Node("a.bn", _bn(rng, 3), ("a",)),
        Node("a.q", sign, ("a.bn",)),
        Node("b", _conv(rng, 2, 1, 1), (INPUT,)),
        Node("b.bn", _bn(rng, 2), ("b",)),
        Node("b.q", sign, ("b.bn",)),
        Node("cat", Concat(), ("a.q", "b.q")),
        Node("flat", Flatten(), ("cat",)),
        Node("fc", Dense(rng.uniform(-1, 1, (4, 5 * 5 * 5)), BnnWeights()), ("flat",)),
        Node("scores", Scores(), ("fc",)),
    ))


def _torch_forward(graph, x):
    """The graph in PyTorch (float64): sign(0) = +1, convolutions padded with 0, batch norms
    in eval mode, weights their signs."""
    try:
        import torch
    except ImportError as error:
        pytest.fail(f"this check needs torch ({error}): pip install -e '.[train]'")
    f = torch.nn.functional
    tensors = {INPUT: torch.as_tensor(x)}
    for node in graph.nodes:
        ins = [tensors[name] for name in node.inputs]
        layer = node.layer
        if layer.kind == "conv2d":
            out = f.conv2d(ins[0], torch.as_tensor(np.where(layer.weight >= 0, 1.0, -1.0)),
                           stride=layer.stride, padding=layer.padding)
        elif layer.kind == "dense":
            out = ins[0] @ torch.as_tensor(np.where(layer.weight >= 0, 1.0, -1.0)).T
        elif layer.kind == "batchnorm":
            out = f.batch_norm(ins[0], torch.as_tensor(layer.mean), torch.as_tensor(layer.var),
                               torch.as_tensor(layer.gamma), torch.as_tensor(layer.beta),
                               eps=layer.eps)
        elif layer.kind == "activation":
            out = torch.where(ins[0] >= 0, 1.0, -1.0).double()
        elif layer.kind == "add":
            out = ins[0] + ins[1]
        elif layer.kind == "concat":
            out = torch.cat(ins, dim=1)
        elif layer.kind == "globalavgpool":
            out = ins[0].mean(dim=(2, 3))
        elif layer.kind == "flatten":
            out = ins[0].flatten(1)
        else:
            out = ins[0]
        tensors[node.name] = out
    return tensors[graph.nodes[-1].name].numpy()


@pytest.mark.parametrize("make", [residual_graph, branch_graph])
def test_float_reference_of_a_graph_equals_pytorch(make):
    graph = make()
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (32,) + graph.input_shape) / 255     # exact input codes
    result = float_forward(graph, x)
    expected = _torch_forward(graph, x)
    assert result.scores.shape == (32, graph.classes)
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=1e-9)
    assert len(result.trace) == len(graph.nodes)
    # the shortcut matters: without the Add's second input the scores differ
    assert not np.allclose(result.scores, 0)


def test_graph_round_trips_through_the_file(tmp_path):
    graph = residual_graph()
    path = tmp_path / "resnet.npz"
    save_network(graph, path)
    meta = json.loads(np.load(path)["popcorn.json"].tobytes())
    assert meta["version"] == 2 and meta["nodes"][5] == {"name": "b1.add",
                                                          "inputs": ["b1.bn", "x1"],
                                                          "kind": "add"}
    back = load_graph(path)
    assert network_to_json(back) == network_to_json(graph)
    x = np.random.default_rng(0).random((6,) + graph.input_shape)
    assert np.array_equal(float_forward(back, x).scores, float_forward(graph, x).scores)
    with pytest.raises(NetworkError, match=r"node 'b1.add' \(add\) reads 'b1.bn', 'x1': a "
                                           r"branch or a join, .* popcorn predict\)"):
        load_network(path)


def test_sequential_networks_stay_version_1_and_chains_convert(tmp_path):
    net = random_network("abc", seed=2)
    save_network(net, tmp_path / "seq.npz")
    assert json.loads(np.load(tmp_path / "seq.npz")["popcorn.json"].tobytes())["version"] == 1
    graph = Graph.from_network(net)
    save_network(graph, tmp_path / "chain.npz")
    again = load_network(tmp_path / "chain.npz")             # a version 2 chain
    assert network_to_json(again) == network_to_json(net)
    x = np.random.default_rng(1).random((4,) + net.input_shape)
    assert np.array_equal(float_forward(graph, x).scores, float_forward(net, x).scores)


def _edit(graph, index, **change):
    nodes = list(graph.nodes)
    node = nodes[index]
    nodes[index] = Node(change.get("name", node.name), change.get("layer", node.layer),
                        change.get("inputs", node.inputs))
    return nodes


@pytest.mark.parametrize("edit, message", [
    (lambda g: _edit(g, 3, inputs=("x9",)),
     r"node 'b1.conv' \(conv2d\) reads 'x9', which is not the input or an earlier node"),
    (lambda g: _edit(g, 5, inputs=("b1.bn",)),
     r"node 'b1.add' \(add\) reads 1 tensor\(s\); it takes 2"),
    (lambda g: _edit(g, 5, inputs=("x1", "x1")),
     r"node 'b1.add' \(add\) adds two quantized tensors"),
    (lambda g: _edit(g, 7, inputs=("b1.add",)),
     r"node 'b2.conv' \(conv2d\) cannot read 'b1.add' \(sum\): an Add's sum must be quantized"),
    (lambda g: _edit(g, 11, inputs=("b2.bn", "x2")),
     r"node 'b2.add' \(add\): adds tensors of shapes \(6, 3, 3\) and \(4, 6, 6\)"),
    (lambda g: _edit(g, 4, name="x1"), r"node 'x1' \(batchnorm\): the name must be a new"),
    (lambda g: list(g.nodes[:-1]), r"node 'fc' \(dense\): the last node must be Scores"),
])
def test_graph_errors_name_the_node(edit, message):
    graph = residual_graph()
    with pytest.raises(NetworkError, match=message):
        Graph(graph.input_shape, graph.input_quantizer, tuple(edit(graph)))


def test_concat_needs_one_quantizer():
    graph = branch_graph()
    nodes = list(graph.nodes)
    nodes[5] = Node("b.q", Activation(FixedPointActivation(2, 0.5)), ("b.bn",))
    with pytest.raises(NetworkError, match=r"node 'cat' \(concat\) joins activations of "
                                           r"different quantizers \('a.q' and 'b.q'\)"):
        Graph(graph.input_shape, graph.input_quantizer, tuple(nodes))


def test_unread_tensor_is_named():
    graph = branch_graph()
    nodes = list(graph.nodes)
    nodes.insert(3, Node("spare", Activation(SignActivation()), ("a.bn",)))   # never read
    with pytest.raises(NetworkError, match=r"tensor 'spare' is computed but never read"):
        Graph(graph.input_shape, graph.input_quantizer, tuple(nodes))


def test_file_errors_name_the_node(tmp_path):
    path = tmp_path / "g.npz"
    save_network(branch_graph(), path)
    edit_file(path, lambda meta: meta["nodes"][6].update(kind="multiply"))
    with pytest.raises(NetworkError, match=r"node 'cat': unknown node kind 'multiply'; known "
                                           r"kinds are .*add, concat"):
        load_graph(path)
    edit_file(path, lambda meta: meta["nodes"][6].update(kind="concat"),
              lambda arrays: arrays.pop("nodes.a.weight"))
    with pytest.raises(NetworkError, match=r"node 'a' \(conv2d\): missing array "
                                           r"'nodes.a.weight'"):
        load_graph(path)


def test_popcorn_predict_runs_a_graph(tmp_path):
    """``popcorn predict`` (and ``--float``) on a graph file writes the golden models'
    scores; the folded build refuses a residual graph, naming the node."""
    from click.testing import CliRunner

    from popcorn.cli import main
    from popcorn.golden.predict import predict

    graph = residual_graph()
    save_network(graph, tmp_path / "res.npz")
    x = np.random.default_rng(4).random((7,) + graph.input_shape)
    np.save(tmp_path / "x.npy", x)
    args = ["predict", str(tmp_path / "res.npz"), str(tmp_path / "x.npy"), "-o"]
    for extra, expected in ((["--float"], float_forward(graph, x).scores),
                            ([], predict(graph, x).scores)):
        result = CliRunner().invoke(main, args + [str(tmp_path / "out.npz")] + extra)
        assert result.exit_code == 0, result.output
        assert np.array_equal(np.load(tmp_path / "out.npz")["scores"], expected)
    result = CliRunner().invoke(main, ["build", str(tmp_path / "res.npz"), "--inputs",
                                       str(tmp_path / "x.npy"), "--arch", "folded"])
    assert result.exit_code != 0, result.output
    assert "residual blocks (a shortcut queue) are not in the folded engine" \
           in " ".join(result.output.split())


def test_popcorn_build_maps_a_residual_graph_file(tmp_path, monkeypatch):
    """A graph file of two identity residual blocks through ``popcorn build`` (estimate,
    golden models, RTL simulation): the estimate names the shortcut queues, and the RTL
    equals the golden model with the predicted cycles (the flow checks both)."""
    from click.testing import CliRunner

    from popcorn.cli import main
    from popcorn.golden.examples import random_residual_network

    monkeypatch.chdir(tmp_path)
    graph = random_residual_network("abc", seed=6, layout="conv", blocks=2)
    save_network(graph, tmp_path / "res.npz")
    x = np.random.default_rng(5).integers(0, 256, (6,) + graph.input_shape).astype(np.uint8)
    np.savez(tmp_path / "x.npz", x=x, y=np.zeros(6, dtype=np.int64))
    result = CliRunner().invoke(main, ["build", "res.npz", "--inputs", "x.npz", "--board",
                                       "ulx3s-85f", "--target-cycles", "300",
                                       "--steps", "estimate,golden,simulate"])
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "build" / "res-ulx3s-85f").rglob("*.json")
    texts = " ".join(path.read_text() for path in summary)
    assert texts.count('"kind": "shortcut"') == 2 and '"interval": 278' in texts
