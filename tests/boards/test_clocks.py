"""The PLL's settings, the start-up resets and designs clocked by them, built by the real
tools."""

import json
import re

import pytest
from amaranth.sim import Simulator

from popcorn.boards.build import TimingFailed, build_bitstream
from amaranth.hdl import ClockSignal, Module

from popcorn.boards.clocks import (ClockUnreachable, ECP5PLL, ICE40PLL, OscillatorClock,
                                   PLLClock, ResetTimer, pll_settings)
from popcorn.boards.fit import place_weight_roms
from popcorn.boards.top import BoardTop, design_clock
from popcorn.golden.examples import random_network
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network


@pytest.mark.parametrize("mhz, divr, divf, divq, filter_range", [
    (48, 0, 63, 4, 1), (60, 0, 79, 4, 1), (79.5, 0, 52, 3, 1)])
def test_ice40_settings_are_icepll_s(mhz, divr, divf, divq, filter_range):
    """icestorm's `icepll -i 12 -o MHZ` gives these (its 80 MHz is 79.5)."""
    s = pll_settings("ice40", 12e6, mhz * 1e6)
    assert (s.divr, s.divf, s.divq, s.filter_range) == (divr, divf, divq, filter_range)
    assert s.frequency == mhz * 1e6


@pytest.mark.parametrize("family, f_in", [("ice40", 12e6), ("ecp5", 25e6)])
@pytest.mark.parametrize("mhz", [20, 33.3, 48, 60, 66, 80, 100, 150, 200])
def test_settings_within_the_pll_s_ranges_and_at_most_the_target(family, f_in, mhz):
    s = pll_settings(family, f_in, mhz * 1e6)
    f = s.frequency
    assert 0.95 * mhz * 1e6 <= f <= mhz * 1e6     # ECP5 33.3: 32.14 (25 * 9 / 7)
    if isinstance(s, ICE40PLL):
        assert 10e6 <= s.f_pfd <= 133e6 and 533e6 <= s.f_pfd * (s.divf + 1) <= 1066e6
        assert 0 <= s.divr < 16 and 0 <= s.divf < 128 and 1 <= s.divq <= 6
    else:
        assert isinstance(s, ECP5PLL)
        assert f_in / s.clki_div >= 3.125e6 and 400e6 <= f * s.clkop_div <= 800e6
        assert 1 <= s.clki_div <= 128 and 1 <= s.clkfb_div <= 80 and 1 <= s.clkop_div <= 128


@pytest.mark.parametrize("hold", [1, 2, 8])
def test_reset_is_held_until_hold_cycles_after_lock(hold):
    """rst is high from the start, while locked is low and until `hold` cycles after
    locked rose, then low (registered: the cycle after); a lock lost restarts the wait."""
    dut = ResetTimer(hold)
    trace = []

    async def bench(ctx):
        for locked in [0] * 3 + [1] * (hold + 3) + [0] * 2 + [1] * (hold + 3):
            ctx.set(dut.locked, locked)
            trace.append(ctx.get(dut.rst))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    wait = [1] * (hold + 1) + [0] * 2     # rst seen in the cycles locked is high
    assert trace == [1] * 3 + wait + [0, 1] + wait


def test_the_oscillator_s_reset_is_held_for_hold_cycles_from_the_start():
    """OscillatorClock: rst high from configuration for `hold` cycles of its clock (15 us
    at 25 MHz: 512), then low for good."""
    m = Module()
    m.submodules.clock = clock = OscillatorClock(ClockSignal("sync"), 25e6)
    trace = []

    async def bench(ctx):
        for _ in range(clock.hold + 8):
            trace.append(ctx.get(clock.rst))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1 / 25e6)
    sim.add_testbench(bench)
    sim.run()
    assert clock.hold == 512
    assert trace == [1] * (clock.hold + 1) + [0] * 7


def test_the_reset_wait_is_at_least_15_us_in_a_power_of_two_cycles():
    for mhz in (20, 48, 60, 150):
        hold = PLLClock(pll_settings("ecp5" if mhz == 150 else "ice40",
                                     25e6 if mhz == 150 else 12e6, mhz * 1e6)).hold
        f = mhz * 1e6
        assert hold & (hold - 1) == 0 and 15e-6 <= hold / f < 30e-6


def test_unreachable_clocks_are_refused():
    with pytest.raises(ClockUnreachable, match=r"a 300 MHz clock is outside the ice40 PLL's "
                                               r"range \(16-275 MHz\)"):
        pll_settings("ice40", 12e6, 300e6)
    with pytest.raises(ClockUnreachable, match="outside the ecp5 PLL's range"):
        pll_settings("ecp5", 25e6, 1e6)
    assert design_clock("icebreaker") == 12e6 and design_clock("ulx3s-85f", 60e6) == 60e6
    with pytest.raises(ValueError, match=r"reads its weights from the flash at up to 85 MHz, "
                                         r"not 99 MHz"):
        design_clock("icebreaker", 100e6, flash=True)


def accelerator():
    return DataflowAccelerator(map_network(random_network("bnn", seed=0, layout="dense"),
                                           target_cycles=8))


@pytest.mark.synth
@pytest.mark.parametrize("board, mhz, pll", [("icebreaker", 30, "SB_PLL40_PAD"),
                                             ("ulx3s-85f", 50, "EHXPLLL")])
def test_a_design_on_the_pll_is_timed_at_its_clock(board, mhz, pll, tmp_path):
    """nextpnr times the design at the PLL's clock (its report, not ours, says so) and the
    netlist holds the family's PLL; at a clock it cannot reach, the build fails naming the
    critical path."""
    _, impl = build_bitstream(BoardTop(accelerator(), clock_hz=mhz * 1e6), board=board,
                              build_dir=tmp_path / "ok")
    assert impl.clock_mhz == pytest.approx(mhz, abs=0.05) and impl.fmax_mhz >= impl.clock_mhz
    cells = json.loads((tmp_path / "ok" / "top_stat.json").read_text())["design"]
    assert cells["num_cells_by_type"].get(pll) == 1
    if board == "icebreaker":
        with pytest.raises(TimingFailed, match=r"fmax [\d.]+ MHz is below the 2\d\d.\d+ MHz "
                                               r"clock \(critical path [\d.]+ ns, \d+ logic "
                                               r"cells, from `[^`]+` to `[^`]+`\)"):
            build_bitstream(BoardTop(accelerator(), clock_hz=250e6), board=board,
                            build_dir=tmp_path / "fast")


@pytest.mark.synth
def test_a_default_ecp5_build_resets_in_logic_and_packs_its_block_ram_registers(tmp_path):
    """Without a PLL the ECP5 design still resets from the oscillator's timer, not through
    the GSR (no SGSR cell, no flip-flop on the GSR), so ecp5_outreg packs every DP16KD read
    behind a register, as under the PLL (Amaranth's GSR domain: none); the reset reaches
    the flip-flops on a global network (nextpnr's report)."""
    plan = place_weight_roms(map_network(random_network("bnn", seed=0, layout="dense"),
                                         target_cycles=64), "ulx3s-85f")
    build_bitstream(BoardTop(DataflowAccelerator(plan)), board="ulx3s-85f", build_dir=tmp_path)
    cells = json.loads((tmp_path / "top_stat.json").read_text())["design"]
    assert "SGSR" not in cells["num_cells_by_type"]
    netlist = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
    assert {c["parameters"].get("GSR") for c in netlist.values()
            if c["type"] == "TRELLIS_FF"} == {"DISABLED"}
    log = (tmp_path / "build.log").read_text()
    packed, reads = map(int, re.search(r"ecp5_outreg: (\d+) of (\d+) DP16KD", log).groups())
    assert reads >= 1 and packed == reads
    assert re.search(r"routing clock net rst using global \d+", (tmp_path / "top.tim").read_text())
