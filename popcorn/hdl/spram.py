"""The iCE40 UP5K's single-port RAMs as one wide memory."""

from amaranth.hdl import ClockSignal, Const, Instance, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

SPRAM_BITS = 16
SPRAM_DEPTH = 16384


class Spram(wiring.Component):
    """``width // 16`` ``SB_SPRAM256KA`` side by side: ``width`` x 16 384 bits, one access
    per cycle (single port: a write or a read), no initial content (SPRAM has no bitstream
    image; its content is undefined until written).

    Ports: ``addr`` (14 bits), ``we`` (write ``wdata`` at ``addr``; else read),
    ``rdata``: the word at the ``addr`` of the previous cycle's read (one cycle of latency;
    undefined after a write). Instantiated directly, as Yosys does not infer SPRAM from an
    Amaranth memory (../shared/TOOLCHAIN.md); simulation uses Yosys's cell model
    (:func:`popcorn.sim.verilog.cell_model`).
    """

    def __init__(self, width=64):
        if width % SPRAM_BITS or not 0 < width <= 4 * SPRAM_BITS:
            raise ValueError(f"width must be 16, 32, 48 or 64 bits (up to four SPRAMs of 16), "
                             f"not {width!r}")
        super().__init__({
            "addr": In(14),
            "we": In(1),
            "wdata": In(width),
            "rdata": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        for n in range(len(self.wdata) // SPRAM_BITS):
            bits = slice(n * SPRAM_BITS, (n + 1) * SPRAM_BITS)
            m.submodules[f"spram{n}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=self.addr, i_DATAIN=self.wdata[bits], i_MASKWREN=Const(0b1111, 4),
                i_WREN=self.we, i_CHIPSELECT=Const(1, 1), i_CLOCK=ClockSignal(),
                i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1), i_POWEROFF=Const(1, 1),
                o_DATAOUT=self.rdata[bits])
        return m
