"""A trained :class:`~.models.QuantNet` as a popcorn network, or as plain arrays + metadata.

This is the one place that knows both the PyTorch modules and the popcorn network
description. Two outputs:

* :func:`to_network`: a ``popcorn.network.Network`` (the IR; ``popcorn.network.save_network``
  writes it), which the golden model, the mapper and the hardware take. It needs
  ``popcorn.network``; a model with no binary form (XNOR-Net's real first/last layers,
  BinaryConnect with real ReLU activations) raises ``ValueError`` naming the layer.
* :func:`export_layers`: a list of dicts, one per layer in execution order, with everything
  the model computes (also the trained bases and coefficients), written by
  :func:`save_layers` as ``NAME.npz`` (arrays, keyed ``"<layer>.<field>"``) beside
  ``NAME.json`` (everything else, and the array keys). Independent of ``popcorn.network``.

Layer dicts (arrays are ``numpy`` arrays; float arrays are float64 unless noted):

``{"kind": "input"}``
    ``input_max`` (the uint8 pixels are divided by it), ``shape`` (H, W), ``layout``
    (``"flatten"``: row-major H*W vector for an MLP, ``"nchw"``: one channel for a CNN).
``{"kind": "dense" | "conv2d"}``
    ``scheme`` (``"bnn"``, ``"binaryconnect"``, ``"xnor"``, ``"abc"``, ``"pa"`` or ``"float"``
    for XNOR-Net's real first and last layers), ``weight`` (the trained real weights,
    float32, PyTorch layout ``(out, in)`` / ``(out, in, kh, kw)``), ``weight_hat`` (the float
    weights the network computes with), ``m`` and ``encoding`` (``"pm1"``/``"zo"``, ``None``
    for float), ``bits`` (uint8, ``(M, *weight.shape)``) and ``alpha`` (``(M,)``, or
    ``(M, out)`` for XNOR-Net) with ``weight_hat == sum_i alpha_i * value(bits_i)``;
    ``bias`` (``(out,)`` or ``None``); conv adds ``kernel_size``, ``padding`` (int),
    ``pad_value`` (the value of activation code 0 of the quantizer in front, which padding
    inserts), ``stride`` (1); scheme extras: ABC ``u``; PA ``endpoints_std``, ``endpoints``
    (absolute), ``lambda_w``; BinaryConnect ``stochastic``.
``{"kind": "batchnorm"}``
    ``gamma``, ``beta``, ``mean``, ``var``, ``eps``, ``shift_based`` and the evaluation-mode
    affine map ``y = scale * x + shift`` per channel (axis 1), which is what the network
    computes (for shift-based batch norm the AP2-rounded one).
``{"kind": "maxpool"}``
    ``size``, ``stride`` (2, 2), on the batch-norm output before the activation quantizer.
``{"kind": "flatten"}``
    (C, H, W) row-major to a vector.
``{"kind": "activation"}``
    ``quantizer`` (``"sign"``, ``"abc"``, ``"pa"``, ``"fixed_point"`` or ``"relu"``),
    ``encoding``, ``n`` (base count), ``thresholds``, ``beta``, a ``rule`` in words, and
    ``shifts`` (ABC) / ``bits``, ``frac_bits`` (fixed point).

:func:`float_forward` evaluates these dicts with NumPy; it reproduces the PyTorch model's
scores (tests check it), so it pins down what every field means. The integer golden model
in ``popcorn.golden`` is the specification for the hardware; this is only the float side.
"""

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .models import InputScale, QConv2d, QLinear, QuantNet
from .quantizers import ABCActivation, FixedPointReLU, PAActivation, ShiftBatchNorm, \
    SignActivation

__all__ = ["FORMAT", "export_layers", "save_layers", "load_layers", "float_forward",
           "check_mappable", "to_network", "input_bits"]

FORMAT = "popcorn.train/1"


def _np(t):
    return None if t is None else t.detach().cpu().numpy()


def _weight_layer(layer):
    w = layer.weight.detach()
    quant = layer.quantizer
    bits, alpha, encoding = quant.bases(w)
    with torch.no_grad():
        was = quant.training
        quant.eval()
        w_hat = quant(w).double()
        quant.train(was)
    d = {"kind": "dense" if isinstance(layer, QLinear) else "conv2d", "scheme": quant.scheme,
         "weight": _np(w), "weight_hat": _np(w_hat), "m": quant.bases_count,
         "encoding": encoding, "bits": _np(bits), "alpha": _np(alpha), "bias": _np(layer.bias)}
    if isinstance(layer, QLinear):
        d.update(in_features=layer.in_features, out_features=layer.out_features)
    else:
        d.update(in_channels=layer.in_channels, out_channels=layer.out_channels,
                 kernel_size=list(layer.kernel_size), padding=layer.pad, stride=1,
                 pad_value=layer.pad_value())
    d.update(quant.extra_metadata(w))
    return d


def _batchnorm(layer):
    if isinstance(layer, ShiftBatchNorm):
        scale, shift = layer.affine()
        shift_based = True
    else:
        inv = 1.0 / torch.sqrt(layer.running_var.double() + layer.eps)
        scale = layer.weight.detach().double() * inv
        shift = layer.bias.detach().double() - scale * layer.running_mean.double()
        shift_based = False
    return {"kind": "batchnorm", "gamma": _np(layer.weight), "beta": _np(layer.bias),
            "mean": _np(layer.running_mean), "var": _np(layer.running_var), "eps": layer.eps,
            "shift_based": shift_based, "scale": _np(scale), "shift": _np(shift)}


def export_layers(model):
    """The layers of a trained ``model`` (:class:`QuantNet`) as a list of dicts (see above)."""
    if not isinstance(model, QuantNet):
        raise TypeError(f"model must be a popcorn.train QuantNet, not {type(model).__name__}")
    layers = []
    for layer in model:
        if isinstance(layer, InputScale):
            cfg = model.config
            layers.append({"kind": "input", "input_max": layer.input_max,
                           "shape": list(cfg["input_shape"]),
                           "layout": "flatten" if layer.flatten else "nchw"})
        elif isinstance(layer, (QLinear, QConv2d)):
            layers.append(_weight_layer(layer))
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, ShiftBatchNorm)):
            layers.append(_batchnorm(layer))
        elif isinstance(layer, nn.MaxPool2d):
            layers.append({"kind": "maxpool", "size": 2, "stride": 2})
        elif isinstance(layer, nn.Flatten):
            layers.append({"kind": "flatten"})
        elif hasattr(layer, "export"):
            layers.append({"kind": "activation", **layer.export()})
        else:
            raise TypeError(f"layer {len(layers)} ({type(layer).__name__}) has no export")
    return layers


def save_layers(path, layers, metadata=None):
    """Write ``layers`` to ``PATH.npz`` (arrays) and ``PATH.json`` (the rest); return both."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    arrays, described = {}, []
    for i, layer in enumerate(layers):
        entry = {}
        for key, value in layer.items():
            if isinstance(value, np.ndarray):
                name = f"{i}.{key}"
                arrays[name] = value
                entry[key] = {"array": name}
            else:
                entry[key] = value
        described.append(entry)
    npz, js = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
    np.savez_compressed(npz, **arrays)
    js.write_text(json.dumps({"format": FORMAT, **(metadata or {}), "layers": described},
                             indent=1) + "\n")
    return npz, js


def load_layers(path):
    """Read what :func:`save_layers` wrote: ``(layers, metadata)``."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    meta = json.loads(base.with_name(base.name + ".json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{base}.json is not a {FORMAT} network (format "
                         f"{meta.get('format')!r})")
    with np.load(base.with_name(base.name + ".npz")) as npz:
        layers = [{k: (npz[v["array"]] if isinstance(v, dict) and "array" in v else v)
                   for k, v in entry.items()} for entry in meta.pop("layers")]
    return layers, meta


def _conv(x, w, padding, pad_value):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
               constant_values=pad_value)
    kh, kw = w.shape[2:]
    h, wd = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    cols = np.stack([x[:, :, i:i + h, j:j + wd] for i in range(kh) for j in range(kw)], -1)
    return np.einsum("nchwk,ock->nohw", cols, w.reshape(w.shape[0], w.shape[1], -1))


def float_forward(layers, x):
    """Scores of the exported network for uint8 images ``x`` (float64, NumPy only)."""
    h = np.asarray(x, dtype=np.float64)
    for layer in layers:
        kind = layer["kind"]
        if kind == "input":
            h = h / layer["input_max"]
            h = h.reshape(len(h), -1) if layer["layout"] == "flatten" else h[:, None]
        elif kind in ("dense", "conv2d"):
            w = layer["weight_hat"]
            h = h @ w.T if kind == "dense" else _conv(h, w, layer["padding"], layer["pad_value"])
            if layer["bias"] is not None:
                b = layer["bias"]
                h = h + (b if kind == "dense" else b[:, None, None])
        elif kind == "batchnorm":
            shape = (1, -1) + (1,) * (h.ndim - 2)
            h = h * layer["scale"].reshape(shape) + layer["shift"].reshape(shape)
        elif kind == "maxpool":
            n, c, hh, ww = h.shape
            h = h[:, :, :hh // 2 * 2, :ww // 2 * 2].reshape(n, c, hh // 2, 2, ww // 2, 2)
            h = h.max(axis=(3, 5))
        elif kind == "flatten":
            h = h.reshape(len(h), -1)
        elif kind == "activation":
            h = _activation(layer, h)
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return h


def _activation(layer, h):
    q = layer["quantizer"]
    beta = np.asarray(layer.get("beta", []), dtype=np.float64)
    if q == "sign":
        return np.where(h >= 0, 1.0, -1.0)
    if q == "abc":
        out = np.zeros_like(h)
        for v, b in zip(layer["shifts"], beta):
            out += b * np.where(h > 0.5 - v, 1.0, -1.0)
        return out
    if q == "pa":
        piece = np.searchsorted(np.asarray(layer["thresholds"]), h, side="right")
        return np.concatenate([[0.0], beta])[piece]
    if q == "fixed_point":
        scale = 2.0 ** layer["frac_bits"]
        top = (2 ** layer["bits"] - 1) / scale
        return np.floor(np.clip(h, 0, top) * scale + 0.5) / scale
    if q == "relu":
        return np.maximum(h, 0)
    raise ValueError(f"unknown activation quantizer {q!r}")


# --------------------------------------------------------------------------- popcorn.network


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
