"""cocotb testbench of :class:`popcorn.hdl.comparator.ComparatorActivation`.

Case: ``thresholds`` (C, L), ``directions`` (C,), ``pe``, ``in_width``, ``output``, ``y``
(words, pe) signed pre-activations, ``seed``, ``idle``, ``stall``. Every output word is
compared with :mod:`popcorn.golden.comparators`; a free-running burst checks one word per
cycle and a latency of one cycle. Writes ``words`` and ``latency`` to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np

from popcorn.golden.comparators import onehot_from_thermometer, thermometer_bits
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


def pack_signed(values, width):
    return sum((int(v) & (2 ** width - 1)) << (i * width) for i, v in enumerate(values))


def golden_words(case):
    t, d, pe = case["thresholds"], case["directions"], int(case["pe"])
    y = case["y"]
    groups = t.shape[0] // pe
    words = []
    for j, row in enumerate(y):
        g = j % groups
        sl = slice(g * pe, (g + 1) * pe)
        levels = thermometer_bits(row, t[sl], d[sl])
        if str(case["output"]) == "onehot":
            levels = onehot_from_thermometer(levels)
        flat = levels.reshape(-1)
        words.append(sum(int(b) << i for i, b in enumerate(flat)))
    return words


@cocotb.test()
async def matches_golden_comparators(dut):
    case = dict(np.load(os.environ["POPCORN_CASE"]))
    rng = random.Random(int(case["seed"]))
    width = int(case["in_width"])
    inputs = [pack_signed(row, width) for row in case["y"]]
    expected = golden_words(case)
    await start_clock_and_reset(dut)

    source = StreamSource(dut, "i", inputs, idle=float(case["idle"]), rng=rng)
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == len(inputs),
                     max_cycles=50 * len(inputs) + 100)
    for n, (got, want) in enumerate(zip(sink.words, expected)):
        assert got == want, f"word {n} (y = {case['y'][n].tolist()}): {got:#x} != {want:#x}"

    # Free-running: the group counter is back at 0 only if len(inputs) is a multiple of
    # the group count, so restart the comparison from the current group.
    groups = case["thresholds"].shape[0] // int(case["pe"])
    burst = 4 * groups
    offset = len(inputs) % groups
    case_burst = dict(case, y=np.concatenate([case["y"][:offset] * 0, case["y"][:burst]]))
    want = golden_words(case_burst)[offset:]
    source = StreamSource(dut, "i", inputs[:burst])
    sink = StreamSink(dut, "o")
    await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == burst,
                     max_cycles=burst + 10)
    assert sink.words == want, "free-running burst differs from the golden model"
    assert np.diff(source.fired).tolist() == [1] * (burst - 1), "not one word per cycle"
    latencies = sorted(set(o - i for i, o in zip(source.fired, sink.fired)))
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"words": len(inputs), "latency": latencies}, f)
