"""ComparatorActivation against the golden comparators, in cocotb + Icarus."""

import numpy as np
import pytest

from popcorn.golden.comparators import onehot_from_thermometer, thermometer_bits
from popcorn.hdl.comparator import ComparatorActivation
from popcorn.sim.runner import run_testbench


def case(channels, levels, pe, in_width, output, words, seed):
    rng = np.random.default_rng(seed)
    lo, hi = -2 ** (in_width - 1), 2 ** (in_width - 1) - 1
    directions = rng.choice([-1, 1], channels)
    directions[0] = 1
    thresholds = np.sort(rng.integers(lo, hi + 2, (channels, levels)), axis=1)
    thresholds[directions < 0] = thresholds[directions < 0][:, ::-1]
    thresholds[0, 0] = lo  # a level that is always on
    y = rng.integers(lo, hi + 1, (words, pe))
    # Edge cases: extremes, and every threshold exactly and one either side.
    y[:4] = [[lo] * pe, [hi] * pe, [0] * pe, [-1] * pe]
    groups = channels // pe
    for j in range(4, min(words, 4 + 3 * groups * levels)):
        g, k, delta = (j // 3) % groups, (j // (3 * groups)) % levels, j % 3 - 1
        y[j] = np.clip(thresholds[g * pe:(g + 1) * pe, k] + delta, lo, hi)
    return dict(thresholds=thresholds, directions=directions, pe=pe, in_width=in_width,
                output=output, y=y, seed=seed, idle=0.3, stall=0.3)


@pytest.mark.parametrize("channels, levels, pe, in_width, output", [
    (8, 1, 8, 8, "thermometer"),    # sign activation, all channels at once
    (6, 3, 2, 6, "thermometer"),    # ABC-Net bases, three channel groups
    (6, 3, 3, 7, "onehot"),         # PA-Net pieces
    (5, 2, 1, 4, "onehot"),         # one channel per word
])
def test_comparator_bit_exact_with_stalls(channels, levels, pe, in_width, output, tmp_path):
    c = case(channels, levels, pe, in_width, output, words=300, seed=channels + levels + pe)
    unit = ComparatorActivation(thresholds=c["thresholds"], directions=c["directions"], pe=pe,
                                in_width=in_width, output=output)
    assert run_testbench(unit, test_module="popcorn.sim.testbenches.comparator_tb",
                         build_dir=tmp_path, case=c) == {"words": 300, "latency": [1]}


def test_golden_directions_and_pieces():
    t = np.array([[-2, 0, 3], [3, 0, -2]])
    d = np.array([1, -1])
    levels = thermometer_bits(np.array([[0, 0], [3, -2], [-3, 4]]), t, d)
    assert levels.tolist() == [[[1, 1, 0], [1, 1, 0]],
                               [[1, 1, 1], [1, 1, 1]],
                               [[0, 0, 0], [0, 0, 0]]]
    assert onehot_from_thermometer(levels).tolist() == [[[0, 1, 0], [0, 1, 0]],
                                                        [[0, 0, 1], [0, 0, 1]],
                                                        [[0, 0, 0], [0, 0, 0]]]


def test_thresholds_must_be_monotonic():
    with pytest.raises(ValueError, match=r"thresholds of channel 1 must be non-increasing for "
                                         r"direction -1, not \[0, 2\]"):
        ComparatorActivation(thresholds=[[0, 2], [0, 2]], directions=[1, -1], pe=1, in_width=4)


def test_threshold_must_fit_width():
    with pytest.raises(ValueError, match=r"threshold \[0, 0\] = 9 does not fit a 4-bit "
                                         r"pre-activation: must lie in \[-8, 8\]"):
        ComparatorActivation(thresholds=[[9]], directions=[1], pe=1, in_width=4)


def test_bad_output_and_pe():
    with pytest.raises(ValueError, match=r"output must be one of \('thermometer', 'onehot'\), "
                                         r"not 'binary'"):
        ComparatorActivation(thresholds=[[0]], directions=[1], pe=1, in_width=4, output="binary")
    with pytest.raises(ValueError, match="pe = 2 does not divide the 3 channels"):
        ComparatorActivation(thresholds=[[0]] * 3, directions=[1] * 3, pe=2, in_width=4)


def test_shared_compare_and_levels_to_bases_match_golden():
    """The one comparator and levels -> bases implementation (used by this unit and the
    layer engine) against the golden functions, exhaustively on small widths (Amaranth
    simulator)."""
    import itertools

    from amaranth.hdl import Module, Signal, signed
    from amaranth.sim import Simulator

    from popcorn.golden.comparators import binary_from_thermometer, compare_modes
    from popcorn.hdl.comparator import compare, levels_to_bases

    m = Module()
    y, t, mode = Signal(signed(4)), Signal(signed(5)), Signal(2)
    bit = Signal()
    m.d.comb += bit.eq(compare(y, t, mode))
    levels = Signal(3)
    thermo = levels_to_bases(m, levels, "levels", (2, 0, 1))
    onehot = levels_to_bases(m, levels, "onehot")
    binary = levels_to_bases(m, levels, "binary", width=2)

    async def bench(ctx):
        for yv, tv, mv in itertools.product(range(-8, 8), range(-9, 10), range(4)):
            ctx.set(y, yv)
            ctx.set(t, tv)
            ctx.set(mode, mv)
            assert ctx.get(bit) == compare_modes(yv, tv, mv), (yv, tv, mv)
        for k in range(4):                      # thermometer codes of 3 levels
            code = [1] * k + [0] * (3 - k)
            ctx.set(levels, sum(b << i for i, b in enumerate(code)))
            assert ctx.get(thermo) == code[2] | code[0] << 1 | code[1] << 2
            want = onehot_from_thermometer(np.array(code))
            assert ctx.get(onehot) == sum(int(b) << i for i, b in enumerate(want))
            want = binary_from_thermometer(np.array(code), 2)
            assert ctx.get(binary) == sum(int(b) << i for i, b in enumerate(want))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("y_shape, t_shape", [
    ((True, 5), (True, 3)), ((True, 3), (False, 4)), ((False, 4), (True, 4)),
    ((True, 4), (True, 6)), ((False, 3), (False, 5))])
def test_compare_is_greater_or_equal_for_every_pair_of_values(y_shape, t_shape):
    """``compare``'s ``Y >= T'`` (offset binary for signed operands) against Python's
    ``>=`` on every pair of values of mixed widths and signedness, for every mode."""
    from amaranth.hdl import Module, Signal, signed, unsigned
    from amaranth.sim import Simulator
    from popcorn.golden.comparators import compare_modes
    from popcorn.hdl.comparator import compare

    ys, ts = ((signed if sign else unsigned)(width) for sign, width in (y_shape, t_shape))
    y, t, mode, out = Signal(ys), Signal(ts), Signal(2), Signal()
    m = Module()
    m.d.comb += out.eq(compare(y, t, mode))

    def values(shape):
        return range(-(1 << shape.width - 1), 1 << shape.width - 1) if shape.signed \
            else range(1 << shape.width)
    pairs = [(a, b) for a in values(ys) for b in values(ts)]
    got = []

    async def bench(ctx):
        for md in range(4):
            for a, b in pairs:
                ctx.set(y, a)
                ctx.set(t, b)
                ctx.set(mode, md)
                got.append(ctx.get(out))
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    a, b = np.array(pairs).T
    want = np.concatenate([compare_modes(a, b, np.full(len(pairs), md)) for md in range(4)])
    assert got == want.astype(int).tolist()
