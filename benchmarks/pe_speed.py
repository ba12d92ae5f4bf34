"""Speed benchmark of the binary-base PE: N = SIMD = 256, pm1 x pm1, on real boards.

For each board (iCEBreaker UP5K, ULX3S ECP5-85F) the PE is built behind the UART link
(:class:`popcorn.boards.top.BoardTop`, so nothing is optimized away) with increasing
pipeline depth until fmax reaches the target; every figure comes from a tool run:

* ``board_lut4`` / ``board_ff`` / ``fmax_mhz``: nextpnr on the whole board design;
* ``link_lut4``: nextpnr on the same board top around a register-only pass-through core
  of the same port widths (UART, width converters, glue);
* ``pe_lut4 = board_lut4 - link_lut4``: the PE's LUT4 as placed (the budget of <= 2.5 per
  input bit is checked on this figure);
* ``pe_lut4_yosys_alone`` / ``pe_ff``: Yosys ``stat`` of the PE synthesized on its own
  (``synth_ice40`` / ``synth_ecp5``; on ECP5 a ``CCU2C`` counts as 2 LUT4);
* ``alone_fmax_mhz`` / ``alone_lut4``: nextpnr on the PE alone in :class:`LFSRHarness`
  (registered inputs and output, no UART link), the PE's own fmax when the link limits
  ``fmax_mhz``.

The PE is built with :data:`CARRY_IN` per board (see ``BinaryPE``'s ``carry_in``).

Writes ``reports/blocks/pe_speed.md`` and ``.json``.

    PYTHONPATH=. python benchmarks/pe_speed.py [--boards icebreaker ulx3s-85f]
        [--pipelines 2 3 4 5] [--all]
"""

import argparse
import json
import sys
import time
from pathlib import Path

from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value, signed
from amaranth.lib import io

from _common import SYNTH_OPTS, FlatStreams, PassThrough
from popcorn.boards.build import build_bitstream
from popcorn.boards.top import BoardTop
from popcorn.hdl.estimates import estimate_pe
from popcorn.hdl.pe import BinaryPE, pe_output_width
from popcorn.hdl.synth import synth_stat

TARGETS_MHZ = {"icebreaker": 80.0, "ulx3s-85f": 250.0}   # issue 12
# Unpipelined XNOR-popcount PE, N = 256, measured before this work (TOOLCHAIN.md).
BASELINE = {"icebreaker": {"lut4": 707, "fmax_mhz": 22.8},
            "ulx3s-85f": {"lut4": 1241, "fmax_mhz": 59.6}}
FAMILY = {"icebreaker": "ice40", "ulx3s-85f": "ecp5"}
LUT_PER_BIT = 2.5
# Carry-in trees (BinaryPE(carry_in=True)) on ECP5 only: on iCE40 they save LUT4 but
# the carry-ins entering SB_CARRY chains cost the 80 MHz (BinaryPE's docstring).
CARRY_IN = {"icebreaker": False, "ulx3s-85f": True}
ROOT = Path(__file__).resolve().parent.parent


_LINK = {}


class LFSRHarness(Elaboratable):
    """The PE alone on a board, for its own fmax: its input payload is a shift register as
    wide as the payload, fed one bit a cycle by a 16-bit LFSR (x^16 + x^14 + x^13 + x^11
    + 1); ``i.valid`` and ``o.ready`` are two other LFSR bits (registers, so the PE's
    stall logic stays); ``o.valid`` and the result bits are XOR-reduced into one register
    driving the board's first LED. Every PE input and output is a register, so the
    critical path measures the PE (or the XOR of its 11 output bits)."""

    def __init__(self, core):
        self.core = core

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = self.core
        width = len(Value.cast(pe.i.payload))
        lfsr = Signal(16, init=1, name="harness_lfsr")
        shift = Signal(width, name="harness_shift", reset_less=True)
        out = Signal(name="harness_out")
        m.d.sync += [
            lfsr.eq(Cat(lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10], lfsr[:15])),
            shift.eq(Cat(lfsr[15], shift[:-1])),
            out.eq(Value.cast(pe.o.payload).xor() ^ pe.o.valid),
        ]
        m.d.comb += [pe.i.payload.eq(shift), pe.i.valid.eq(lfsr[3]), pe.o.ready.eq(lfsr[7])]
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += led.o.eq(out)
        return m


def link_cost(board, in_width, out_shape, build_root):
    """nextpnr's LUT4/FF of the board top around a :class:`PassThrough` core (cached)."""
    key = (board, in_width, out_shape.width)
    if key not in _LINK:
        _, impl = build_bitstream(BoardTop(PassThrough(in_width, out_shape)), board=board,
                                  build_dir=build_root / f"{board}_link_{in_width}_{out_shape.width}")
        _LINK[key] = impl
    return _LINK[key]


def critical_path(build_dir, pe="link.core.core", outside="link"):
    """Where nextpnr's critical clock-to-clock path runs, by its two end cells: ``"PE"``
    when both are cells of the PE (names starting with ``pe``), ``outside`` when neither
    is, else ``f"{outside}-PE"``; with the end cells. Cells are named after nets, so
    LUTs merged across the boundary may carry either side's names: only the ends decide,
    and a flip-flop named after the PE's input port (``pe.i__...``) is the register
    driving it, outside the PE (which does not register its inputs)."""
    report = json.loads((build_dir / "top_report.json").read_text())
    for path in report["critical_paths"]:
        if "clk" in path["from"] and "clk" in path["to"]:
            cells = [step["to"]["cell"] for step in path["path"] if "to" in step]
            inside = [c.startswith(pe) and not c.startswith(f"{pe}.i__")
                      for c in (cells[0], cells[-1])]
            where = "PE" if all(inside) else f"{outside}-PE" if any(inside) else outside
            return where, f"{cells[0]} -> {cells[-1]}"
    return "?", ""


def measure(board, simd, pipeline, group, build_root, encodings=("pm1", "pm1")):
    kw = dict(simd=simd, folds=1, weight_encoding=encodings[0], act_encoding=encodings[1],
              pipeline=pipeline, group=group, carry_in=CARRY_IN[board])
    tag = (f"{board}_n{simd}_p{pipeline}_g{group}_{encodings[0]}x{encodings[1]}"
           f"{'_cin' if CARRY_IN[board] else ''}")
    start = time.monotonic()
    alone = synth_stat(BinaryPE(**kw), family=FAMILY[board], build_dir=build_root / tag / "alone",
                       synth_opts=SYNTH_OPTS[FAMILY[board]])
    _, impl = build_bitstream(BoardTop(FlatStreams(BinaryPE(**kw))), board=board,
                              build_dir=build_root / tag / "board")
    _, harness = build_bitstream(LFSRHarness(BinaryPE(**kw)), board=board,
                                 build_dir=build_root / tag / "harness")
    link = link_cost(board, 2 * simd, signed(pe_output_width(simd)), build_root)
    est = estimate_pe(**kw, family=FAMILY[board])
    where, ends = critical_path(build_root / tag / "board")
    alone_where, alone_ends = critical_path(build_root / tag / "harness", pe="pe",
                                            outside="harness")
    row = {
        "board": board, "device": impl.device, "simd": simd, "pipeline": pipeline,
        "group": group, "carry_in": CARRY_IN[board],
        "weight_encoding": encodings[0], "act_encoding": encodings[1],
        "latency": pipeline + 2,
        "pe_lut4": impl.lut4 - link.lut4, "pe_ff": alone.ff,
        "pe_lut4_per_bit": round((impl.lut4 - link.lut4) / simd, 3),
        "pe_lut4_yosys_alone": alone.lut4,
        "board_lut4": impl.lut4, "board_ff": impl.ff, "link_lut4": link.lut4,
        "link_ff": link.ff,
        "fmax_mhz": impl.fmax_mhz, "target_mhz": TARGETS_MHZ[board],
        "critical_path_in": where, "critical_path": ends,
        "alone_fmax_mhz": harness.fmax_mhz, "alone_lut4": harness.lut4,
        "alone_ff": harness.ff, "alone_critical_path_in": alone_where,
        "alone_critical_path": alone_ends,
        "est_lut4": est["lut4"], "est_ff": est["ff"],
        "synth_opts": SYNTH_OPTS[FAMILY[board]],
        "seconds": round(time.monotonic() - start, 1),
    }
    row["meets_fmax"] = row["fmax_mhz"] >= row["target_mhz"]
    row["meets_fmax_alone"] = row["alone_fmax_mhz"] >= row["target_mhz"]
    row["meets_lut"] = max(row["pe_lut4"], alone.lut4) <= LUT_PER_BIT * simd
    print(json.dumps(row), flush=True)
    return row


def markdown(rows, chosen):
    lines = [
        "# Binary-base PE speed benchmark (N = SIMD = 256, pm1 x pm1, 1 fold)",
        "",
        "Generated by `benchmarks/pe_speed.py`; every number is from a tool run.",
        "`board LUT4/FF`, `fmax`: nextpnr on the PE behind the UART link (`BoardTop`);",
        "`link LUT4`: nextpnr on the same top around a register-only pass-through core;",
        f"`PE LUT4` = board - link (the <= {LUT_PER_BIT} LUT4/bit budget is checked on it); "
        "`PE alone`:",
        "Yosys `stat` of the PE synthesized on its own (ECP5: CCU2C = 2 LUT4);",
        "`PE FF`: Yosys, PE alone. On ECP5 nextpnr's count (TRELLIS_COMB) also holds the",
        "route-through LUTs it adds while packing flip-flops, so board - link can exceed the",
        "PE's own logic LUT4 (PE alone); the budget is checked on the larger of the two.",
        "`alone fmax`, `alone LUT4`: nextpnr on the PE without the link, in `LFSRHarness`",
        "(inputs from a shift register fed by an LFSR, `i.valid`/`o.ready` from LFSR bits,",
        "output XOR-reduced into one register on the first LED; LUT4 includes the LFSR and",
        "the XOR): the PE's own speed when the link limits `fmax`.",
        "Yosys options: iCE40 default, ECP5 `-nowidelut` (see `benchmarks/_common.py`).",
        "`path in`: where nextpnr's critical path starts and ends: `PE`, `link` (UART and",
        "width converters) or `link-PE` (one end in each); `alone path in`: `PE`,",
        "`harness` (LFSR, input shift register, output XOR) or `harness-PE`.",
        f"Targets (issue 12): >= {TARGETS_MHZ['icebreaker']:g} MHz on UP5K, "
        f">= {TARGETS_MHZ['ulx3s-85f']:g} MHz on ECP5, <= {LUT_PER_BIT} LUT4 per input bit;",
        "`meets`: the LUT4 budget and the fmax behind the link / alone.",
        "`carry-in`: `BinaryPE(carry_in=...)` (the tree adders take element bits as carry-in).",
        "Baseline (TOOLCHAIN.md, unpipelined XNOR-popcount PE, N=256): 707 LUT4 / 22.8 MHz on",
        "UP5K, 1241 LUT4 / 59.6 MHz on ECP5.",
        "",
        "| board | carry-in | pipeline | latency | PE LUT4 | LUT4/bit | PE alone | PE FF | est. LUT4 | "
        "board LUT4 | link LUT4 | fmax MHz | path in | alone fmax | alone LUT4 | alone path in | "
        "target | meets (link / alone) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | "
        "---: | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        lut = "" if r["meets_lut"] else ", LUT/bit"
        ok = " / ".join(("yes" if f and r["meets_lut"] else "no" + ("" if f else ": fmax") + lut)
                        for f in (r["meets_fmax"], r["meets_fmax_alone"]))
        lines.append(
            f"| {r['board']} | {'yes' if r['carry_in'] else 'no'} | {r['pipeline']} | "
            f"{r['latency']} | {r['pe_lut4']} | {r['pe_lut4_per_bit']} | "
            f"{r['pe_lut4_yosys_alone']} | {r['pe_ff']} | {r['est_lut4']} | {r['board_lut4']} | "
            f"{r['link_lut4']} | {r['fmax_mhz']} | {r['critical_path_in']} | "
            f"{r['alone_fmax_mhz']} | {r['alone_lut4']} | {r['alone_critical_path_in']} | "
            f"{r['target_mhz']} | {ok} |")
    lines += ["", "## Result", ""]
    for board, r in chosen.items():
        if r is None:
            lines.append(f"- {board}: no tried pipeline depth met the LUT4 budget and the "
                         "fmax target alone (see table).")
            continue
        base = BASELINE[board]
        link = ("meets the target behind the link too" if r["meets_fmax"] else
                f"behind the UART link {r['fmax_mhz']} MHz, critical path in "
                f"`{r['critical_path_in']}` ({r['critical_path']})")
        lines.append(
            f"- {board}: pipeline {r['pipeline']} (latency {r['latency']} cycles), carry-in "
            f"{'on' if r['carry_in'] else 'off'}: {r['alone_fmax_mhz']} MHz alone (target "
            f"{r['target_mhz']}; unpipelined baseline {base['fmax_mhz']} MHz, "
            f"x{r['alone_fmax_mhz'] / base['fmax_mhz']:.1f}; critical path "
            f"{r['alone_critical_path']}); {link}; "
            f"{r['pe_lut4']} LUT4 placed = {r['pe_lut4_per_bit']} per input bit "
            f"({r['pe_lut4_yosys_alone']} = {r['pe_lut4_yosys_alone'] / r['simd']:.2f} "
            f"per bit in Yosys alone; budget {int(LUT_PER_BIT * r['simd'])}), "
            f"{r['pe_ff']} FF.")
    lines += ["", "On ECP5 the placed count (board - link) can exceed Yosys's logic count of the",
              "PE by tens of LUT4 depending on the placement (route-through LUTs), so a placed",
              "figure a few LUT4 under the budget is a narrow pass, not a margin."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", nargs="+", default=list(TARGETS_MHZ))
    ap.add_argument("--pipelines", nargs="+", type=int, default=[4, 6, 8])
    ap.add_argument("--group", type=int, default=3)
    ap.add_argument("--simd", type=int, default=256)
    ap.add_argument("--all", action="store_true",
                    help="build every pipeline depth, not just until the targets are met")
    ap.add_argument("--rerender", action="store_true",
                    help="rewrite the Markdown from the saved pe_speed.json, no builds")
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "pe_speed"))
    ap.add_argument("--out", default=str(ROOT / "reports" / "blocks"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.rerender:
        saved = json.loads((out / "pe_speed.json").read_text())
        (out / "pe_speed.md").write_text(markdown(saved["rows"], saved["chosen"]))
        print(markdown(saved["rows"], saved["chosen"]))
        return 0
    # rows of the saved table that this run does not measure again are kept
    saved = out / "pe_speed.json"
    rows = json.loads(saved.read_text())["rows"] if saved.is_file() else []

    def key(r):
        return r["board"], r["simd"], r["pipeline"], r["group"], r["carry_in"]

    def write():
        rows.sort(key=lambda r: (list(TARGETS_MHZ).index(r["board"]), r["pipeline"]))
        chosen = {board: next((r for r in rows if r["board"] == board
                               and r["meets_fmax_alone"] and r["meets_lut"]), None)
                  for board in TARGETS_MHZ if any(r["board"] == board for r in rows)}
        out.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"rows": rows, "chosen": chosen}, indent=1))
        (out / "pe_speed.md").write_text(markdown(rows, chosen))
        return chosen

    for board in args.boards:
        for p in args.pipelines:
            r = measure(board, args.simd, p, args.group, Path(args.build_dir))
            rows[:] = [old for old in rows if key(old) != key(r)] + [r]
            write()
            if r["meets_fmax_alone"] and r["meets_lut"] and not args.all:
                break
    chosen = write()
    print((out / "pe_speed.md").read_text())
    return 0 if all(chosen.get(board) for board in args.boards) else 1


if __name__ == "__main__":
    sys.exit(main())
