"""Board top: the only place that calls ``platform.request``."""

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from .frames import IDLE_SECONDS
from .host_link import UARTLink

DEFAULT_BAUD = 115_200


class BoardTop(Elaboratable):
    """A stream core behind the board's UART (``uart`` 0), speaking the host link's frames
    (:mod:`popcorn.boards.frames`); the first LED lights on a UART error. The baud divisor
    and the link's idle time (:data:`~popcorn.boards.frames.IDLE_SECONDS`) come from
    ``platform.default_clk_frequency``.

    ``flash``: the core reads the board's SPI flash (``spi_flash_4x`` 0: its ``sck``,
    ``cs``, ``copi`` on IO0 while ``copi_oe`` and ``io0`` from it, ``cipo`` on IO1, IO2
    and IO3 high; :class:`~popcorn.boards.host_link.WeightsFromFlash`); the
    first LED lights on its ``error`` too, the second when it is ``ready``."""

    def __init__(self, core, *, baud=DEFAULT_BAUD, flash=False):
        self.core = core
        self.baud = baud
        self.flash = flash

    def elaborate(self, platform):
        m = Module()
        clock = platform.default_clk_frequency
        m.submodules.link = link = UARTLink(self.core, divisor=round(clock / self.baud),
                                            idle=round(clock * IDLE_SECONDS))
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.submodules.led_buffer = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx), led.o.eq(link.error)]
        if self.flash:
            core = self.core
            spi = platform.request("spi_flash_4x", 0, dir={"cs": "-", "clk": "-", "dq": "-"})
            buffers = {"cs": io.Buffer("o", spi.cs), "clk": io.Buffer("o", spi.clk),
                       "io0": io.Buffer("io", spi.dq[0]), "io1": io.Buffer("i", spi.dq[1]),
                       "io23": io.Buffer("o", spi.dq[2:4])}
            for name, buffer in buffers.items():
                m.submodules[f"flash_{name}"] = buffer
            ready = io.Buffer("o", platform.request("led", 1, dir="-"))
            m.submodules.ready_buffer = ready
            # IO2 (/WP) and IO3 (/HOLD) held high: not protected, not held
            m.d.comb += [buffers["cs"].o.eq(core.cs), buffers["clk"].o.eq(core.sck),
                         buffers["io0"].o.eq(core.copi), buffers["io0"].oe.eq(core.copi_oe),
                         core.io0.eq(buffers["io0"].i), core.cipo.eq(buffers["io1"].i),
                         buffers["io23"].o.eq(0b11),
                         led.o.eq(link.error | core.error), ready.o.eq(core.ready)]
        return m
