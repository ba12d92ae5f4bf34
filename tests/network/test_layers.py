"""Layer and network construction: every validation error names the layer and the problem."""

import numpy as np
import pytest

from popcorn.network import (AbcActivation, AbcWeights, Activation, BatchNorm, BinaryConnectWeights,
                             BnnWeights, Conv2d, Dense, FixedPointActivation, Flatten, MaxPool2d,
                             Network, NetworkError, PaActivation, PaWeights, Scores, SignActivation,
                             XnorWeights, abc_default_shifts, pa_default_endpoints)

PIXELS = FixedPointActivation(8, 1 / 255)


def bn(c):
    return BatchNorm(np.ones(c), np.zeros(c), np.zeros(c), np.ones(c))


def conv(out=4, inp=1, k=3, **kw):
    return Conv2d(np.ones((out, inp, k, k)), BnnWeights(), **kw)


def small_cnn():
    return Network((1, 6, 6), PIXELS, (conv(padding=1), bn(4), Activation(SignActivation()),
                                       MaxPool2d(2), Flatten(), Dense(np.ones((3, 36)), XnorWeights()),
                                       Scores()))


def test_geometry_per_axis():
    """Integers mean the same on both axes; pairs are (h, w); both are stored as pairs."""
    layer = Conv2d(np.ones((4, 2, 1, 3)), BnnWeights(), stride=(1, 2), padding=[0, 1])
    assert (layer.kernel, layer.stride, layer.padding) == ((1, 3), (1, 2), (0, 1))
    assert layer.output_shape((2, 1, 9)) == (4, 1, 5)
    assert conv(stride=2, padding=1).stride == (2, 2)
    assert MaxPool2d((1, 5)).stride == (1, 5) and MaxPool2d(2) == MaxPool2d((2, 2), 2)
    assert MaxPool2d((2, 1), (1, 1)).output_shape((3, 4, 4)) == (3, 3, 4)
    with pytest.raises(ValueError, match=r"kernel \(1, 6\) does not fit the 1x5 input"):
        MaxPool2d((1, 6)).output_shape((3, 1, 5))
    with pytest.raises(ValueError, match=r"kernel 1x3 with padding \(1, 0\) does not fit the "
                                         r"1x2 input"):
        Conv2d(np.ones((4, 2, 1, 3)), BnnWeights(), padding=(1, 0)).output_shape((2, 1, 2))


def test_shapes_chain():
    assert small_cnn().shapes == [(1, 6, 6), (4, 6, 6), (4, 6, 6), (4, 6, 6), (4, 3, 3), (36,),
                                  (3,), (3,)]
    assert small_cnn().classes == 3


@pytest.mark.parametrize("layers, message", [
    ((conv(inp=2), Scores()),
     "layer 0 (conv2d): weight has 2 input channels but the input has 1 (shape (1, 6, 6))"),
    ((conv(k=7), Scores()), "layer 0 (conv2d): kernel 7x7 with padding 0 does not fit the 6x6 input"),
    ((conv(), Activation(SignActivation()), Dense(np.ones((3, 16)), BnnWeights()), Scores()),
     "layer 2 (dense): weight has 16 inputs but the input has shape (4, 4, 4); add a Flatten"),
    ((conv(), bn(3), Scores()),
     "layer 1 (batchnorm): parameters have 3 channels but the input has 4 (shape (4, 4, 4))"),
    ((conv(), conv(inp=4), Scores()),
     "layer 1 (conv2d) cannot follow layer 0 (conv2d): put an Activation (quantizer) before it"),
    ((conv(), MaxPool2d(2), Scores()),
     "layer 1 (maxpool2d) cannot follow layer 0 (conv2d): pool quantized activations: move it "
     "after the Activation"),
    ((bn(1), Scores()), "layer 0 (batchnorm) cannot follow the input: a BatchNorm must directly "
                        "follow a Dense, Conv2d or Conv1d"),
    ((conv(), Activation(SignActivation()), MaxPool2d(5), Scores()),
     "layer 2 (maxpool2d): kernel 5 does not fit the 4x4 input"),
    ((conv(), Activation(SignActivation()), MaxPool2d(2, minimum=(1, 4)), Scores()),
     "layer 2 (maxpool2d): pooling minimum names channel 4, the input has 4 channels"),
    ((conv(), Scores()), "layer 1 (scores): scores must be a vector (classes,), not shape (4, 4, 4)"),
    ((conv(), Activation(SignActivation())),
     "layer 1 (activation): the last layer must be Scores (integer scores and argmax); append Scores()"),
    ((conv(), Activation(SignActivation(mean_scaling=True)), MaxPool2d(2), Scores()),
     "layer 2 (maxpool2d) cannot follow a sign activation with mean_scaling"),
])
def test_chain_errors(layers, message):
    with pytest.raises(NetworkError, match=None) as info:
        Network((1, 6, 6), PIXELS, layers)
    assert message in str(info.value)


def test_scores_must_be_last():
    with pytest.raises(NetworkError, match=r"layer 1 \(scores\): Scores must be the last layer, but 1 layer\(s\) follow it"):
        Network((4,), PIXELS, (Dense(np.ones((2, 4)), BnnWeights()), Scores(), Scores()))


def test_empty_and_bad_input():
    with pytest.raises(NetworkError, match="a network needs at least one layer, ending with Scores"):
        Network((4,), PIXELS, ())
    with pytest.raises(NetworkError, match=r"input: shape must be a tuple of positive integers, not \(0, 3\)"):
        Network((0, 3), PIXELS, (Scores(),))
    with pytest.raises(NetworkError, match=r"input: shape must be \(K,\), a sequence \(C, T\) or "
                                           r"a map \(C, H, W\), not \(2, 3, 4, 5\)"):
        Network((2, 3, 4, 5), PIXELS, (Scores(),))
    with pytest.raises(NetworkError, match="input: quantizer must be an activation quantizer"):
        Network((4,), BnnWeights(), (Scores(),))


def test_layer_argument_errors():
    with pytest.raises(TypeError, match="weight must be a float32 or float64 array, not int64"):
        Dense(np.ones((2, 3), dtype=np.int64), BnnWeights())
    with pytest.raises(ValueError, match=r"weight contains NaN or infinity \(first at index \(0, 1\)\)"):
        Dense(np.array([[0.0, np.nan]]), BnnWeights())
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\) \(one per output\), not \(3,\)"):
        Dense(np.ones((2, 3)), BnnWeights(), np.ones(3))
    with pytest.raises(TypeError, match="weight quantizer must be one of"):
        Dense(np.ones((2, 3)), SignActivation())
    with pytest.raises(ValueError, match="stride must be a positive integer, not 0"):
        conv(stride=0)
    with pytest.raises(ValueError, match="padding must be a non-negative integer, not -1"):
        conv(padding=-1)
    with pytest.raises(ValueError, match="pooling kernel must be a positive integer, not 0"):
        MaxPool2d(0)
    with pytest.raises(ValueError, match=r"stride must be a positive integer or a pair \(h, w\) "
                                         r"of them, not \(1, 0\)"):
        conv(stride=(1, 0))
    with pytest.raises(TypeError, match=r"padding must be a non-negative integer or a pair "
                                        r"\(h, w\) of them, not \(0, 1.0\)"):
        conv(padding=(0, 1.0))
    with pytest.raises(ValueError, match=r"pooling stride must be a positive integer or a pair "
                                         r"\(h, w\) of them, not \(1, 2, 3\)"):
        MaxPool2d(2, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pooling minimum must list distinct channel indices "
                                         r">= 0 in increasing order, not \[2, 1\]"):
        MaxPool2d(2, minimum=[2, 1])
    with pytest.raises(TypeError, match="pooling minimum must be a sequence of channel indices"):
        MaxPool2d(2, minimum=3)
    with pytest.raises(ValueError, match="var must be non-negative"):
        BatchNorm(np.ones(2), np.zeros(2), np.zeros(2), -np.ones(2))
    with pytest.raises(ValueError, match="gamma, beta, mean and var must have one entry per channel"):
        BatchNorm(np.ones(2), np.zeros(3), np.zeros(2), np.ones(2))
    with pytest.raises(TypeError, match="activation quantizer must be one of"):
        Activation(XnorWeights())


def test_scheme_errors():
    with pytest.raises(ValueError, match=r"PA-Net weight endpoints must be strictly increasing, not \[-1.0, 1.0, 0.5, 2.0\]"):
        PaWeights((-1.0, 1.0, 0.5, 2.0))
    with pytest.raises(ValueError, match="PA-Net weight base count must be even"):
        PaWeights((-1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="PA-Net weight base count must be even .* not 3"):
        pa_default_endpoints(3)
    with pytest.raises(ValueError, match=r"PA-Net activation endpoints must be strictly increasing, not \[0.0, 0.0\]"):
        PaActivation(np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="PA-Net activation betas .* must be non-decreasing"):
        PaActivation(np.array([0.0, 1.0]), np.array([2.0, 1.0]))
    with pytest.raises(ValueError, match="PA-Net activation vectors must have one entry per base: "
                                         "endpoints has 2, betas has 3"):
        PaActivation(np.array([0.0, 1.0]), np.ones(3))
    with pytest.raises(ValueError, match="ABC-Net activation betas must be positive"):
        AbcActivation(np.zeros(1), np.array([-1.0]))
    with pytest.raises(ValueError, match="ABC-Net activation shifts contains NaN or infinity"):
        AbcActivation(np.array([np.inf]), np.ones(1))
    with pytest.raises(ValueError, match="ABC-Net weight base count must be a positive integer, not 0"):
        AbcWeights.with_bases(0)
    with pytest.raises(ValueError, match="fixed-point bit width must be a positive integer, not 0"):
        FixedPointActivation(0, 1.0)
    with pytest.raises(ValueError, match="fixed-point scale must be a finite positive number, not -1"):
        FixedPointActivation(8, -1)
    with pytest.raises(TypeError, match="BinaryConnect stochastic must be a boolean, not 1"):
        BinaryConnectWeights(stochastic=1)


def test_default_bases():
    assert abc_default_shifts(1) == (0.0,)
    assert abc_default_shifts(3) == (-1.0, 0.0, 1.0)
    assert pa_default_endpoints(8) == (-1.5, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 1.5)
    assert pa_default_endpoints(2) == (-1.0, 1.0)
    assert pa_default_endpoints(4) == (-1.5, -0.5, 0.5, 1.5)
    for m in (2, 4, 6, 10, 12, 16):
        ends = np.array(pa_default_endpoints(m))
        assert np.allclose(ends, -ends[::-1]) and (np.diff(ends) > 0).all()
        assert ends.max() < 2.0


def test_more_argument_errors():
    with pytest.raises(TypeError, match="BinaryConnect seed must be an integer, not 1.5"):
        BinaryConnectWeights(seed=1.5)
    with pytest.raises(ValueError, match="BinaryConnect seed must be a non-negative integer, not -1"):
        BinaryConnectWeights(seed=-1)
    with pytest.raises(TypeError, match="fixed-point scale must be a number, not '1'"):
        FixedPointActivation(8, "1")
    with pytest.raises(ValueError, match="fixed-point bit width must be at most 16"):
        FixedPointActivation(17, 1.0)
    with pytest.raises(ValueError, match="ABC-Net weight shifts need at least one base, not 0"):
        AbcWeights(())
    with pytest.raises(ValueError, match="PA-Net weight endpoints need at least two bases, not 0"):
        PaWeights(())
    with pytest.raises(ValueError, match=r"ABC-Net activation shifts must be 1-D, not shape \(1, 2\)"):
        AbcActivation(np.zeros((1, 2)), np.ones(2))
    with pytest.raises(ValueError, match="ABC-Net activation needs at least one base, not 0"):
        AbcActivation(np.zeros(0), np.zeros(0))
    with pytest.raises(TypeError, match="weight must be a numpy array, not list"):
        Dense([[1.0]], BnnWeights())
    with pytest.raises(ValueError, match=r"weight must be 4-D, not shape \(2, 3\)"):
        Conv2d(np.ones((2, 3)), BnnWeights())


def test_more_chain_errors():
    flat = Network((1, 2, 2), PIXELS, (Flatten(), Dense(np.ones((2, 4)), BnnWeights()), Scores()))
    assert flat.shapes[1] == (4,)
    with pytest.raises(NetworkError, match=r"layer 1 \(conv2d\): input must be \(channels, height, "
                                           r"width\), not shape \(4,\)"):
        Network((1, 2, 2), PIXELS, (Flatten(), conv(k=1), Scores()))
    with pytest.raises(NetworkError, match=r"layer 1 \(maxpool2d\): input must be \(channels, height, "
                                           r"width\), not shape \(4,\)"):
        Network((1, 2, 2), PIXELS, (Flatten(), MaxPool2d(2), Scores()))
    with pytest.raises(NetworkError, match="layer 1: not a layer: 'relu'"):
        Network((4,), PIXELS, (Dense(np.ones((2, 4)), BnnWeights()), "relu", Scores()))
