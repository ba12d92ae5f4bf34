"""run_testbench: reuse of unchanged runs, failures surfaced as errors."""

import numpy as np
import pytest

from popcorn.hdl.mvtu import MatrixVectorThreshold
from popcorn.mapping.dense_folding import DenseFolding
from popcorn.sim.runner import SimulationFailed, run_testbench


def small_case(seed):
    rng = np.random.default_rng(seed)
    return dict(weights=rng.integers(0, 2, (4, 8)), thresholds=np.zeros(4, int), pe=2, simd=4,
                inputs=rng.integers(0, 2, (20, 8)).astype(np.uint8), seed=seed, idle=0.2,
                stall=0.2)


def unit(case):
    return MatrixVectorThreshold(DenseFolding(case["weights"], case["thresholds"],
                                              pe=case["pe"], simd=case["simd"]))


def test_unchanged_run_is_reused_and_changed_run_is_not(tmp_path):
    case = small_case(1)
    kwargs = dict(test_module="popcorn.sim.testbenches.mvtu_tb", build_dir=tmp_path, reuse=True)
    first = run_testbench(unit(case), case=case, **kwargs)
    log_time = (tmp_path / "sim.log").stat().st_mtime_ns
    assert run_testbench(unit(case), case=case, **kwargs) == first
    assert (tmp_path / "sim.log").stat().st_mtime_ns == log_time
    case = small_case(2)
    run_testbench(unit(case), case=case, **kwargs)
    assert (tmp_path / "sim.log").stat().st_mtime_ns != log_time


def test_golden_mismatch_is_an_error_quoting_the_assertion(tmp_path):
    case = small_case(3)
    wrong = dict(case, thresholds=np.full(4, 2))   # the hardware is built with zeros
    with pytest.raises(SimulationFailed, match=r"(?s)1 of 1 cocotb tests of "
                       r"popcorn.sim.testbenches.mvtu_tb failed.*AssertionError: vector \d+"):
        run_testbench(unit(case), test_module="popcorn.sim.testbenches.mvtu_tb",
                      build_dir=tmp_path, case=wrong)
