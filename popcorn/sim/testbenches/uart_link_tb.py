"""cocotb testbench of :class:`popcorn.boards.host_link.UARTLink` around an MVTU.

Case: the MVTU's ``weights``, ``thresholds``, ``pe``, ``simd``, the UART ``divisor`` and
``inputs``. The host sends every input vector as bytes over ``rx`` (back to back, no idle
time between vectors) while reading ``tx``; every received vector must equal the golden
model, and ``error`` must stay low. Writes ``vectors`` and ``cycles`` to ``POPCORN_RESULT``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from popcorn.golden.binary import pack_words
from popcorn.mapping.dense_folding import DenseFolding
from popcorn.sim.streams import start_clock_and_reset
from popcorn.sim.uart import uart_receive, uart_send


@cocotb.test()
async def vectors_over_uart_match_golden_model(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    folding = DenseFolding(case["weights"], case["thresholds"],
                           pe=int(case["pe"]), simd=int(case["simd"]))
    divisor = int(case["divisor"])
    inputs = case["inputs"]
    in_bytes, out_bytes = (folding.in_bits + 7) // 8, (folding.neurons + 7) // 8
    dut.rx.value = 1
    await start_clock_and_reset(dut)
    await ClockCycles(dut.clk, 2 * divisor)

    stream = b"".join(w.to_bytes(in_bytes, "little") for w in pack_words(inputs))
    receiver = cocotb.start_soon(uart_receive(dut.clk, dut.tx, len(inputs) * out_bytes, divisor))
    await uart_send(dut.clk, dut.rx, stream, divisor)
    received = await receiver
    expected = pack_words(folding.reference(inputs))
    for n, want in enumerate(expected):
        got = int.from_bytes(received[n * out_bytes:(n + 1) * out_bytes], "little")
        assert got == want, f"vector {n}: received {got:#x} != golden {want:#x}"
    assert not int(dut.error.value), "UART link flagged an overrun or framing error"
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"vectors": len(inputs)}, f)
