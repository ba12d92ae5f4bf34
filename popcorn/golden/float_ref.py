"""The float reference: the forward pass of a quantized network in ``float64``.

Weights are replaced by their approximation ``sum_i alpha_i T_i`` and activations by their
quantized values ``sum_j beta_j V_j`` (:mod:`popcorn.golden.quantizers`); everything else
(convolution, bias, batch norm, max- and global average pooling, XNOR-Net input scaling) is real arithmetic.
The integer model (:mod:`popcorn.golden.integer_model`) differs from it only by the
rounding of coefficients and biases to ``frac_bits`` fractional bits.
"""

from dataclasses import dataclass

import numpy as np

from .quantizers import (bases_to_values, comparators, quantize_activations, quantize_weights,
                         thermometer_to_bases)
from .windows import im2col, pool_windows

__all__ = ["FloatResult", "float_forward", "linear_forward", "batchnorm_forward", "pad_value",
           "conv_pad_value"]


@dataclass(frozen=True, eq=False)
class FloatResult:
    """``scores`` float64 (B, classes), ``argmax`` int64 (B,), ``trace`` the output of every
    layer (``trace[i]`` after layer i, ``float64`` (B, *shape))."""

    scores: np.ndarray
    argmax: np.ndarray
    trace: list


def pad_value(quantizer):
    """The real value of activation code 0 (all bits zero), which convolution padding inserts."""
    zero = np.zeros(len(comparators(quantizer).thresholds), dtype=np.uint8)
    return float(bases_to_values(thermometer_to_bases(zero, quantizer), quantizer))


def conv_pad_value(layer, quantizer):
    """The real value a Dense or Conv2d ``layer`` reading ``quantizer``'s activations pads
    with: 0 for ``padding_fill="zero"``, else :func:`pad_value`."""
    return 0.0 if getattr(layer, "padding_fill", "lowest") == "zero" else pad_value(quantizer)


def _xnor_scale(layer, magnitude):
    """XNOR-Net input scaling (seed 003): beta = mean abs(X) for Dense, the K map for Conv2d
    (channel mean of abs(X), averaged over each kernel window, zero padded)."""
    if layer.kind == "dense":
        return magnitude.mean(axis=-1, keepdims=True)
    a = magnitude.mean(axis=-3, keepdims=True)
    return im2col(a, layer.kernel, layer.stride, layer.padding, 0.0).mean(axis=-1)[:, None]


def linear_forward(layer, x, pad=0.0, magnitude=None, weight=None):
    """Dense or Conv2d on real activations ``x`` (B, *in_shape): (B, *out_shape) float64.

    ``weight`` is the approximated weight, shaped as ``layer.weight`` (default: quantized
    from ``layer``); ``pad`` the value convolution padding inserts; ``magnitude`` abs of
    the real input for XNOR-Net input scaling (None: no scaling). A grouped Conv2d
    (``groups`` > 1) runs as the dense convolution of its
    :meth:`~popcorn.network.layers.Conv2d.block_diagonal` weight, which is PyTorch's
    ``conv2d(..., groups=g)`` exactly.
    """
    w = quantize_weights(layer.weight, layer.quantizer).values() if weight is None else weight
    x = np.asarray(x, dtype=np.float64)
    if layer.kind == "dense":
        y = x @ w.T
    else:
        w = layer.block_diagonal(w)
        cols = im2col(x, layer.kernel, layer.stride, layer.padding, pad)
        y = np.moveaxis(cols @ w.reshape(w.shape[0], -1).T, -1, 1)
    if magnitude is not None:
        y = y * _xnor_scale(layer, magnitude)
    if layer.bias is not None:
        y = y + layer.bias.reshape((-1,) + (1,) * (y.ndim - 2))
    return y


def batchnorm_forward(layer, y):
    """Inference batch norm over axis 1 of ``y`` (B, C, ...)."""
    shape = (-1,) + (1,) * (y.ndim - 2)
    scale = (layer.gamma / np.sqrt(layer.var.astype(np.float64) + layer.eps)).reshape(shape)
    return (y - layer.mean.reshape(shape)) * scale + layer.beta.reshape(shape)


def float_forward(network, x):
    """Run the float reference on real inputs ``x`` (B, *network.input_shape).

    The input is quantized by ``network.input_quantizer`` first. ``network`` is a
    :class:`~popcorn.network.Network` or a :class:`~popcorn.network.Graph` (then ``trace``
    holds every node's output in node order; an Add sums its inputs' values, a Concat
    joins them along the channel axis). A network over sequences runs as the graph over
    maps of :func:`~popcorn.network.sequences.as_2d` (its trace holds ``(B, C, 1, T)``).
    """
    from popcorn.network import Graph
    from popcorn.network.sequences import as_2d, inputs_2d

    x = inputs_2d(network, np.asarray(x, dtype=np.float64))
    network = as_2d(network)
    quantizer = network.input_quantizer
    values = quantize_activations(x, quantizer)
    magnitude = np.abs(x) if getattr(quantizer, "mean_scaling", False) else None
    if isinstance(network, Graph):
        return _graph_forward(network, values)
    trace = []
    for layer in network.layers:
        values, quantizer, magnitude = _layer_forward(layer, values, quantizer, magnitude)
        trace.append(values)
    return FloatResult(values, np.argmax(values, axis=1), trace)


def _layer_forward(layer, values, quantizer, magnitude=None):
    """One layer on ``values``: (values, the quantizer of the activations now, magnitude)."""
    kind = layer.kind
    if kind in ("dense", "conv2d"):
        return linear_forward(layer, values, conv_pad_value(layer, quantizer), magnitude), \
            quantizer, None
    if kind == "batchnorm":
        return batchnorm_forward(layer, values), quantizer, magnitude
    if kind == "activation":
        quantizer = layer.quantizer
        magnitude = np.abs(values) if getattr(quantizer, "mean_scaling", False) else None
        return quantize_activations(values, quantizer), quantizer, magnitude
    if kind == "maxpool2d":
        windows = pool_windows(values, layer.kernel, layer.stride)
        values = windows.max(axis=-1)
        if layer.minimum:
            values[:, list(layer.minimum)] = windows[:, list(layer.minimum)].min(axis=-1)
        return values, quantizer, magnitude
    if kind == "globalavgpool":
        return values.mean(axis=(-2, -1)), quantizer, magnitude
    if kind == "flatten":
        flat = values.reshape(values.shape[0], -1)
        return flat, quantizer, None if magnitude is None else \
            magnitude.reshape(magnitude.shape[0], -1)
    return values, quantizer, magnitude                   # scores


def _graph_forward(graph, values):
    """:func:`float_forward` of a graph on the quantized input ``values``."""
    from popcorn.network import INPUT

    tensors = {INPUT: (values, graph.input_quantizer)}
    trace = []
    for node in graph.nodes:
        ins = [tensors[name] for name in node.inputs]
        if node.layer.kind == "add":
            out = (ins[0][0] + ins[1][0], None)
        elif node.layer.kind == "concat":
            out = (np.concatenate([value for value, _ in ins], axis=1), ins[0][1])
        else:
            value, quantizer = ins[0]
            out = _layer_forward(node.layer, value, quantizer)[:2]
        tensors[node.name] = out
        trace.append(out[0])
    scores = trace[-1]
    return FloatResult(scores, np.argmax(scores, axis=1), trace)
