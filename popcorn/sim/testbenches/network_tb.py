"""cocotb testbench of a whole accelerator: images in as pixel streams, one result word out
per image, every word checked and every handshake cycle checked against the cycle model.

Case (``POPCORN_CASE``): ``inputs`` and ``expected``, hexadecimal words (``in_words`` input
words per image, one expected output word per image, from the golden model); ``cycles_in``
and ``cycles_out``, the cycle model's handshake cycles of a free-running run of ``burst``
images (:meth:`~popcorn.mapping.network_map.NetworkPlan.cycle_model`, counted from the
first input's handshake); ``seed``, ``idle``, ``stall``; ``check`` (0: outputs that differ
from ``expected`` are recorded, not asserted, and phase 2 is skipped); optionally
``weights``, hexadecimal words sent to the ``load`` port (with random stalls) before each
phase (the folded accelerator's weight image), or ``flash`` (uint8, the contents of an SPI
flash from address 0, served by :func:`~popcorn.sim.flash.spi_flash`: the accelerator
behind :class:`~popcorn.boards.host_link.WeightsFromFlash`, which loads and streams its
weights; each phase waits for its ``ready``). Two phases, with a reset between:

1. every image with random stalls on ``valid`` and ``ready``; every output word must equal
   the golden model's, in order;
2. ``burst`` images free-running (source always valid, sink always ready): every input and
   output handshake must happen at the predicted cycle.

Writes ``images``, ``interval`` (cycles between the last two outputs of phase 2),
``latency`` (first input to first output), ``cycles`` and ``burst_cycles`` (the cycles
phases 1 and 2 ran) and
``outputs`` (phase 1's words, hexadecimal) to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from popcorn.sim.flash import spi_flash
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


_flash_served = []


async def load_weights(dut, case, rng):
    """Send the case's ``weights`` (if any) to the ``load`` port and wait for ``loaded``;
    or serve its ``flash`` and wait for ``ready``."""
    if "flash" in case:
        if not _flash_served:               # once: it follows the resets (cs low)
            _flash_served.append(cocotb.start_soon(spi_flash(
                dut.clk, cs=dut.cs, sck=dut.sck, copi=dut.copi, cipo=dut.cipo, io0=dut.io0,
                copi_oe=dut.copi_oe,
                contents=bytes(case["flash"].tolist()))))
        dut.i__valid.value = 0
        for _ in range(int(case["load_cycles"])):
            await RisingEdge(dut.clk)
            if int(dut.ready.value):
                return
        raise AssertionError(f"ready is low {int(case['load_cycles'])} cycles after reset "
                             f"(error: {int(dut.error.value)})")
    if "weights" not in case:
        return
    words = [int(w, 16) for w in case["weights"]]
    dut.i__valid.value = 0
    source = StreamSource(dut, "load", words, idle=float(case["idle"]), rng=rng)
    await run_cycles(dut, [source], [], until=lambda: source.done,
                     max_cycles=4 * len(words) + 100)
    dut.load__valid.value = 0
    await RisingEdge(dut.clk)
    assert int(dut.loaded.value), "loaded is low after the last weight word"


@cocotb.test()
async def matches_golden_words_and_predicted_cycles(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    rng = random.Random(int(case["seed"]))
    inputs = [int(w, 16) for w in case["inputs"]]
    expected = [int(w, 16) for w in case["expected"]]
    per_image = int(case["in_words"])
    images = len(expected)
    await start_clock_and_reset(dut)
    await load_weights(dut, case, rng)

    source = StreamSource(dut, "i", inputs, idle=float(case["idle"]), rng=rng)
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    longest = int(case["cycles_out"][-1]) + 1
    cycles = await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == images,
                              max_cycles=8 * images * longest + 1000)
    received = list(sink.words)
    result = {"images": images, "cycles": cycles, "outputs": [hex(w) for w in received]}
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump(result, f)           # kept for a first-divergence report if a check fails
    if not int(case["check"]) and received != expected:
        return                          # the caller reports where the RTL departs
    for n, (got, want) in enumerate(zip(received, expected)):
        assert got == want, f"image {n}: output {got:#x} != golden {want:#x}"

    dut.rst.value = 1
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await load_weights(dut, case, rng)
    burst = len(case["cycles_out"])
    source = StreamSource(dut, "i", inputs[:burst * per_image])
    sink = StreamSink(dut, "o")
    burst_cycles = await run_cycles(dut, [source], [sink],
                                    until=lambda: len(sink.words) == burst,
                                    max_cycles=4 * longest + 1000)
    assert sink.words == expected[:burst], "free-running burst differs from the golden model"
    start = source.fired[0]
    got_in = [c - start for c in source.fired]
    got_out = [c - start for c in sink.fired]
    want_in, want_out = case["cycles_in"].tolist(), case["cycles_out"].tolist()
    first = next((n for n, (a, b) in enumerate(zip(got_in, want_in)) if a != b), None)
    assert first is None, (f"input word {first} taken at cycle {got_in[first]}, the cycle "
                           f"model predicts {want_in[first]}")
    assert got_out == want_out, f"outputs at cycles {got_out}, the cycle model predicts {want_out}"
    result.update(interval=got_out[-1] - got_out[-2] if burst > 1 else None,
                  latency=got_out[0], burst_cycles=burst_cycles)
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump(result, f)
