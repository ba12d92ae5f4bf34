"""Board top: the only place that calls ``platform.request``."""

from amaranth.hdl import ClockDomain, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io

from ..hdl.flash import MAX_CLOCK_HZ
from .boards import get_board
from .clocks import OscillatorClock, PLLClock, pll_settings
from .frames import IDLE_SECONDS
from .host_link import UARTLink

DEFAULT_BAUD = 115_200


def design_clock(board, clock_hz=None, *, flash=False):
    """The clock (Hz) a :class:`BoardTop` on ``board`` runs at: the oscillator's, or with
    ``clock_hz`` the highest the FPGA's PLL makes at or below it. Raises ``ValueError``
    when the PLL cannot make it, or above the flash readers'
    :data:`~popcorn.hdl.flash.MAX_CLOCK_HZ` with ``flash``."""
    b = get_board(board)
    if clock_hz is None:
        return b.clock_hz
    return _pll(b.family, b.clock_hz, clock_hz, flash).frequency


def _pll(family, oscillator, clock_hz, flash):
    setting = pll_settings(family, oscillator, clock_hz)
    if flash and setting.frequency > MAX_CLOCK_HZ:
        raise ValueError(f"the folded architecture reads its weights from the flash at up to "
                         f"{MAX_CLOCK_HZ / 1e6:g} MHz, not {setting.frequency / 1e6:g} MHz: "
                         f"choose a lower clock")
    return setting


def _reset_net(m, family, source):
    """The ``sync`` domain's reset from ``source.rst``: on the ECP5 through a global buffer
    (DCCA), which nextpnr routes on a global network (it promotes clocks only; the reset
    of every flip-flop with an initial value, 3 023 of them in digits-resnet-abc, ran 9.3 ns
    of routing to a far corner at 150 MHz); the iCE40's nextpnr promotes it itself."""
    if family != "ecp5":
        return source.rst
    rst = Signal(init=1)
    m.submodules.reset_buffer = Instance("DCCA", i_CLKI=source.rst, i_CE=Const(1),
                                         o_CLKO=rst)
    return rst


class BoardTop(Elaboratable):
    """A stream core behind the board's UART (``uart`` 0), speaking the host link's frames
    (:mod:`popcorn.boards.frames`); the first LED lights on a UART error. The baud divisor
    and the link's idle time (:data:`~popcorn.boards.frames.IDLE_SECONDS`) come from the
    clock: the oscillator's (``platform.default_clk_frequency``), or with ``clock_hz`` the
    FPGA's PLL at the highest frequency it makes at or below that
    (:func:`~popcorn.boards.clocks.pll_settings`). The ``sync`` domain resets at start-up
    (the PLL's or the oscillator's reset, :mod:`~popcorn.boards.clocks`; on the iCE40 without
    a PLL the platform's own start-up wait).

    ``flash``: the core reads the board's SPI flash (``spi_flash_4x`` 0: its ``sck``,
    ``cs``, ``copi`` on IO0 while ``copi_oe`` and ``io0`` from it, ``cipo`` on IO1, IO2
    and IO3 high; :class:`~popcorn.boards.host_link.WeightsFromFlash`); the
    first LED lights on its ``error`` too, the second when it is ``ready``."""

    def __init__(self, core, *, baud=DEFAULT_BAUD, flash=False, clock_hz=None):
        self.core = core
        self.baud = baud
        self.flash = flash
        self.clock_hz = clock_hz

    def elaborate(self, platform):
        m = Module()
        clock = platform.default_clk_frequency
        family = "ice40" if platform.family.lower() == "ice40" else "ecp5"
        source = None
        if self.clock_hz is not None:
            setting = _pll(family, clock, self.clock_hz, self.flash)
            pin = platform.request(platform.default_clk, dir="-")
            if family == "ice40":
                source = PLLClock(setting, pin=pin)
            else:
                m.submodules.clock_buffer = buffer = io.Buffer("i", pin)
                source = PLLClock(setting, clock=buffer.i)
            clock = setting.frequency
        elif family == "ecp5":
            # (the iCE40 platform's own domain has a reset: its start-up wait)
            pin = platform.request(platform.default_clk, dir="-")
            m.submodules.clock_buffer = buffer = io.Buffer("i", pin)
            source = OscillatorClock(buffer.i, clock)
        if source is not None:
            m.submodules.clock = source
            m.domains.sync = sync = ClockDomain("sync")
            m.d.comb += [sync.clk.eq(source.clk), sync.rst.eq(_reset_net(m, family, source))]
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
