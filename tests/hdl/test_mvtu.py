"""MatrixVectorThreshold against the golden model, in cocotb + Icarus."""

import numpy as np
import pytest

from popcorn.hdl.mvtu import MatrixVectorThreshold
from popcorn.mapping.dense_folding import DenseFolding
from popcorn.sim.runner import run_testbench


def case(neurons, in_bits, pe, simd, vectors, seed):
    """Random weights and thresholds around the middle of the range, plus the edge cases:
    inputs all +1, all -1 and alternating, thresholds at -K (always +1) and K+1 (never)."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 2, (neurons, in_bits))
    thresholds = rng.integers(-in_bits // 4, in_bits // 4 + 1, neurons)
    thresholds[0], thresholds[-1] = -in_bits, in_bits + 1
    if neurons > 2:
        thresholds[1] = 0  # sign(0) = +1
    edges = np.array([np.ones(in_bits), np.zeros(in_bits), np.arange(in_bits) % 2])
    inputs = np.concatenate([edges, rng.integers(0, 2, (vectors - 3, in_bits))])
    return dict(weights=weights, thresholds=thresholds, pe=pe, simd=simd,
                inputs=inputs.astype(np.uint8), seed=seed, idle=0.3, stall=0.3)


@pytest.mark.parametrize("neurons, in_bits, pe, simd, vectors", [
    (16, 64, 4, 16, 1000),   # folded both ways
    (8, 32, 8, 32, 300),     # fully parallel: one cycle per vector
    (6, 12, 1, 1, 200),      # fully serial
    (12, 48, 3, 8, 300),     # non-power-of-two folding
])
def test_mvtu_bit_exact_with_stalls(neurons, in_bits, pe, simd, vectors, tmp_path):
    c = case(neurons, in_bits, pe, simd, vectors, seed=neurons * in_bits + pe)
    folding = DenseFolding(c["weights"], c["thresholds"], pe=pe, simd=simd)
    measured = run_testbench(MatrixVectorThreshold(folding),
                             test_module="popcorn.sim.testbenches.mvtu_tb",
                             build_dir=tmp_path, case=c)
    assert measured == {"vectors": vectors,
                        "cycles_per_vector": (neurons // pe) * (in_bits // simd),
                        "latency": (neurons // pe) * (in_bits // simd) + 2}


def test_mvtu_bit_exact_on_verilator(tmp_path):
    c = case(16, 64, 4, 16, 300, seed=99)
    folding = DenseFolding(c["weights"], c["thresholds"], pe=4, simd=16)
    measured = run_testbench(MatrixVectorThreshold(folding),
                             test_module="popcorn.sim.testbenches.mvtu_tb",
                             build_dir=tmp_path, case=c, simulator="verilator")
    assert measured == {"vectors": 300, "cycles_per_vector": 16, "latency": 18}
