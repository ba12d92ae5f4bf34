"""The tournament argmax in both modes and the serial argmax, in RTL: every output word
against NumPy's argmax under random stalls (ties, all equal, the extremes of the signed
range), and their cycles in a free-running burst."""

import numpy as np
import pytest

from popcorn.golden.binary import unpack_words
from popcorn.hdl.argmax import Argmax, SerialArgmax
from popcorn.hwmath import argmax_stages, class_width, serial_argmax_latency
from popcorn.sim.runner import run_testbench


def edge_scores(classes, width, count, seed):
    """``count`` rows of signed scores: random ones of a narrow range (many ties), then
    all equal, all the minimum, all the maximum, the maximum last among minima, the
    minimum first among maxima, and a tie of the two last classes at the maximum."""
    lo, hi = -(1 << width - 1), (1 << width - 1) - 1
    rng = np.random.default_rng(seed)
    scores = rng.integers(max(lo, -3), min(hi, 3) + 1, (count, classes))
    scores[-count // 2:] = rng.integers(lo, hi + 1, (count // 2, classes))
    edges = np.full((6, classes), lo)
    edges[0], edges[2] = min(1, hi), hi
    edges[3, -1] = hi
    edges[4], edges[4, 0] = hi, lo
    edges[5, -2:] = hi
    return np.concatenate([edges, scores])


def case(classes, width, scores, **kwargs):
    words = [sum((int(v) & (1 << width) - 1) << (width * c) for c, v in enumerate(row))
             for row in scores]
    top = classes * width
    expected = [w | int(k) << top for w, k in zip(words, np.argmax(scores, axis=1))]
    return dict(inputs=unpack_words(words, top),
                expected=unpack_words(expected, top + class_width(classes)), **kwargs)


SHAPES = [(1, 4), (2, 4), (3, 4), (10, 4), (17, 5), (10, 12), (3, 1)]


@pytest.mark.parametrize("pipelined", [True, False])
@pytest.mark.parametrize("classes, width", SHAPES)
def test_argmax_words_and_cycles(classes, width, pipelined, tmp_path):
    """Random ``valid`` and ``ready`` stalls, every word against NumPy (ties to the lowest
    class); then 20 words free-running: pipelined, a word every cycle, one at a time,
    every ``stages + 1``; the first result ``stages`` cycles after its input: a stage per
    tournament level pipelined, two one at a time (compare, then select), at least one."""
    block = Argmax(classes=classes, width=width, pipelined=pipelined)
    levels = (classes - 1).bit_length()
    stages = max(1, levels if pipelined else 2 * levels)
    assert stages == argmax_stages(classes, pipelined)
    interval = 1 if pipelined else stages + 1
    measured = run_testbench(
        block, case=case(classes, width, edge_scores(classes, width, 60, classes),
                         interval=interval, latency=stages, burst=20, seed=classes,
                         idle=0.3, stall=0.4),
        test_module="popcorn.sim.testbenches.stream_tb", build_dir=tmp_path)
    assert (measured["words"], measured["interval"], measured["latency"]) == \
        (66, interval, stages) == (66, interval, block.latency)


@pytest.mark.parametrize("classes, width", SHAPES)
def test_serial_argmax_words_and_cycles(classes, width, tmp_path):
    """Random stalls, every word against NumPy (ties to the lowest class); then 20 words
    free-running, one every latency + 1 cycles: two cycles per class after the first
    (a compare, then the select), one for a single class."""
    block = SerialArgmax(classes=classes, width=width)
    latency = 2 * classes - 1
    assert latency == serial_argmax_latency(classes) == block.latency
    measured = run_testbench(
        block, case=case(classes, width, edge_scores(classes, width, 60, classes),
                         interval=latency + 1, latency=latency, burst=20, seed=classes,
                         idle=0.3, stall=0.4),
        test_module="popcorn.sim.testbenches.stream_tb", build_dir=tmp_path)
    assert (measured["words"], measured["interval"], measured["latency"]) == \
        (66, latency + 1, latency)
