"""Whole-network estimates against nextpnr's placed counts: every shipped example on the
boards `make examples` builds it for, and held-out networks nobody fitted anything on.

    python benchmarks/estimate_check.py [--only CASE] [--label L]

Each case is ``popcorn build NETWORK --board B --steps estimate,bitstream`` (no images
needed, no simulation): the estimate step's whole-design totals (``steps/estimate.json``)
beside the placed design's (``steps/bitstream.json``), LUT4 and FF as a relative error,
EBR, SPRAM and DSP as the difference (issue 12: LUT4 and FF within 10 %, the others exact).
A second run reuses each placed design whose Verilog did not change (the bitstream step's
reuse stamp) and recomputes the estimates: after an estimate change it takes seconds a case.

Cases: the examples as ``benchmarks/build_examples.py --all`` builds them (the iCEBreaker
with ``--arch auto --target-fps 92``, but the digits BNN at its default; the ULX3S-85F at
the default folding); held out, a LeNet-shaped network of each scheme
(:func:`popcorn.golden.examples.random_network`, random weights) on both boards at the
default folding (``--arch auto``), and an MLP of each on the ULX3S-85F at the default
folding, at 2 cycles per image (its engines hold their weights as constants; on the
UP5K its folded engine needs about 6 800 logic cells of 5 280), and the BNN's at 32 cycles
per image with ``--counts tables`` (the other schemes' tables, a read port per activation
base and M counts per lane, fill the 85F's block RAM there and route for over 30 minutes).
FINN's TFC and SFC topologies (BNN, random weights, one-bit pixels) on both boards at the
default folding (``--arch auto``: the SFC is folded on the UP5K). Builds go to
``build/estimate_check/``; the table to ``reports/perf/estimate_check.{md,json}``, rows
kept per code label (``git describe``, or ``--label``).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import FINN_FC, finn_fc_network
from build_examples import GRAPHS
from verilog_speed import add_label_option, label_of, saved_rows

from popcorn.examples import EXAMPLES
from popcorn.golden.examples import SCHEMES, random_network
from popcorn.network import save_network

KEYS = ("lut4", "ff", "ebr", "spram", "dsp")
LENET = ((1, 16, 16), (("conv", 16, 3, 1, 1), ("pool", 2), ("conv", 32, 3, 1, 1), ("pool", 2),
                       ("flatten",), ("dense", 32), ("dense", 10)))
MLP = ((64,), (("dense", 128), ("dense", 64), ("dense", 10)))


def cases(build_dir):
    """``(case name, popcorn build arguments, held out)`` of every case."""
    out = []
    for name in EXAMPLES:
        boards = ("ulx3s-85f",) if name in GRAPHS else ("icebreaker", "ulx3s-85f")
        for board in boards:
            args = ["--example", name, "--board", board]
            if board == "icebreaker" and name != "digits-bnn":
                args += ["--arch", "auto", "--target-fps", "92"]
            out.append((f"{name} {board}", args, False))
    nets = build_dir / "networks"
    nets.mkdir(parents=True, exist_ok=True)
    for scheme in SCHEMES:
        for shape, layout in (("lenet", LENET), ("mlp", MLP)):
            path = nets / f"{shape}-{scheme}.npz"
            if not path.is_file():
                save_network(random_network(scheme, seed=7, layout=layout), path)
            for board in ("icebreaker", "ulx3s-85f") if shape == "lenet" else ("ulx3s-85f",):
                out.append((f"{shape}-{scheme} {board}", [str(path), "--board", board,
                                                           "--arch", "auto"], True))
            if shape == "mlp":
                out.append((f"{shape}-{scheme} ulx3s-85f 2 cycles",
                            [str(path), "--board", "ulx3s-85f", "--arch", "dataflow",
                             "--target-cycles", "2"], True))
            if shape == "mlp" and scheme == "bnn":
                out.append((f"{shape}-{scheme} ulx3s-85f 32 cycles tables",
                            [str(path), "--board", "ulx3s-85f", "--arch", "dataflow",
                             "--target-cycles", "32", "--counts", "tables"], True))
    for shape in FINN_FC:
        path = nets / f"{shape}-bnn.npz"
        if not path.is_file():
            save_network(finn_fc_network(shape), path)
        for board in ("icebreaker", "ulx3s-85f"):
            out.append((f"{shape}-bnn {board}", [str(path), "--board", board, "--arch",
                                                  "auto"], True))
    return out


def run_case(name, args, build_dir):
    """Build one case; its row, or None when popcorn refuses it (the reason printed)."""
    folder = build_dir / name.replace(" ", "_")
    command = [sys.executable, "-m", "popcorn.cli", "--quiet", "build", *args, "--steps",
               "estimate,bitstream", "--build-dir", str(folder)]
    print(" ".join(command[3:]), flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    estimates = list(folder.glob("*/steps/estimate.json"))
    est = json.loads(estimates[0].read_text())["estimate"]["total"] if estimates else None
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", flush=True)
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {"case": name, "estimate": est,
                "error": next((line.strip() for line in lines if "Error" in line),
                              lines[-1].strip())}
    steps = [path.parent for path in folder.glob("*/steps/bitstream.json")]
    assert len(steps) == 1 and est is not None, steps
    impl = json.loads((steps[0] / "bitstream.json").read_text())["implementation"]
    placed = {key: impl.get(key, 0) for key in KEYS}
    return {"case": name, "design": steps[0].parent.name, "estimate": est, "placed": placed,
            "fmax_mhz": impl["fmax_mhz"],
            "error_pct": {key: round(100 * (est[key] - placed[key]) / placed[key], 1)
                          for key in ("lut4", "ff")}}


def markdown(rows):
    lines = ["# Whole-network estimates against placed counts", "",
             "Written by `python benchmarks/estimate_check.py` (see its docstring): "
             "`popcorn build --steps estimate,bitstream` of each case; estimate: the "
             "estimate step's totals; placed: nextpnr's. Error = (estimate - placed) / "
             "placed. Issue 12's target: LUT4 and FF within 10 %, EBR, SPRAM and DSP exact.",
             ""]
    for label in sorted({r["code"] for r in rows}):
        sel = [r for r in rows if r["code"] == label]
        lines += [f"## code {label}", ""]
        for title, part in (("examples", [r for r in sel if not r["held_out"]]),
                            ("held out", [r for r in sel if r["held_out"]])):
            built = [r for r in part if "error" not in r]
            if built:
                worst = {key: max(abs(r["error_pct"][key]) for r in built)
                         for key in ("lut4", "ff")}
                inside = sum(all(abs(r["error_pct"][k]) <= 10 for k in ("lut4", "ff")) and
                             all(r["estimate"][k] == r["placed"][k] for k in KEYS[2:])
                             for r in built)
                lines.append(f"- {title}: {inside} of {len(built)} built within the target; "
                             f"largest LUT4 error {worst['lut4']} %, FF {worst['ff']} %.")
        lines += ["", "| case | held out | design | LUT4 est / placed | err % | "
                  "FF est / placed | err % | EBR | SPRAM | DSP | fmax MHz |",
                  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in sel:
            if "error" in r:
                e = r["estimate"] or dict.fromkeys(KEYS, "-")
                lines.append(f"| {r['case']} | {'yes' if r['held_out'] else ''} | not built: "
                             f"{r['error']} | {e['lut4']} / - | | {e['ff']} / - | | "
                             + " | ".join(f"{e[k]} / -" for k in KEYS[2:]) + " | |")
                continue
            e, p = r["estimate"], r["placed"]
            lines.append(
                f"| {r['case']} | {'yes' if r['held_out'] else ''} | {r['design']} | "
                f"{e['lut4']} / {p['lut4']} | {r['error_pct']['lut4']:+} | {e['ff']} / "
                f"{p['ff']} | {r['error_pct']['ff']:+} | "
                + " | ".join(f"{e[k]} / {p[k]}" for k in KEYS[2:])
                + f" | {r['fmax_mhz']} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None,
                        help="the case of this name (\"lenet-pa ulx3s-85f\"), or else the "
                             "cases whose name contains it")
    parser.add_argument("--build-dir", default="build/estimate_check", type=Path)
    parser.add_argument("--out", default="reports/perf", type=Path)
    add_label_option(parser)
    args = parser.parse_args()
    label = label_of(args)
    rows = saved_rows(args.out, "estimate_check")
    chosen = cases(args.build_dir)
    if args.only:
        chosen = [c for c in chosen if c[0] == args.only] or \
            [c for c in chosen if args.only in c[0]]
    for name, build_args, held_out in chosen:
        row = {"code": label, "held_out": held_out, **run_case(name, build_args,
                                                                args.build_dir)}
        print(json.dumps(row), flush=True)
        rows = [r for r in rows if (r["code"], r["case"]) != (label, name)] + [row]
        (args.out / "estimate_check.json").write_text(json.dumps(rows, indent=1) + "\n")
        (args.out / "estimate_check.md").write_text(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
