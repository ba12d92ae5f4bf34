"""cocotb testbench of :class:`popcorn.hdl.popcount.Popcount`.

Case (``POPCORN_CASE``): ``words`` (vectors of bits, shape (n, width)), ``latency``,
``seed``, ``idle``, ``stall``. Two phases:

1. every word with random stalls on ``valid`` and ``ready``; every count is compared, in
   order, with the golden :func:`popcorn.golden.binary.popcount`;
2. a free-running burst (no stalls): one count per cycle, and the cycles from an input
   transfer to its output transfer equal ``latency`` (the documented ``pipeline``).

Writes ``words``, ``interval`` and ``latency`` to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, Timer

from popcorn.golden.binary import popcount
from popcorn.golden.binary import pack_words
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


async def _run_combinational(dut, sources, sinks, *, until, max_cycles):
    """:func:`run_cycles` for a design without a clock (``pipeline=0``): a "cycle" is
    10 ns of simulated time; inputs are driven, then sampled after they settle."""
    cycle = 0
    while not until():
        assert cycle < max_cycles, f"no progress after {max_cycles} cycles"
        for s in (*sources, *sinks):
            s.drive()
        await Timer(5, unit="ns")
        await ReadOnly()
        for s in (*sources, *sinks):
            s.sample(cycle)
        await Timer(5, unit="ns")
        cycle += 1
    return cycle


@cocotb.test()
async def matches_golden_popcount_and_latency(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    rng = random.Random(int(case["seed"]))
    words = case["words"]
    latency = int(case["latency"])
    expected = popcount(words).tolist()
    if hasattr(dut, "clk"):
        await start_clock_and_reset(dut)
        run = run_cycles
    else:  # pipeline = 0: purely combinational, no clock port
        run = _run_combinational

    source = StreamSource(dut, "i", pack_words(words), idle=float(case["idle"]), rng=rng)
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    await run(dut, [source], [sink], until=lambda: len(sink.words) == len(words),
                     max_cycles=20 * len(words) + 10 * latency + 100)
    for n, (got, want) in enumerate(zip(sink.words, expected)):
        assert got == want, f"word {n}: count {got} != golden {want}"

    burst = words[:16]
    source = StreamSource(dut, "i", pack_words(burst))
    sink = StreamSink(dut, "o")
    await run(dut, [source], [sink], until=lambda: len(sink.words) == len(burst),
                     max_cycles=len(burst) + latency + 10)
    assert sink.words == expected[:16], "burst output differs"
    intervals = sorted(set(np.diff(sink.fired).tolist())) or [1]
    latencies = sorted(set(o - i for i, o in zip(source.fired, sink.fired)))
    assert intervals == [1], f"intervals {intervals} != [1] (one word per cycle)"
    assert latencies == [latency], f"latency {latencies} != documented {latency}"

    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"words": len(words), "interval": intervals[0], "latency": latencies[0]}, f)
