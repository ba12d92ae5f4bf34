"""A cocotb model of an SPI NOR flash (mode 0; commands 0xAB, 0x03 and the dual-output
0x3B) serving an image."""

from cocotb.triggers import FallingEdge

WAKE, READ, DUAL_READ = 0xAB, 0x03, 0x3B
DUMMY = 8


async def spi_flash(clk, *, cs, sck, copi, cipo, contents, io0=None, copi_oe=None,
                    log=None):
    """Serve ``contents`` (bytes from address 0; beyond them the flash reads 0xFF, erased)
    on the DUT's SPI pins, forever. ``cs`` is active high (the DUT's signal, before the
    board's inversion). Sampled at every falling edge of ``clk``, where the DUT's
    registered outputs are stable: ``copi`` is taken at each rising edge of ``sck``, and
    the data change at each falling one: ``cipo`` a bit (``0x03``), or after
    :data:`DUMMY` clocks ``cipo`` (IO1) and ``io0`` (IO0) two (``0x3B``; the DUT must have
    released IO0: ``copi_oe`` low, else an AssertionError). ``log``, a list, receives
    every command byte."""
    previous, bits, shifted, command, address, reading = 0, 0, 0, None, 0, False
    cipo.value = 0
    while True:
        await FallingEdge(clk)
        if not int(cs.value):
            previous, bits, shifted, command, address, reading = 0, 0, 0, None, 0, False
            continue
        now = int(sck.value)
        if now and not previous and not reading:       # rising: take a bit from copi
            shifted = ((shifted << 1) | int(copi.value)) & 0xFF
            bits += 1
            if bits == 8 and command is None:
                command = shifted
                if log is not None:
                    log.append(command)
            elif command in (READ, DUAL_READ) and bits in (16, 24, 32):
                address = (address << 8 | shifted) & 0xFFFFFF
            if bits == (32 if command == READ else 32 + DUMMY):
                reading, bits = command in (READ, DUAL_READ), 0
        elif previous and not now and reading:         # falling: the next data bits
            byte = contents[address] if address < len(contents) else 0xFF
            if command == READ:
                cipo.value = (byte >> (7 - bits)) & 1
                bits += 1
            else:
                assert not int(copi_oe.value), "the DUT drives IO0 while the flash does"
                cipo.value = (byte >> (7 - bits)) & 1
                io0.value = (byte >> (6 - bits)) & 1
                bits += 2
            if bits == 8:
                bits, address = 0, address + 1
        previous = now
