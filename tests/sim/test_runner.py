"""run_testbench: reuse of unchanged runs, failures surfaced as errors."""

import numpy as np
import pytest

from popcorn.golden.binary import unpack_words
from popcorn.hdl.argmax import Argmax
from popcorn.sim.runner import SimulationFailed, run_testbench


def argmax_case(seed, wrong=False):
    """Four 6-bit scores per word and the expected scores + class (ties to the lowest)."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(-32, 32, (30, 4))
    scores[0] = 5                                    # a four-way tie: class 0
    words = [sum((int(v) & 63) << (6 * c) for c, v in enumerate(row)) for row in scores]
    best = np.argmax(scores, axis=1) + (1 if wrong else 0)
    expected = [w | (int(b % 4) << 24) for w, b in zip(words, best)]
    return dict(inputs=unpack_words(words, 24), expected=unpack_words(expected, 26),
                interval=5, latency=4, burst=6, seed=seed, idle=0.2, stall=0.2)


def test_argmax_block(tmp_path):
    measured = run_testbench(Argmax(classes=4, width=6), case=argmax_case(0),
                             test_module="popcorn.sim.testbenches.stream_tb", build_dir=tmp_path)
    assert (measured["words"], measured["interval"], measured["latency"]) == (30, 5, 4)


@pytest.mark.parametrize("classes", [1, 2, 3, 10, 17])
def test_argmax_tournament_one_word_at_a_time(classes, tmp_path):
    rng = np.random.default_rng(classes)
    scores = rng.integers(-8, 8, (50, classes))      # narrow range: many ties
    scores[0] = 3
    words = [sum((int(v) & 15) << (4 * c) for c, v in enumerate(row)) for row in scores]
    cw = max(1, (classes - 1).bit_length())
    expected = [w | (int(b) << (4 * classes)) for w, b in zip(words, np.argmax(scores, axis=1))]
    case = dict(inputs=unpack_words(words, 4 * classes),
                expected=unpack_words(expected, 4 * classes + cw),
                interval=Argmax(classes=classes, width=4).latency + 1,
                latency=Argmax(classes=classes, width=4).latency, burst=6, seed=1,
                idle=0.3, stall=0.3)
    measured = run_testbench(Argmax(classes=classes, width=4), case=case,
                             test_module="popcorn.sim.testbenches.stream_tb", build_dir=tmp_path)
    # two stages per level (the compares, then the selects), at least one
    assert measured["latency"] == {1: 1, 2: 2, 3: 4, 10: 8, 17: 10}[classes]


def test_unchanged_run_is_reused_and_changed_run_is_not(tmp_path):
    kwargs = dict(test_module="popcorn.sim.testbenches.stream_tb", build_dir=tmp_path, reuse=True)
    first = run_testbench(Argmax(classes=4, width=6), case=argmax_case(1), **kwargs)
    log_time = (tmp_path / "sim.log").stat().st_mtime_ns
    assert run_testbench(Argmax(classes=4, width=6), case=argmax_case(1), **kwargs) == first
    assert (tmp_path / "sim.log").stat().st_mtime_ns == log_time
    run_testbench(Argmax(classes=4, width=6), case=argmax_case(2), **kwargs)
    assert (tmp_path / "sim.log").stat().st_mtime_ns != log_time


def test_golden_mismatch_is_an_error_quoting_the_assertion(tmp_path):
    with pytest.raises(SimulationFailed, match=r"(?s)1 of 1 cocotb tests of "
                       r"popcorn.sim.testbenches.stream_tb failed.*AssertionError: word \d+"):
        run_testbench(Argmax(classes=4, width=6), case=argmax_case(3, wrong=True),
                      test_module="popcorn.sim.testbenches.stream_tb", build_dir=tmp_path)
