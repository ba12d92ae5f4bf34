# amaranth: UnusedElaboratable=no
"""BinaryPE: the four encoding pairs against the golden ``binary_dot`` in cocotb + Icarus,
with random stalls (every result checked, interval and latency asserted), and its
parameter checks."""

import numpy as np
import pytest

from popcorn.golden.binary import binary_dot
from popcorn.hdl.estimates import estimate_pe
from popcorn.hdl.pe import BinaryPE, pe_output_width
from popcorn.hdl.synth import synth_stat
from popcorn.sim.runner import run_testbench

PAIRS = [("pm1", "pm1"), ("pm1", "zo"), ("zo", "pm1"), ("zo", "zo")]


def edge_vectors(k):
    """(weights, acts) rows covering the ends of every identity: all ones / all zeros
    on either side, alternating and anti-alternating."""
    ones, zeros, alt = np.ones(k), np.zeros(k), np.arange(k) % 2
    pairs = [(ones, ones), (zeros, zeros), (ones, zeros), (zeros, ones),
             (alt, alt), (alt, 1 - alt), (ones, alt), (alt, zeros)]
    w, a = zip(*pairs)
    return np.array(w, dtype=np.uint8), np.array(a, dtype=np.uint8)


def case(simd, folds, wenc, aenc, pipeline, vectors, seed, idle=0.3, stall=0.3, group=None):
    rng = np.random.default_rng(seed)
    k = simd * folds
    ew, ea = edge_vectors(k)
    dens = rng.random((vectors, 2, 1))
    w = (rng.random((vectors, k)) < dens[:, 0]).astype(np.uint8)
    a = (rng.random((vectors, k)) < dens[:, 1]).astype(np.uint8)
    return dict(weights=np.concatenate([ew, w]), acts=np.concatenate([ea, a]),
                simd=simd, folds=folds, weight_encoding=wenc, act_encoding=aenc,
                out_width=pe_output_width(k), latency=pipeline + 2,
                seed=seed, idle=idle, stall=stall)


def run(simd, folds, wenc, aenc, pipeline, vectors, tmp_path, group=None, carry_in=False):
    c = case(simd, folds, wenc, aenc, pipeline, vectors, seed=simd * 31 + folds * 7 + pipeline)
    dut = BinaryPE(simd=simd, folds=folds, weight_encoding=wenc, act_encoding=aenc,
                   pipeline=pipeline, group=group, carry_in=carry_in)
    measured = run_testbench(dut, test_module="popcorn.sim.testbenches.pe_tb",
                             build_dir=tmp_path, case=c)
    return measured, dut, len(c["weights"])


@pytest.mark.parametrize("wenc, aenc", PAIRS)
def test_pe_four_encodings_folded(wenc, aenc, tmp_path):
    measured, dut, n = run(12, 3, wenc, aenc, 2, 150, tmp_path)
    assert measured == {"vectors": n, "interval": dut.cycles_per_vector, "latency": dut.latency}
    assert dut.latency == 2 + 2


@pytest.mark.parametrize("simd, folds, wenc, aenc, pipeline, group", [
    (1, 1, "pm1", "pm1", 0, None),    # one element: results -1 / +1
    (5, 1, "zo", "pm1", 0, None),     # unfolded, combinational tree, odd width
    (32, 2, "pm1", "pm1", 5, None),   # a register after every tree level
    (9, 4, "pm1", "zo", 3, 3),        # non-default compressor group
])
def test_pe_shapes(simd, folds, wenc, aenc, pipeline, group, tmp_path):
    measured, dut, n = run(simd, folds, wenc, aenc, pipeline, 100, tmp_path, group=group)
    assert measured == {"vectors": n, "interval": folds, "latency": pipeline + 2}


@pytest.mark.parametrize("simd, folds, wenc, aenc, pipeline, group", [
    (1, 1, "pm1", "pm1", 0, None),    # one element, no adder: no carry-in
    (256, 1, "pm1", "pm1", 8, None),  # the benchmarked ECP5 shape: 61 raw carry-ins
    (37, 2, "zo", "zo", 3, None),     # carry-ins across registered levels, odd width
    (23, 3, "pm1", "zo", 2, None),    # mixed: tree bits as carry-ins
    (10, 1, "zo", "pm1", 0, 2),       # combinational tree, 2-bit groups
])
def test_pe_carry_in(simd, folds, wenc, aenc, pipeline, group, tmp_path):
    measured, dut, n = run(simd, folds, wenc, aenc, pipeline, 100, tmp_path, group=group,
                           carry_in=True)
    assert measured == {"vectors": n, "interval": folds, "latency": pipeline + 2}
    assert dut.plan.leaves == -(-(dut.plan.width + 1) // (dut.plan.group + 1))


@pytest.mark.slow
@pytest.mark.parametrize("wenc, aenc", PAIRS)
def test_pe_256_wide(wenc, aenc, tmp_path):
    """The benchmarked shape: SIMD = 256, the speed benchmark's pipelining, 2 folds."""
    measured, dut, n = run(256, 2, wenc, aenc, 4, 150, tmp_path)
    assert measured["latency"] == 6 and measured["interval"] == 2


def test_pe_widths_and_latency():
    for k in (1, 2, 3, 255, 256, 4096):
        assert -(1 << (pe_output_width(k) - 1)) <= -k and k < (1 << (pe_output_width(k) - 1))
    dut = BinaryPE(simd=256, folds=4, pipeline=4)
    assert dut.k == 1024 and dut.out_width == 12 and dut.latency == 6
    assert dut.cycles_per_vector == 4
    assert dut.o.payload.shape().width == 12 and dut.o.payload.shape().signed
    assert BinaryPE(simd=256, weight_encoding="pm1", act_encoding="zo").plan.width == 512


def test_golden_identities_extremes():
    """The golden model reaches both ends of the signed range the PE's width is sized for."""
    k = 8
    ones, zeros = np.ones((1, k), np.uint8), np.zeros(k, np.uint8)
    assert binary_dot(ones, np.ones(k, np.uint8), "pm1", "pm1")[0] == k
    assert binary_dot(ones, zeros, "pm1", "pm1")[0] == -k
    assert binary_dot(np.zeros((1, k), np.uint8), np.ones(k, np.uint8), "pm1", "zo")[0] == -k


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(simd=0), TypeError, r"SIMD width must be a positive integer, not 0"),
    (dict(simd=4097), ValueError, r"SIMD width must be at most 4096, not 4097"),
    (dict(simd=8, folds=0), TypeError, r"fold count must be a positive integer, not 0"),
    (dict(simd=8, weight_encoding="int8"), ValueError,
     r"weight encoding must be one of 'pm1', 'zo', not 'int8'"),
    (dict(simd=8, act_encoding=None), ValueError,
     r"act encoding must be one of 'pm1', 'zo', not None"),
    (dict(simd=8, pipeline=5), ValueError, r"pipeline depth must be at most 3"),
])
def test_pe_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        BinaryPE(**kwargs)


@pytest.mark.synth
def test_pe_synth_matches_estimate(tmp_path):
    """One real Yosys run (ECP5, -nowidelut as in the benchmarks): a folded zo x pm1 PE
    that is not a sweep point; LUT4 within 15 % of the estimate, FF within 2."""
    params = dict(simd=40, folds=3, weight_encoding="zo", act_encoding="pm1", pipeline=4)
    got = synth_stat(BinaryPE(**params), family="ecp5", synth_opts="-nowidelut",
                     build_dir=tmp_path)
    est = estimate_pe(**params, family="ecp5")
    assert got.ebr == got.dsp == 0
    assert abs(got.lut4 - est["lut4"]) <= 0.15 * got.lut4, (got, est)
    assert abs(got.ff - est["ff"]) <= 2, (got, est)
