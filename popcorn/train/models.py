"""MLPs, a small CNN, a small ResNet, a MobileNet-style network and seed 003's n-gram text
CNN for each scheme, as layer sequences the export can walk.

Every network is a :class:`QuantNet`: an ``nn.Sequential`` of

* :class:`InputScale` (uint8 pixels -> ``x / input_max``; the first layer takes the pixels as
  8-bit ``zo`` bit planes in hardware, the scale folds into its batch norm),
* :class:`QLinear` / :class:`QConv2d` / :class:`QConv1d` (a weight quantizer from :mod:`.quantizers`, no bias
  except in XNOR-Net's real last layer),
* ``BatchNorm1d/2d`` (or :class:`~.quantizers.ShiftBatchNorm` for BNN with ``shift_bn``),
* ``MaxPool2d(2)``, ``Flatten``,
* an activation quantizer.

Block order is ``layer -> batch norm [-> max-pool] -> activation quantizer``; a ResNet's
:class:`ResidualBlock` holds two such convolutions, the second's batch norm added to the
shortcut before its quantizer; the text CNN's :class:`NGramBranches` holds one such
convolution per n-gram size, each pooled over time; a MobileNet's :class:`SeparableBlock` a
depthwise convolution at fixed point and a binary pointwise one. Pooling comes
before the quantizer: every quantizer here is monotone in its input level, so pooling the
batch-norm output and then quantizing gives the same levels as the hardware's bitwise OR of
thermometer codes (ARCHITECTURE.md), whatever the coefficients. The last layer is followed
by a batch norm (seed 001's forward algorithm normalizes ``s_L`` too) except in XNOR-Net,
whose last layer is real with a bias (seed 003). XNOR-Net's ReLU after each binary
convolution (BN -> BinActive -> BinConv -> ReLU, seed 003) is left out: the block would be
``sign(BN(ReLU(y)))``, which needs a second comparator per channel in hardware.
"""

import torch
from torch import nn
from torch.nn import functional as F

from . import quantizers as q

__all__ = ["SCHEMES", "DEFAULT_BASES", "InputScale", "QLinear", "QConv2d", "QConv1d",
           "ResidualBlock", "NGramBranches", "SeparableBlock", "QuantNet", "build_model"]

SCHEMES = ("bnn", "binaryconnect", "xnor", "abc", "pa")
ARCHS = ("mlp", "cnn", "resnet", "textcnn", "mobilenet")

#: Default (M, N) = (weight bases, activation bases) per scheme.
DEFAULT_BASES = {"bnn": (1, 1), "binaryconnect": (1, 4), "xnor": (1, 1), "abc": (3, 3),
                 "pa": (8, 3)}


class InputScale(nn.Module):
    """``x / input_max`` as float32; adds a channel axis for images (CNN) or flattens (MLP);
    with ``sequence`` the samples stay ``(C, T)`` sequences (the text CNN)."""

    def __init__(self, input_max, flatten, sequence=False):
        super().__init__()
        self.input_max = float(input_max)
        self.flatten = bool(flatten)
        self.sequence = bool(sequence)

    def forward(self, x):
        x = x.to(torch.float32) / self.input_max
        if self.sequence:
            return x
        return x.flatten(1) if self.flatten else x.unsqueeze(1) if x.dim() == 3 else x


class QLinear(nn.Linear):
    """Dense layer whose weight passes through ``quantizer`` at every forward."""

    def __init__(self, in_features, out_features, quantizer, bias=False):
        super().__init__(in_features, out_features, bias=bias)
        self.quantizer = quantizer

    def forward(self, x):
        return F.linear(x, self.quantizer(self.weight), self.bias)


class QConv2d(nn.Conv2d):
    """2-D convolution (``stride``, default 1) with a quantized weight, padded with
    activation code 0.

    As in ``popcorn.network.Conv2d``, padding inserts the value of the all-zero activation
    code of the quantizer in front (``pad_from``; ``None``: the input, value 0): 0 for
    ``zo`` bases (PA-Net, fixed point), -1 for sign, ``-sum(beta)`` for ABC-Net.
    """

    def __init__(self, in_channels, out_channels, kernel_size, quantizer, padding=1, bias=False,
                 pad_from=None, stride=1, groups=1):
        super().__init__(in_channels, out_channels, kernel_size, padding=0, bias=bias,
                         stride=stride, groups=groups)
        self.quantizer = quantizer
        self.pad = int(padding)
        self.__dict__["pad_from"] = pad_from    # not a submodule: it sits earlier in the net

    def pad_value(self):
        return 0.0 if self.pad_from is None else self.pad_from.pad_value()

    def forward(self, x):
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, value=self.pad_value())
        return self._conv_forward(x, self.quantizer(self.weight), self.bias)


class QConv1d(nn.Conv1d):
    """1-D convolution over a sequence, unpadded, with a quantized weight."""

    def __init__(self, in_channels, out_channels, kernel_size, quantizer):
        super().__init__(in_channels, out_channels, kernel_size, bias=False)
        self.quantizer = quantizer

    def forward(self, x):
        return self._conv_forward(x, self.quantizer(self.weight), self.bias)


class NGramBranches(nn.Module):
    """Seed 003's text model (section 4.3.2): for each n-gram size n of ``grams``, a
    convolution of ``channels`` filters of n steps over the ``(c_in, T)`` sequence ->
    batch norm -> the max over time -> activation quantizer; the branches' outputs
    concatenated, ``len(grams) * channels`` values. The max comes before the quantizer, as
    the CNN pools (monotone quantizers: the same codes as the hardware's max of codes).
    The branches share one activation quantizer (``act``; ABC-Net's and PA-Net's trainable
    shifts, endpoints and betas): the layer after the concatenation reads all its inputs
    with the same base coefficients."""

    def __init__(self, c_in, channels, grams, weight_quantizer, act, bn):
        super().__init__()
        self.grams = tuple(int(n) for n in grams)
        self.convs = nn.ModuleList(QConv1d(c_in, channels, n, weight_quantizer())
                                   for n in self.grams)
        self.bns = nn.ModuleList(bn(channels, 1) for _ in self.grams)
        self.act = act()

    def forward(self, x):
        return torch.cat([self.act(bn(conv(x)).amax(-1))
                          for conv, bn in zip(self.convs, self.bns)], 1)


class ResidualBlock(nn.Module):
    """ResNet's basic block (seed 000 section 4, seed 004): ``conv_a -> bn_a -> act_a ->
    conv_b -> bn_b``, plus the shortcut, then ``act``. The shortcut is the block's input
    (its quantized activations' values) when ``stride`` is 1 and the channels stay, else
    ``conv_s -> bn_s``, a 1 x 1 convolution of ``stride``. ``pad_from``: the quantizer
    whose code-0 value the first convolution pads with (the block's input's)."""

    def __init__(self, c_in, c_out, stride, weight_quantizer, act, bn, pad_from):
        super().__init__()
        self.conv_a = QConv2d(c_in, c_out, 3, weight_quantizer(), pad_from=pad_from,
                              stride=stride)
        self.bn_a, self.act_a = bn(c_out, 2), act()
        self.conv_b = QConv2d(c_out, c_out, 3, weight_quantizer(), pad_from=self.act_a)
        self.bn_b, self.act = bn(c_out, 2), act()
        self.conv_s = self.bn_s = None
        if stride != 1 or c_in != c_out:
            self.conv_s = QConv2d(c_in, c_out, 1, weight_quantizer(), padding=0, stride=stride)
            self.bn_s = bn(c_out, 2)

    def pad_value(self):
        return self.act.pad_value()

    def forward(self, x):
        y = self.bn_b(self.conv_b(self.act_a(self.bn_a(self.conv_a(x)))))
        return self.act(y + (x if self.conv_s is None else self.bn_s(self.conv_s(x))))


class SeparableBlock(nn.Module):
    """A MobileNet block as seed 004 binarizes it: a depthwise 3 x 3 convolution
    (``groups`` = channels, ``stride``) whose weights stay at fixed point
    (:class:`~.quantizers.FixedPointWeight` of ``dw_bits``) -> ``bn_dw`` -> ``act_dw``, then
    a pointwise 1 x 1 convolution with the scheme's binary weights -> ``bn`` -> ``act``.
    ``pad_from``: the quantizer whose code-0 value the depthwise convolution pads with."""

    def __init__(self, c_in, c_out, stride, dw_bits, weight_quantizer, act, bn, pad_from):
        super().__init__()
        self.dw = QConv2d(c_in, c_in, 3, q.FixedPointWeight(dw_bits), pad_from=pad_from,
                          stride=stride, groups=c_in)
        self.bn_dw, self.act_dw = bn(c_in, 2), act()
        self.pw = QConv2d(c_in, c_out, 1, weight_quantizer(), padding=0)
        self.bn, self.act = bn(c_out, 2), act()

    def pad_value(self):
        return self.act.pad_value()

    def forward(self, x):
        return self.act(self.bn(self.pw(self.act_dw(self.bn_dw(self.dw(x))))))


class QuantNet(nn.Sequential):
    """A quantized network: the layers, plus ``scheme`` and ``config`` (how it was built)."""

    def __init__(self, layers, scheme, config):
        super().__init__(*layers)
        self.scheme = scheme
        self.config = dict(config)

    @torch.no_grad()
    def constrain(self):
        """After an update: clip real weights (BinaryConnect, BNN: [-1, 1]) and keep PA
        endpoints ordered."""
        for module in self.modules():
            if isinstance(module, (QLinear, QConv2d, QConv1d)) and \
                    module.quantizer.clip is not None:
                module.weight.clamp_(-module.quantizer.clip, module.quantizer.clip)
            elif hasattr(module, "constrain") and module is not self:
                module.constrain()


def _weight_quantizer(scheme, m, stochastic, generator, lam_w):
    if scheme == "bnn":
        return q.BNNWeight()
    if scheme == "binaryconnect":
        return q.BinaryConnectWeight(stochastic=stochastic, generator=generator)
    if scheme == "xnor":
        return q.XNORWeight()
    if scheme == "abc":
        return q.ABCWeight(m)
    if scheme == "pa":
        return q.PAWeight(m, lam=lam_w)
    raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")


def _activation(scheme, n, act_bits, frac_bits, window, lam_a, lam_delta):
    if scheme in ("bnn", "xnor"):
        return q.SignActivation()
    if scheme == "binaryconnect":
        return q.FixedPointReLU(act_bits, frac_bits)
    if scheme == "abc":
        return q.ABCActivation(n, window=window)
    return q.PAActivation(n, lam_a=lam_a, lam_delta=lam_delta)


def build_model(scheme, arch="mlp", input_shape=(8, 8), classes=10, input_max=16.0,
                hidden=(256, 256), channels=(16, 32), m=None, n=None, shift_bn=False,
                stochastic=False, act_bits=4, frac_bits=2, window="report", lam_w=1.0,
                lam_a=1.0, lam_delta=1.0, real_ends=True, dw_bits=4, generator=None):
    """Build an MLP (``arch="mlp"``), a small CNN (``arch="cnn"``), a small ResNet
    (``arch="resnet"``) or seed 003's n-gram text CNN (``arch="textcnn"``) for ``scheme``.

    ``m``/``n``: weight/activation base counts (ABC-Net, PA-Net; defaults in
    :data:`DEFAULT_BASES`); ``shift_bn``: BNN's shift-based batch norm; ``stochastic``:
    BinaryConnect's stochastic binarization; ``act_bits``/``frac_bits``: BinaryConnect's
    fixed-point activations (``act_bits=None``: real ReLU); ``window``: ABC-Net's STE window;
    ``lam_w``, ``lam_a``, ``lam_delta``: PA-Net's lambda_W, lambda_A, lambda_Delta;
    ``real_ends``: XNOR-Net keeps its first and last layers real (seed 003; such a network has
    no binary bases there and cannot go to hardware: ``real_ends=False`` binarizes them too).
    The CNN is conv3x3(c1) -> BN -> pool -> act -> conv3x3(c2) -> BN -> pool -> act -> dense.
    The ResNet is conv3x3(c1) -> BN -> act, a :class:`ResidualBlock` of c1 (identity
    shortcut), one of c2 and stride 2 (its shortcut a 1 x 1 convolution), dense. The text
    CNN reads each sample as a sequence, ``input_shape`` (C, T) (an 8 x 8 digit: T = 8
    columns of C = 8 pixels, left to right): :class:`NGramBranches` of c1 filters for the
    n-grams 3, 4 and 5 (those that fit T), dense. The MobileNet is conv3x3(c1) -> BN ->
    act, a :class:`SeparableBlock` of c1 and one of c2 and stride 2 (depthwise weights of
    ``dw_bits`` bits), dense.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, not {arch!r}")
    dm, dn = DEFAULT_BASES[scheme]
    n_given = n
    m = dm if m is None else int(m)
    n = dn if n is None else int(n)
    if scheme in ("bnn", "binaryconnect", "xnor") and m != 1:
        raise ValueError(f"{scheme} has one weight base, not M = {m}")
    if scheme in ("bnn", "xnor") and n != 1:
        raise ValueError(f"{scheme} has one activation base, not N = {n}")
    if scheme == "binaryconnect":
        bits = 0 if act_bits is None else int(act_bits)
        if n_given is not None and n_given != bits:
            raise ValueError(f"binaryconnect's activation bases are its act_bits ({act_bits}), "
                             f"not N = {n}")
        n = bits
    if shift_bn and scheme != "bnn":
        raise ValueError("shift-based batch norm is part of BNN (seed 001), not of "
                         f"{scheme}")
    config = dict(scheme=scheme, arch=arch, input_shape=list(input_shape), classes=classes,
                  input_max=input_max, hidden=list(hidden), channels=list(channels), m=m, n=n,
                  shift_bn=shift_bn, stochastic=stochastic, act_bits=act_bits,
                  frac_bits=frac_bits, window=window, lam_w=lam_w, lam_a=lam_a,
                  lam_delta=lam_delta, real_ends=bool(real_ends) if scheme == "xnor" else None,
                  dw_bits=int(dw_bits) if arch == "mobilenet" else None)

    def wq(position):
        if scheme == "xnor" and real_ends and position in ("first", "last"):
            return q.FloatWeight()
        return _weight_quantizer(scheme, m, stochastic, generator, lam_w)

    def act():
        return _activation(scheme, n, act_bits, frac_bits, window, lam_a, lam_delta)

    def bn(c, dims):
        if shift_bn:
            return q.ShiftBatchNorm(c)
        return nn.BatchNorm1d(c) if dims == 1 else nn.BatchNorm2d(c)

    last_bias = scheme == "xnor" and real_ends
    layers = [InputScale(input_max, flatten=arch == "mlp", sequence=arch == "textcnn")]
    if arch == "mlp":
        sizes = [int(torch.tensor(input_shape).prod())] + list(hidden)
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers += [QLinear(a, b, wq("first" if i == 0 else "mid")), bn(b, 1), act()]
        layers.append(QLinear(sizes[-1], classes, wq("last"), bias=last_bias))
    elif arch == "textcnn":
        c_in, steps = input_shape
        grams = [n for n in (3, 4, 5) if n <= steps]
        layers += [NGramBranches(c_in, channels[0], grams, lambda: wq("first"), act, bn),
                   QLinear(len(grams) * channels[0], classes, wq("last"), bias=last_bias)]
    elif arch == "mobilenet":
        h, w = input_shape[-2:]
        c_in = input_shape[0] if len(input_shape) == 3 else 1
        c1, c2 = channels
        layers += [QConv2d(c_in, c1, 3, wq("first")), bn(c1, 2), act()]
        layers += [SeparableBlock(c1, c1, 1, dw_bits, lambda: wq("mid"), act, bn, layers[-1])]
        layers += [SeparableBlock(c1, c2, 2, dw_bits, lambda: wq("mid"), act, bn, layers[-1])]
        h, w = (h + 1) // 2, (w + 1) // 2
        layers += [nn.Flatten(), QLinear(c2 * h * w, classes, wq("last"), bias=last_bias)]
    elif arch == "resnet":
        h, w = input_shape[-2:]
        c_in = input_shape[0] if len(input_shape) == 3 else 1
        c1, c2 = channels
        layers += [QConv2d(c_in, c1, 3, wq("first")), bn(c1, 2), act()]
        layers += [ResidualBlock(c1, c1, 1, lambda: wq("mid"), act, bn, layers[-1])]
        layers += [ResidualBlock(c1, c2, 2, lambda: wq("mid"), act, bn, layers[-1])]
        h, w = (h + 1) // 2, (w + 1) // 2
        layers += [nn.Flatten(), QLinear(c2 * h * w, classes, wq("last"), bias=last_bias)]
    else:
        h, w = input_shape[-2:]
        c_in = input_shape[0] if len(input_shape) == 3 else 1
        previous = None
        for i, c in enumerate(channels):
            layers += [QConv2d(c_in, c, 3, wq("first" if i == 0 else "mid"), pad_from=previous),
                       bn(c, 2), nn.MaxPool2d(2), act()]
            previous = layers[-1]
            c_in, h, w = c, h // 2, w // 2
        layers += [nn.Flatten(), QLinear(c_in * h * w, classes, wq("last"), bias=last_bias)]
    if not last_bias:
        layers.append(bn(classes, 1))
    if scheme == "binaryconnect" and stochastic:
        # Seed 002 initialises weights from U(-1, +1): with small initial weights the hard
        # sigmoid is near 1/2 everywhere and the stochastic bases are pure noise.
        with torch.no_grad():
            for layer in layers:
                for conv in layer.modules():
                    if isinstance(conv, (QLinear, QConv2d, QConv1d)):
                        conv.weight.uniform_(-1.0, 1.0, generator=generator)
    return QuantNet(layers, scheme, config)
