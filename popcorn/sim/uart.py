"""cocotb bit-level 8N1 UART host: sends and receives bytes on a DUT's rx/tx pins."""

from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge


async def uart_send(clk, rx, data, divisor, gap=0, bad_stop=()):
    """Send ``data`` (bytes) on ``rx``, LSB first, ``divisor`` clock cycles per bit;
    ``gap`` idle bit times between bytes; the bytes at the indices in ``bad_stop`` get a
    stop bit of 0 (a framing error)."""
    for n, byte in enumerate(data):
        for level in (0, *((byte >> b) & 1 for b in range(8)), int(n not in bad_stop)):
            rx.value = level
            await ClockCycles(clk, divisor)
        if gap:
            await ClockCycles(clk, gap * divisor)


async def uart_receive(clk, tx, count, divisor, out=None):
    """Receive ``count`` bytes from ``tx``, sampling each bit at its middle; each byte is
    appended to ``out`` (a ``bytearray``, returned) as it arrives."""
    out = bytearray() if out is None else out
    for _ in range(count):
        while True:
            await RisingEdge(clk)
            if not int(tx.value):
                break
        await ClockCycles(clk, divisor // 2)
        assert not int(tx.value), "start bit shorter than half a bit time"
        byte = 0
        for b in range(8):
            await ClockCycles(clk, divisor)
            byte |= int(tx.value) << b
        await ClockCycles(clk, divisor)
        assert int(tx.value), f"stop bit of byte {len(out)} is 0"
        out.append(byte)
        await FallingEdge(clk)
    return bytes(out)
