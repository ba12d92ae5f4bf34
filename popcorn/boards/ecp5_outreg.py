"""Block RAM output registers on the ECP5: a step between Yosys and nextpnr.

Yosys 0.70 maps every ECP5 block RAM read port as a DP16KD with ``REGMODE NOREG``: its data
comes out 5.61 ns after the clock (nextpnr's speed-6 model), so a register fed straight by it
caps the clock near 150 MHz whatever the logic (the digits demo on the ULX3S: 6.71 ns, 0
cells, DP16KD to the weight register). With ``REGMODE OUTREG`` the block's own output
register gives the data 0.97 ns after the clock. No Yosys pass merges a register into the
block, so :func:`pack_output_registers` does it in the netlist Yosys writes (``top.json``):
a read port whose every used data bit feeds exactly one flip-flop, and nothing else, gets
``OUTREG`` and those flip-flops are removed, their outputs now driven by the block.

A port is packed only when the result behaves the same whichever way the block gates its
output register (by ``CE``, by ``OCE`` or by both: Lattice TN1264 names ``OCE`` the output
clock enable): the flip-flops' clock enable is the read port's ``CE`` (the same net, its
complement through a ``CEMUX INV`` against a LUT4 inverter, or both always on), and
``OCE`` is wired to the ``CE`` net; the flip-flops have no set/reset (``LSR`` constant 0)
and the port none either (``RST`` constant 0); same clock, same polarity; the flip-flops
start at 0 (``REGSET RESET``) and both sides ignore the global set/reset (``GSR
DISABLED``), as the block's output register starts at 0. In the pseudo-dual-port mode
(``DATA_WIDTH_B`` 36, Yosys's ``$__PDPW16KD_``: port A writes, port B reads a word on both
ports' data pins) the read is port B's: the PDPW16KD primitive registers its 36-bit word on
the read clock with its one output clock enable (``CLKR``, ``OCER``: Yosys's ``CLKB``,
``OCEB``), and both ``REGMODE_A`` and ``REGMODE_B`` become ``OUTREG``, as Lattice's tools
configure a PDPW16KD with ``REGMODE OUTREG``.

Run as ``python -m popcorn.boards.ecp5_outreg top.json``: the netlist is rewritten in
place and one line says how many ports were packed.
"""

import json
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ReadPort:
    """A DP16KD read: its data ``pins``, the port whose clock, clock enables, reset and chip
    selects it uses (``port``) and the ports whose ``REGMODE`` it sets (``registers``)."""
    pins: tuple
    port: str
    registers: tuple


def read_ports(params):
    """The :class:`ReadPort` of a DP16KD with ``params``: A and B as true dual port, the
    one 36-bit read of the pseudo-dual-port mode (``DATA_WIDTH_B`` 36), none when port A
    is 36 bits wide (not a mode Yosys maps)."""
    def pins(port):
        return tuple(f"DO{port}{k}" for k in range(18))

    if _int(params.get("DATA_WIDTH_B", 18)) == 36:
        return [ReadPort(pins("A") + pins("B"), "B", ("A", "B"))]
    if _int(params.get("DATA_WIDTH_A", 18)) == 36:
        return []
    return [ReadPort(pins(p), p, (p,)) for p in ("A", "B")]


def pack_output_registers(netlist):
    """Pack flip-flops into the DP16KD output registers of ``netlist`` (a Yosys JSON netlist,
    as a dict, changed in place) under the rules of this module. Returns ``(packed,
    reads)``: the reads given ``OUTREG`` and the DP16KD reads whose data is used."""
    packed = reads = 0
    for module in netlist["modules"].values():
        cells = module["cells"]
        readers, driver = _fanout(module)
        for name in [n for n, c in cells.items() if c["type"] == "DP16KD"]:
            for read in read_ports(cells[name]["parameters"]):
                flops = _read_flops(cells, readers, cells[name], read)
                if flops is None:
                    continue
                reads += 1
                if flops and _mergeable(cells, driver, cells[name], read, flops):
                    _merge(cells, cells[name], read, flops)
                    packed += 1
    return packed, reads


def _fanout(module):
    """``(readers, driver)``: for each net bit, the ``(cell, pin)`` inputs it feeds (a
    module output as ``(None, port)``) and the cell driving it."""
    readers, driver = {}, {}
    for port, info in module.get("ports", {}).items():
        if info["direction"] != "input":
            for bit in info["bits"]:
                readers.setdefault(bit, []).append((None, port))
    for name, cell in module["cells"].items():
        for pin, bits in cell["connections"].items():
            direction = cell["port_directions"][pin]
            for bit in bits:
                if not isinstance(bit, int):
                    continue
                if direction == "output":
                    driver[bit] = name
                else:
                    readers.setdefault(bit, []).append((name, pin))
    return readers, driver


def _read_flops(cells, readers, ram, read):
    """``{data pin: flip-flop name}`` for the used data bits of ``read``; an empty dict
    when a used bit feeds anything but exactly one flip-flop's ``DI`` or the read's output
    register is already on; None when the read's data is not used."""
    used = {}
    for pin in read.pins:
        bits = ram["connections"].get(pin, [])
        if bits and isinstance(bits[0], int) and bits[0] in readers:
            used[pin] = readers[bits[0]]
    if not used:
        return None
    if any(ram["parameters"].get(f"REGMODE_{p}", "NOREG") != "NOREG" for p in read.registers):
        return {}
    flops = {}
    for pin, sinks in used.items():
        if len(sinks) != 1 or sinks[0][0] is None \
                or cells[sinks[0][0]]["type"] != "TRELLIS_FF" or sinks[0][1] != "DI":
            return {}
        flops[pin] = sinks[0][0]
    return flops


def _mergeable(cells, driver, ram, read, flops):
    """Whether the flip-flops ``flops`` (``{pin: name}``) behave as ``ram``'s output
    register of ``read`` would: see the module docstring."""
    conn, params, port = ram["connections"], ram["parameters"], read.port
    clock, enable = conn[f"CLK{port}"], conn[f"CE{port}"]
    if params.get(f"CLK{port}MUX", f"CLK{port}") != f"CLK{port}" \
            or _param(params, "GSR") != "DISABLED" or conn.get(f"RST{port}") != ["0"] \
            or any(conn.get(f"CS{port}{k}", ["0"]) != ["0"] for k in range(3)):
        return False
    first = cells[next(iter(flops.values()))]
    ff_enable = (_param(first["parameters"], "CEMUX"), first["connections"].get("CE"))
    for name in flops.values():
        ff = cells[name]
        p, c = ff["parameters"], ff["connections"]
        if c["CLK"] != clock or _param(p, "CLKMUX") != "CLK" or c.get("LSR", ["0"]) != ["0"] \
                or _param(p, "GSR") != "DISABLED" or _param(p, "REGSET") != "RESET" \
                or (_param(p, "CEMUX"), c.get("CE")) != ff_enable:
            return False
    mux, ce = ff_enable
    if mux == "1":
        return enable == ["1"]
    if mux == "CE":
        return ce == enable
    if mux == "INV":
        return isinstance(enable[0], int) and _inverts(cells, driver.get(enable[0]), ce[0])
    return False


def _inverts(cells, name, bit):
    """Whether cell ``name`` is a LUT4 whose output is the complement of net ``bit`` for
    every value of its other inputs."""
    if name is None or cells[name]["type"] != "LUT4":
        return False
    lut = cells[name]
    init = _int(lut["parameters"]["INIT"])
    pins = [lut["connections"][p][0] for p in ("A", "B", "C", "D")]
    if bit not in pins:
        return False
    for index in range(16):
        values = [(index >> k) & 1 for k in range(4)]
        consistent = all(
            (v == int(pin) if pin in ("0", "1") else
             v == values[pins.index(bit)] if pin == bit else True)
            for v, pin in zip(values, pins))
        if consistent and (init >> index) & 1 == values[pins.index(bit)]:
            return False
    return True


def _merge(cells, ram, read, flops):
    """Give ``ram``'s ``read`` its output register, enabled with its read enable, in place
    of ``flops``: each data pin now drives its flip-flop's output net."""
    conn = ram["connections"]
    conn[f"OCE{read.port}"] = list(conn[f"CE{read.port}"])
    for p in read.registers:
        ram["parameters"][f"REGMODE_{p}"] = "OUTREG"
    for pin, name in flops.items():
        conn[pin] = list(cells.pop(name)["connections"]["Q"])


def _param(params, key):
    """A string parameter without the space Yosys appends to strings of 0s and 1s."""
    value = params.get(key, "")
    return value.rstrip() if isinstance(value, str) else value


def _int(value):
    """An integer parameter: Yosys writes them as binary strings."""
    return value if isinstance(value, int) else int(value.strip(), 2)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m popcorn.boards.ecp5_outreg NETLIST.json")
    with open(argv[0]) as f:
        netlist = json.load(f)
    packed, reads = pack_output_registers(netlist)
    with open(argv[0], "w") as f:
        json.dump(netlist, f)
    print(f"ecp5_outreg: {packed} of {reads} DP16KD reads given output registers")


if __name__ == "__main__":
    main()
