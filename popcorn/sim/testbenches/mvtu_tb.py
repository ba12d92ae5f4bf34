"""cocotb testbench of :class:`popcorn.hdl.mvtu.MatrixVectorThreshold`.

Case (``POPCORN_CASE``): ``weights``, ``thresholds``, ``pe``, ``simd``, ``inputs``
(vectors of bits), ``seed``, ``idle``, ``stall``. Two phases:

1. every input vector with random stalls on ``valid`` and ``ready``; every output word is
   compared, in order, with the golden model;
2. a free-running burst (no stalls) that measures the cycles between outputs and from
   input handshake to output, asserted equal to the folding's ``cycles_per_vector`` and
   ``latency``.

Writes ``vectors``, ``cycles_per_vector`` and ``latency`` to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np

from popcorn.golden.binary import pack_words
from popcorn.mapping.dense_folding import DenseFolding
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


def _load_case():
    case = np.load(os.environ["POPCORN_CASE"])
    folding = DenseFolding(case["weights"], case["thresholds"],
                           pe=int(case["pe"]), simd=int(case["simd"]))
    return case, folding


@cocotb.test()
async def matches_golden_model_and_cycle_formula(dut):
    case, folding = _load_case()
    rng = random.Random(int(case["seed"]))
    inputs = case["inputs"]
    expected = pack_words(folding.reference(inputs))
    await start_clock_and_reset(dut)

    # Phase 1: random stalls on both sides, every word checked.
    source = StreamSource(dut, "i", pack_words(inputs), idle=float(case["idle"]), rng=rng)
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    budget = 20 * len(inputs) * (folding.latency + 2)
    await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == len(inputs),
                     max_cycles=budget)
    for n, (got, want) in enumerate(zip(sink.words, expected)):
        assert got == want, (f"vector {n}: output {got:#x} != golden {want:#x} "
                             f"(input {pack_words(inputs[n:n + 1])[0]:#x})")

    # Phase 2: free-running, cycles measured.
    burst = inputs[:8]
    source = StreamSource(dut, "i", pack_words(burst))
    sink = StreamSink(dut, "o")
    await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == len(burst),
                     max_cycles=len(burst) * (folding.latency + 2) + 10)
    assert sink.words == pack_words(folding.reference(burst)), "burst output differs"
    intervals = sorted(set(np.diff(sink.fired).tolist()))
    latencies = sorted(set(o - i for i, o in zip(source.fired, sink.fired)))
    # The first vector's latency is measured from an idle pipeline; all must agree.
    assert intervals == [folding.cycles_per_vector], (
        f"cycles per vector {intervals} != predicted {folding.cycles_per_vector}")
    assert latencies == [folding.latency], (
        f"latency {latencies} != predicted {folding.latency}")

    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"vectors": len(inputs), "cycles_per_vector": intervals[0],
                   "latency": latencies[0]}, f)
