"""The integer model of graphs against the float reference, step by step on the integer
model's own inputs (as tests/golden/test_integer_model.py does for chains): linear stages
and Adds within their rounding bound, every comparator bit exact, the identity shortcut's
value added before the comparators, Concat and the scores as the float reference."""

import numpy as np
import pytest

from popcorn.golden.float_ref import batchnorm_forward, conv_pad_value, float_forward, \
    linear_forward
from popcorn.golden.integer_graph import run_integer_graph, to_integer_graph
from popcorn.golden.predict import input_thermometer, predict
from popcorn.golden.quantizers import bases_to_values, thermometer, thermometer_to_bases
from popcorn.golden.widths import rounding_error_bound
from popcorn.network import INPUT, NetworkError

from ..network.test_graph import branch_graph, residual_graph


def _values(thermo, quantizer):
    return bases_to_values(thermometer_to_bases(thermo, quantizer), quantizer)


def check_steps(graph, x, frac_bits):
    """Every step of the integer graph model on ``x``; returns the steps' kinds."""
    integer = to_integer_graph(graph, frac_bits)
    result = run_integer_graph(integer, input_thermometer(graph, x))
    nodes = {node.name: node for node in graph.nodes}
    readers = {name: [n for n in graph.nodes if name in n.inputs] for name in nodes}
    units = {name: 2.0 ** getattr(stage, "frac_bits", 0) for name, stage, _ in integer.steps}
    quantizers = {INPUT: graph.input_quantizer}
    tensors = {INPUT: input_thermometer(graph, x)}
    reals = {}                     # the float value of each linear step on the model's bits
    for (name, stage, inputs), out in zip(integer.steps, result.trace):
        tensors[name] = out
        if stage.kind in ("dense", "conv2d"):
            layer, read = nodes[name].layer, nodes[name].inputs[0]
            codes = read if read == INPUT or nodes[read].layer.kind != "globalavgpool" \
                else nodes[read].inputs[0]
            q = quantizers[codes]
            a = _values(tensors[inputs[0]], q)
            if layer.kind == "dense" and a.shape[1] != layer.in_features:     # after a GAP
                a = a.reshape(len(a), layer.in_features, -1).mean(axis=-1)
            y = linear_forward(layer, a, conv_pad_value(layer, q))
            norm = _folded_norm(nodes, readers, name)
            reals[name] = y if norm is None else batchnorm_forward(norm, y)
            error = np.abs(out / units[name] - reals[name]).max()
            assert error <= rounding_error_bound(stage) + 1e-9, (name, error)
        elif stage.kind == "add":
            bound = sum(rounding_error_bound(s) for n, s, _ in integer.steps if n in inputs)
            error = np.abs(out / units[name] - sum(reals[n] for n in inputs)).max()
            assert error <= bound + 1e-9, (name, error, bound)
        elif stage.kind in ("threshold", "residual"):
            quantizers[name] = stage.quantizer
            read = nodes[nodes[name].inputs[0]]             # a BatchNorm, an Add or a linear
            main = read
            if read.layer.kind == "add":
                main = next((nodes[n] for n in read.inputs if nodes[n].layer.kind in
                             ("batchnorm", "dense", "conv2d")), None)
            y = tensors[inputs[0]] / units[inputs[0]]
            r = batchnorm_forward(main.layer, y) if main.layer.kind == "batchnorm" and \
                stage.kind == "residual" or (read.layer.kind == "batchnorm") else y
            if stage.kind == "residual":
                r = r + _values(tensors[inputs[1]], quantizers[inputs[1]])
            assert np.array_equal(out, thermometer(r, stage.quantizer)), name
        elif stage.kind in ("maxpool2d", "flatten", "concat"):
            quantizers[name] = quantizers[inputs[0]]
    return [stage.kind for _, stage, _ in integer.steps]


def _folded_norm(nodes, readers, name):
    """The BatchNorm folded into linear node ``name``'s coefficients: its one reader's,
    when that BatchNorm is read by the Scores or by an Add of two pre-activations."""
    if len(readers[name]) != 1 or readers[name][0].layer.kind != "batchnorm":
        return None
    norm = readers[name][0]
    after = readers[norm.name][0]
    if after.layer.kind == "scores":
        return norm.layer
    if after.layer.kind == "add":
        other = next(n for n in after.inputs if n != norm.name)
        if nodes[other].layer.kind in ("batchnorm", "dense", "conv2d"):
            return norm.layer
    return None


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("frac_bits", [4, 10])
def test_residual_graph_steps_match_the_float_reference(seed, frac_bits):
    graph = residual_graph(seed)
    x = np.random.default_rng(seed).random((40,) + graph.input_shape)
    kinds = check_steps(graph, x, frac_bits)
    assert kinds == ["conv2d", "threshold", "conv2d", "residual", "conv2d", "conv2d", "add",
                     "threshold", "flatten", "dense", "scores"]


@pytest.mark.parametrize("seed", [0, 1])
def test_branch_graph_steps_match_the_float_reference(seed):
    graph = branch_graph(seed)
    x = np.random.default_rng(seed).random((40,) + graph.input_shape)
    assert check_steps(graph, x, 8) == ["conv2d", "threshold", "conv2d", "threshold",
                                        "concat", "flatten", "dense", "scores"]


def test_graph_scores_follow_the_float_reference():
    """With enough fractional bits the integer graph model's class is the float one on
    nearly every input (the rest are ties of these tiny random networks)."""
    for make in (residual_graph, branch_graph):
        graph = make(1)
        x = np.random.default_rng(9).random((300,) + graph.input_shape)
        integer = predict(graph, x, frac_bits=12)
        assert (integer.argmax == float_forward(graph, x).argmax).mean() >= 0.95


def test_a_sum_read_twice_is_refused():
    from popcorn.network import Activation, Graph, Node, SignActivation

    graph = residual_graph()
    nodes = list(graph.nodes)
    nodes.insert(7, Node("x2b", Activation(SignActivation()), ("b1.add",)))
    nodes[8] = Node("b2.conv", nodes[8].layer, ("x2b",))
    graph = Graph(graph.input_shape, graph.input_quantizer, tuple(nodes))
    with pytest.raises(NetworkError, match=r"node 'b1.add' \(add\): its sum must be read by "
                                           r"one Activation"):
        to_integer_graph(graph)


@pytest.mark.parametrize("scheme", ["bnn", "binaryconnect", "xnor", "abc", "pa"])
@pytest.mark.parametrize("layout", ["conv", "dense", "gap"])
def test_a_chain_as_a_graph_is_the_sequential_model(scheme, layout):
    """The graph model of a sequential network (Graph.from_network) gives the sequential
    integer model's scores, bit for bit (a BatchNorm before the Scores folded alike)."""
    from popcorn.golden.examples import random_network
    from popcorn.network import Graph

    network = random_network(scheme, seed=5, layout=layout)
    x = np.random.default_rng(5).random((20,) + network.input_shape)
    chain = predict(network, x)
    graph = predict(Graph.from_network(network), x)
    assert np.array_equal(chain.scores, graph.scores) and chain.frac_bits == graph.frac_bits
