"""Synthesis sweep of ROMs in block RAM: Yosys's tiling and read multiplexer beside
:func:`popcorn.hdl.estimates.rom_resources`.

Each point is a ``width`` x ``depth`` ROM (``amaranth.lib.memory.Memory``, a random image:
every column varies) with one synchronous read port with an enable, as a weight ROM is
read, synthesized alone with the YoWASP Yosys (``synth_ice40``; ``synth_ecp5
-nowidelut``). The fitted points take 2 to 16 address ranges (``rom_tiling``'s rows); the
held-out ones (marked *) are the shapes first seen off: the FINN TFC's first layer at one
lane of 16 bits (16 x 3136) and neighbours.

    PYTHONPATH=. python benchmarks/sweep_roms.py             # synthesize, write the tables
    PYTHONPATH=. python benchmarks/sweep_roms.py --fit       # READ_MUX_LUT4 from the .json
    PYTHONPATH=. python benchmarks/sweep_roms.py --rerender  # the tables from the .json

Writes ``reports/blocks/rom_estimates.md`` and ``.json``.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from _common import SYNTH_OPTS, sweep_main
from popcorn.hdl.estimates import rom_resources, rom_tiling
from popcorn.hdl.synth import synth_stat

FAMILIES = ("ice40", "ecp5")
POINTS = {
    "ice40": [(12, 3615), (12, 1284), (12, 7204), (12, 1025), (8, 11274), (12, 3356),
              (6, 15381), (12, 2061), (6, 19488), (12, 5391), (4, 23558), (12, 3097),
              (4, 27665), (16, 7204), (3, 30736)],
    "ecp5": [(4, 32290), (12, 1025), (20, 7204), (12, 9239), (12, 10756), (12, 6168),
             (12, 15381), (12, 4133), (12, 19488), (12, 21523), (12, 22559), (12, 12310),
             (12, 27665), (12, 7204), (12, 31772)],
}
HELD_OUT = {
    "ice40": [(16, 3136), (8, 3136), (12, 3136), (16, 6400), (1, 9000), (64, 640),
              (16, 512), (16, 2048)],
    "ecp5": [(16, 3136), (18, 3000), (72, 1536), (8, 6000), (36, 1600), (64, 640)],
}
OUT = Path("reports/blocks/rom_estimates.md")


class ReadRom(wiring.Component):
    """A ``width`` x ``depth`` ROM of random words (seeded) and its read port: ``addr``,
    ``en`` in, ``data`` out (registered in the port)."""

    def __init__(self, width, depth, seed=0):
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2, (depth, width))
        self._init = [int(row @ (1 << np.arange(width, dtype=object))) for row in bits]
        self._width, self._depth = width, depth
        super().__init__({"addr": In(range(depth)), "en": In(1), "data": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = memory.Memory(shape=self._width, depth=self._depth,
                                               init=self._init)
        port = rom.read_port()
        m.d.comb += [port.addr.eq(self.addr), port.en.eq(self.en), self.data.eq(port.data)]
        return m


def fit(rows):
    """Least-squares :data:`~popcorn.hdl.estimates.READ_MUX_LUT4` (through 0) of the fitted
    rows of 5 address ranges or more: LUT4 against ``(ranges - 1) * width``."""
    factors = {}
    for family in FAMILIES:
        mine = [(rom_tiling(r["width"], r["depth"], family)[1], r) for r in rows
                if r["family"] == family and not r["held_out"]]
        x = np.array([(ranges - 1) * r["width"] for ranges, r in mine if ranges >= 5],
                     dtype=float)
        y = np.array([r["measured"]["lut4"] for ranges, r in mine if ranges >= 5],
                     dtype=float)
        factors[family] = round(float(x @ y / (x @ x)), 2)
    return factors


def render(rows):
    lines = ["# ROMs in block RAM: Yosys alone beside the estimate", "",
             "Written by `benchmarks/sweep_roms.py`: a ROM of random words with one "
             "synchronous read port synthesized alone (`synth_ice40`; `synth_ecp5 "
             "-nowidelut`), beside `popcorn.hdl.estimates.rom_resources` (blocks and "
             "address ranges from `rom_tiling`, the read multiplexer's LUT4 from "
             "`read_mux_lut4`). Held-out points (not fitted) are marked *.", "",
             "| family | width | depth | ranges | EBR | estimate | LUT4 | estimate | error | "
             "FF | estimate |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    errors = []
    for r in rows:
        m = r["measured"]
        e = rom_resources(r["width"], r["depth"], family=r["family"])
        ranges = rom_tiling(r["width"], r["depth"], r["family"])[1]
        err = (e["lut4"] - m["lut4"]) / m["lut4"] if m["lut4"] else 0.0
        errors.append(abs(err))
        lines.append(f"| {r['family']}{' *' if r['held_out'] else ''} | {r['width']} | "
                     f"{r['depth']} | {ranges} | {m['ebr']} | {e['ebr']} | {m['lut4']} | "
                     f"{e['lut4']} | {100 * err:+.1f} % | {m['ff']} | {e['ff']} |")
    lines += ["", f"LUT4: mean error {100 * np.mean(errors):.1f} %, max "
                  f"{100 * max(errors):.1f} %."]
    return "\n".join(lines) + "\n"


def measure():
    """The rows of every point, synthesized."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in FAMILIES:
            for held_out, shapes in ((False, POINTS[family]), (True, HELD_OUT[family])):
                for width, depth in shapes:
                    got = synth_stat(ReadRom(width, depth), family=family,
                                     build_dir=Path(tmp) / f"{family}_{width}_{depth}",
                                     synth_opts=SYNTH_OPTS[family])
                    measured = {"lut4": got.lut4, "ff": got.ff, "ebr": got.ebr}
                    rows.append(dict(family=family, width=width, depth=depth,
                                     held_out=held_out, measured=measured))
                    print(family, width, depth, measured, flush=True)
    return rows


if __name__ == "__main__":
    sweep_main(sys.argv[1:], OUT, fit, render, measure)
