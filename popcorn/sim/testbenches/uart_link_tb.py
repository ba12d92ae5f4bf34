"""cocotb testbench of :class:`popcorn.boards.host_link.UARTLink` around a stream core.

Case: ``inputs`` and ``expected`` bit arrays (words, width) of the core (the golden
model's output, computed by the caller; an accelerator takes several input words, its
pixels, per output word) and the UART ``divisor``. The host sends every
input word as bytes over ``rx`` (back to back, no idle time between words) while reading
``tx``; every received word must equal ``expected`` and ``error`` must stay low. Writes
``words`` to ``POPCORN_RESULT``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from popcorn.golden.binary import pack_words
from popcorn.sim.streams import start_clock_and_reset
from popcorn.sim.uart import uart_receive, uart_send


@cocotb.test()
async def words_over_uart_match_golden_model(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    divisor = int(case["divisor"])
    inputs, expected = pack_words(case["inputs"]), pack_words(case["expected"])
    in_bytes = (case["inputs"].shape[1] + 7) // 8
    out_bytes = (case["expected"].shape[1] + 7) // 8
    dut.rx.value = 1
    await start_clock_and_reset(dut)
    await ClockCycles(dut.clk, 2 * divisor)

    stream = b"".join(w.to_bytes(in_bytes, "little") for w in inputs)
    receiver = cocotb.start_soon(uart_receive(dut.clk, dut.tx, len(expected) * out_bytes, divisor))
    await uart_send(dut.clk, dut.rx, stream, divisor)
    received = await receiver
    for n, want in enumerate(expected):
        got = int.from_bytes(received[n * out_bytes:(n + 1) * out_bytes], "little")
        assert got == want, f"word {n}: received {got:#x} != golden {want:#x}"
    assert not int(dut.error.value), "UART link flagged an overrun or framing error"
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"words": len(inputs), "results": len(expected)}, f)
