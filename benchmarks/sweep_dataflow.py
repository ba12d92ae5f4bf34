# amaranth: UnusedElaboratable=no
"""Synthesis sweep of the dataflow blocks: real Yosys counts beside each block's
``resources(family)`` estimate.

Blocks: the sliding window, max-pool, flatten, the bit-plane input layer, the comparator
activation, the queue, the argmax. Every point is
synthesized on its own with the YoWASP Yosys (``synth_ice40``; ``synth_ecp5 -nowidelut``,
a CCU2C counted as 2 LUT4 and a TRELLIS_DPR16X4 as 6, see ``popcorn.hdl.synth.CellCount``)
and written beside the block's estimate and its error. Points marked held out were not
looked at while the estimate's constants were chosen.

    PYTHONPATH=. python benchmarks/sweep_dataflow.py [--families ice40 ecp5] [--blocks window]
    PYTHONPATH=. python benchmarks/sweep_dataflow.py --rerender   # estimates only, no tools
    PYTHONPATH=. python benchmarks/sweep_dataflow.py --fit        # queue, argmax constants

A run of some blocks or families keeps the saved rows of the others.

Writes ``reports/blocks/dataflow_estimates.md`` and ``.json``.
"""

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _common import SYNTH_OPTS
from popcorn.hdl.argmax import Argmax
from popcorn.golden.examples import random_thresholds
from popcorn.hdl.comparator import ComparatorActivation
from popcorn.hdl.flatten import Flatten
from popcorn.hdl.input_layer import BitPlanes
from popcorn.hdl.pool import MaxPool
from popcorn.hdl.queue import Queue
from popcorn.hdl.synth import synth_stat
from popcorn.hdl.window import SlidingWindow

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("lut4", "ff", "ebr", "dsp")


@dataclass(frozen=True)
class Sweep:
    """The points of one block: ``make(**params)`` builds it, ``points`` were used to
    choose the estimate's constants, ``held_out`` were not."""
    make: object
    points: list
    held_out: list = field(default_factory=list)
    families: tuple = ("ice40", "ecp5")


def comparator(*, channels, levels, pe, in_width, output="thermometer", seed=0):
    """A :class:`ComparatorActivation` with random thresholds and directions
    (:func:`popcorn.golden.examples.random_thresholds`)."""
    thresholds, directions = random_thresholds(channels, levels, in_width, seed=seed)
    return ComparatorActivation(thresholds=thresholds, directions=directions, pe=pe,
                                in_width=in_width, output=output)


SWEEPS = {
    "window": Sweep(SlidingWindow, [
        dict(height=28, width=28, channels=16, kernel=3, padding=1),
        dict(height=20, width=20, channels=32, kernel=3, padding=1),
        dict(height=10, width=10, channels=2, kernel=3, padding=1),
        dict(height=32, width=32, channels=64, kernel=3, padding=1),
        dict(height=14, width=14, channels=8, kernel=5, padding=2),
        dict(height=16, width=16, channels=4, kernel=2, stride=2),
        dict(height=8, width=8, channels=1, kernel=3),
    ], held_out=[
        dict(height=24, width=24, channels=24, kernel=3, stride=2, padding=1),
        dict(height=12, width=12, channels=16, kernel=4),
        dict(height=6, width=300, channels=40, kernel=3, padding=1),   # ECP5: DP16KD
        dict(height=3, width=3, channels=1, kernel=2),                 # flip-flops
    ]),
    "pool": Sweep(MaxPool, [
        dict(height=28, width=28, channels=32, kernel=2),
        dict(height=8, width=8, channels=8, kernel=2),
        dict(height=9, width=9, channels=32, kernel=3, stride=2),
        dict(height=24, width=24, channels=64, kernel=2),
        dict(height=12, width=12, channels=16, kernel=3),
    ], held_out=[
        dict(height=14, width=14, channels=48, kernel=2),
        dict(height=10, width=10, channels=8, kernel=3, stride=1),
        dict(height=4, width=400, channels=20, kernel=2),              # ECP5: DP16KD
    ]),
    "flatten": Sweep(Flatten, [
        dict(height=7, width=7, channels=8),
        dict(height=4, width=4, channels=16),
        dict(height=2, width=2, channels=64),
    ], held_out=[dict(height=5, width=5, channels=32)]),
    "bitplanes": Sweep(BitPlanes, [
        dict(channels=1, bits=8),
        dict(channels=3, bits=8),
    ], held_out=[dict(channels=1, bits=5)]),
    # channels 256 and 64 x 3 levels x 10 bits: the ROM goes to EBR (both families; ECP5
    # only, whose 36-bit DP16KD mode fits the word); C = pe: constant thresholds
    "comparator": Sweep(comparator, [
        dict(channels=8, levels=1, pe=1, in_width=8),
        dict(channels=16, levels=3, pe=2, in_width=8, output="onehot"),
        dict(channels=32, levels=7, pe=4, in_width=12, output="onehot"),
        dict(channels=64, levels=3, pe=1, in_width=9),
        dict(channels=64, levels=1, pe=8, in_width=16),
        dict(channels=8, levels=3, pe=8, in_width=8),
        dict(channels=256, levels=1, pe=1, in_width=13),
        dict(channels=16, levels=7, pe=2, in_width=10, output="onehot"),
        dict(channels=64, levels=1, pe=1, in_width=8),
        dict(channels=24, levels=7, pe=8, in_width=8, output="onehot"),
    ], held_out=[
        dict(channels=48, levels=7, pe=2, in_width=10),
        dict(channels=32, levels=3, pe=4, in_width=14, output="onehot"),
    ]),
    # the queues in front of windows and pools: FFs (depth 3), LUT RAM (ECP5) or block
    # RAM (iCE40 from 8 words up, ECP5 from 512)
    # (24 x 64, 12 x 128, 36 x 48 words: where ECP5's DP16KD and LUT RAM cost about the
    # same, for window.ECP5_EBR_ENABLED_READ)
    "queue": Sweep(Queue, [
        dict(width=5, depth=3),
        dict(width=24, depth=8),
        dict(width=24, depth=16),
        dict(width=8, depth=64),
        dict(width=72, depth=512),
        dict(width=216, depth=16),
        dict(width=36, depth=1024),
        dict(width=24, depth=65),
        dict(width=12, depth=129),
        dict(width=36, depth=49),
        dict(width=24, depth=97),
        dict(width=8, depth=257),
    ], held_out=[
        dict(width=24, depth=81),
        dict(width=16, depth=129),
        dict(width=12, depth=4),
        dict(width=40, depth=32),
        dict(width=18, depth=2048),
    ]),
    "argmax": Sweep(Argmax, [
        dict(classes=2, width=16),
        dict(classes=3, width=8),
        dict(classes=4, width=8),
        dict(classes=7, width=10),
        dict(classes=10, width=16),
        dict(classes=16, width=12),
        dict(classes=100, width=16),
    ], held_out=[
        dict(classes=10, width=20),
        dict(classes=50, width=12),
    ]),
}


def queue_fit(rows):
    """``popcorn.hdl.queue.BLOCK_QUEUE_LUT4``: per family, least squares (rounded) of the
    LUT4 of the queues in block RAM beyond their memory's and their ``width``-bit
    multiplexer, ``per_bit * clog2(depth) + fixed``, on the saved points not held out."""
    from popcorn.hdl.window import memory_resources
    fitted = {}
    for family in ("ice40", "ecp5"):
        a, b = [], []
        for r in rows:
            p = r["params"]
            if r["block"] != "queue" or r["family"] != family or r["held_out"] \
                    or not r["actual"]["ebr"]:
                continue
            mem = memory_resources(p["width"], p["depth"] - 1, family, read_enable=True)
            a.append([(p["depth"] - 1).bit_length(), 1])
            b.append(r["actual"]["lut4"] - mem["lut4"] - p["width"])
        sol, *_ = np.linalg.lstsq(np.array(a, dtype=float), np.array(b, dtype=float),
                                  rcond=None)
        fitted[family] = tuple(int(round(float(x))) for x in sol)
    return fitted


def argmax_fit(rows):
    """``popcorn.hdl.estimates.ARGMAX_FACTORS``: per family, relative least squares
    (rounded to 0.01) of the argmax's LUT4 on its features
    (:func:`~popcorn.hdl.estimates.argmax_features`: compare, select, index, fixed) over
    the saved points not held out."""
    from popcorn.hdl.estimates import argmax_features
    keys = ("compare", "select", "index", "fixed")
    fitted = {}
    for family in ("ice40", "ecp5"):
        a, b = [], []
        for r in rows:
            if r["block"] == "argmax" and r["family"] == family and not r["held_out"]:
                feats = argmax_features(**r["params"])
                a.append([feats[key] for key in keys])
                b.append(r["actual"]["lut4"])
        a, b = np.array(a, dtype=float), np.array(b, dtype=float)
        sol, *_ = np.linalg.lstsq(a / b[:, None], np.ones(len(b)), rcond=None)
        fitted[family] = {key: round(float(x), 2) for key, x in zip(keys, sol)}
    return fitted


def tag(block, params):
    return block + "_" + "_".join(f"{k}{v}" for k, v in params.items())


def describe(params):
    return " ".join(f"{k}={v}" for k, v in params.items())


def estimate(block, params, family):
    est = SWEEPS[block].make(**params).resources(family=family)
    return {k: est.get(k, 0) for k in KEYS}


def error_pct(est, got):
    """(est - actual) / actual in %, per key; ``None`` where the actual count is 0 and the
    estimate is not."""
    return {k: (round(100 * (est[k] - got[k]) / got[k], 1) if got[k]
                else (0.0 if est[k] == 0 else None)) for k in KEYS}


def rows_for(blocks, families, build_root, saved=None):
    rows = []
    for family in families:
        for block in blocks:
            sweep = SWEEPS[block]
            if family not in sweep.families:
                continue
            for held_out, pts in ((False, sweep.points), (True, sweep.held_out)):
                for params in pts:
                    key = (family, tag(block, params))
                    if saved is not None:
                        if key not in saved:
                            continue
                        got = saved[key]
                    else:
                        got = synth_stat(sweep.make(**params), family=family,
                                         synth_opts=SYNTH_OPTS[family],
                                         build_dir=build_root / family / key[1]).to_dict()
                    est = estimate(block, params, family)
                    row = {"block": block, "family": family, "params": params,
                           "held_out": held_out, "actual": got, "estimate": est,
                           "error_pct": error_pct(est, got)}
                    if saved is None:
                        print(json.dumps(row), flush=True)
                    rows.append(row)
    return rows


def _summary(part, key):
    errs = [abs(r["error_pct"][key]) for r in part if r["error_pct"][key] is not None]
    wrong = sum(1 for r in part if r["error_pct"][key] is None)
    text = f"mean {np.mean(errs):.1f} %, max {max(errs):.1f} %" if errs else "no data"
    return text + (f", {wrong} with an estimate where Yosys has none" if wrong else "")


def markdown(rows):
    lines = [
        "# Dataflow blocks: Yosys counts beside the estimates",
        "",
        "Generated by `benchmarks/sweep_dataflow.py`. `actual`: Yosys `stat` of the block",
        "synthesized on its own (iCE40: `synth_ice40`; ECP5: `synth_ecp5 -nowidelut`, a",
        "CCU2C counted as 2 LUT4, a TRELLIS_DPR16X4 as 6). `est.`: the block's",
        "`resources(family)`. Error = (est - actual) / actual; summaries give the mean and",
        "max of its absolute value. Held-out points were not looked at while the",
        "estimates' constants were chosen.",
        "",
    ]
    lines += ["## Summary per block", "",
              "| block | family | points (held out) | LUT4 error | FF error | EBR error |",
              "| --- | --- | ---: | --- | --- | --- |"]
    for family in ("ice40", "ecp5"):
        for block in SWEEPS:
            part = [r for r in rows if r["family"] == family and r["block"] == block]
            if part:
                held = sum(r["held_out"] for r in part)
                lines.append(f"| {block} | {family} | {len(part)} ({held}) | "
                             f"{_summary(part, 'lut4')} | {_summary(part, 'ff')} | "
                             f"{_summary(part, 'ebr')} |")
    lines.append("")
    for family in ("ice40", "ecp5"):
        sel = [r for r in rows if r["family"] == family]
        if not sel:
            continue
        lines += [f"## {family}", ""]
        for label, part in (("all points", sel),
                            ("held-out points", [r for r in sel if r["held_out"]])):
            if part:
                lines.append(f"- {label} ({len(part)}): LUT4 {_summary(part, 'lut4')}; "
                             f"FF {_summary(part, 'ff')}; EBR {_summary(part, 'ebr')}.")
        lines += ["",
                  "| block | parameters | LUT4 | est. | err % | FF | est. | err % | EBR | est. "
                  "| DSP | est. | Yosys s |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                  "| ---: | ---: |"]
        for r in sel:
            a, e, err = r["actual"], r["estimate"], r["error_pct"]
            held = " (held out)" if r["held_out"] else ""
            lines.append(
                f"| {r['block']} | {describe(r['params'])}{held} | {a['lut4']} | {e['lut4']} | "
                f"{err['lut4']} | {a['ff']} | {e['ff']} | {err['ff']} | {a['ebr']} | "
                f"{e['ebr']} | {a['dsp']} | {e['dsp']} | {a['seconds']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=["ice40", "ecp5"],
                    choices=["ice40", "ecp5"])
    ap.add_argument("--blocks", nargs="+", default=list(SWEEPS), choices=list(SWEEPS))
    ap.add_argument("--rerender", action="store_true",
                    help="reuse the Yosys counts of the saved JSON, recompute the estimates")
    ap.add_argument("--fit", action="store_true",
                    help="print the queue's and the argmax's fitted constants from the saved "
                         "JSON, no tools")
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "sweep_dataflow"))
    ap.add_argument("--out", default=str(ROOT / "reports" / "blocks"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.fit:
        rows = json.loads((out / "dataflow_estimates.json").read_text())["rows"]
        print(json.dumps({"BLOCK_QUEUE_LUT4": queue_fit(rows),
                          "ARGMAX_FACTORS": argmax_fit(rows)}))
        return 0
    saved = None
    if args.rerender:
        saved = {(r["family"], tag(r["block"], r["params"])): r["actual"]
                 for r in json.loads((out / "dataflow_estimates.json").read_text())["rows"]}
    rows = rows_for(args.blocks, args.families, Path(args.build_dir), saved)
    report = out / "dataflow_estimates.json"
    if report.exists() and saved is None:           # keep the blocks not swept this time
        rows = [r for r in json.loads(report.read_text())["rows"]
                if r["block"] not in args.blocks or r["family"] not in args.families] + rows
        rows.sort(key=lambda r: (["ice40", "ecp5"].index(r["family"]), list(SWEEPS).index(
            r["block"]), r["held_out"]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "dataflow_estimates.json").write_text(json.dumps({"rows": rows}, indent=1))
    text = markdown(rows)
    (out / "dataflow_estimates.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
