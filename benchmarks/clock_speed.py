"""The clock a built-in example reaches on a board: `popcorn build --steps bitstream
--clock-mhz F` for each F (nextpnr places and times the design for the PLL's F), whether
timing met it, nextpnr's fmax and its critical path.

    python benchmarks/clock_speed.py [--example digits-bnn] [--board icebreaker] [F|osc ...]
    # reports/perf/clock_speed.{md,json}

Default F: 12 (the iCEBreaker's oscillator, no PLL), 40, 45, 50 and 60 MHz. A build that
misses F fails (`TimingFailed`); the row then comes from the nextpnr report the build
left. Issue 12's target: the digits demo at 60 MHz or more on the UP5K within 2 500 LUT4.
Rows are kept per code label (``git describe``, or ``--label``): an older code's are the
"before".

The build places once (``--seeds 1``: nextpnr's own placement). ``--seeds N``: nextpnr
places and routes the same netlist again with seeds 1 .. N
(:func:`popcorn.boards.build.place_with_seeds`): on the UP5K the placer's seed moves fmax
by several MHz, so one build says little about a change; the row then gives the spread (lowest,
median, highest) and how many seeds met the clock.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from verilog_speed import add_label_option, label_of, saved_rows

from popcorn.boards.boards import get_board
from popcorn.boards.build import place_with_seeds
from popcorn.reports import nextpnr


def measure(example, board, mhz, build_dir, seeds=0):
    """One build of ``example`` on ``board`` at ``mhz`` (None: the oscillator, no PLL);
    with ``seeds``, nextpnr's fmax with seeds 1 .. ``seeds`` too."""
    folder = build_dir / f"{example}-{board}-{mhz or 'osc'}"
    args = [sys.executable, "-m", "popcorn.cli", "--quiet", "build", "--example", example,
            "--board", board, "--steps", "bitstream", "--seeds", "1", "--build-dir", str(folder)]
    if mhz is not None:
        args += ["--clock-mhz", str(mhz)]
    done = subprocess.run(args, capture_output=True, text=True)
    b = get_board(board)
    tim = [p.parent for p in folder.rglob("top.tim")]
    if not tim:
        raise RuntimeError(f"no nextpnr result in {folder}:\n{done.stdout}{done.stderr}")
    impl = nextpnr.load(b.family, board, b.platform().device, tim[0])
    path = impl.critical_path or {}
    spread = {}
    if seeds:
        placed = place_with_seeds(tim[0], board, range(1, seeds + 1))
        fmax = [impl.fmax_mhz for impl in placed.values()]
        spread = {"seeds": seeds, "seed_fmax_mhz": fmax,
                  "seeds_met": sum(f >= impl.clock_mhz for f in fmax)}
    return {"example": example, "board": board, "asked_mhz": mhz,
            "clock_mhz": impl.clock_mhz, "fmax_mhz": impl.fmax_mhz,
            "met": impl.fmax_mhz >= impl.clock_mhz, "lut4": impl.lut4,
            "logic_cells": impl.logic_cells,
            "path": f"{path.get('delay_ns')} ns, {path.get('cells')} cells: "
                    f"`{path.get('start')}` -> `{path.get('end')}`", **spread}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clocks", nargs="*", type=lambda v: None if v == "osc" else float(v),
                        default=[None, 40, 45, 50, 60])
    parser.add_argument("--example", default="digits-bnn")
    parser.add_argument("--board", default="icebreaker")
    parser.add_argument("--build-dir", default="build/clock_speed")
    parser.add_argument("--out", default="reports/perf")
    parser.add_argument("--seeds", type=int, default=0,
                        help="also place and route the netlist with nextpnr seeds 1 .. N")
    add_label_option(parser)
    args = parser.parse_args()
    label = label_of(args)
    out = Path(args.out)
    rows = saved_rows(out, "clock_speed")
    for mhz in args.clocks:
        row = dict(code=label, **measure(args.example, args.board, mhz,
                                         Path(args.build_dir), args.seeds))
        print(row, flush=True)
        key = (row["code"], row["example"], row["board"], row["asked_mhz"])
        rows = [r for r in rows
                if (r["code"], r["example"], r["board"], r["asked_mhz"]) != key] + [row]
        write(out, rows)


def write(out, rows):
    (out / "clock_speed.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Clock speed of the built-in examples", "",
             "Written by `python benchmarks/clock_speed.py`: `popcorn build --example NAME "
             "--board BOARD --steps bitstream --clock-mhz F` (asked: F, or `osc` for the "
             "board's oscillator without a PLL); clock: the PLL's, as nextpnr timed it; "
             "fmax, LUT4, logic cells and the critical path: nextpnr's. Code: the popcorn "
             "measured (`git describe`). Seeds (`--seeds N`): nextpnr's fmax on the same "
             "netlist with seeds 1 .. N, lowest / median / highest, and how many met the "
             "clock.", "",
             "| example | board | code | asked (MHz) | clock (MHz) | fmax (MHz) | met | LUT4 "
             "| logic cells | seeds: fmax low / median / high (met) | critical path |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |"]
    lines += [f"| {r['example']} | {r['board']} | {r['code']} | {r['asked_mhz'] or 'osc'} "
              f"| {r['clock_mhz']} | {r['fmax_mhz']} | {'yes' if r['met'] else 'no'} "
              f"| {r['lut4']} | {r['logic_cells']} | {_spread(r)} | {r['path']} |"
              for r in sorted(rows, key=lambda r: (r["example"], r["board"],
                                                   r["asked_mhz"] or 0, r["code"]))]
    (out / "clock_speed.md").write_text("\n".join(lines) + "\n")


def _spread(row):
    fmax = row.get("seed_fmax_mhz")
    if not fmax:
        return ""
    return (f"{min(fmax)} / {round(statistics.median(fmax), 2)} / {max(fmax)} "
            f"({row['seeds_met']} of {row['seeds']})")


if __name__ == "__main__":
    main()
