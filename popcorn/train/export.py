"""A trained :class:`~.models.QuantNet` as a popcorn network.

This is the one place that knows both the PyTorch modules and the popcorn network
description. :func:`to_network` gives a ``popcorn.network.Network`` (the IR;
``popcorn.network.save_network`` writes it), which the golden model, the mapper and the
hardware take; ``popcorn.golden.predict(network, x, use_float=True)`` reproduces the model's
scores. A model with no binary form (XNOR-Net's real first/last layers, BinaryConnect with
real ReLU activations) raises ``ValueError`` naming the layer (:func:`check_mappable`).
"""

import numpy as np
from torch import nn

from .models import InputScale, QConv2d, QLinear, QuantNet
from .quantizers import ABCActivation, FixedPointReLU, PAActivation, ShiftBatchNorm, \
    SignActivation

__all__ = ["check_mappable", "to_network", "input_bits"]


def input_bits(input_max):
    """Bits of the fixed-point input code: pixels 0..input_max (16 -> 5, 255 -> 8)."""
    return max(1, int(np.ceil(np.log2(float(input_max) + 1))))


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
    """
    from popcorn import network as pn

    if not isinstance(model, QuantNet):
        raise TypeError(f"model must be a popcorn.train QuantNet, not {type(model).__name__}")
    check_mappable(model.config)
    cfg = model.config
    h, w = cfg["input_shape"][-2:]
    layers, pending_pool = [], None
    for index, layer in enumerate(model):
        if isinstance(layer, InputScale):
            input_quantizer = pn.FixedPointActivation(input_bits(layer.input_max),
                                                      1.0 / layer.input_max)
            if layer.flatten:
                layers.append(pn.Flatten())
        elif isinstance(layer, (QLinear, QConv2d)):
            scheme = _weight_scheme(pn, layer.quantizer, index)
            weight = layer.weight.detach().numpy().copy()
            bias = None if layer.bias is None else layer.bias.detach().numpy().copy()
            if isinstance(layer, QLinear):
                layers.append(pn.Dense(weight, scheme, bias))
            else:
                layers.append(pn.Conv2d(weight, scheme, bias, stride=1, padding=layer.pad))
        elif isinstance(layer, ShiftBatchNorm):
            scale, _ = layer.affine()
            layers.append(pn.BatchNorm(scale.numpy(), layer.bias.detach().double().numpy(),
                                       layer.running_mean.double().numpy(),
                                       np.full(layer.channels, 1.0 - layer.eps), layer.eps))
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            layers.append(pn.BatchNorm(layer.weight.detach().double().numpy(),
                                       layer.bias.detach().double().numpy(),
                                       layer.running_mean.double().numpy(),
                                       layer.running_var.double().numpy(), float(layer.eps)))
        elif isinstance(layer, nn.MaxPool2d):
            pending_pool = pn.MaxPool2d(2)
        elif isinstance(layer, nn.Flatten):
            layers.append(pn.Flatten())
        else:
            layers.append(pn.Activation(_activation_quantizer(pn, layer, index)))
            if pending_pool is not None:
                layers.append(pending_pool)
                pending_pool = None
    layers.append(pn.Scores())
    return pn.Network((1, h, w), input_quantizer, tuple(layers))
