"""The core's clock from the board's oscillator through the FPGA's PLL: the divider
settings (pure functions, the highest frequency not above the one asked for) and
:class:`PLLClock`, the ``sync`` domain they drive; :class:`OscillatorClock`, the
oscillator itself with a reset of the same kind."""

from dataclasses import dataclass
from math import ceil

from amaranth.hdl import (ClockDomain, ClockSignal, DomainRenamer, Elaboratable,
                          Instance, Module, Signal)
from amaranth.lib.cdc import FFSynchronizer


class ClockUnreachable(ValueError):
    """No PLL setting gives a clock in the family's range at or below the one asked for."""


@dataclass(frozen=True)
class ICE40PLL:
    """SB_PLL40_PAD in SIMPLE feedback mode (Lattice iCE40 sysCLOCK PLL design guide, TN1251):
    ``f_out = f_in * (divf + 1) / ((divr + 1) * 2 ** divq)``; the phase detector's input
    ``f_in / (divr + 1)`` within 10-133 MHz, the VCO ``f_in * (divf + 1) / (divr + 1)``
    within 533-1066 MHz, ``filter_range`` from the phase detector's frequency (the table of
    icestorm's ``icepll``)."""
    f_in: float
    divr: int
    divf: int
    divq: int

    @property
    def f_pfd(self):
        return self.f_in / (self.divr + 1)

    @property
    def frequency(self):
        return self.f_pfd * (self.divf + 1) / 2 ** self.divq

    @property
    def filter_range(self):
        mhz = self.f_pfd / 1e6
        return next(r for limit, r in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5))
                    if mhz < limit) if mhz < 101 else 6


@dataclass(frozen=True)
class ECP5PLL:
    """EHXPLLL with CLKOP fed back (Lattice ECP5 sysCLOCK PLL usage guide, TN1263):
    ``f_out = f_in * clkfb_div / clki_div``, the VCO ``f_out * clkop_div`` within 400-800
    MHz, the phase detector's input ``f_in / clki_div`` at least 3.125 MHz, CLKOP's coarse
    phase ``(clkop_div - 1) // 2`` (as Project Trellis's ``ecppll`` writes it)."""
    f_in: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def frequency(self):
        return self.f_in * self.clkfb_div / self.clki_div


RANGES = {"ice40": (16e6, 275e6), "ecp5": (3.125e6, 400e6)}
"""The PLL output's range on each family (Hz)."""


def pll_settings(family, f_in, f_out):
    """The PLL setting of ``family`` ("ice40" or "ecp5") from an ``f_in`` Hz oscillator
    whose output is the highest frequency at or below ``f_out`` Hz (the lowest VCO among
    equals); :class:`ClockUnreachable` when ``f_out`` is outside the family's range."""
    low, high = RANGES[family]
    if not low <= f_out <= high:
        raise ClockUnreachable(
            f"a {f_out / 1e6:g} MHz clock is outside the {family} PLL's range "
            f"({low / 1e6:g}-{high / 1e6:g} MHz)")
    best = None
    for setting in _candidates(family, f_in):
        f = setting.frequency
        if low <= f <= f_out * (1 + 1e-9) and (best is None or f > best.frequency):
            best = setting
    if best is None:
        raise ClockUnreachable(f"no {family} PLL setting from {f_in / 1e6:g} MHz gives "
                               f"{f_out / 1e6:g} MHz or a little less")
    return best


def _candidates(family, f_in):
    if family == "ice40":
        for divr in range(16):
            if not 10e6 <= f_in / (divr + 1) <= 133e6:
                continue
            for divf in range(128):
                vco = f_in * (divf + 1) / (divr + 1)
                if 533e6 <= vco <= 1066e6:
                    for divq in range(1, 7):
                        yield ICE40PLL(f_in, divr, divf, divq)
    else:
        for clki_div in range(1, 129):
            if f_in / clki_div < 3.125e6:
                break
            for clkfb_div in range(1, 81):
                f = f_in * clkfb_div / clki_div
                for clkop_div in range(1, 129):
                    if 400e6 <= f * clkop_div <= 800e6:
                        yield ECP5PLL(f_in, clki_div, clkfb_div, clkop_div)
                        break                # the lowest VCO of this output


class ResetTimer(Elaboratable):
    """``rst`` (a register, init 1) high while ``locked`` is low and for ``hold`` cycles
    after it rose (again), ``hold`` a power of two: the counter's top bit ends the wait, so
    its clock enable is one LUT of that bit and ``locked`` (a compare with ``hold`` ran
    7.5 ns of routing on the ECP5 at 150 MHz). Clocked by the caller's ``sync``."""

    def __init__(self, hold):
        if hold < 1 or hold & (hold - 1):
            raise ValueError(f"hold must be a power of two, not {hold!r}")
        self.hold = hold
        self.locked, self.rst = Signal(), Signal(init=1)

    def elaborate(self, platform):
        m = Module()
        timer = Signal(self.hold.bit_length())
        done = timer[-1]
        with m.If(~self.locked):
            m.d.sync += timer.eq(0)
        with m.Elif(~done):
            m.d.sync += timer.eq(timer + 1)
        m.d.sync += self.rst.eq(~(done & self.locked))
        return m


class PLLClock(Elaboratable):
    """The PLL (``setting``: :class:`ICE40PLL` or :class:`ECP5PLL`): ``clk`` its output,
    constrained to its frequency for nextpnr, and ``rst`` high (synchronous to ``clk``)
    until the PLL has locked and ``hold`` more cycles have passed (:class:`ResetTimer`;
    the iCE40's block RAMs read as zeros for about 3 us after configuration: Amaranth's own
    clock domain waits 15 us, as this does by default, rounded up to a power of two
    cycles). The caller's ``sync`` domain takes both.

    ``pin``: the oscillator's raw pin (``platform.request(..., dir="-")``), which the
    iCE40's SB_PLL40_PAD takes directly; ``clock``: the oscillator as a signal, which the
    ECP5's EHXPLLL takes (give the one the family needs)."""

    def __init__(self, setting, *, pin=None, clock=None, hold_seconds=15e-6):
        self.setting = setting
        self.pin, self.clock = pin, clock
        self.hold = _hold_cycles(hold_seconds, setting.frequency)
        self.clk, self.rst = Signal(), Signal(init=1)

    def elaborate(self, platform):
        m = Module()
        s = self.setting
        out, locked = self.clk, Signal()
        if isinstance(s, ICE40PLL):
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=s.divr, p_DIVF=s.divf,
                p_DIVQ=s.divq, p_FILTER_RANGE=s.filter_range, io_PACKAGEPIN=self.pin.io,
                i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=out, o_LOCK=locked)
        else:
            m.submodules.pll = Instance(
                "EHXPLLL", a_FREQUENCY_PIN_CLKI=f"{s.f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{s.frequency / 1e6:g}",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKI_DIV=s.clki_div, p_CLKFB_DIV=s.clkfb_div, p_CLKOP_DIV=s.clkop_div,
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_CPHASE=(s.clkop_div - 1) // 2,
                p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                i_CLKI=self.clock, i_CLKFB=out, o_CLKOP=out, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0, i_PHASESTEP=0,
                i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        platform.add_clock_constraint(out, s.frequency)
        m.d.comb += self.rst.eq(_reset_timer(m, "pll", out, self.hold, locked=locked))
        return m


class OscillatorClock(Elaboratable):
    """The board's oscillator (``clock``, a signal) as ``clk``, with ``rst`` high
    (synchronous to ``clk``) for ``hold`` cycles after configuration (:class:`ResetTimer`,
    15 us by default as :class:`PLLClock`). The caller's ``sync`` domain takes both. For the
    ECP5, whose platform domain has no reset of its own (Amaranth resets it through the GSR
    at start-up): with a reset in the logic every flip-flop ignores the GSR, as under
    :class:`PLLClock`, so :mod:`~popcorn.boards.ecp5_outreg` can pack the block RAMs'
    output registers (it packs none of a GSR domain), and the state registers Yosys
    re-encodes one-hot (:mod:`~popcorn.boards.host_link`, ignoring their initial values)
    start from their reset."""

    def __init__(self, clock, frequency, *, hold_seconds=15e-6):
        self.clock = clock
        self.hold = _hold_cycles(hold_seconds, frequency)
        self.clk, self.rst = Signal(), Signal(init=1)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.clk.eq(self.clock),
                     self.rst.eq(_reset_timer(m, "oscillator", self.clock, self.hold))]
        return m


def _hold_cycles(seconds, frequency):
    """``seconds`` at ``frequency`` Hz in cycles, rounded up to a power of two."""
    return 1 << max(0, ceil(seconds * frequency) - 1).bit_length()


def _reset_timer(m, domain, clock, hold, *, locked=None):
    """The ``rst`` of a :class:`ResetTimer` of ``hold`` cycles on ``clock``, in a local
    ``domain`` without a reset (the timer cannot reset itself); ``locked`` (None: always)
    synchronized to it."""
    m.domains += ClockDomain(domain, reset_less=True, local=True)
    m.d.comb += ClockSignal(domain).eq(clock)
    m.submodules.timer = timer = DomainRenamer(domain)(ResetTimer(hold))
    if locked is None:
        m.d.comb += timer.locked.eq(1)
    else:
        m.submodules.lock_sync = FFSynchronizer(locked, timer.locked, o_domain=domain)
    return timer.rst
