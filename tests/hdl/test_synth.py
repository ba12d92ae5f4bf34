"""popcorn.hdl.synth: every cell Yosys leaves is counted, or the count fails."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from popcorn.hdl.synth import CellCount, cell_count, synth_stat


def test_cell_count_folds_carry_and_lutram_into_lut4():
    got = cell_count("ecp5", {"LUT4": 10, "CCU2C": 3, "TRELLIS_DPR16X4": 2,
                              "TRELLIS_FF": 7, "DP16KD": 1, "$scopeinfo": 1})
    assert got == CellCount(family="ecp5", lut4=10 + 2 * 3 + 6 * 2, ff=7, carry=3, ebr=1,
                            dsp=0, seconds=0.0, lutram=2)
    assert cell_count("ice40", {"SB_LUT4": 5, "SB_CARRY": 4, "SB_DFFE": 2, "SB_DFFSR": 1,
                                "SB_RAM40_4K": 1, "SB_SPRAM256KA": 4}).to_dict() == dict(
        family="ice40", lut4=5, ff=3, carry=4, ebr=1, dsp=0, seconds=0.0, lutram=0, spram=4)


def test_cell_count_rejects_cells_it_does_not_count():
    with pytest.raises(ValueError, match="synth_stat does not count ecp5 cells L6MUX21, PFUMX"):
        cell_count("ecp5", {"LUT4": 3, "PFUMX": 1, "L6MUX21": 1})


class WideMux(wiring.Component):
    """A registered 32:1 multiplexer: without ``-nowidelut`` synth_ecp5 builds it from
    PFUMX/L6MUX21 wide-LUT cells."""
    data: In(32)
    sel: In(5)
    o: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(self.data.bit_select(self.sel, 1))
        return m


@pytest.mark.synth
def test_synth_stat_fails_on_uncounted_cells(tmp_path):
    with pytest.raises(ValueError, match="synth_stat does not count ecp5 cells .*PFUMX"):
        synth_stat(WideMux(), family="ecp5", build_dir=tmp_path)
    assert synth_stat(WideMux(), family="ecp5", build_dir=tmp_path,
                      synth_opts="-nowidelut").lutram == 0
