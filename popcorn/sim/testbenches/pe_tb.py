"""cocotb testbench of :class:`popcorn.hdl.pe.BinaryPE`.

Case (``POPCORN_CASE``): ``weights`` and ``acts`` (bits, shape (vectors, K)), ``simd``,
``folds``, ``weight_encoding``, ``act_encoding``, ``out_width``, ``latency``, ``seed``,
``idle``, ``stall``. Vector n is sent as ``folds`` transfers, fold f carrying elements
``[f*simd, (f+1)*simd)`` (weights at payload bits ``[0, simd)``, acts above). Two phases:

1. every vector with random stalls on ``valid`` and ``ready``; every result is compared,
   in order, with the golden :func:`popcorn.golden.binary.binary_dot`;
2. a free-running burst: one result every ``folds`` cycles, and the cycles from the
   transfer of a vector's last fold to its result's transfer equal ``latency``.

Writes ``vectors``, ``interval`` and ``latency`` to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np

from popcorn.golden.binary import binary_dot
from popcorn.golden.binary import pack_words
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


def fold_words(weights, acts, simd, folds):
    """The input transfers of every vector, in order."""
    w = pack_words(weights.reshape(-1, simd))
    a = pack_words(acts.reshape(-1, simd))
    return [wi | (ai << simd) for wi, ai in zip(w, a)]


def golden(weights, acts, wenc, aenc):
    return [int(binary_dot(w[None, :], a, wenc, aenc)[0]) for w, a in zip(weights, acts)]


def signed(value, width):
    return value - (1 << width) if value >> (width - 1) else value


@cocotb.test()
async def matches_golden_dot_and_latency(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    rng = random.Random(int(case["seed"]))
    simd, folds = int(case["simd"]), int(case["folds"])
    wenc, aenc = str(case["weight_encoding"]), str(case["act_encoding"])
    width, latency = int(case["out_width"]), int(case["latency"])
    weights, acts = case["weights"], case["acts"]
    vectors = len(weights)
    expected = golden(weights, acts, wenc, aenc)
    await start_clock_and_reset(dut)

    source = StreamSource(dut, "i", fold_words(weights, acts, simd, folds),
                          idle=float(case["idle"]), rng=rng)
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == vectors,
                     max_cycles=20 * vectors * folds + 10 * latency + 100)
    got = [signed(w, width) for w in sink.words]
    for n, (g, want) in enumerate(zip(got, expected)):
        assert g == want, f"vector {n} ({wenc} x {aenc}): result {g} != golden {want}"

    burst = min(vectors, 8)
    source = StreamSource(dut, "i", fold_words(weights[:burst], acts[:burst], simd, folds))
    sink = StreamSink(dut, "o")
    await run_cycles(dut, [source], [sink], until=lambda: len(sink.words) == burst,
                     max_cycles=burst * folds + latency + 10)
    assert [signed(w, width) for w in sink.words] == expected[:burst], "burst output differs"
    intervals = sorted(set(np.diff(sink.fired).tolist())) or [folds]
    last_folds = source.fired[folds - 1::folds]
    latencies = sorted(set(o - i for i, o in zip(last_folds, sink.fired)))
    assert intervals == [folds], f"intervals {intervals} != [{folds}] (folds per vector)"
    assert latencies == [latency], f"latency {latencies} != documented {latency}"

    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"vectors": vectors, "interval": intervals[0], "latency": latencies[0]}, f)
