"""Layer specifications and the sequential :class:`Network`.

Tensors are channel-first without the batch axis: an image is ``(C, H, W)``, a vector
``(K,)``. Weights are ``float32``/``float64`` arrays: Dense ``(out, in)``, Conv2d
``(out, in, kh, kw)`` (PyTorch layout); Flatten is C-major (PyTorch ``flatten``).

Every layer is a frozen dataclass with ``kind`` (its JSON name), ``to_json()`` (its
non-array fields) and ``arrays()`` (its named arrays), and ``output_shape(input_shape)``
which raises ``ValueError`` describing a shape that does not chain.
"""

from dataclasses import dataclass

import numpy as np

from .schemes import ACTIVATION_QUANTIZERS, WEIGHT_SCHEMES
from .validate import check_float_array, check_pair, check_positive_float, \
    check_positive_int, pair_text, validate_network, NetworkError

__all__ = ["Dense", "Conv2d", "MaxPool2d", "Flatten", "GlobalAvgPool2d", "Conv1d", "MaxPool1d",
           "GlobalMaxPool", "BatchNorm", "Activation", "Scores",
           "Network", "LAYER_KINDS", "PADDING_FILLS"]

#: What a Conv2d's padded taps hold (:class:`Conv2d`).
PADDING_FILLS = ("lowest", "zero")


def _check_weight_scheme(scheme):
    if type(scheme) not in WEIGHT_SCHEMES.values():
        raise TypeError(f"weight quantizer must be one of {', '.join(c.__name__ for c in WEIGHT_SCHEMES.values())}, "
                        f"not {scheme!r}")


def _check_bias(bias, out):
    if bias is None:
        return
    check_float_array(bias, "bias", ndim=1)
    if bias.shape != (out,):
        raise ValueError(f"bias must have shape ({out},) (one per output), not {bias.shape}")


def _check_convolution(layer, ndim):
    """The checks a Conv2d and a Conv1d share: weight, scheme, bias, padding fill."""
    check_float_array(layer.weight, "weight", ndim=ndim)
    _check_weight_scheme(layer.quantizer)
    _check_bias(layer.bias, layer.weight.shape[0])
    if layer.padding_fill not in PADDING_FILLS:
        raise ValueError(f"padding_fill must be one of {', '.join(PADDING_FILLS)}, not "
                         f"{layer.padding_fill!r}")


class _Weighted:
    """What the layers with a ``weight`` (out, in, ...) and an optional ``bias`` share."""

    def arrays(self):
        return {"weight": self.weight} | ({} if self.bias is None else {"bias": self.bias})

    def _convolution_json(self, stride, padding):
        fill = {} if self.padding_fill == "lowest" else {"padding_fill": self.padding_fill}
        return {"kind": self.kind, "weights": self.quantizer.to_json(),
                "bias": self.bias is not None, "stride": stride, "padding": padding} | fill


@dataclass(frozen=True, eq=False)
class Dense(_Weighted):
    """Fully connected layer ``y = Wq x + b`` on quantized activations.

    ``weight`` is ``(out, in)``; ``quantizer`` one of the weight schemes of
    :mod:`popcorn.network.schemes`; ``bias`` ``(out,)`` or None.
    """

    weight: np.ndarray
    quantizer: object
    bias: np.ndarray = None

    kind = "dense"

    def __post_init__(self):
        check_float_array(self.weight, "weight", ndim=2)
        _check_weight_scheme(self.quantizer)
        _check_bias(self.bias, self.weight.shape[0])

    @property
    def out_features(self):
        return self.weight.shape[0]

    @property
    def in_features(self):
        return self.weight.shape[1]

    def output_shape(self, input_shape):
        if input_shape != (self.in_features,):
            raise ValueError(f"weight has {self.in_features} inputs but the input has shape "
                             f"{input_shape}; add a Flatten or fix the weight shape")
        return (self.out_features,)

    def to_json(self):
        return {"kind": self.kind, "weights": self.quantizer.to_json(), "bias": self.bias is not None}


@dataclass(frozen=True, eq=False)
class Conv2d(_Weighted):
    """2-D convolution (cross-correlation, PyTorch semantics) on quantized activations.

    ``weight`` is ``(out, in, kh, kw)``. ``padding_fill`` says what the padded taps hold:

    * ``"lowest"`` (default): activation code 0, all bits zero: value 0 for ``zo`` bases,
      -sum(beta) for ``pm1`` bases, as FINN pads binary maps;
    * ``"zero"``: the value 0, as PyTorch and ONNX pad (Brevitas ResNets, MobileNets): a
      padded tap contributes nothing to the dot product, which one ``pm1`` bit cannot
      hold; the integer model adds a per-position correction
      (:mod:`popcorn.golden.borders`). For ``zo`` activations both fills are the same.

    The float reference and the integer model pad alike.

    Geometry per axis: ``kernel`` is ``(kh, kw)`` (the weight's last two axes); ``stride``
    and ``padding`` are given as an integer (the same on both axes) or a pair ``(h, w)``
    and stored as the pair (:func:`~popcorn.network.validate.check_pair`). ``padding``
    rows are added above and below, columns left and right; the output is
    ``((H + 2 ph - kh) // sh + 1, (W + 2 pw - kw) // sw + 1)``. A square layer is written to
    a file with integers, as always; a rectangular one with ``[h, w]`` lists.

    ``groups`` g (PyTorch's ``groups``): the input channels and the outputs are split into
    g groups in order, output o reading only the ``in / g`` channels of its group
    ``o // (out / g)``; ``weight`` is then ``(out, in / g, kh, kw)``, g dividing ``out``.
    A depthwise convolution (MobileNet's, seed 004 section 4.3) has ``g = in``. The golden
    models and the hardware run the dense ``(out, in, kh, kw)`` convolution of
    :meth:`block_diagonal` (zero weights outside each output's group), which only weight
    schemes with a zero weight (``zo`` bases) can hold. A file holds ``"groups"`` only
    when g != 1.
    """

    weight: np.ndarray
    quantizer: object
    bias: np.ndarray = None
    stride: tuple = 1
    padding: tuple = 0
    padding_fill: str = "lowest"
    groups: int = 1

    kind = "conv2d"

    def __post_init__(self):
        _check_convolution(self, 4)
        object.__setattr__(self, "stride", check_pair(self.stride, "stride"))
        object.__setattr__(self, "padding", check_pair(self.padding, "padding", minimum=0))
        check_positive_int(self.groups, "groups")
        object.__setattr__(self, "groups", int(self.groups))
        if self.out_channels % self.groups:
            raise ValueError(f"groups ({self.groups}) must divide the {self.out_channels} "
                             f"output channels")

    out_channels = property(lambda self: self.weight.shape[0])

    @property
    def in_channels(self):
        """Input channels: ``groups`` times the weight's second axis."""
        return self.weight.shape[1] * self.groups

    def block_diagonal(self, array):
        """An array laid out like the weight, ``(out, in / g, ...)``, as the dense
        ``(out, in, ...)`` one of a convolution without groups: zero outside each output's
        group (the array itself when g = 1)."""
        if self.groups == 1:
            return array
        out, per = array.shape[:2]
        dense = np.zeros((out, per * self.groups) + array.shape[2:], dtype=array.dtype)
        group = np.arange(out) // (out // self.groups)
        for g in range(self.groups):
            dense[group == g, g * per:(g + 1) * per] = array[group == g]
        return dense

    @property
    def kernel(self):
        """``(kh, kw)``."""
        return tuple(int(k) for k in self.weight.shape[2:])

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"input must be (channels, height, width), not shape {input_shape}")
        c, h, w = input_shape
        if c != self.in_channels:
            raise ValueError(f"weight has {self.in_channels} input channels but the input has "
                             f"{c} (shape {input_shape})")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        ho = (h + 2 * ph - kh) // sh + 1
        wo = (w + 2 * pw - kw) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"kernel {kh}x{kw} with padding {pair_text(self.padding)} does not "
                             f"fit the {h}x{w} input")
        return (self.out_channels, ho, wo)

    def to_json(self):
        groups = {} if self.groups == 1 else {"groups": self.groups}
        return self._convolution_json(_pair_json(self.stride), _pair_json(self.padding)) \
            | groups


def _pair_json(pair):
    """A normalised ``(h, w)`` as the file writes it: an integer when square (as files have
    always held), else the list ``[h, w]``."""
    return pair[0] if pair[0] == pair[1] else list(pair)


@dataclass(frozen=True)
class MaxPool2d:
    """Max pooling of quantized activations, no padding; ``stride`` defaults to ``kernel``.

    ``kernel`` and ``stride`` are an integer (square) or a pair ``(h, w)``, stored as the
    pair (:func:`~popcorn.network.validate.check_pair`): the output is
    ``((H - kh) // sh + 1, (W - kw) // sw + 1)``. A ``(1, W)`` kernel on a ``1 x W`` map is
    a global max over the row.

    Quantizers are non-decreasing, so this is the max of activation codes: a bitwise OR of
    thermometer codes in the integer model.

    ``minimum``: the channels pooled by the **minimum** of their codes instead (a bitwise
    AND of thermometer codes), sorted channel indices. They come from a source network that
    pools before a decreasing per-channel map and its quantizer (Conv, MaxPool,
    BatchNorm with gamma < 0, sign, as BinaryNet orders them): ``q(g(max y)) =
    min q(g(y))`` for a non-increasing ``g`` and a non-decreasing ``q``, so the pool moves
    after the activation exactly, as a minimum on those channels. Integers are never
    compared: every per-channel affine map is monotone.
    """

    kernel: tuple
    stride: tuple = None
    minimum: tuple = ()

    kind = "maxpool2d"

    def __post_init__(self):
        object.__setattr__(self, "kernel", check_pair(self.kernel, "pooling kernel"))
        object.__setattr__(self, "stride", self.kernel if self.stride is None
                           else check_pair(self.stride, "pooling stride"))
        object.__setattr__(self, "minimum", _check_minimum(self.minimum))

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"input must be (channels, height, width), not shape {input_shape}")
        c, h, w = input_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        if h < kh or w < kw:
            raise ValueError(f"kernel {pair_text(self.kernel)} does not fit the {h}x{w} input")
        _check_minimum_channels(self.minimum, c)
        return (c, (h - kh) // sh + 1, (w - kw) // sw + 1)

    def to_json(self):
        return {"kind": self.kind, "kernel": _pair_json(self.kernel),
                "stride": _pair_json(self.stride)} | (
            {"minimum": list(self.minimum)} if self.minimum else {})

    def arrays(self):
        return {}


@dataclass(frozen=True)
class Flatten:
    """``(C, H, W) -> (C*H*W,)``, C-major."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def to_json(self):
        return {"kind": self.kind}

    def arrays(self):
        return {}


@dataclass(frozen=True)
class GlobalAvgPool2d:
    """``(C, H, W) -> (C,)``: the mean of each channel's quantized activations over the map
    (PyTorch's ``AdaptiveAvgPool2d(1)`` then ``flatten``), read by a Dense layer only.

    The integer model folds it into that Dense, exactly: ``W mean_p(x_p) = sum_p (W / HW)
    x_p``, a Dense over the flattened map (C-major, as :class:`Flatten`) whose weight bases
    repeat each channel's bits over the HW positions and whose coefficients are divided by
    HW (:func:`~popcorn.golden.integer_model.to_integer`). The hardware runs that Dense, so
    its weight ROM holds HW times the layer's bits.
    """

    kind = "globalavgpool"

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"input must be (channels, height, width), not shape {input_shape}")
        return (int(input_shape[0]),)

    def to_json(self):
        return {"kind": self.kind}

    def arrays(self):
        return {}


@dataclass(frozen=True, eq=False)
class Conv1d(_Weighted):
    """1-D convolution over a sequence (PyTorch ``Conv1d`` semantics) on quantized
    activations: ``(C, T) -> (out, T')``, ``T' = (T + 2 padding - k) // stride + 1``.

    ``weight`` is ``(out, in, k)``; ``padding_fill`` as for :class:`Conv2d`. It computes
    exactly what :meth:`as_2d` computes on the sequence seen as a ``(C, 1, T)`` map: the
    golden models and the hardware run that (:mod:`popcorn.network.sequences`).
    """

    weight: np.ndarray
    quantizer: object
    bias: np.ndarray = None
    stride: int = 1
    padding: int = 0
    padding_fill: str = "lowest"

    kind = "conv1d"

    def __post_init__(self):
        _check_convolution(self, 3)
        check_positive_int(self.stride, "stride")
        if isinstance(self.padding, bool) or not isinstance(self.padding, (int, np.integer)) \
                or self.padding < 0:
            raise ValueError(f"padding must be a non-negative integer, not {self.padding!r}")

    out_channels = property(lambda self: self.weight.shape[0])
    in_channels = property(lambda self: self.weight.shape[1])

    @property
    def kernel(self):
        return self.weight.shape[2]

    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"input must be a sequence (channels, time), not shape "
                             f"{input_shape}")
        c, t = input_shape
        if c != self.in_channels:
            raise ValueError(f"weight has {self.in_channels} input channels but the input has "
                             f"{c} (shape {input_shape})")
        steps = (t + 2 * self.padding - self.kernel) // self.stride + 1
        if steps < 1:
            raise ValueError(f"kernel {self.kernel} with padding {self.padding} does not fit "
                             f"the {t}-step input")
        return (self.out_channels, steps)

    def as_2d(self):
        """The :class:`Conv2d` that computes this layer on ``(C, 1, T)`` maps: kernel
        ``(1, k)``, stride ``(1, s)``, padding ``(0, p)``."""
        return Conv2d(self.weight[:, :, None, :], self.quantizer, self.bias,
                      stride=(1, int(self.stride)), padding=(0, int(self.padding)),
                      padding_fill=self.padding_fill)

    def to_json(self):
        return self._convolution_json(int(self.stride), int(self.padding))


def _check_minimum(minimum):
    """``minimum`` (a pool's channels pooled by the minimum) as a sorted tuple of ints."""
    try:
        minimum = tuple(int(c) for c in minimum)
    except (TypeError, ValueError):
        raise TypeError(f"pooling minimum must be a sequence of channel indices, not "
                        f"{minimum!r}") from None
    if list(minimum) != sorted(set(minimum)) or (minimum and minimum[0] < 0):
        raise ValueError(f"pooling minimum must list distinct channel indices >= 0 in "
                         f"increasing order, not {list(minimum)}")
    return minimum


def _check_minimum_channels(minimum, channels):
    if minimum and minimum[-1] >= channels:
        raise ValueError(f"pooling minimum names channel {minimum[-1]}, the input has "
                         f"{channels} channels")


@dataclass(frozen=True)
class MaxPool1d:
    """Max pooling over time of a quantized sequence, no padding: ``(C, T) -> (C, T')``;
    ``stride`` defaults to ``kernel``; ``minimum`` as for :class:`MaxPool2d`, which
    :meth:`as_2d` gives (kernel ``(1, k)``, stride ``(1, s)``, on ``(C, 1, T)`` maps)."""

    kernel: int
    stride: int = None
    minimum: tuple = ()

    kind = "maxpool1d"

    def __post_init__(self):
        check_positive_int(self.kernel, "pooling kernel")
        if self.stride is None:
            object.__setattr__(self, "stride", self.kernel)
        check_positive_int(self.stride, "pooling stride")
        object.__setattr__(self, "minimum", _check_minimum(self.minimum))

    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"input must be a sequence (channels, time), not shape "
                             f"{input_shape}")
        c, t = input_shape
        if t < self.kernel:
            raise ValueError(f"kernel {self.kernel} does not fit the {t}-step input")
        _check_minimum_channels(self.minimum, c)
        return (c, (t - self.kernel) // self.stride + 1)

    def as_2d(self):
        return MaxPool2d((1, int(self.kernel)), (1, int(self.stride)), self.minimum)

    def to_json(self):
        return {"kind": self.kind, "kernel": int(self.kernel), "stride": int(self.stride)} | (
            {"minimum": list(self.minimum)} if self.minimum else {})

    def arrays(self):
        return {}


@dataclass(frozen=True)
class GlobalMaxPool:
    """The maximum of each channel over time or over the map: ``(C, T) -> (C,)`` or
    ``(C, H, W) -> (C,)`` (seed 003's max over time; PyTorch's ``x.amax(-1)``,
    ``AdaptiveMaxPool1d(1)`` then ``flatten``). ``minimum`` as for :class:`MaxPool2d`.
    :meth:`as_2d` gives the :class:`MaxPool2d` over the whole ``(C, H, W)`` map (a sequence
    is ``(C, 1, T)``) and the :class:`Flatten` of its ``(C, 1, 1)`` output."""

    minimum: tuple = ()

    kind = "globalmaxpool"

    def __post_init__(self):
        object.__setattr__(self, "minimum", _check_minimum(self.minimum))

    def output_shape(self, input_shape):
        if len(input_shape) not in (2, 3):
            raise ValueError(f"input must be a sequence (channels, time) or a map (channels, "
                             f"height, width), not shape {input_shape}")
        _check_minimum_channels(self.minimum, input_shape[0])
        return (int(input_shape[0]),)

    def as_2d(self, input_shape):
        """``(MaxPool2d, Flatten)`` on the ``(C, H, W)`` (or ``(C, 1, T)``) map."""
        h, w = input_shape[1:] if len(input_shape) == 3 else (1, input_shape[1])
        return MaxPool2d((int(h), int(w)), (int(h), int(w)), self.minimum), Flatten()

    def to_json(self):
        return {"kind": self.kind} | ({"minimum": list(self.minimum)} if self.minimum else {})

    def arrays(self):
        return {}


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Inference batch norm per channel (axis 0): ``gamma (x - mean) / sqrt(var + eps) + beta``.

    Followed by an Activation it is folded into integer thresholds; followed by Scores it is
    folded into the last layer's coefficients. ``gamma`` may be negative or zero.
    """

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = 1e-5

    kind = "batchnorm"

    def __post_init__(self):
        for name in ("gamma", "beta", "mean", "var"):
            check_float_array(getattr(self, name), name, ndim=1)
        shapes = {getattr(self, n).shape for n in ("gamma", "beta", "mean", "var")}
        if len(shapes) != 1:
            raise ValueError(f"gamma, beta, mean and var must have one entry per channel, not "
                             f"shapes {self.gamma.shape}, {self.beta.shape}, {self.mean.shape}, "
                             f"{self.var.shape}")
        if (self.var < 0).any():
            raise ValueError(f"var must be non-negative, found {self.var.min()!r}")
        object.__setattr__(self, "eps", check_positive_float(self.eps, "eps"))

    @property
    def channels(self):
        return self.gamma.shape[0]

    def output_shape(self, input_shape):
        if input_shape[0] != self.channels:
            raise ValueError(f"parameters have {self.channels} channels but the input has "
                             f"{input_shape[0]} (shape {input_shape})")
        return input_shape

    def to_json(self):
        return {"kind": self.kind, "eps": self.eps}

    def arrays(self):
        return {"gamma": self.gamma, "beta": self.beta, "mean": self.mean, "var": self.var}


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation quantizer (:mod:`popcorn.network.schemes`): produces the bases the next
    layer reads."""

    quantizer: object

    kind = "activation"

    def __post_init__(self):
        if type(self.quantizer) not in ACTIVATION_QUANTIZERS.values():
            raise TypeError(f"activation quantizer must be one of "
                            f"{', '.join(c.__name__ for c in ACTIVATION_QUANTIZERS.values())}, "
                            f"not {self.quantizer!r}")

    def output_shape(self, input_shape):
        return input_shape

    def to_json(self):
        return {"kind": self.kind, "activation": self.quantizer.to_json()}

    def arrays(self):
        return {name: getattr(self.quantizer, name) for name in self.quantizer.arrays}


@dataclass(frozen=True)
class Scores:
    """The output: the last layer's pre-activations are the class scores; argmax is the class
    (ties go to the lowest index)."""

    kind = "scores"

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"scores must be a vector (classes,), not shape {input_shape}; "
                             f"end with Flatten and Dense")
        return input_shape

    def to_json(self):
        return {"kind": self.kind}

    def arrays(self):
        return {}


LAYER_KINDS = {cls.kind: cls for cls in (Dense, Conv2d, MaxPool2d, Flatten, GlobalAvgPool2d,
                                         Conv1d, MaxPool1d, GlobalMaxPool, BatchNorm,
                                         Activation, Scores)}


def check_input(input_shape, input_quantizer):
    """The input shape as a tuple of ints, checked with the input quantizer; raise
    :class:`NetworkError` naming the input."""
    shape = tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                        for d in shape):
        raise NetworkError(f"input: shape must be a tuple of positive integers, not {input_shape!r}")
    if len(shape) not in (1, 2, 3):
        raise NetworkError(f"input: shape must be (K,), a sequence (C, T) or a map (C, H, W), "
                           f"not {shape}")
    if type(input_quantizer) not in ACTIVATION_QUANTIZERS.values():
        raise NetworkError(f"input: quantizer must be an activation quantizer, not "
                           f"{input_quantizer!r}")
    return tuple(int(d) for d in shape)


@dataclass(frozen=True, eq=False)
class Network:
    """A validated sequential network.

    Parameters
    ----------
    input_shape : tuple of int, one sample without the batch axis: ``(C, H, W)`` or ``(K,)``.
    input_quantizer : activation quantizer turning the input into bases (usually
        ``FixedPointActivation(8, 1/255)``: 8-bit pixels as 8 ``zo`` bit planes).
    layers : tuple of layers, the last one :class:`Scores`.

    Raises
    ------
    NetworkError
        naming the first layer that does not chain.
    """

    input_shape: tuple
    input_quantizer: object
    layers: tuple

    def __post_init__(self):
        object.__setattr__(self, "input_shape",
                           check_input(self.input_shape, self.input_quantizer))
        object.__setattr__(self, "layers", tuple(self.layers))
        for index, layer in enumerate(self.layers):
            if type(layer) not in LAYER_KINDS.values():
                raise NetworkError(f"layer {index}: not a layer: {layer!r}")
        object.__setattr__(self, "_shapes",
                           validate_network(self.input_shape, self.input_quantizer, self.layers))

    @property
    def shapes(self):
        """Shapes between layers: ``shapes[0]`` the input, ``shapes[i + 1]`` after layer i."""
        return list(self._shapes)

    @property
    def classes(self):
        return self._shapes[-1][0]
