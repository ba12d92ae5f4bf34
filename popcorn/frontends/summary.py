"""One-line descriptions of a network's layers or a graph's nodes (``popcorn import``
prints them)."""

from ..network.validate import pair_text

__all__ = ["layer_summary", "network_summary"]


def _quantizer(q):
    name = q.quantizer
    if name == "fixedpoint":
        return f"fixed point {q.bits} bits, scale {q.scale:.6g}"
    if name == "sign":
        return "sign" + (" (mean scaling)" if q.mean_scaling else "")
    if name == "pa":
        return f"PA {q.bases} levels, endpoints {[round(float(v), 6) for v in q.endpoints]}"
    return f"ABC {q.bases} bases"


def _weights(layer):
    scheme = layer.quantizer.scheme
    if scheme == "xnor":
        alpha = abs(layer.weight).reshape(layer.weight.shape[0], -1).mean(axis=1)
        lo, hi = float(alpha.min()), float(alpha.max())
        span = f"alpha {lo:.6g}" if lo == hi else f"alpha {lo:.6g}..{hi:.6g}"
        return f"xnor weights ({span})"
    if scheme in ("ternary", "fixedpoint"):
        from popcorn.golden.quantizers import quantize_weights

        alpha = quantize_weights(layer.weight, layer.quantizer).alpha[:, 0]
        lo, hi = float(alpha.min()), float(alpha.max())
        label, name = ("alpha", "ternary") if scheme == "ternary" else \
            ("scale", f"fixed point {layer.quantizer.bits}-bit")
        span = f"{label} {lo:.6g}" if lo == hi else f"{label} {lo:.6g}..{hi:.6g}"
        return f"{name} weights ({span}{', per channel' if layer.quantizer.per_channel else ''})"
    return f"{scheme} weights"


def _minimum(pool):
    return f", minimum on {len(pool.minimum)} channels" if pool.minimum else ""


def layer_summary(layer, input_shape, output_shape):
    """``"dense  (36,) -> (5,)  bnn weights, bias"`` style text for one layer."""
    shapes = f"{tuple(input_shape)} -> {tuple(output_shape)}"
    kind = layer.kind
    if kind == "dense":
        detail = _weights(layer) + (", bias" if layer.bias is not None else "")
    elif kind in ("conv1d", "conv2d"):
        kernel, stride, padding = (layer.kernel, layer.stride, layer.padding) \
            if kind == "conv2d" else ((layer.kernel,), (layer.stride,), (layer.padding,))
        fill = " (value 0)" if any(padding) and layer.padding_fill == "zero" else ""
        groups = getattr(layer, "groups", 1)
        grouped = "" if groups == 1 else f", {groups} groups" + (
            " (depthwise)" if groups == layer.in_channels else "")
        detail = (f"{'x'.join(map(str, kernel))} kernel, stride {pair_text(stride)}, padding "
                  f"{pair_text(padding)}{fill}{grouped}, "
                  + _weights(layer) + (", bias" if layer.bias is not None else ""))
    elif kind == "maxpool2d":
        detail = f"{layer.kernel[0]}x{layer.kernel[1]}, stride {pair_text(layer.stride)}" \
            + _minimum(layer)
    elif kind == "maxpool1d":
        detail = f"{layer.kernel}, stride {layer.stride}" + _minimum(layer)
    elif kind == "globalmaxpool":
        detail = ("over time" if len(input_shape) == 2 else "over the map") + _minimum(layer)
    elif kind == "batchnorm":
        detail = f"{layer.channels} channels, eps {layer.eps:.3g}"
    elif kind == "activation":
        detail = _quantizer(layer.quantizer)
    elif kind == "scores":
        detail = f"{output_shape[0]} classes, argmax"
    else:
        detail = ""
    return f"{kind:<10} {shapes:<28} {detail}".rstrip()


def network_summary(network):
    """The input line and one line per layer of ``network``; for a
    :class:`~popcorn.network.Graph`, one per node: ``"<name> <- <inputs>"``, then its
    layer's line (a join's input shapes joined by ``+``)."""
    from popcorn.network import Graph

    shapes = network.shapes
    lines = [f"{'input':<10} {str(tuple(network.input_shape)):<28} "
             f"{_quantizer(network.input_quantizer)}"]
    if not isinstance(network, Graph):
        for index, layer in enumerate(network.layers):
            lines.append(layer_summary(layer, shapes[index], shapes[index + 1]))
        return lines
    reads = [f"{node.name} <- {', '.join(node.inputs)}" for node in network.nodes]
    width = max(map(len, reads))
    lines[0] = f"{'input':<{width}}  {'':<10} {lines[0][11:]}"
    for node, left in zip(network.nodes, reads):
        ins = [shapes[name] for name in node.inputs]
        line = layer_summary(node.layer, ins[0], shapes[node.name]) if len(ins) == 1 else \
            f"{node.layer.kind:<10} {' + '.join(map(str, ins))} -> {shapes[node.name]}"
        lines.append(f"{left:<{width}}  {line}")
    return lines
