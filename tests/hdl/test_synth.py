"""popcorn.hdl.synth: every cell Yosys leaves is counted, or the count fails; a register
without power-up value (popcorn.hdl.no_init) is synthesized as one."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from popcorn.hdl.no_init import NO_INIT
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


class BufferRead(wiring.Component):
    """A block RAM's asynchronous read into a reset-less register (a gathering engine's
    input buffer; its word XORed with ``mask``, as the engine's XNOR level reads it):
    Yosys merges the register into the read port, with its initial value."""
    waddr: In(8)
    wdata: In(16)
    we: In(1)
    raddr: In(8)
    en: In(1)
    mask: In(16)
    o: Out(16)

    def __init__(self, attrs=None):
        self._attrs = attrs
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=16, depth=256, init=[],
                                               attrs={"no_rw_check": 1})
        read, write = mem.read_port(domain="comb"), mem.write_port()
        word = Signal(16, reset_less=True, attrs=self._attrs)
        m.d.comb += [write.addr.eq(self.waddr), write.data.eq(self.wdata),
                     write.en.eq(self.we), read.addr.eq(self.raddr), self.o.eq(word ^ self.mask)]
        with m.If(self.en):
            m.d.sync += word.eq(read.data)
        return m


@pytest.mark.synth
@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_a_read_register_without_power_up_value_needs_no_emulation(family, tmp_path):
    """With :data:`NO_INIT` the read register is the block RAM's own. With its initial
    value kept, the iCE40's block RAM (which has none) gets it emulated: a flip-flop set by
    the first read (and a LUT4 input on every data bit). The attribute must reach Yosys
    through the Verilog."""
    opts = "-nowidelut" if family == "ecp5" else ""
    bare = synth_stat(BufferRead(NO_INIT), family=family, synth_opts=opts,
                      build_dir=tmp_path / "no_init")
    kept = synth_stat(BufferRead(), family=family, synth_opts=opts, build_dir=tmp_path / "init")
    assert (bare.ebr, bare.ff) == (1, 0)
    assert (kept.ebr, kept.ff) == (1, 1 if family == "ice40" else 0)
