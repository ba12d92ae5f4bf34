"""cocotb testbench that records every stage's output words of a whole accelerator built
with probes (:class:`~popcorn.hdl.accelerator.DataflowAccelerator` ``probes=True``).

Case (``POPCORN_CASE``): ``inputs`` (hexadecimal words), ``images``, ``stages`` (probes
``probe<n>_fire`` / ``probe<n>_payload``, n < stages). The inputs go in back to back, the
output is always taken. Writes ``outputs`` and ``probes`` (per stage, every word that left
it, hexadecimal) to ``POPCORN_RESULT``; asserts nothing (the caller compares with the
stages' references).
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from popcorn.sim.streams import StreamSink, StreamSource, start_clock_and_reset


@cocotb.test()
async def records_every_stage(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    inputs = [int(w, 16) for w in case["inputs"]]
    images, stages = int(case["images"]), int(case["stages"])
    await start_clock_and_reset(dut)
    source, sink = StreamSource(dut, "i", inputs), StreamSink(dut, "o")
    probes = [(getattr(dut, f"probe{n}_fire"), getattr(dut, f"probe{n}_payload"))
              for n in range(stages)]
    words = [[] for _ in range(stages)]
    cycle, limit = 0, int(case["max_cycles"])
    while len(sink.words) < images and cycle < limit:
        source.drive()
        sink.drive()
        await ReadOnly()
        source.sample(cycle)
        sink.sample(cycle)
        for n, (fire, payload) in enumerate(probes):
            if int(fire.value):
                words[n].append(hex(int(payload.value)))
        await RisingEdge(dut.clk)
        cycle += 1
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"outputs": [hex(w) for w in sink.words], "probes": words,
                   "cycles": cycle}, f)
