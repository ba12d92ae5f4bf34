"""A cocotb model of an SPI NOR flash (mode 0, commands 0xAB and 0x03) serving an image."""

from cocotb.triggers import FallingEdge

WAKE, READ = 0xAB, 0x03


async def spi_flash(clk, *, cs, sck, copi, cipo, contents, log=None):
    """Serve ``contents`` (bytes from address 0; beyond them the flash reads 0xFF, erased)
    on the DUT's SPI pins, forever. ``cs`` is active high (the DUT's signal, before the
    board's inversion). Sampled at every falling edge of ``clk``, where the DUT's
    registered outputs are stable: ``copi`` is taken at each rising edge of ``sck``, and
    ``cipo`` changes at each falling one. ``log``, a list, receives every command byte."""
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
            elif command == READ and bits in (16, 24, 32):
                address = (address << 8 | shifted) & 0xFFFFFF
                reading = bits == 32
                bits = 0 if reading else bits
        elif previous and not now and reading:         # falling: the next bit on cipo
            byte = contents[address] if address < len(contents) else 0xFF
            cipo.value = (byte >> (7 - bits)) & 1
            bits += 1
            if bits == 8:
                bits, address = 0, address + 1
        previous = now
