"""Networks over sequences (seed 003's text model shape): Conv1d, MaxPool1d, GlobalMaxPool
and Concat, run by the golden models as graphs over (C, 1, T) maps (as_2d), checked
against PyTorch's 1-D operators."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from popcorn.golden.examples import SCHEMES, random_text_network
from popcorn.golden.float_ref import batchnorm_forward, pad_value, float_forward
from popcorn.golden.integer_model import to_integer
from popcorn.golden.predict import predict
from popcorn.golden.quantizers import quantize_activations, quantize_weights
from popcorn.network import (INPUT, Activation, BatchNorm, Conv1d, Dense, GlobalMaxPool,
                             MaxPool1d, Network, NetworkError, Scores, SignActivation,
                             BnnWeights, FixedPointActivation, load_graph, save_network)
from popcorn.network.sequences import as_2d


def torch_forward(graph, x):
    """The float reference of a sequence graph, written with torch's 1-D operators."""
    tensors = {INPUT: (torch.as_tensor(quantize_activations(x, graph.input_quantizer)),
                       graph.input_quantizer)}
    for node in graph.nodes:
        layer, kind = node.layer, node.layer.kind
        value, quantizer = tensors[node.inputs[0]]
        if kind == "conv1d":
            w = torch.as_tensor(quantize_weights(layer.weight, layer.quantizer).values())
            fill = 0.0 if layer.padding_fill == "zero" else pad_value(quantizer)
            padded = F.pad(value, (layer.padding, layer.padding), value=fill)
            out = F.conv1d(padded, w, torch.as_tensor(layer.bias), stride=layer.stride)
        elif kind == "dense":
            w = torch.as_tensor(quantize_weights(layer.weight, layer.quantizer).values())
            out = F.linear(value, w, None if layer.bias is None else torch.as_tensor(layer.bias))
        elif kind == "batchnorm":
            out = torch.as_tensor(batchnorm_forward(layer, value.numpy()))
        elif kind == "activation":
            quantizer = layer.quantizer
            out = torch.as_tensor(quantize_activations(value.numpy(), quantizer))
        elif kind == "maxpool1d":
            out = F.max_pool1d(value, layer.kernel, layer.stride)
        elif kind == "globalmaxpool":
            out = value.amax(-1)
            out[:, list(layer.minimum)] = value[:, list(layer.minimum)].amin(-1)
        elif kind == "concat":
            out = torch.cat([tensors[name][0] for name in node.inputs], 1)
        else:                                                               # scores
            out = value
        tensors[node.name] = (out, quantizer)
    return out.numpy()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("fill", ["lowest", "zero"])
def test_float_reference_of_a_text_network_equals_torch(scheme, fill):
    graph = random_text_network(scheme, seed=7, padding_fill=fill)
    x = np.random.default_rng(1).random((40, *graph.input_shape))
    ours = float_forward(graph, x).scores
    assert np.allclose(ours, torch_forward(graph, x), rtol=1e-9, atol=1e-9)
    assert len(np.unique(ours.argmax(1))) > 1


@pytest.mark.parametrize("scheme", SCHEMES)
def test_integer_model_of_a_text_network_follows_the_float_one(scheme):
    """The integer model of the 2-D form: at 12 fractional bits its argmax is the float
    model's on nearly every sample (a rounded Y may cross a threshold on a few)."""
    graph = random_text_network(scheme, seed=3)
    x = np.random.default_rng(2).integers(0, 256, (200, *graph.input_shape))
    exact = predict(graph, x, frac_bits=12)
    real = predict(graph, x, use_float=True)
    assert exact.scores.shape == (200, 3)
    assert (exact.argmax == real.argmax).mean() >= 0.95
    assert np.abs(exact.scores / 2.0 ** exact.frac_bits - real.scores).mean() < 0.05


def test_as_2d_names_and_shapes():
    graph = random_text_network("abc", seed=0)
    flat = as_2d(graph)
    assert flat.input_shape == (4, 1, 9)
    shapes = flat.shapes
    assert shapes["g2.conv"] == (3, 1, 10) and shapes["g3.conv"] == (3, 1, 4)
    assert shapes["g3.pool"] == (3, 1, 2)
    assert shapes["g4.max.pool"] == (3, 1, 1) and shapes["g4.max"] == (3,)
    assert shapes["cat"] == (9,)
    assert as_2d(flat) is flat


def test_sequence_networks_round_trip_through_the_file(tmp_path):
    graph = random_text_network("pa", seed=4, padding_fill="zero")
    save_network(graph, tmp_path / "text.npz")
    back = load_graph(tmp_path / "text.npz")
    assert back.input_shape == graph.input_shape
    for a, b in zip(graph.nodes, back.nodes):
        assert (a.name, a.inputs, a.layer.to_json()) == (b.name, b.inputs, b.layer.to_json())
    x = np.random.default_rng(0).integers(0, 256, (16, *graph.input_shape))
    assert (predict(back, x).scores == predict(graph, x).scores).all()


def _sequential(rng):
    conv = Conv1d(rng.uniform(-1, 1, (5, 2, 3)), BnnWeights(), stride=2, padding=1)
    norm = BatchNorm(np.ones(5), np.zeros(5), rng.normal(0, 2, 5), np.full(5, 4.0))
    return Network((2, 11), FixedPointActivation(8, 1 / 255),
                   (conv, norm, Activation(SignActivation()), MaxPool1d(2, 1),
                    GlobalMaxPool(), Dense(rng.uniform(-1, 1, (4, 5)), BnnWeights()),
                    Scores()))


def test_a_sequential_network_over_sequences_predicts():
    network = _sequential(np.random.default_rng(5))
    assert network.shapes[1:5] == [(5, 6), (5, 6), (5, 6), (5, 5)]
    x = np.random.default_rng(6).integers(0, 256, (30, 2, 11))
    exact = predict(network, x, frac_bits=12)
    real = predict(network, x, use_float=True)
    assert (exact.argmax == real.argmax).mean() >= 0.9
    with pytest.raises(NetworkError, match="runs over sequences; map its graph over maps"):
        to_integer(network)


@pytest.mark.parametrize("build, message", [
    (lambda: Conv1d(np.zeros((2, 3, 3, 3)), BnnWeights()), "weight must be 3-D"),
    (lambda: Network((3, 8), FixedPointActivation(8, 1), (
        Conv1d(np.zeros((2, 4, 3)), BnnWeights()), Scores())),
     r"layer 0 \(conv1d\): weight has 4 input channels but the input has 3"),
    (lambda: Network((4, 2), FixedPointActivation(8, 1), (
        Conv1d(np.zeros((2, 4, 3)), BnnWeights()), Scores())),
     r"layer 0 \(conv1d\): kernel 3 with padding 0 does not fit the 2-step input"),
    (lambda: Network((1, 4, 4), FixedPointActivation(8, 1), (
        Conv1d(np.zeros((2, 1, 3)), BnnWeights()), Scores())),
     r"input must be a sequence \(channels, time\)"),
    (lambda: Network((2, 3), FixedPointActivation(8, 1), (MaxPool1d(4), Scores())),
     "kernel 4 does not fit the 3-step input"),
    (lambda: Network((2, 3), FixedPointActivation(8, 1), (GlobalMaxPool((2,)), Scores())),
     "pooling minimum names channel 2, the input has 2 channels"),
    (lambda: Network((2, 3), FixedPointActivation(8, 1), (
        Conv1d(np.zeros((2, 2, 3)), BnnWeights()), GlobalMaxPool(), Scores())),
     r"layer 1 \(globalmaxpool\) cannot follow layer 0 \(conv1d\): pool quantized "
     r"activations"),
])
def test_bad_sequence_layers_are_named(build, message):
    with pytest.raises((NetworkError, ValueError), match=message):
        build()
