# amaranth: UnusedElaboratable=no
"""Popcount: parameter checks, tree shape, and cocotb + Icarus runs against the golden
popcount with random stalls (every count checked, latency asserted)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
import pytest

from popcorn.hdl.estimates import estimate_popcount
from popcorn.hdl.popcount import Popcount, tree_plan
from popcorn.hdl.synth import synth_stat
from popcorn.sim.runner import run_testbench


def edge_words(width):
    """All ones, all zeros, both alternations, a single one at each end."""
    ones, zeros = np.ones(width), np.zeros(width)
    alt = np.arange(width) % 2
    first, last = zeros.copy(), zeros.copy()
    first[0], last[-1] = 1, 1
    return np.array([ones, zeros, alt, 1 - alt, first, last], dtype=np.uint8)


def case(width, pipeline, group, words, seed, idle=0.3, stall=0.3):
    rng = np.random.default_rng(seed)
    # Random words of every density, so that counts spread over 0..width.
    density = rng.random((words, 1))
    rand = (rng.random((words, width)) < density).astype(np.uint8)
    return dict(words=np.concatenate([edge_words(width), rand]),
                latency=tree_plan(width, group, pipeline).latency,
                seed=seed, idle=idle, stall=stall)


def run(width, pipeline, group, words, tmp_path, **kw):
    c = case(width, pipeline, group, words, seed=width * 7 + pipeline, **kw)
    dut = Popcount(width=width, pipeline=pipeline, group=group)
    return run_testbench(dut, test_module="popcorn.sim.testbenches.popcount_tb",
                         build_dir=tmp_path, case=c), dut


@pytest.mark.parametrize("width, pipeline, group, words", [
    (1, 0, 3, 30),      # a single bit, combinational
    (7, 1, 3, 150),     # odd width, output register only
    (64, 3, 3, 200),    # registers spread over the levels
    (100, 6, 4, 150),   # a register after every level, non-power-of-two
    (33, 2, 1, 150),    # no compressor level
])
def test_popcount_bit_exact_with_stalls(width, pipeline, group, words, tmp_path):
    measured, dut = run(width, pipeline, group, words, tmp_path)
    assert measured == {"words": words + 6, "interval": 1, "latency": pipeline}
    assert dut.latency == pipeline


@pytest.mark.slow
@pytest.mark.parametrize("width, pipeline, group", [
    (4096, 4, 3), (4096, 12, 3), (1000, 0, 2), (256, 8, 2)])
def test_popcount_wide(width, pipeline, group, tmp_path):
    measured, _ = run(width, pipeline, group, 200, tmp_path)
    assert measured["latency"] == pipeline


def test_tree_plan_shape():
    plan = tree_plan(256, 3, 4)
    assert plan.levels == 1 + 7        # 86 groups -> 7 adder levels
    assert plan.registered == (2, 4, 6, 8)
    assert plan.latency == 4 and plan.count_width == 9
    assert tree_plan(256, 3, 8).registered == tuple(range(1, 9))
    # front: the first register after level 1, the others spread over the rest
    assert tree_plan(256, 3, 4, front=True).registered == (1, 4, 6, 8)
    assert tree_plan(16, 3, 3, front=True).registered == (1, 3, 4)
    assert tree_plan(16, 3, 1, front=True).registered == (4,)
    assert tree_plan(1, 3, 1).levels == 1
    assert tree_plan(4096, 3, 0).count_width == 13
    dut = Popcount(width=4096, pipeline=3)
    assert dut.o.payload.shape().width == 13 and dut.levels == 12


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(width=0), TypeError, r"popcount width must be a positive integer, not 0"),
    (dict(width=8.0), TypeError, r"popcount width must be a positive integer, not 8.0"),
    (dict(width=4097), ValueError, r"popcount width must be at most 4096, not 4097"),
    (dict(width=8, group=9), ValueError, r"compressor group must be at most 8, not 9"),
    (dict(width=8, pipeline=-1), TypeError,
     r"pipeline depth must be a non-negative integer, not -1"),
    (dict(width=8, pipeline=4), ValueError,
     r"pipeline depth must be at most 3 \(the logic levels of the popcount tree of 8 bits "
     r"in 3-bit groups\), not 4"),
])
def test_popcount_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Popcount(**kwargs)


@pytest.mark.synth
def test_popcount_synth_matches_estimate(tmp_path):
    """One real Yosys run: a 100-bit, 3-stage popcount on iCE40 (not a sweep point):
    LUT4 within 15 % of the estimate, FF exact (reports/blocks/sweep.md has the rest)."""
    got = synth_stat(Popcount(width=100, pipeline=3), family="ice40", build_dir=tmp_path)
    est = estimate_popcount(width=100, pipeline=3, family="ice40")
    assert got.ebr == est["ebr"] == 0 and got.dsp == est["dsp"] == 0
    assert abs(got.lut4 - est["lut4"]) <= 0.15 * got.lut4, (got, est)
    assert got.ff == est["ff"], (got, est)


def test_estimate_shape_and_errors():
    est = estimate_popcount(width=256, pipeline=8, family="ecp5")
    assert set(est) == {"lut4", "ff", "ebr", "dsp"} and est["ebr"] == est["dsp"] == 0
    # More pipelining: more flip-flops, never more LUT4 in this model.
    a, b = (estimate_popcount(width=1024, pipeline=p) for p in (2, 10))
    assert b["ff"] > a["ff"] and b["lut4"] <= a["lut4"]
    with pytest.raises(ValueError, match=r"family must be one of 'ice40', 'ecp5', not 'xc7'"):
        estimate_popcount(width=8, family="xc7")


@given(width=st.integers(1, 4096), group=st.integers(1, 4), data=st.data())
def test_tree_plan_invariants(width, group, data):
    """Registers sit after distinct, increasing levels, the last one at the output (with
    ``front`` and two stages or more the first after level 1); the estimate counts at
    least the output register and the valid bits."""
    levels = tree_plan(width, group, 0).levels
    pipeline = data.draw(st.integers(0, levels))
    front = data.draw(st.booleans())
    plan = tree_plan(width, group, pipeline, front=front)
    assert len(plan.registered) == pipeline == plan.latency
    assert not (front and pipeline >= 2) or plan.registered[0] == 1
    assert list(plan.registered) == sorted(set(plan.registered))
    assert not pipeline or plan.registered[-1] == levels
    assert all(1 <= lv <= levels for lv in plan.registered)
    assert 2 ** (levels - 1) >= -(-width // group)     # enough adder levels
    est = estimate_popcount(width=width, pipeline=pipeline, group=group)
    if pipeline:   # at least the output register and one valid bit per stage
        assert est["ff"] >= plan.count_width + pipeline
    else:
        assert est["ff"] == 0
    assert est["lut4"] >= 0
