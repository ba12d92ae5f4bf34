"""Generic cocotb testbench of a one-word-in, one-word-out stream block.

Case (``POPCORN_CASE``): ``inputs`` and ``expected`` as bit arrays (words, width), element 0
at bit 0 (the golden model's output, computed by the caller); ``interval`` and ``latency``
(the block's documented cycles per word and input-to-output cycles); ``seed``, ``idle``,
``stall``; optionally ``shortcut`` (bit arrays, one word per input word) for a block with a
second input ``r`` taken with ``i`` (a residual engine), offered with its own random
stalls. Two phases:

1. every input word with random stalls on ``valid`` and ``ready``; every output word is
   compared, in order, with ``expected``;
2. a free-running burst (no stalls) of the first ``burst`` words: the cycles between outputs
   must equal ``interval``, and from the first input handshake to the first output,
   ``latency`` (later words of a pipeline with unequal stages may wait longer).

Writes ``words``, ``interval`` and ``latency`` (measured) and ``outputs`` (the received
words of phase 1, hexadecimal) to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np

from popcorn.golden.binary import pack_words
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


@cocotb.test()
async def matches_expected_words_and_cycles(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    rng = random.Random(int(case["seed"]))
    inputs, expected = pack_words(case["inputs"]), pack_words(case["expected"])
    interval, latency = int(case["interval"]), int(case["latency"])
    await start_clock_and_reset(dut)

    side = pack_words(case["shortcut"]) if "shortcut" in case.files else None

    def sources(count, idle=0.0):
        found = [StreamSource(dut, "i", inputs[:count], idle=idle, rng=rng)]
        if side is not None:
            found.append(StreamSource(dut, "r", side[:count], idle=idle, rng=rng))
        return found

    source = sources(len(inputs), float(case["idle"]))
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    await run_cycles(dut, source, [sink], until=lambda: len(sink.words) == len(inputs),
                     max_cycles=20 * len(inputs) * (latency + interval + 2))
    received = list(sink.words)
    for n, (got, want) in enumerate(zip(received, expected)):
        assert got == want, f"word {n}: output {got:#x} != golden {want:#x}"

    burst = min(len(inputs), int(case["burst"]))
    source, *_ = burst_sources = sources(burst)
    sink = StreamSink(dut, "o")
    await run_cycles(dut, burst_sources, [sink], until=lambda: len(sink.words) == burst,
                     max_cycles=burst * (interval + latency + 2) + 10)
    assert sink.words == expected[:burst], "free-running burst differs from the golden model"
    intervals = sorted(set(np.diff(sink.fired).tolist()))
    first = sink.fired[0] - source.fired[0]
    assert intervals in ([], [interval]), f"cycles per word {intervals} != predicted {interval}"
    assert first == latency, f"latency {first} != predicted {latency}"
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"words": len(inputs), "interval": intervals[0] if intervals else None,
                   "latency": first, "outputs": [hex(w) for w in received]}, f)
