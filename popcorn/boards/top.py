"""Board top: the only place that calls ``platform.request``."""

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

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
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.submodules.led_buffer = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx), led.o.eq(link.error)]
        return m
