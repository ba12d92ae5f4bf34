"""Figures of an implementation, read from nextpnr's own output.

nextpnr writes ``--report top_report.json`` (``fmax`` and ``utilization`` per BEL type)
and its log (``top.tim``). LUT4 and flip-flop counts are not separate BELs on iCE40
(both live in ``ICESTORM_LC``), so they come from the packer's lines in the log.
"""

import json
import re
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Implementation:
    """Resources and timing of a placed-and-routed design; ``seed``: the placer's seed, a
    string (None or ``"default"``: nextpnr's own), ``seeds_tried``: the fmax (MHz) of each
    placement tried, by seed, when the build tried several
    (:func:`popcorn.boards.build.build_bitstream`)."""
    board: str
    device: str
    lut4: int
    ff: int
    logic_cells: int
    logic_cells_available: int
    ebr: int
    ebr_available: int
    spram: int
    spram_available: int
    dsp: int
    dsp_available: int
    fmax_mhz: float
    clock_mhz: float
    critical_path: dict = None
    seed: str = None
    seeds_tried: dict = None

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """The inverse of :meth:`to_dict` (after a JSON round trip too)."""
        return cls(**data)


def placements_text(tried):
    """``"default: 59.33, 1: 61.39"``: the fmax (MHz) of each placement tried, by seed."""
    return ", ".join(f"{seed}: {mhz}" for seed, mhz in tried.items())


# Where a packed cell's name stops being the design's signal: the suffixes Yosys and
# nextpnr append (SB_LUT4_O_LC, TRELLIS_FF_Q, CCU2C, $nextpnr_..., ...).
_CELL_SUFFIX = re.compile(r"(_SB_|_TRELLIS_|_LUT4_|_CCU2C|_DFFLC|_LC$|\$)")


def _signal(cell):
    """The design signal a packed cell is named after (``link.core.layer0.count0``)."""
    match = _CELL_SUFFIX.search(cell)
    return cell[:match.start()] if match and match.start() else cell


def critical_path(report):
    """Summary of the register-to-register critical path of nextpnr's report JSON:
    ``delay_ns`` (the clock period at fmax), ``logic_ns`` / ``routing_ns`` (its logic and
    routing parts, clock-to-q and setup counted as logic), ``cells`` (logic cells passed),
    ``start`` / ``end`` (the signals of the first and last cell) and ``through`` (the
    distinct signals on the way, in order). None if the report has no such path."""
    paths = [p for p in report.get("critical_paths", [])
             if p["from"].startswith("posedge") and p["to"].startswith("posedge")]
    if not paths:
        return None
    hops = paths[0]["path"]
    routing = sum(h["delay"] for h in hops if h["type"] == "routing")
    total = sum(h["delay"] for h in hops)
    through = []
    for h in hops:
        name = _signal(h["to"]["cell"])
        if not name.startswith("$nextpnr") and (not through or through[-1] != name):
            through.append(name)
    return {"delay_ns": round(total, 2), "logic_ns": round(total - routing, 2),
            "routing_ns": round(routing, 2),
            "cells": sum(1 for h in hops if h["type"] == "logic"),
            "start": _signal(hops[0]["from"]["cell"]), "end": _signal(hops[-1]["to"]["cell"]),
            "through": through}


_ICE40_LC = re.compile(r"Info:\s+(\d+) LCs used as (LUT4 only|LUT4 and DFF|DFF only)")


def parse_ice40(board, device, log_text, report):
    """:class:`Implementation` of an iCE40 design from nextpnr's log and report JSON."""
    packed = {kind: 0 for kind in ("LUT4 only", "LUT4 and DFF", "DFF only")}
    for count, kind in _ICE40_LC.findall(log_text):
        packed[kind] = int(count)
    util = report["utilization"]
    fmax, clock = _clock(report)
    return Implementation(
        board=board, device=device,
        lut4=packed["LUT4 only"] + packed["LUT4 and DFF"],
        ff=packed["LUT4 and DFF"] + packed["DFF only"],
        logic_cells=util["ICESTORM_LC"]["used"],
        logic_cells_available=util["ICESTORM_LC"]["available"],
        ebr=util["ICESTORM_RAM"]["used"], ebr_available=util["ICESTORM_RAM"]["available"],
        spram=util["ICESTORM_SPRAM"]["used"],
        spram_available=util["ICESTORM_SPRAM"]["available"],
        dsp=util["ICESTORM_DSP"]["used"], dsp_available=util["ICESTORM_DSP"]["available"],
        fmax_mhz=fmax, clock_mhz=clock, critical_path=critical_path(report))


_ECP5_LUT4 = re.compile(r"Info:\s+Total LUT4s:\s+(\d+)/")


def parse_ecp5(board, device, log_text, report):
    """:class:`Implementation` of an ECP5 design from nextpnr's log ("Total LUT4s":
    logic and carry LUTs) and report JSON (ECP5 has no SPRAM: reported as 0 of 0)."""
    util = report["utilization"]
    fmax, clock = _clock(report)
    match = _ECP5_LUT4.search(log_text)
    if match is None:
        raise ValueError("nextpnr-ecp5's log has no 'Total LUT4s' line; has its format changed?")
    return Implementation(
        board=board, device=device,
        lut4=int(match.group(1)), ff=util["TRELLIS_FF"]["used"],
        logic_cells=util["TRELLIS_COMB"]["used"],
        logic_cells_available=util["TRELLIS_COMB"]["available"],
        ebr=util["DP16KD"]["used"], ebr_available=util["DP16KD"]["available"],
        spram=0, spram_available=0,
        dsp=util["MULT18X18D"]["used"], dsp_available=util["MULT18X18D"]["available"],
        fmax_mhz=fmax, clock_mhz=clock, critical_path=critical_path(report))


def _clock(report):
    """(achieved fmax, constraint) in MHz of the design's single clock."""
    clocks = report["fmax"]
    if len(clocks) != 1:
        raise ValueError(f"expected one clock domain in nextpnr's report, found {sorted(clocks)}")
    (entry,) = clocks.values()
    return round(entry["achieved"], 2), round(entry["constraint"], 2)


def load(family, board, device, build_dir):
    """Parse ``top.tim`` and ``top_report.json`` of a finished build in ``build_dir``."""
    log_text = (build_dir / "top.tim").read_text()
    report = json.loads((build_dir / "top_report.json").read_text())
    parse = {"ice40": parse_ice40, "ecp5": parse_ecp5}[family]
    return parse(board, device, log_text, report)
