# amaranth: UnusedElaboratable=no
"""MaxPool (OR of thermometer codes) and Flatten against popcorn.golden.window_ref."""

import numpy as np
import pytest

from popcorn.golden import window_ref as ref
from popcorn.hdl.flatten import Flatten
from popcorn.hdl.pool import MaxPool
from popcorn.sim.runner import run_testbench


def thermometer_maps(n, height, width, channels, seed, levels=4):
    """Maps whose channels are thermometer codes of ``levels`` bits (``[y >= t]`` for
    increasing t), plus all ones, all zeros and an alternating map."""
    rng = np.random.default_rng(seed)
    shape = (height, width, channels)
    edges = [np.ones(shape), np.zeros(shape), np.indices(shape).sum(axis=0) % 2]
    y = rng.integers(0, levels + 1, (n, height, width, -(-channels // levels)))
    codes = (y[..., np.newaxis] > np.arange(levels)).reshape(n, height, width, -1)
    return np.concatenate([np.array(edges), codes[..., :channels]]).astype(np.uint8)


def run(tmp_path, block, c):
    measured = run_testbench(block, test_module="popcorn.sim.testbenches.window_tb",
                             build_dir=tmp_path, case=c)
    assert measured["cycles_per_image"] == block.cycles_per_image()
    assert measured["latency"] == block.latency()
    assert measured["images"] == len(c["images"])
    return measured


@pytest.mark.parametrize("height, width, channels, kernel, stride", [
    (4, 6, 8, 2, 2),      # the usual 2x2/2
    (7, 7, 4, 3, 2),      # overlapping 3x3/2, ragged edge
    (5, 5, 3, 2, 3),      # stride > kernel: pixels skipped
    pytest.param(3, 4, 5, 3, 1, marks=pytest.mark.slow),  # kernel = image height
    (4, 5, 3, 1, 2),      # 1x1 "pooling": subsampling, no memory
    pytest.param(6, 7, 16, 3, 3, marks=pytest.mark.slow),  # 3x3/3, ragged right column
    (1, 9, 5, (1, 9), (1, 9)),    # a global max over a 1 x T row: one output, no memory
    (1, 10, 3, (1, 4), (1, 3)),   # a 1 x T row, overlapping in time: a window
    pytest.param(1, 11, 4, (1, 3), (1, 4),        # a 1 x T row, pixels skipped
                 marks=pytest.mark.slow),
    (6, 5, 4, (2, 1), (2, 1)),    # one column, two rows: a window
    (7, 8, 6, (2, 3), (3, 2)),    # non-square window and stride, overlapping across
    pytest.param(6, 9, 3, (2, 3), (2, 4),         # non-overlapping, a pixel skipped per
                 marks=pytest.mark.slow),         # window
])
def test_pool_bit_exact_with_stalls(tmp_path, height, width, channels, kernel, stride):
    c = dict(block="pool", height=height, width=width, channels=channels, kernel=kernel,
             stride=stride, images=thermometer_maps(3, height, width, channels, seed=width),
             seed=height + width, idle=0.3, stall=0.3, burst=2)
    block = MaxPool(height=height, width=width, channels=channels, kernel=kernel,
                    stride=stride)
    m = run(tmp_path, block, c)
    assert m["words"] == len(c["images"]) * np.prod(block.out_shape)


@pytest.mark.parametrize("height, width, channels, kernel, stride", [
    (4, 6, 8, 2, 2),
    (7, 7, 6, 3, 2),      # overlapping: through the sliding window
    (1, 12, 5, (1, 12), (1, 12)),   # global max/min over a 1 x T row
])
def test_min_pool_channels_bit_exact_with_stalls(tmp_path, height, width, channels, kernel,
                                                 stride):
    invert = np.random.default_rng(channels).integers(0, 2, channels).astype(np.uint8)
    c = dict(block="pool", height=height, width=width, channels=channels, kernel=kernel,
             stride=stride, images=thermometer_maps(3, height, width, channels, seed=7),
             invert=invert, seed=5, idle=0.3, stall=0.3, burst=2)
    block = MaxPool(height=height, width=width, channels=channels, kernel=kernel,
                    stride=stride, invert=sum(int(b) << n for n, b in enumerate(invert)))
    run(tmp_path, block, c)


def test_and_pool_is_min_of_thermometer_codes():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, (6, 6, 2))
    codes = (y[..., np.newaxis] > np.arange(4)).reshape(6, 6, 8).astype(np.uint8)
    pooled = 1 - ref.or_pool(1 - codes, 2)
    ymin = y.reshape(3, 2, 3, 2, 2).min(axis=(1, 3))
    assert (pooled == (ymin[..., np.newaxis] > np.arange(4)).reshape(3, 3, 8)).all()


@pytest.mark.slow
@pytest.mark.parametrize("height, width, channels, kernel, stride", [
    (12, 12, 64, 2, 2),
    (6, 6, 16, 6, 6),     # global pooling: kernel = image size
])
def test_pool_bit_exact_large(tmp_path, height, width, channels, kernel, stride):
    c = dict(block="pool", height=height, width=width, channels=channels, kernel=kernel,
             stride=stride, images=thermometer_maps(4, height, width, channels, seed=1),
             seed=2, idle=0.2, stall=0.4, burst=2)
    run(tmp_path, MaxPool(height=height, width=width, channels=channels, kernel=kernel,
                          stride=stride), c)


def test_or_pool_is_max_of_thermometer_codes():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, (6, 6, 2))
    codes = (y[..., np.newaxis] > np.arange(4)).reshape(6, 6, 8).astype(np.uint8)
    pooled = ref.or_pool(codes, 2)
    ymax = y.reshape(3, 2, 3, 2, 2).max(axis=(1, 3))
    assert (pooled == (ymax[..., np.newaxis] > np.arange(4)).reshape(3, 3, 8)).all()


def test_pool_defaults_and_formulas():
    pool = MaxPool(height=28, width=28, channels=16, kernel=2)
    assert pool.stride == (2, 2) and pool.out_shape == (14, 14) and not pool.uses_window
    assert MaxPool(height=7, width=7, channels=1, kernel=3, stride=2).uses_window
    assert pool.cycles_per_image() == 28 * 28
    assert pool.latency() == 28 + 2
    est = pool.resources()
    assert est["ebr"] == 1 and est["lut4"] >= 16


@pytest.mark.parametrize("params, error, message", [
    (dict(kernel=0), ValueError, "kernel size must be a positive integer, not 0"),
    (dict(stride=0), ValueError, "stride must be a positive integer, not 0"),
    (dict(kernel=7), ValueError, "kernel size 7 is larger than the padded image 6x6"),
    (dict(channels=-2), ValueError, "channel count must be a positive integer, not -2"),
    (dict(invert=1 << 4), ValueError, "invert must be a mask of the 4 channel bits, not 0x10"),
])
def test_pool_validation(params, error, message):
    with pytest.raises(error, match=message):
        MaxPool(**(dict(height=6, width=6, channels=4, kernel=2) | params))


@pytest.mark.parametrize("height, width, channels", [(3, 4, 5), (1, 1, 7), (2, 2, 64)])
def test_flatten_bit_exact_with_stalls(tmp_path, height, width, channels):
    rng = np.random.default_rng(channels)
    shape = (height, width, channels)
    images = np.concatenate([np.ones((1, *shape)), np.zeros((1, *shape)),
                             rng.integers(0, 2, (4, *shape))]).astype(np.uint8)
    c = dict(block="flatten", height=height, width=width, channels=channels, images=images,
             seed=channels, idle=0.3, stall=0.3, burst=3)
    block = Flatten(height=height, width=width, channels=channels)
    m = run(tmp_path, block, c)
    assert m == {"images": 6, "words": 6, "cycles_per_image": height * width,
                 "latency": height * width}


def test_flatten_validation_and_estimate():
    with pytest.raises(ValueError, match="height must be a positive integer, not 0"):
        Flatten(height=0, width=2, channels=3)
    with pytest.raises(TypeError, match="channel count must be a positive integer, not '8'"):
        Flatten(height=2, width=2, channels="8")
    assert Flatten(height=2, width=2, channels=8).resources()["ff"] == 32 + 1 + 2
