"""A trained :class:`~.models.QuantNet` as a popcorn network.

This is the one place that knows both the PyTorch modules and the popcorn network
description. :func:`to_network` gives a ``popcorn.network.Network`` (a ``Graph`` for a
ResNet; the IR;
``popcorn.network.save_network`` writes it), which the golden model, the mapper and the
hardware take; ``popcorn.golden.predict(network, x, use_float=True)`` reproduces the model's
scores. A model with no binary form (XNOR-Net's real first/last layers, BinaryConnect with
real ReLU activations) raises ``ValueError`` naming the layer (:func:`check_mappable`).
"""

import numpy as np
from torch import nn

from .models import InputScale, NGramBranches, QConv1d, QConv2d, QLinear, QuantNet, \
    ResidualBlock, SeparableBlock
from .quantizers import ABCActivation, FixedPointReLU, PAActivation, ShiftBatchNorm, \
    SignActivation

__all__ = ["check_mappable", "to_network", "network_inputs", "input_bits"]


def input_bits(input_max):
    """Bits of the fixed-point input code: pixels 0..input_max (16 -> 5, 255 -> 8)."""
    return max(1, int(np.ceil(np.log2(float(input_max) + 1))))


def network_inputs(config, images):
    """A data set's uint8 ``images`` (B, H, W) as the network of a model built with
    ``config`` takes them: (B, 1, H, W) images, or for the text CNN (B, C, T) sequences,
    the rows of an image its channels and its columns the time steps."""
    return images if config["arch"] == "textcnn" else images[:, None]


def check_mappable(config):
    """Raise ``ValueError`` if a model built with ``config`` has no popcorn network form."""
    if config["scheme"] == "xnor" and config.get("real_ends"):
        raise ValueError("XNOR-Net with real first and last layers (seed 003) has no binary "
                         "bases there, so it cannot become a popcorn network; train it with "
                         "real_ends=False")
    if config["scheme"] == "binaryconnect" and config.get("act_bits") is None:
        raise ValueError("BinaryConnect with real ReLU activations cannot become a popcorn "
                         "network; train it with fixed-point activations (act_bits)")


def _weight_scheme(pn, quant, index):
    name = quant.scheme
    if name == "bnn":
        return pn.BnnWeights()
    if name == "binaryconnect":
        # Inference uses the deterministic binarization (as the model in evaluation mode),
        # also after stochastic training.
        return pn.BinaryConnectWeights(stochastic=False, seed=0)
    if name == "xnor":
        return pn.XnorWeights()
    if name == "abc":
        return pn.AbcWeights(tuple(float(u) for u in quant.shifts))
    if name == "pa":
        return pn.PaWeights(tuple(float(c) for c in quant.endpoints))
    if name == "fixedpoint":
        return pn.FixedPointWeights(quant.bits, per_channel=quant.per_channel)
    raise ValueError(f"layer {index}: {name} weights have no binary bases (XNOR-Net's real "
                     f"first/last layer); train with real_ends=False")


def _activation_quantizer(pn, act, index):
    if isinstance(act, SignActivation):
        return pn.SignActivation()
    if isinstance(act, ABCActivation):
        return pn.AbcActivation(act.shifts.detach().double().numpy(),
                                act.beta.detach().double().numpy())
    if isinstance(act, PAActivation):
        return pn.PaActivation(act.endpoints.detach().double().numpy(),
                               act.beta.detach().double().numpy())
    if isinstance(act, FixedPointReLU) and act.bits is not None:
        return pn.FixedPointActivation(act.bits, 2.0 ** -act.frac_bits)
    raise ValueError(f"layer {index}: {type(act).__name__} has no popcorn network form "
                     f"(real ReLU); train with fixed-point activations (act_bits)")


def _layer(pn, layer, index):
    """The popcorn layer of one module (not an InputScale, MaxPool2d or ResidualBlock)."""
    if isinstance(layer, (QLinear, QConv2d, QConv1d)):
        scheme = _weight_scheme(pn, layer.quantizer, index)
        weight = layer.weight.detach().numpy().copy()
        bias = None if layer.bias is None else layer.bias.detach().numpy().copy()
        if isinstance(layer, QLinear):
            return pn.Dense(weight, scheme, bias)
        if isinstance(layer, QConv1d):
            return pn.Conv1d(weight, scheme, bias)
        return pn.Conv2d(weight, scheme, bias, stride=layer.stride[0], padding=layer.pad,
                         groups=layer.groups)
    if isinstance(layer, ShiftBatchNorm):
        scale, _ = layer.affine()
        return pn.BatchNorm(scale.numpy(), layer.bias.detach().double().numpy(),
                            layer.running_mean.double().numpy(),
                            np.full(layer.channels, 1.0 - layer.eps), layer.eps)
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return pn.BatchNorm(layer.weight.detach().double().numpy(),
                            layer.bias.detach().double().numpy(),
                            layer.running_mean.double().numpy(),
                            layer.running_var.double().numpy(), float(layer.eps))
    if isinstance(layer, nn.Flatten):
        return pn.Flatten()
    return pn.Activation(_activation_quantizer(pn, layer, index))


def to_network(model):
    """The ``popcorn.network.Network`` of a trained ``model`` (:class:`QuantNet`).

    * input: ``(1, H, W)`` images, ``FixedPointActivation(input_bits(input_max),
      1 / input_max)``: the uint8 pixels are the codes; an MLP starts with ``Flatten``;
    * weights: the trained real weights (float32) with the layer's scheme; the golden model
      re-derives the bases with the same formulas as :mod:`.quantizers`;
      BinaryConnect is written deterministic (``stochastic=False``), as it is evaluated;
    * batch norm: running statistics; shift-based batch norm as the equivalent
      ``gamma = AP2(gamma) AP2(1 / (sqrt(var) + eps))``, ``var = 1 - eps``;
    * max-pooling (before the quantizer in the model) is written after the activation: the
      quantizers are non-decreasing (``constrain()``), so both orders give the same codes;
    * ``Scores`` last.

    With :class:`ResidualBlock` s it is a ``popcorn.network.Graph``: nodes ``n<i>`` for the
    layers outside the blocks, ``b<i>.conv_a``, ``b<i>.bn_a``, ... inside block i, whose
    ``b<i>.add`` sums ``bn_b`` and the block's input (or ``bn_s``) before ``b<i>.act``.
    A MobileNet's :class:`SeparableBlock` i gives ``s<i>.dw`` (a Conv2d with ``groups`` =
    channels and :class:`~popcorn.network.FixedPointWeights`), ``s<i>.bn_dw``,
    ``s<i>.act_dw``, ``s<i>.pw``, ``s<i>.bn``, ``s<i>.act``.
    The text CNN is a Graph over ``(C, T)`` sequences: its :class:`NGramBranches` (module
    i) become branches ``g<i>.<n>.conv``, ``.bn``, ``.act`` and ``.max`` (a GlobalMaxPool
    after the activation: the quantizers are monotone) joined by the Concat ``g<i>``.
    """
    from popcorn import network as pn

    if not isinstance(model, QuantNet):
        raise TypeError(f"model must be a popcorn.train QuantNet, not {type(model).__name__}")
    check_mappable(model.config)
    cfg = model.config
    h, w = cfg["input_shape"][-2:]
    nodes, current, pending_pool = [], pn.INPUT, None

    def add(name, layer, inputs=None):
        nonlocal current
        nodes.append(pn.Node(name, layer, (current,) if inputs is None else inputs))
        current = name

    for index, layer in enumerate(model):
        if isinstance(layer, InputScale):
            input_quantizer = pn.FixedPointActivation(input_bits(layer.input_max),
                                                      1.0 / layer.input_max)
            if layer.flatten:
                add(f"n{index}", pn.Flatten())
        elif isinstance(layer, nn.MaxPool2d):
            pending_pool = pn.MaxPool2d(2)
        elif isinstance(layer, ResidualBlock):
            block, start = f"b{index}", current
            for part in ("conv_a", "bn_a", "act_a", "conv_b", "bn_b"):
                add(f"{block}.{part}", _layer(pn, getattr(layer, part), index))
            shortcut = start
            if layer.conv_s is not None:
                add(f"{block}.conv_s", _layer(pn, layer.conv_s, index), (start,))
                add(f"{block}.bn_s", _layer(pn, layer.bn_s, index))
                shortcut = current
            add(f"{block}.add", pn.Add(), (f"{block}.bn_b", shortcut))
            add(f"{block}.act", _layer(pn, layer.act, index))
        elif isinstance(layer, SeparableBlock):
            for part in ("dw", "bn_dw", "act_dw", "pw", "bn", "act"):
                add(f"s{index}.{part}", _layer(pn, getattr(layer, part), index))
        elif isinstance(layer, NGramBranches):
            start, ends = current, []
            for n, conv, bn in zip(layer.grams, layer.convs, layer.bns):
                branch = f"g{index}.{n}"
                add(f"{branch}.conv", _layer(pn, conv, index), (start,))
                add(f"{branch}.bn", _layer(pn, bn, index))
                add(f"{branch}.act", _layer(pn, layer.act, index))
                add(f"{branch}.max", pn.GlobalMaxPool())
                ends.append(current)
            add(f"g{index}", pn.Concat(), tuple(ends))
        else:
            add(f"n{index}", _layer(pn, layer, index))
            if pending_pool is not None and nodes[-1].layer.kind == "activation":
                add(f"n{index}.pool", pending_pool)
                pending_pool = None
    add("scores", pn.Scores())
    sequence = cfg["arch"] == "textcnn"
    graph = pn.Graph(tuple(cfg["input_shape"]) if sequence else (1, h, w), input_quantizer,
                     tuple(nodes))
    if sequence or any(isinstance(layer, ResidualBlock) for layer in model):
        return graph
    return pn.Network((1, h, w), input_quantizer, tuple(node.layer for node in nodes))
