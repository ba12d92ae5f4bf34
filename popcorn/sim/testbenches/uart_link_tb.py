"""cocotb testbench of :class:`popcorn.boards.host_link.UARTLink`: a host sending byte
chunks over ``rx`` and reading the replies on ``tx``.

Case: ``chunks`` (hexadecimal byte strings, sent back to back within a chunk), ``gaps``
(idle cycles after each chunk), ``bad_stop`` ((chunk, byte) pairs sent with a stop bit of
0), ``divisor`` and ``replies`` (the bytes to wait for, at most ``wait`` cycles after the
last chunk; -1: every byte that comes in that time). Writes the ``received`` bytes (hexadecimal) and the link's sticky ``error`` to
``POPCORN_RESULT``; the caller parses and checks them (:mod:`popcorn.boards.frames`).
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from popcorn.sim.streams import start_clock_and_reset
from popcorn.sim.uart import uart_receive, uart_send


@cocotb.test()
async def frames_over_uart(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    divisor, count = int(case["divisor"]), int(case["replies"])
    count = 1 << 30 if count < 0 else count
    bad = {(int(c), int(b)) for c, b in case["bad_stop"].reshape(-1, 2)}
    dut.rx.value = 1
    await start_clock_and_reset(dut)
    await ClockCycles(dut.clk, 2 * divisor)
    received = bytearray()
    receiver = cocotb.start_soon(uart_receive(dut.clk, dut.tx, count, divisor, received))
    for n, (chunk, gap) in enumerate(zip(case["chunks"], case["gaps"])):
        await uart_send(dut.clk, dut.rx, bytes.fromhex(str(chunk)), divisor,
                        bad_stop={b for c, b in bad if c == n})
        await ClockCycles(dut.clk, int(gap))
    for _ in range(int(case["wait"]) // 100):
        if receiver.done():
            break
        await ClockCycles(dut.clk, 100)
    receiver.cancel()
    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"received": bytes(received).hex(), "error": int(dut.error.value)}, f)
