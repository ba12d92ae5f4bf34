# amaranth: UnusedElaboratable=no
"""SlidingWindow against popcorn.golden.window_ref, in cocotb + Icarus."""

import numpy as np
import pytest

from popcorn.golden import window_ref as ref
from popcorn.hdl.synth import synth_stat
from popcorn.hdl.window import SlidingWindow, ecp5_memory_map, memory_resources
from popcorn.sim.runner import run_testbench


def feature_maps(n, height, width, channels, seed):
    """Edge cases first (all ones, all zeros, alternating checkerboard), then random."""
    rng = np.random.default_rng(seed)
    edges = [np.ones((height, width, channels)), np.zeros((height, width, channels)),
             np.indices((height, width, channels)).sum(axis=0) % 2]
    maps = np.concatenate([np.array(edges), rng.integers(0, 2, (n, height, width, channels))])
    return maps.astype(np.uint8)


def window_case(height, width, channels, kernel, stride, padding, pad_value, n, seed):
    return dict(block="window", height=height, width=width, channels=channels,
                kernel=kernel, stride=stride, padding=padding, pad_value=pad_value,
                images=feature_maps(n, height, width, channels, seed), seed=seed,
                idle=0.3, stall=0.3, burst=2)



def _run(tmp_path, c):
    keys = ("height", "width", "channels", "kernel", "stride", "padding", "pad_value")
    block = SlidingWindow(**{k: c[k] for k in keys})
    measured = run_testbench(block, test_module="popcorn.sim.testbenches.window_tb",
                             build_dir=tmp_path, case=c)
    oh, ow = block.out_shape
    assert measured == {"images": len(c["images"]), "words": len(c["images"]) * oh * ow,
                        "cycles_per_image": block.cycles_per_image(),
                        "latency": block.latency()}
    return measured


@pytest.mark.parametrize("height, width, channels, kernel, stride, padding, pad_value", [
    (6, 7, 3, 3, 1, 1, 0),    # the usual 3x3 "same" convolution
    (5, 6, 2, 3, 2, 0, 1),    # stride 2, no padding, ragged edge dropped
    (4, 4, 4, 3, 3, 2, 1),    # padding 2 of ones, stride 3
    pytest.param(4, 6, 2, 4, 1, 0, 0,             # kernel = image height (one row of
                 marks=pytest.mark.slow),         # windows)
    (3, 3, 5, 1, 1, 0, 0),    # 1x1 kernel: no line buffer
    (1, 5, 3, 3, 1, 1, 0),    # a one-row image, padded to three rows
    (1, 9, 4, (1, 3), 1, (0, 1), 0),          # a 1-D convolution over time: no line buffer
    (1, 10, 3, (1, 3), (1, 2), (0, 1), 1),    # strided in time
    pytest.param(1, 7, 2, (1, 4), (1, 3), 0, 0,   # no padding, ragged end dropped
                 marks=pytest.mark.slow),
    (6, 4, 3, (3, 1), 1, (1, 0), 0),          # one column, padded rows only
    pytest.param(5, 7, 2, (2, 3), (1, 2), (1, 0), 1, marks=pytest.mark.slow),
    pytest.param(5, 6, 3, (2, 3), (2, 1), (0, 1), 0, marks=pytest.mark.slow),
    (4, 5, 2, (3, 2), (2, 3), (2, 1), 1),
])
def test_window_bit_exact_with_stalls(tmp_path, height, width, channels, kernel, stride,
                                      padding, pad_value):
    c = window_case(height, width, channels, kernel, stride, padding, pad_value, n=3,
                    seed=height * 100 + width * 10 + channels)
    _run(tmp_path, c)


@pytest.mark.slow
@pytest.mark.parametrize("height, width, channels, kernel, stride, padding, pad_value", [
    (12, 12, 64, 3, 1, 1, 0),   # wide pixels
    (10, 9, 8, 4, 2, 1, 1),
    (7, 7, 3, 7, 1, 0, 0),      # kernel = image size: one window
    (8, 8, 16, 5, 3, 2, 0),
])
def test_window_bit_exact_large(tmp_path, height, width, channels, kernel, stride,
                                padding, pad_value):
    c = window_case(height, width, channels, kernel, stride, padding, pad_value, n=5,
                    seed=height + width + channels + kernel)
    _run(tmp_path, c)


def random_window_params(seed):
    """A random valid parameter set: H, W 1..9, C 1..8, k up to the padded size, s 1..3."""
    rng = np.random.default_rng(seed)
    while True:
        h, w, c = (int(v) for v in rng.integers(1, [10, 10, 9]))
        k = int(rng.integers(1, 6))
        p = int(rng.integers(0, k))
        if k <= min(h, w) + 2 * p:
            return dict(height=h, width=w, channels=c, kernel=k,
                        stride=int(rng.integers(1, 4)), padding=p,
                        pad_value=int(rng.integers(0, 2)))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_window_random_parameters(tmp_path, seed):
    params = random_window_params(seed)
    _run(tmp_path, window_case(**params, n=2, seed=seed))


def test_window_reference_matches_definition():
    rng = np.random.default_rng(0)
    fmap = rng.integers(0, 2, (5, 4, 3)).astype(np.uint8)
    w = ref.windows(fmap, 3, stride=2, padding=1, pad_value=1)
    assert w.shape == (3, 2, 3, 3, 3)
    padded = np.ones((7, 6, 3), np.uint8)
    padded[1:6, 1:5] = fmap
    assert (w[1, 1] == padded[2:5, 2:5]).all()
    assert (w[0, 0, 0] == 1).all()   # the top padding row


def test_window_cycle_formulas():
    block = SlidingWindow(height=28, width=28, channels=1, kernel=3, padding=1)
    assert block.padded_shape == (30, 30)
    assert block.out_shape == (28, 28)
    assert block.cycles_per_image() == 900
    assert block.latency() == 1 * 31 + 1
    assert SlidingWindow(height=8, width=8, channels=2, kernel=3, stride=2).out_shape == (3, 3)
    row = SlidingWindow(height=1, width=12, channels=4, kernel=(1, 3), stride=(1, 2),
                        padding=(0, 1))
    assert (row.kernel, row.stride, row.padding) == ((1, 3), (1, 2), (0, 1))
    assert row.padded_shape == (1, 14) and row.out_shape == (1, 6)
    assert row.latency() == 2 and row.output_offsets() == [2, 4, 6, 8, 10, 12]
    # rows, valid and its copy, counters, the x padding's inside flag
    assert row.resources()["ebr"] == 0 and row.resources()["ff"] == 3 * 4 + 2 + 4 + 1 + 1
    tall = SlidingWindow(height=6, width=5, channels=2, kernel=(3, 1), padding=(1, 0))
    assert tall.padded_shape == (8, 5) and tall.latency() == 1 * 5 + 0 + 1


def test_window_resource_estimate():
    est = SlidingWindow(height=28, width=28, channels=16, kernel=3, padding=1).resources()
    assert est["ff"] >= 3 * 3 * 16
    assert est["ebr"] == 2     # 32 bits x 30 words: two 256x16 EBRs
    assert SlidingWindow(height=4, width=4, channels=8, kernel=1).resources()["ebr"] == 0


def test_ebr_count_packs_address_ranges_side_by_side():
    """Yosys maps a memory deeper than a tiling's depth with its address ranges side by
    side: 9 x 1088 in 3 EBRs of 256 x 16 (5 ranges of 9 bits), 5 x 700 in 1 (the folded
    coefficient ROMs of mnist-cnn-abc and -pa were counted 1 or 2 EBRs over)."""
    assert memory_resources(9, 1088, packed=True)["ebr"] == 3
    assert memory_resources(5, 700, packed=True)["ebr"] == 1
    assert memory_resources(3, 1500, packed=True)["ebr"] == 2
    assert memory_resources(9, 1088)["ebr"] == 5


@pytest.mark.parametrize("params, error, message", [
    (dict(kernel=0), ValueError, "kernel size must be a positive integer, not 0"),
    (dict(kernel=2.0), TypeError, "kernel size must be a positive integer, not 2.0"),
    (dict(stride=0), ValueError, "stride must be a positive integer, not 0"),
    (dict(stride=-1), ValueError, "stride must be a positive integer, not -1"),
    (dict(channels=0), ValueError, "channel count must be a positive integer, not 0"),
    (dict(height=0), ValueError, "height must be a positive integer, not 0"),
    (dict(padding=-1), ValueError, "padding must be a non-negative integer, not -1"),
    (dict(padding=3), ValueError, "padding must be less than the kernel size 3, not 3"),
    (dict(pad_value=2), ValueError, "pad value must be the bit 0 or 1, not 2"),
    (dict(kernel=5, width=3, padding=0), ValueError,
     "kernel size 5 is larger than the padded image 6x3"),
    (dict(kernel=(1, 3), padding=(1, 0)), ValueError,
     r"padding must be less than the kernel size \(1, 3\), not \(1, 0\)"),
    (dict(kernel=(1, 7)), ValueError, r"kernel size \(1, 7\) is larger than the padded image 6x6"),
    (dict(stride=(1, 2, 3)), ValueError,
     r"stride must be a positive integer or a pair \(h, w\) of them, not \(1, 2, 3\)"),
])
def test_window_validation(params, error, message):
    args = dict(height=6, width=6, channels=4, kernel=3) | params
    with pytest.raises(error, match=message):
        SlidingWindow(**args)


def _blocks():
    from popcorn.hdl.flatten import Flatten
    from popcorn.hdl.input_layer import BitPlanes
    from popcorn.hdl.pool import MaxPool
    return {
        "window-ebr": lambda: SlidingWindow(height=20, width=20, channels=32, kernel=3,
                                            padding=1),
        "window-logic": lambda: SlidingWindow(height=10, width=10, channels=2, kernel=3,
                                              padding=1),
        "pool-rows": lambda: MaxPool(height=28, width=28, channels=32, kernel=2),
        "pool-rows-logic": lambda: MaxPool(height=8, width=8, channels=8, kernel=2),
        "pool-overlapping": lambda: MaxPool(height=9, width=9, channels=32, kernel=3,
                                            stride=2),
        "window-row": lambda: SlidingWindow(height=1, width=40, channels=16, kernel=(1, 3),
                                            stride=(1, 2), padding=(0, 1)),
        "window-rect": lambda: SlidingWindow(height=12, width=12, channels=8, kernel=(3, 1),
                                             padding=(1, 0)),
        "pool-row": lambda: MaxPool(height=1, width=24, channels=16, kernel=(1, 24)),
        "pool-rect": lambda: MaxPool(height=12, width=12, channels=16, kernel=(2, 3)),
        "pool-column": lambda: MaxPool(height=10, width=9, channels=8, kernel=(2, 1)),
        "flatten": lambda: Flatten(height=7, width=7, channels=8),
        "planes": lambda: BitPlanes(channels=3),
    }


@pytest.mark.synth
@pytest.mark.parametrize("name, family", [       # each block on one family by default,
    (name, family) if (n + (family == "ecp5")) % 2 == 0   # alternating; both with -m slow
    else pytest.param(name, family, marks=pytest.mark.slow)
    for n, name in enumerate(_blocks()) for family in ("ice40", "ecp5")])
def test_resource_estimate_matches_yosys(tmp_path, name, family):
    block = _blocks()[name]()
    est = block.resources(family=family)
    got = synth_stat(block, family=family, build_dir=tmp_path,
                     synth_opts="-nowidelut" if family == "ecp5" else "")
    # Yosys merges equivalent flip-flops (x[0] and the stride phase when s = 2 and W is
    # even), so FF may come out a bit lower than counted.
    assert est["ebr"] == got.ebr and 0 <= est["ff"] - got.ff <= 2, (est, got)
    assert abs(est["lut4"] - got.lut4) <= max(4, 0.15 * got.lut4), (est, got)
    assert est["dsp"] == got.dsp == 0


@pytest.mark.parametrize("make", [
    lambda: SlidingWindow(height=4, width=4, channels=2, kernel=3),
    lambda: _blocks()["pool-rows"](),
    lambda: _blocks()["pool-overlapping"](),
    lambda: _blocks()["flatten"](),
    lambda: _blocks()["planes"](),
])
def test_resource_estimate_rejects_unknown_family(make):
    with pytest.raises(ValueError, match="family must be one of 'ice40', 'ecp5', not 'xyz'"):
        make().resources(family="xyz")


def test_ecp5_memory_map():
    assert ecp5_memory_map(32, 30) == ("lutram", 16, 2)    # 2 x 8 DPR16X4: cost 83 < 130
    assert ecp5_memory_map(128, 34) == ("ebr", 4, 1)       # 4 DP16KD 512x36: 514 < 515.5
    assert ecp5_memory_map(1, 6) == ("logic", 0, 1)        # 6 bits: a tie, logic wins
    assert ecp5_memory_map(1, 7) == ("lutram", 1, 1)
    assert memory_resources(32, 30, "ecp5") == {"lut4": 6 * 16 + 32, "ff": 32, "ebr": 0}
