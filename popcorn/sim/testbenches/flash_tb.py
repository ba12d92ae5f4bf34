"""cocotb testbench of a folded accelerator that reads its weights from SPI flash
(:class:`popcorn.boards.host_link.WeightsFromFlash`) against the flash model.

Case: ``flash`` (uint8, the flash's contents from address 0), ``inputs`` and ``expected``
(hexadecimal words, as :mod:`~popcorn.sim.testbenches.network_tb`), ``seed``, ``idle``,
``stall``, ``max_cycles``, ``error_word`` (hexadecimal). Waits for ``ready`` or
``error``; then sends the images: with ``ready`` every image's result must equal
``expected``, with ``error`` every reply must be ``error_word``. Writes ``ready``, ``error``, ``load_cycles`` (reset to
``ready`` or ``error``), ``commands`` (the flash commands seen) and ``outputs``.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from popcorn.sim.flash import spi_flash
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


@cocotb.test()
async def loads_weights_then_matches_golden_words(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    rng = random.Random(int(case["seed"]))
    commands = []
    dut.i__valid.value = 0
    await start_clock_and_reset(dut)
    cocotb.start_soon(spi_flash(dut.clk, cs=dut.cs, sck=dut.sck, copi=dut.copi, cipo=dut.cipo,
                                io0=dut.io0, copi_oe=dut.copi_oe,
                                contents=bytes(case["flash"].tolist()), log=commands))
    cycles = 0
    while True:
        await ReadOnly()
        if int(dut.ready.value) or int(dut.error.value):
            break
        assert cycles < int(case["max_cycles"]), f"neither ready nor error after {cycles} cycles"
        await RisingEdge(dut.clk)
        cycles += 1
    result = {"ready": int(dut.ready.value), "error": int(dut.error.value),
              "load_cycles": cycles, "commands": commands, "outputs": []}
    await RisingEdge(dut.clk)
    if result["ready"] or result["error"]:
        inputs = [int(w, 16) for w in case["inputs"]]
        expected = [int(w, 16) for w in case["expected"]]
        if not result["ready"]:
            expected = [int(str(case["error_word"]), 16)] * len(expected)
        source = StreamSource(dut, "i", inputs, idle=float(case["idle"]), rng=rng)
        sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
        await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == len(expected),
                         max_cycles=int(case["max_cycles"]))
        result["outputs"] = [hex(w) for w in sink.words]
        for n, (got, want) in enumerate(zip(sink.words, expected)):
            assert got == want, f"image {n}: output {got:#x} != golden {want:#x}"
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump(result, f)
