"""Board top: the only place that calls ``platform.request``."""

from amaranth.hdl import Elaboratable, Module

from .host_link import UARTLink

DEFAULT_BAUD = 115_200


class BoardTop(Elaboratable):
    """A stream core behind the board's UART (``uart`` 0); the first LED lights on a
    UART error. The baud divisor comes from ``platform.default_clk_frequency``."""

    def __init__(self, core, *, baud=DEFAULT_BAUD):
        self.core = core
        self.baud = baud

    def elaborate(self, platform):
        m = Module()
        divisor = round(platform.default_clk_frequency / self.baud)
        m.submodules.link = link = UARTLink(self.core, divisor=divisor)
        uart = platform.request("uart", 0)
        led = platform.request("led", 0)
        m.d.comb += [link.rx.eq(uart.rx.i), uart.tx.o.eq(link.tx), led.o.eq(link.error)]
        return m
