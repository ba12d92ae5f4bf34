"""Small random networks of every scheme, with batch norms calibrated on random inputs.

They exercise every path of the golden model (convolution with padding and stride, max-pooling,
negative and zero gamma, constant comparators, a BatchNorm folded into the scores) and are
the fixtures of the golden-model and hardware tests; they are not trained.
"""

import numpy as np

from popcorn.network import (INPUT, AbcActivation, AbcWeights, Activation, Add, BatchNorm,
                             BinaryConnectWeights, BnnWeights, Concat, Conv1d, Conv2d, Dense,
                             FixedPointActivation, FixedPointWeights, Flatten, GlobalAvgPool2d, GlobalMaxPool,
                             Graph, MaxPool1d, MaxPool2d, Network, Node, PaActivation,
                             PaWeights, Scores, SignActivation, TernaryWeights, XnorWeights)

from popcorn.network.validate import check_pair

from .float_ref import batchnorm_forward, conv_pad_value, linear_forward
from .quantizers import quantize_activations
from .windows import pool_windows

__all__ = ["SCHEMES", "random_network", "random_layout", "random_residual_network",
           "random_concat_network", "random_text_network", "random_separable_network",
           "scheme_quantizers", "sign_mlp",
           "cnv_network", "CNV_CHANNELS"]

SCHEMES = ("bnn", "binaryconnect", "xnor", "abc", "pa")

_LAYOUTS = {
    "conv": ((1, 8, 8), (("conv", 4, 3, 1, 1), ("pool", 2), ("conv", 6, 3, 2, 1),
                         ("flatten",), ("dense", 5))),
    "dense": ((12,), (("dense", 10), ("dense", 4))),
    "strided": ((1, 9, 9), (("conv", 3, 1, 1, 0), ("pool", 3, 2), ("conv", 5, 3, 1, 0),
                            ("flatten",), ("dense", 4))),
    "rgb": ((3, 7, 7), (("conv", 4, 3, 1, 1), ("pool", 2), ("flatten",), ("dense", 3))),
    "gap": ((1, 6, 6), (("conv", 4, 3, 1, 1), ("conv", 6, 3, 1, 0), ("gap",), ("dense", 4))),
    "sequence": ((2, 1, 16), (("conv", 4, (1, 3), 1, (0, 1)), ("conv", 6, (1, 3), (1, 2), (0, 1)),
                              ("pool", (1, 8)), ("flatten",), ("dense", 4))),
    "rect": ((1, 7, 8), (("conv", 4, (3, 1), 1, (1, 0)), ("conv", 5, (1, 3), (2, 1), (0, 1)),
                         ("pool", (2, 1)), ("flatten",), ("dense", 3))),
}


def scheme_quantizers(scheme, rng, weight_bases=3, act_bases=3):
    """(weight scheme, activation quantizer) of ``scheme`` with random trained coefficients."""
    if scheme == "bnn":
        return BnnWeights(), SignActivation()
    if scheme == "binaryconnect":
        return (BinaryConnectWeights(stochastic=bool(rng.integers(2)), seed=int(rng.integers(1000))),
                FixedPointActivation(2, 0.5))
    if scheme == "xnor":
        return XnorWeights(), SignActivation()
    if scheme == "abc":
        shifts = 0.5 - np.linspace(-1.0, 1.0, act_bases) + rng.normal(0, 0.1, act_bases)
        return (AbcWeights.with_bases(weight_bases),
                AbcActivation(shifts, np.sort(rng.uniform(0.2, 1.0, act_bases))))
    if scheme == "pa":
        ends = np.linspace(-0.8, 1.2, act_bases) + rng.uniform(-0.1, 0.1, act_bases)
        return (PaWeights.with_bases(2 * ((weight_bases + 1) // 2)),
                PaActivation(ends, np.cumsum(rng.uniform(0.2, 0.8, act_bases))))
    raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")


def _batchnorm(y, rng, final):
    axes = (0,) + tuple(range(2, y.ndim))
    channels = y.shape[1]
    gamma = rng.uniform(0.5, 1.5, channels) * np.where(rng.random(channels) < 0.3, -1, 1)
    if not final and channels >= 3:
        gamma[rng.integers(channels)] = 0.0
    return BatchNorm(gamma, rng.normal(0, 0.3, channels), y.mean(axis=axes),
                     y.var(axis=axes) + 1e-3)


def random_layout(seed):
    """A random layout for :func:`random_network` (the randomized campaigns'): a quarter
    Dense-only (3..40 inputs, up to two hidden layers), else a C x H x W input (C 1..3,
    H, W 5..10) through one or two Conv2d (k 1..3, stride 1..2, padding below k, 2..8
    channels), each followed half the time by a MaxPool2d (window 2..3, stride up to the
    window), a Flatten, up to one hidden Dense and the scores (2..6 classes)."""
    rng = np.random.default_rng(seed)
    n = lambda lo, hi: int(rng.integers(lo, hi + 1))          # noqa: E731
    if rng.random() < 0.25:
        plan = [("dense", n(2, 20)) for _ in range(n(0, 2))] + [("dense", n(2, 6))]
        return (n(3, 40),), tuple(plan)
    source = (n(1, 3), n(5, 10), n(5, 10))
    shape, plan = source[1:], []
    for _ in range(n(1, 2)):
        k = n(1, min(3, *shape))
        stride, pad = n(1, 2), n(0, k - 1)
        shape = tuple((d + 2 * pad - k) // stride + 1 for d in shape)
        plan.append(("conv", n(2, 8), k, stride, pad))
        if rng.random() < 0.5 and min(shape) >= 2:
            window = n(2, min(3, *shape))
            stride = n(1, window)
            shape = tuple((d - window) // stride + 1 for d in shape)
            plan.append(("pool", window, stride))
    plan += [("flatten",)] + [("dense", n(2, 12)) for _ in range(n(0, 1))] + [("dense", n(2, 6))]
    return source, tuple(plan)


def random_network(scheme, *, seed=0, layout="conv", calibration=32, bases=(3, 3),
                   padding_fill="lowest", input_bits=8):
    """A random :class:`~popcorn.network.Network` of ``scheme`` (one of :data:`SCHEMES`).

    ``layout="conv"``: 1x8x8 8-bit input, Conv2d 3x3 pad 1 -> BN -> act -> MaxPool 2 ->
    Conv2d 3x3 stride 2 pad 1 -> BN -> act -> Flatten -> Dense 5 -> BN -> Scores.
    ``layout="dense"``: 12 8-bit inputs, Dense 10 -> BN -> act -> Dense 4 -> Scores.
    ``layout="strided"``: 1x9x9 8-bit input, Conv2d 1x1 -> BN -> act -> MaxPool 3 stride 2
    (overlapping) -> Conv2d 3x3 -> BN -> act -> Flatten -> Dense 4 -> Scores.
    ``layout="rgb"``: 3x7x7 8-bit input, Conv2d 3x3 pad 1 -> BN -> act -> MaxPool 2 (an odd
    map: its last row and column dropped) -> Flatten -> Dense 3 -> Scores.
    ``layout="gap"``: 1x6x6 8-bit input, Conv2d 3x3 pad 1 -> BN -> act -> Conv2d 3x3 ->
    BN -> act -> GlobalAvgPool2d -> Dense 4 -> Scores.
    ``layout="sequence"``: a 1-D convolution network lowered to 2-D, a 2 x 1 x 16 8-bit
    input, Conv2d (1, 3) pad (0, 1) -> BN -> act -> Conv2d (1, 3) stride (1, 2) pad (0, 1)
    -> BN -> act -> MaxPool (1, 8) (a global max over time) -> Flatten -> Dense 4 -> Scores.
    ``layout="rect"``: 1x7x8 8-bit input, Conv2d (3, 1) pad (1, 0) -> BN -> act -> Conv2d
    (1, 3) stride (2, 1) pad (0, 1) -> BN -> act -> MaxPool (2, 1) -> Flatten -> Dense 3 ->
    Scores.
    ``layout=(input_shape, steps)``: any layout of that form (:func:`random_layout`; a
    ``("gap",)`` step is a GlobalAvgPool2d; a conv's kernel, stride and padding and a
    pool's window and stride are integers or ``(h, w)`` pairs).
    ``bases``: (M, N) of ABC-Net and PA-Net (PA's M rounded up to even).
    ``input_bits``: the input's bits (the layouts' 8, or 1: {0, 1} pixels, as FINN's
    TFC/SFC/LFC take MNIST). Batch norms use the statistics of ``calibration`` random
    inputs, random gamma (some negative, one zero per hidden layer of 3+ channels) and beta. Pools take the minimum
    on about half their channels (``MaxPool2d.minimum``). Every Conv2d pads with
    ``padding_fill``.
    """
    rng = np.random.default_rng(seed)
    weights, act = scheme_quantizers(scheme, rng, *bases)
    input_shape, plan = _LAYOUTS[layout] if isinstance(layout, str) else layout
    input_quantizer = FixedPointActivation(input_bits, 1 / (2 ** input_bits - 1))
    values = quantize_activations(rng.random((calibration,) + input_shape), input_quantizer)
    quantizer = input_quantizer
    layers = []
    for number, step in enumerate(plan):
        final = number == len(plan) - 1
        if step[0] == "pool":
            stride = step[2] if len(step) > 2 else step[1]
            # about half the channels pooled by the minimum, drawn from a generator of
            # their own so that the other layers stay as they were
            pick = np.random.default_rng([seed, number]).random(values.shape[1]) < 0.5
            layers.append(MaxPool2d(step[1], stride, tuple(np.flatnonzero(pick))))
            windows = pool_windows(values, step[1], stride)
            values = np.where(pick[:, None, None], windows.min(axis=-1), windows.max(axis=-1))
            continue
        if step[0] == "flatten":
            layers.append(Flatten())
            values = values.reshape(len(values), -1)
            continue
        if step[0] == "gap":
            layers.append(GlobalAvgPool2d())
            values = values.mean(axis=(-2, -1))
            continue
        scale = 1.0 if scheme == "binaryconnect" else 0.5
        if step[0] == "conv":
            _, out, k, stride, padding = step
            w = rng.uniform(-scale, scale, (out, values.shape[1], *check_pair(k, "kernel")))
            layer = Conv2d(w, weights, rng.normal(0, 0.1, out), stride=stride, padding=padding,
                           padding_fill=padding_fill)
        else:
            w = rng.uniform(-scale, scale, (step[1], values.shape[1]))
            layer = Dense(w, weights, rng.normal(0, 0.1, step[1]))
        layers.append(layer)
        y = linear_forward(layer, values, conv_pad_value(layer, quantizer))
        if final:
            if layout == "conv":
                layers.append(_batchnorm(y, rng, final=True))
            break
        norm = _batchnorm(y, rng, final=False)
        layers += [norm, Activation(act)]
        values = quantize_activations(batchnorm_forward(norm, y), act)
        quantizer = act
    return Network(input_shape, input_quantizer, tuple(layers) + (Scores(),))


def random_residual_network(scheme, *, seed=0, layout="conv", blocks=1, downsample=False,
                            calibration=32, bases=(3, 3), padding_fill="lowest"):
    """A random :class:`~popcorn.network.Graph` of ``scheme`` with ``blocks`` residual
    blocks (ResNet's basic block: linear -> BN -> act -> linear -> BN, plus the shortcut,
    -> act), batch norms calibrated as :func:`random_network`'s. The shortcut is the
    block's input (identity), or with ``downsample`` for the last block a linear layer and
    its BatchNorm (an Add of two pre-activations): a 1 x 1 convolution of stride 2 beside
    a first 3 x 3 convolution of stride 2 and two more channels (a Dense layer of 6 beside
    a first Dense of 6).

    ``layout="conv"``: 1x6x5 8-bit input, a 3x3 padded Conv2d of 4 channels -> BN -> act,
    the blocks (3x3 convolutions, padding 1, ``padding_fill``), MaxPool 2 (none after a
    downsampling block), Flatten, Dense 3 -> Scores. ``layout="dense"``: 12 8-bit inputs,
    Dense 8 -> BN -> act, the blocks (Dense 8), Dense 4 -> Scores.
    """
    rng = np.random.default_rng(seed)
    weights, act = scheme_quantizers(scheme, rng, *bases)
    conv = layout == "conv"
    input_shape = (1, 6, 5) if conv else (12,)
    input_quantizer = FixedPointActivation(8, 1 / 255)
    values = quantize_activations(rng.random((calibration,) + input_shape), input_quantizer)
    quantizer, nodes = input_quantizer, []
    scale = 1.0 if scheme == "binaryconnect" else 0.5

    def linear(name, read, x, out, kernel=3, stride=1, final=False):
        inputs = x.shape[1]
        if conv and not final:
            layer = Conv2d(rng.uniform(-scale, scale, (out, inputs, kernel, kernel)), weights,
                           rng.normal(0, 0.1, out), stride=stride, padding=kernel // 2,
                           padding_fill=padding_fill)
        else:
            layer = Dense(rng.uniform(-scale, scale, (out, inputs)), weights,
                          rng.normal(0, 0.1, out))
        nodes.append(Node(name, layer, (read,)))
        return linear_forward(layer, x, conv_pad_value(layer, quantizer))

    def norm(name, y):
        layer = _batchnorm(y, rng, final=False)
        nodes.append(Node(name + ".bn", layer, (name,)))
        return batchnorm_forward(layer, y)

    channels = 4 if conv else 8
    values = quantize_activations(norm("stem", linear("stem", INPUT, values, channels)), act)
    nodes.append(Node("x0", Activation(act), ("stem.bn",)))
    quantizer = act
    for b in range(blocks):
        block, shortcut, read = f"b{b}", values, f"x{b}"
        down = downsample and b == blocks - 1
        out, stride = (channels + 2 if conv else 6, 2 if conv else 1) if down else (channels, 1)
        values = quantize_activations(norm(block + ".a", linear(
            block + ".a", read, values, out, stride=stride)), act)
        nodes.append(Node(block + ".a.q", Activation(act), (block + ".a.bn",)))
        total = norm(block + ".b", linear(block + ".b", block + ".a.q", values, out))
        if down:
            total = total + norm(block + ".short", linear(block + ".short", read, shortcut,
                                                          out, kernel=1, stride=stride))
            added = (block + ".b.bn", block + ".short.bn")
        else:
            total, added = total + shortcut, (block + ".b.bn", read)
        nodes += [Node(block + ".add", Add(), added),
                  Node(f"x{b + 1}", Activation(act), (block + ".add",))]
        values = quantize_activations(total, act)
    read = f"x{blocks}"
    if conv:
        if not downsample:
            nodes.append(Node("pool", MaxPool2d(2), (read,)))
            values, read = pool_windows(values, 2, 2).max(axis=-1), "pool"
        nodes.append(Node("flat", Flatten(), (read,)))
        values, read = values.reshape(len(values), -1), "flat"
    linear("fc", read, values, 3 if conv else 4, final=True)
    nodes.append(Node("scores", Scores(), ("fc",)))
    return Graph(input_shape, input_quantizer, tuple(nodes))


_CONCAT_BRANCHES = {
    "conv": ((("conv", 3, 3, 1),), (("conv", 2, 1, 0),),
             (("conv", 2, 3, 1), ("conv", 2, 1, 0))),
    "dense": ((("dense", 6),), (("dense", 4),), (("dense", 5), ("dense", 3))),
    "text": ((("conv", 3, 3, 0), ("pool", 4)), (("conv", 2, 2, 0), ("pool", 5)),
             (("conv", 2, 1, 0), ("pool", 6))),
}


def random_concat_network(scheme, *, seed=0, layout="conv", branches=2, identity=False,
                          calibration=32, bases=(3, 3), padding_fill="lowest"):
    """A random :class:`~popcorn.network.Graph` of ``scheme`` whose tensor x0 is forked
    into ``branches`` (2 or 3) parallel branches joined by a Concat (seed 003's text
    model), batch norms calibrated as :func:`random_network`'s; with ``identity`` one more
    branch, last, that is x0 itself.

    ``layout="conv"``: 1x6x6 8-bit input, x0 = a 3x3 padded Conv2d of 3 channels -> BN ->
    act; branches (each Conv2d -> BN -> act): a 3x3 padded of 3, a 1x1 of 2, a 3x3 padded
    of 2 then a 1x1 of 2; the Concat; a 3x3 Conv2d of stride 2, padding 1, of 4 -> BN ->
    act; Flatten; Dense 3 -> Scores. ``layout="dense"``: 12 8-bit inputs, x0 = Dense 8 ->
    BN -> act; branches Dense 6, Dense 4, Dense 5 then Dense 3; Dense 4 -> Scores.
    ``layout="text"``: the text model's shape on a 1x6x6 8-bit input, x0 the input
    itself: a 3x3, a 2x2 and a 1x1 Conv2d (3, 2, 2 channels) each with its max over the
    whole map (MaxPool 4, 5, 6); Flatten; Dense 3 -> Scores.
    """
    if not 2 <= branches <= 3:
        raise ValueError(f"branches must be 2 or 3, not {branches!r}")
    rng = np.random.default_rng(seed)
    weights, act = scheme_quantizers(scheme, rng, *bases)
    input_shape = (12,) if layout == "dense" else (1, 6, 6)
    input_quantizer = FixedPointActivation(8, 1 / 255)
    values = quantize_activations(rng.random((calibration,) + input_shape), input_quantizer)
    nodes = []
    scale = 1.0 if scheme == "binaryconnect" else 0.5

    def layer(name, read, x, quantizer, step, final=False):
        """Node(s) of ``step`` reading ``read`` (values ``x``); its output values."""
        if step[0] == "pool":
            nodes.append(Node(name, MaxPool2d(step[1]), (read,)))
            return pool_windows(x, step[1], step[1]).max(axis=-1)
        inputs, out = x.shape[1], step[1]
        if step[0] == "conv":
            kernel, padding = step[2], step[3]
            linear = Conv2d(rng.uniform(-scale, scale, (out, inputs, kernel, kernel)),
                            weights, rng.normal(0, 0.1, out),
                            stride=step[4] if len(step) > 4 else 1, padding=padding,
                            padding_fill=padding_fill)
        else:
            linear = Dense(rng.uniform(-scale, scale, (out, inputs)), weights,
                           rng.normal(0, 0.1, out))
        nodes.append(Node(name, linear, (read,)))
        y = linear_forward(linear, x, conv_pad_value(linear, quantizer))
        if final:
            return y
        norm = _batchnorm(y, rng, final=False)
        nodes.extend([Node(name + ".bn", norm, (name,)),
                      Node(name + ".q", Activation(act), (name + ".bn",))])
        return quantize_activations(batchnorm_forward(norm, y), act)

    read, quantizer = INPUT, input_quantizer
    if layout != "text":
        stem = ("conv", 3, 3, 1) if layout == "conv" else ("dense", 8)
        values, read, quantizer = layer("x0", INPUT, values, quantizer, stem), "x0.q", act
    ends, outputs = [], []
    for b, steps in enumerate(_CONCAT_BRANCHES[layout][:branches]):
        x, at, q = values, read, quantizer
        for k, step in enumerate(steps):
            name = f"br{b}.{k}"
            x = layer(name, at, x, q, step)
            at, q = (name, q) if step[0] == "pool" else (name + ".q", act)
        ends.append(at)
        outputs.append(x)
    if identity:
        ends.append(read)
        outputs.append(values)
    nodes.append(Node("cat", Concat(), tuple(ends)))
    values, read = np.concatenate(outputs, axis=1), "cat"
    if layout == "conv":
        values, read = layer("post", read, values, act, ("conv", 4, 3, 1, 2)), "post.q"
    if layout != "dense":
        nodes.append(Node("flat", Flatten(), (read,)))
        values, read = values.reshape(len(values), -1), "flat"
    layer("fc", read, values, act, ("dense", 4 if layout == "dense" else 3), final=True)
    nodes.append(Node("scores", Scores(), ("fc",)))
    return Graph(input_shape, input_quantizer, tuple(nodes))


def random_separable_network(scheme, *, seed=0, channels=4, pointwise=5, stride=1,
                             weight_bits=4, act_bits=3, classes=3, calibration=32,
                             bases=(3, 3), padding_fill="lowest"):
    """A random MobileNet-style :class:`~popcorn.network.Network`: a depthwise-separable
    block whose depthwise part is at fixed point and whose pointwise part is binary (seed
    004 section 4.3: "pointwise convolution is binarized while depthwise convolution is
    kept as full precision").

    1x6x6 8-bit input -> Conv2d 3x3 pad 1 of ``channels`` (``scheme`` weights) -> BN ->
    ``FixedPointActivation(act_bits, 4 / 2**act_bits)`` -> depthwise Conv2d 3x3 pad 1,
    ``stride``, ``groups=channels`` with ``FixedPointWeights(weight_bits, per_channel=True)``
    -> BN -> the scheme's activation -> pointwise Conv2d 1x1 of ``pointwise`` (``scheme``
    weights) -> BN -> act -> Flatten -> Dense ``classes`` -> Scores. Batch norms as
    :func:`random_network`'s; the padded convolutions pad with ``padding_fill``.
    """
    rng = np.random.default_rng(seed)
    weights, act = scheme_quantizers(scheme, rng, *bases)
    input_quantizer = FixedPointActivation(8, 1 / 255)
    values = quantize_activations(rng.random((calibration, 1, 6, 6)), input_quantizer)
    scale = 1.0 if scheme == "binaryconnect" else 0.5
    plan = (((channels, 1, 3, 3), weights, dict(padding=1),
             FixedPointActivation(act_bits, 4 / 2 ** act_bits)),
            ((channels, 1, 3, 3), FixedPointWeights(weight_bits, per_channel=True),
             dict(padding=1, stride=stride, groups=channels), act),
            ((pointwise, channels, 1, 1), weights, {}, act))
    quantizer, layers = input_quantizer, []
    for shape, layer_weights, geometry, after in plan:
        layer = Conv2d(rng.uniform(-scale, scale, shape), layer_weights,
                       rng.normal(0, 0.1, shape[0]), padding_fill=padding_fill, **geometry)
        y = linear_forward(layer, values, conv_pad_value(layer, quantizer))
        norm = _batchnorm(y, rng, final=False)
        layers += [layer, norm, Activation(after)]
        values, quantizer = quantize_activations(batchnorm_forward(norm, y), after), after
    dense = Dense(rng.uniform(-scale, scale, (classes, values[0].size)), weights,
                  rng.normal(0, 0.1, classes))
    layers += [Flatten(), dense, Scores()]
    return Network((1, 6, 6), input_quantizer, tuple(layers))


def with_ternary_weights(network, threshold=0.4):
    """``network`` with every Dense and Conv2d layer's weights ternary
    (:class:`~popcorn.network.TernaryWeights`, weights within ``threshold`` of 0 zeroed),
    its other layers as they are: FINN's w2 weights on any layout."""
    import dataclasses

    return dataclasses.replace(network, layers=tuple(
        dataclasses.replace(layer, quantizer=TernaryWeights(threshold=threshold))
        if layer.kind in ("dense", "conv2d") else layer for layer in network.layers))


def sign_mlp(sizes=(784, 64, 64, 64, 10), *, scheme="bnn", seed=0, calibration=32,
             binary_input=False):
    """A random multilayer perceptron of ``pm1`` signs, as FINN's TFC/SFC-w1a1: an input of
    ``sizes[0]`` elements (signs, or with ``binary_input`` 1-bit {0, 1} codes as FINN's
    import gives), Dense layers of ``sizes[1:]`` outputs with ``scheme`` weights (``"bnn"``
    or ``"xnor"``), a BatchNorm and a sign after each but the last, whose BatchNorm folds
    into the scores (FINN's TensorNorm). Batch norms as :func:`random_network`'s."""
    rng = np.random.default_rng(seed)
    weights = {"bnn": BnnWeights(), "xnor": XnorWeights()}[scheme]
    low = 0.0 if binary_input else -1.0
    values = np.where(rng.random((calibration, sizes[0])) < 0.5, low, 1.0)
    layers = []
    for n, out in enumerate(sizes[1:]):
        layer = Dense(rng.uniform(-1, 1, (out, values.shape[1])), weights)
        y = linear_forward(layer, values, 0.0)
        norm = _batchnorm(y, rng, final=n == len(sizes) - 2)
        layers += [layer, norm]
        if n < len(sizes) - 2:
            layers.append(Activation(SignActivation()))
            values = quantize_activations(batchnorm_forward(norm, y), SignActivation())
    source = FixedPointActivation(1, 1.0) if binary_input else SignActivation()
    return Network((sizes[0],), source, tuple(layers) + (Scores(),))


def random_thresholds(channels, levels, in_width, *, seed=0):
    """(thresholds (C, L), directions (C,)) of a random comparator activation: per channel
    ``levels`` sorted integers in ``[-2**(in_width-1), 2**(in_width-1))`` and a random
    direction +1 / -1, the levels reversed for -1 (monotonic in the direction's order, as
    :func:`popcorn.golden.comparators.check_thresholds` requires)."""
    rng = np.random.default_rng(seed)
    half = 2 ** (in_width - 1)
    thresholds = np.sort(rng.integers(-half, half, (channels, levels)), axis=1)
    directions = np.where(rng.random(channels) < 0.5, 1, -1)
    thresholds[directions < 0] = thresholds[directions < 0][:, ::-1]
    return thresholds, directions


CNV_CHANNELS = (64, 64, 128, 128, 256, 256)
"""FINN's CNV (``brevitas_examples.bnn_pynq``): six 3x3 convolutions without padding, a
2x2 max-pool after the second and the fourth, on a 3x32x32 input."""


def cnv_network(*, seed=0, scale=1, fc=(512, 512), classes=10):
    """A BNN of FINN's CNV topology with random weights: Conv 3x3 (``CNV_CHANNELS //
    scale``), BatchNorm and sign activations, pools after convolutions 2 and 4, Flatten,
    Dense ``fc // scale`` with BatchNorm and sign, Dense ``classes``, 8-bit input. Batch
    norms centre each channel on its expected pre-activation (0 for ±1 inputs, the
    weights' sum times the mean pixel for the first layer) with a random spread, so
    comparators are live. ``scale`` shrinks every width for quick tests."""
    rng = np.random.default_rng(seed)
    layers, c = [], 3
    size = 32
    for n, out in enumerate(ch // scale for ch in CNV_CHANNELS):
        w = rng.uniform(-1, 1, (out, c, 3, 3))
        layers.append(Conv2d(w, BnnWeights()))
        fan_in = c * 9
        centre = np.sign(w).reshape(out, -1).sum(axis=1) * 0.5 if n == 0 else np.zeros(out)
        layers += [_random_norm(rng, out, centre, np.sqrt(fan_in)),
                   Activation(SignActivation())]
        size -= 2
        if n in (1, 3):
            layers.append(MaxPool2d(2))
            size //= 2
        c = out
    layers.append(Flatten())
    k = c * size * size
    for width in (f // scale for f in fc):
        layers += [Dense(rng.uniform(-1, 1, (width, k)), BnnWeights()),
                   _random_norm(rng, width, np.zeros(width), np.sqrt(k)),
                   Activation(SignActivation())]
        k = width
    layers += [Dense(rng.uniform(-1, 1, (classes, k)), BnnWeights()), Scores()]
    return Network((3, 32, 32), FixedPointActivation(8, 1 / 255), tuple(layers))


def _random_norm(rng, channels, centre, spread):
    return BatchNorm(rng.uniform(0.5, 1.5, channels), np.zeros(channels),
                     centre + rng.normal(0, 0.3 * spread, channels),
                     np.full(channels, spread ** 2))


def random_text_network(scheme, *, seed=0, in_channels=4, steps=9, grams=(2, 3, 4),
                        channels=3, classes=3, calibration=32, bases=(3, 3),
                        padding_fill="lowest"):
    """A random :class:`~popcorn.network.Graph` of seed 003's text model shape over
    ``(in_channels, steps)`` 8-bit sequences: for each n of ``grams`` a branch Conv1d of
    kernel n and ``channels`` filters -> BN -> act -> GlobalMaxPool (the first branch
    padded by 1 with ``padding_fill``, the second of stride 2 and pooled by MaxPool1d 2
    before its max over time, about half the channels of each max the minimum), the
    branches concatenated, Dense ``classes`` -> BN -> Scores. Batch norms as
    :func:`random_network`'s; every branch shares the activation quantizer."""
    rng = np.random.default_rng(seed)
    weights, act = scheme_quantizers(scheme, rng, *bases)
    input_quantizer = FixedPointActivation(8, 1 / 255)
    values = quantize_activations(rng.random((calibration, in_channels, 1, steps)),
                                  input_quantizer)
    scale = 1.0 if scheme == "binaryconnect" else 0.5
    nodes, ends, outputs = [], [], []
    for b, n in enumerate(grams):
        branch = f"g{n}"
        conv = Conv1d(rng.uniform(-scale, scale, (channels, in_channels, n)), weights,
                      rng.normal(0, 0.1, channels), stride=2 if b == 1 else 1,
                      padding=1 if b == 0 else 0, padding_fill=padding_fill)
        y = linear_forward(conv.as_2d(), values, conv_pad_value(conv, input_quantizer))
        norm = _batchnorm(y, rng, final=False)
        codes = quantize_activations(batchnorm_forward(norm, y), act)
        nodes += [Node(branch + ".conv", conv, (INPUT,)), Node(branch + ".bn", norm,
                                                                (branch + ".conv",)),
                  Node(branch + ".act", Activation(act), (branch + ".bn",))]
        read = branch + ".act"
        if b == 1:
            nodes.append(Node(branch + ".pool", MaxPool1d(2), (read,)))
            pairs = codes.shape[-1] // 2
            codes = codes[..., :2 * pairs].reshape(*codes.shape[:-1], pairs, 2).max(axis=-1)
            read = branch + ".pool"
        pick = tuple(np.flatnonzero(np.random.default_rng([seed, b]).random(channels) < 0.5))
        nodes.append(Node(branch + ".max", GlobalMaxPool(pick), (read,)))
        flat = codes.reshape(calibration, channels, -1)
        most = flat.max(axis=-1)
        most[:, list(pick)] = flat[:, list(pick)].min(axis=-1)
        ends.append(branch + ".max")
        outputs.append(most)
    nodes.append(Node("cat", Concat(), tuple(ends)))
    fc = Dense(rng.uniform(-scale, scale, (classes, channels * len(grams))), weights,
               rng.normal(0, 0.1, classes))
    y = linear_forward(fc, np.concatenate(outputs, axis=1))
    nodes += [Node("fc", fc, ("cat",)), Node("fc.bn", _batchnorm(y, rng, final=True), ("fc",)),
              Node("scores", Scores(), ("fc.bn",))]
    return Graph((in_channels, steps), input_quantizer, tuple(nodes))
