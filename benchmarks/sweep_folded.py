"""Synthesis sweep of the folded accelerator (:class:`~popcorn.hdl.folded.FoldedAccelerator`,
iCE40 only: its weights live in SPRAM) beside :func:`popcorn.hdl.folded.estimate_folded`.

Each point is a shipped example's folded plan at 1, 2, 4 or 8 lanes, synthesized alone with
the YoWASP Yosys (``synth_ice40``); held-out points are random networks of every scheme
(``popcorn.golden.examples.random_network``) and FINN's TFC and SFC topologies
(``_common.FINN_FC``) at 1, 2 or 4 lanes, not fitted. ``--fit``
prints the least-squares :data:`~popcorn.hdl.folded.FOLDED_FACTORS` (a weight for each
part of :func:`~popcorn.hdl.folded.folded_parts`' LUT4 and flip-flops, and a constant).

    PYTHONPATH=. python benchmarks/sweep_folded.py             # synthesize, write the tables
    PYTHONPATH=. python benchmarks/sweep_folded.py --fit       # FOLDED_FACTORS from the .json
    PYTHONPATH=. python benchmarks/sweep_folded.py --rerender  # the tables from the .json
    PYTHONPATH=. python benchmarks/sweep_folded.py --only finn # resynthesize those points,
                                                               # keep the other rows

Writes ``reports/blocks/folded_estimates.md`` and ``.json``.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import FINN_FC, finn_fc_network, sweep_args, write_markdown_and_json
from popcorn.examples import EXAMPLES, load_example
from popcorn.golden.examples import SCHEMES, random_network
from popcorn.hdl.folded import FoldedAccelerator, estimate_folded, folded_parts
from popcorn.hdl.synth import synth_stat
from popcorn.mapping.folded import map_folded
from popcorn.network import NetworkError

LANES = (1, 2, 4, 8)
HELD_OUT_LANES = (1, 2, 4)

OUT = Path("reports/blocks/folded_estimates.md")


def points():
    """(name, plan, held out) of every point: the examples the folded engine runs (not the
    graphs with residual blocks or branches, which it refuses)."""
    for name in sorted(EXAMPLES):
        network = load_example(name)[0]
        try:
            map_folded(network, pe=1)
        except NetworkError:
            continue
        for pe in LANES:
            yield f"{name} x{pe}", map_folded(network, pe=pe), False
    # FINN's fully connected topologies: the parts overcount them (LUT4 +12 to +41 %);
    # fitted with them, the factors missed them by up to 25 % still and the random
    # networks by up to 19 %, so they are held out
    for shape in FINN_FC:
        network = finn_fc_network(shape)
        for pe in HELD_OUT_LANES:
            yield f"finn {shape} x{pe}", map_folded(network, pe=pe), True
    for scheme in SCHEMES:
        for pe in HELD_OUT_LANES:
            yield (f"random {scheme} x{pe}", map_folded(random_network(scheme, seed=7), pe=pe),
                   True)


FITTED = {"lut4": ("lanes", "wide", "roms", "memories", "control"),
          "ff": ("lanes", "wide", "memories", "control")}
"""The parts weighted by the fit (with a constant), each a count from the plan's widths
(:func:`~popcorn.hdl.folded.folded_parts`); the others keep weight 1: the argmax,
estimated on its own, and the ROMs' flip-flops (a read register per distinct column,
exact; fitted, they took weight 1.6 and the held-out error grew)."""


def fit(rows):
    """Least-squares :data:`~popcorn.hdl.folded.FOLDED_FACTORS` of the fitted rows: a
    weight for each part of :data:`FITTED` and a constant, the other parts at 1."""
    mine = [r for r in rows if not r["held_out"]]
    factors = {}
    for res, fitted in FITTED.items():
        fixed = [k for k in mine[0]["parts"][res] if k not in fitted]
        a = np.array([[r["parts"][res][k] for k in fitted] + [1.0] for r in mine])
        y = np.array([r["measured"][res] - sum(r["parts"][res][k] for k in fixed)
                      for r in mine], dtype=float)
        coef = np.linalg.lstsq(a, y, rcond=None)[0]
        factors[res] = {k: round(float(c), 3) for k, c in zip((*fitted, "one"), coef)}
        factors[res] |= dict.fromkeys(fixed, 1.0)
    return factors


def render(rows, estimates):
    lines = ["# Folded accelerator: Yosys alone beside the estimate", "",
             "Written by `benchmarks/sweep_folded.py`: each shipped example's folded plan at "
             "1, 2, 4 and 8 lanes, and random networks of every scheme at 1, 2 and 4 lanes (held "
             "out, "
             "marked *), synthesized alone (`synth_ice40`), beside "
             "`popcorn.hdl.folded.estimate_folded`. Block RAM and SPRAM must be exact.", "",
             "| design | LUT4 | estimate | error | FF | estimate | error | EBR | estimate | "
             "SPRAM | estimate |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    errors = {(k, res): [] for k in ("fitted", "held out") for res in ("lut4", "ff")}
    for r, e in zip(rows, estimates):
        m = r["measured"]
        err = {k: (e[k] - m[k]) / m[k] for k in ("lut4", "ff")}
        for res, x in err.items():
            errors["held out" if r["held_out"] else "fitted", res].append(abs(x))
        lines.append(f"| {r['design']}{' *' if r['held_out'] else ''} | {m['lut4']} | "
                     f"{e['lut4']} | {100 * err['lut4']:+.1f} % | {m['ff']} | {e['ff']} | "
                     f"{100 * err['ff']:+.1f} % | {m['ebr']} | {e['ebr']} | {m['spram']} | "
                     f"{e['spram']} |")
    lines.append("")
    lines += [f"{k.capitalize()} {'LUT4' if res == 'lut4' else 'FF'}: mean error "
              f"{100 * np.mean(v):.1f} %, max {100 * max(v):.1f} %."
              for (k, res), v in errors.items() if v]
    return "\n".join(lines) + "\n"


def synth_row(name, plan, held_out, build_dir):
    """The saved row of one point: ``plan``'s engine synthesized alone."""
    got = synth_stat(FoldedAccelerator(plan), family="ice40", build_dir=build_dir)
    row = {"design": name, "held_out": held_out,
           "parts": {k: folded_parts(plan)[k] for k in ("lut4", "ff")},
           "measured": {k: getattr(got, k) for k in ("lut4", "ff", "ebr", "spram")}}
    print(name, row["measured"], flush=True)
    return row


def main(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--only", default=None)
    known, rest = parser.parse_known_args(argv)
    only, args = known.only, sweep_args(rest)
    plans = {name: plan for name, plan, _ in points()}
    if only is not None:
        rows = json.loads(OUT.with_suffix(".json").read_text())
        rows = [r for r in rows if only not in r["design"]]
        with tempfile.TemporaryDirectory() as tmp:
            for n, (name, plan, held_out) in enumerate(points()):
                if only in name:
                    rows.append(synth_row(name, plan, held_out, Path(tmp) / str(n)))
        order = list(plans)
        rows.sort(key=lambda r: order.index(r["design"]))
    elif args.fit or args.rerender:
        rows = json.loads(OUT.with_suffix(".json").read_text())
        for r in rows:                     # the parts as the code now composes them
            r["parts"] = {k: folded_parts(plans[r["design"]])[k] for k in ("lut4", "ff")}
        if args.fit:
            print(json.dumps(fit(rows)))
            return
    else:
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for n, (name, plan, held_out) in enumerate(points()):
                rows.append(synth_row(name, plan, held_out, Path(tmp) / str(n)))
    estimates = [estimate_folded(plans[r["design"]]) for r in rows]
    write_markdown_and_json(OUT, render(rows, estimates), rows)


if __name__ == "__main__":
    main(sys.argv[1:])
