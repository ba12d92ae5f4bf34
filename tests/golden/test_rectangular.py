"""Rectangular kernels, per-axis stride and padding in the golden models, against PyTorch's
``conv2d``/``max_pool2d`` and plain loops: the float reference, the integer model (both window
packings) and the zero-padding border correction."""

import numpy as np
import pytest

from popcorn.golden import window_ref
from popcorn.golden.borders import axis_classes, border_correction
from popcorn.golden.float_ref import float_forward, linear_forward
from popcorn.golden.integer_model import run_integer, to_integer
from popcorn.golden.integer_reference import reference_run_integer
from popcorn.golden.predict import input_thermometer
from popcorn.golden.quantizers import quantize_weights
from popcorn.golden.windows import im2col, pool_windows
from popcorn.network import (Activation, BatchNorm, BnnWeights, Conv2d, Dense, Flatten, MaxPool2d,
                             Network, Scores, SignActivation)

torch = pytest.importorskip("torch")
F = torch.nn.functional

# (input C, H, W), kernel, stride, padding
GEOMETRIES = [
    ((3, 1, 11), (1, 3), (1, 1), (0, 1)),     # a 1-D convolution over time
    ((2, 1, 12), (1, 4), (1, 2), (0, 2)),     # strided in time, padding p = k/2
    ((2, 6, 5), (3, 1), (1, 1), (1, 0)),
    ((1, 7, 8), (2, 3), (2, 1), (1, 2)),
    ((4, 5, 9), (3, 2), (1, 3), (0, 1)),
    ((2, 4, 4), (3, 3), (2, 2), (1, 1)),      # square, as always
]


def torch_conv(x, weight, stride, padding):
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), stride=stride,
                    padding=padding).numpy()


@pytest.mark.parametrize("shape, kernel, stride, padding", GEOMETRIES)
def test_im2col_conv_equals_torch(shape, kernel, stride, padding):
    rng = np.random.default_rng(sum(shape) + sum(kernel))
    x = rng.normal(size=(3,) + shape)
    w = rng.normal(size=(5, shape[0]) + kernel)
    cols = im2col(x, kernel, stride, padding, 0.0)
    ours = np.moveaxis(cols @ w.reshape(5, -1).T, -1, 1)
    assert np.allclose(ours, torch_conv(x, w, stride, padding))


@pytest.mark.parametrize("shape, kernel, stride, padding", GEOMETRIES)
def test_float_conv_layer_equals_torch(shape, kernel, stride, padding):
    """Conv2d's output_shape and the float reference's forward, quantized weights."""
    rng = np.random.default_rng(len(shape) + kernel[1])
    layer = Conv2d(rng.uniform(-1, 1, (4, shape[0]) + kernel), BnnWeights(),
                   rng.normal(size=4), stride=stride, padding=padding)
    x = rng.normal(size=(2,) + shape)
    w = quantize_weights(layer.weight, layer.quantizer).values()
    expected = torch_conv(x, w, stride, padding) + layer.bias[:, None, None]
    got = linear_forward(layer, x)
    assert got.shape[1:] == layer.output_shape(shape)
    assert np.allclose(got, expected)


@pytest.mark.parametrize("shape, kernel, stride", [
    ((3, 1, 9), (1, 9), (1, 9)),     # the global max over a 1 x T row
    ((3, 1, 10), (1, 4), (1, 3)),
    ((2, 6, 5), (2, 1), (2, 1)),
    ((2, 7, 9), (3, 2), (1, 2)),     # overlapping in height only
    ((2, 8, 8), (2, 2), (2, 2)),
])
def test_max_pool_equals_torch(shape, kernel, stride):
    rng = np.random.default_rng(shape[2] + kernel[1])
    x = rng.normal(size=(2,) + shape)
    expected = F.max_pool2d(torch.from_numpy(x), kernel, stride).numpy()
    assert np.allclose(pool_windows(x, kernel, stride).max(axis=-1), expected)
    layer = MaxPool2d(kernel, stride)
    assert layer.output_shape(shape) == expected.shape[1:]
    # the OR of thermometer codes (bits) is their max
    bits = (x > 0).astype(np.uint8)
    for image, want in zip(bits, F.max_pool2d(torch.from_numpy(bits.astype(np.float64)),
                                              kernel, stride).numpy()):
        got = window_ref.or_pool(np.moveaxis(image, 0, -1), kernel, stride)
        assert np.array_equal(np.moveaxis(got, -1, 0), want)


def test_window_reference_order_per_axis():
    """windows(): out[oy, ox, ky, kx, c] = padded[oy*sh + ky, ox*sw + kx, c], by a loop."""
    rng = np.random.default_rng(1)
    fmap = rng.integers(0, 2, (4, 7, 3)).astype(np.uint8)
    (kh, kw), (sh, sw), (ph, pw) = (2, 3), (1, 2), (1, 0)
    got = window_ref.windows(fmap, (kh, kw), (sh, sw), (ph, pw), pad_value=1)
    padded = np.ones((4 + 2 * ph, 7 + 2 * pw, 3), np.uint8)
    padded[ph:ph + 4, pw:pw + 7] = fmap
    assert got.shape == (5, 3, kh, kw, 3)
    for oy in range(5):
        for ox in range(3):
            assert np.array_equal(got[oy, ox], padded[oy * sh:oy * sh + kh, ox * sw:ox * sw + kw])


def test_axis_classes_per_axis():
    """A (1, 3) kernel with padding (0, 1) on a 1 x T map: one row class, three columns."""
    rows, row_padded = axis_classes(1, 1, 1, 0)
    cols, col_padded = axis_classes(6, 3, 2, 1)
    assert rows.tolist() == [0] and row_padded.tolist() == [[False]]
    assert cols.tolist() == [0, 1, 1] and col_padded.tolist() == [[True, False, False],
                                                                 [False, False, False]]


def _network(kernel, stride, padding, fill, shape, channels=3):
    rng = np.random.default_rng(sum(kernel) + sum(padding))
    conv = Conv2d(rng.uniform(-1, 1, (channels, shape[0]) + kernel), BnnWeights(),
                  stride=stride, padding=padding, padding_fill=fill)
    out = conv.output_shape(shape)
    ones = np.ones(channels)
    return Network(shape, SignActivation(), (
        conv, BatchNorm(ones, rng.normal(0, 0.3, channels), np.zeros(channels), ones),
        Activation(SignActivation()), MaxPool2d((1, out[2])), Flatten(),
        Dense(rng.uniform(-1, 1, (4, channels * out[1])), BnnWeights()), Scores()))


@pytest.mark.parametrize("kernel, stride, padding", [((1, 3), (1, 1), (0, 1)),
                                                     ((1, 5), (1, 2), (0, 2)),
                                                     ((3, 2), (2, 1), (1, 1))])
@pytest.mark.parametrize("fill", ["lowest", "zero"])
def test_sign_network_scores_equal_torch(kernel, stride, padding, fill):
    """A BNN on pm1 inputs, exact: the integer model's scores are torch's (padding with the
    value 0 for "zero", -1 for "lowest"), through the border correction."""
    shape = (2, 1, 10) if kernel[0] == 1 else (2, 5, 6)
    net = _network(kernel, stride, padding, fill, shape)
    conv, norm, _, pool, _, dense, _ = net.layers
    x = np.random.default_rng(3).normal(size=(16,) + shape)
    signs = np.where(x >= 0, 1.0, -1.0)
    value = 0.0 if fill == "zero" else -1.0
    ph, pw = padding
    padded = F.pad(torch.from_numpy(signs), (pw, pw, ph, ph), value=value)
    y = F.conv2d(padded, torch.from_numpy(np.where(conv.weight >= 0, 1.0, -1.0)), stride=stride)
    t = [torch.from_numpy(getattr(norm, n)) for n in ("mean", "var", "gamma", "beta")]
    a = torch.where(F.batch_norm(y, *t, eps=norm.eps) >= 0, 1.0, -1.0).double()
    pooled = F.max_pool2d(a, pool.kernel, pool.stride).flatten(1)
    scores = (pooled @ torch.from_numpy(np.where(dense.weight >= 0, 1.0, -1.0)).T).numpy()
    assert np.allclose(float_forward(net, x).scores, scores)
    integer = to_integer(net)
    result = run_integer(integer, input_thermometer(net, x))
    assert np.array_equal(result.scores, scores.astype(np.int64) << integer.score_frac_bits)
    border = border_correction(integer.stages[0], *shape[1:])
    assert (border is None) == (fill == "lowest")


@pytest.mark.parametrize("fill", ["lowest", "zero"])
def test_channel_packed_windows_per_axis(fill):
    """64 input channels: the model packs channels into words before taking the (2, 3)
    windows of stride (1, 2), padding (1, 0); it equals the reference model."""
    rng = np.random.default_rng(7)
    shape = (64, 4, 7)
    conv = Conv2d(rng.uniform(-1, 1, (5, 64, 2, 3)), BnnWeights(), stride=(1, 2),
                  padding=(1, 0), padding_fill=fill)
    out = conv.output_shape(shape)
    net = Network(shape, SignActivation(), (
        conv, Activation(SignActivation()), Flatten(),
        Dense(rng.uniform(-1, 1, (3, int(np.prod(out)))), BnnWeights()), Scores()))
    integer = to_integer(net, 4)
    assert integer.stages[0].packs_channels
    thermo = input_thermometer(net, rng.normal(size=(6,) + shape))
    assert np.array_equal(run_integer(integer, thermo).scores,
                          reference_run_integer(integer, thermo).scores)
