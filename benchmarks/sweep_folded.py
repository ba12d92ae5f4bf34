"""Synthesis sweep of the folded accelerator (:class:`~popcorn.hdl.folded.FoldedAccelerator`,
iCE40 only: its weights live in SPRAM) beside :func:`popcorn.hdl.folded.estimate_folded`.

Each point is a shipped example's folded plan at 1, 2, 4 or 8 lanes, synthesized alone with
the YoWASP Yosys (``synth_ice40``); held-out points are random networks of every scheme
(``popcorn.golden.examples.random_network``), not fitted. ``--fit`` prints the least-squares
:data:`~popcorn.hdl.folded.FOLDED_FACTORS` (a weight for each part of the LUT4 and
flip-flops that the blocks' estimates add up to, and a constant).

    PYTHONPATH=. python benchmarks/sweep_folded.py             # synthesize, write the tables
    PYTHONPATH=. python benchmarks/sweep_folded.py --fit       # FOLDED_FACTORS from the .json
    PYTHONPATH=. python benchmarks/sweep_folded.py --rerender  # the tables from the .json

Writes ``reports/blocks/folded_estimates.md`` and ``.json``.
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import sweep_args, write_markdown_and_json
from popcorn.examples import EXAMPLES, load_example
from popcorn.golden.examples import SCHEMES, random_network
from popcorn.hdl.folded import FoldedAccelerator, estimate_folded, folded_parts
from popcorn.hdl.synth import synth_stat
from popcorn.mapping.folded import map_folded
from popcorn.network import NetworkError

LANES = (1, 2, 4, 8)
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
    for scheme in SCHEMES:
        yield f"random {scheme} x2", map_folded(random_network(scheme, seed=7), pe=2), True


FITTED = ("lanes", "memories")
"""The parts weighted by the fit (with a constant); the argmax keeps weight 1: weighting
it too gave it a negative weight (10 classes in every example). A modelled part for the
control and counters (the composed estimate's) got a negative weight as well, and no
better held-out error, so the constant covers them."""


def fit(rows):
    """Least-squares :data:`~popcorn.hdl.folded.FOLDED_FACTORS` of the fitted rows: a
    weight for each part of :data:`FITTED` and a constant."""
    mine = [r for r in rows if not r["held_out"]]
    factors = {}
    for res in ("lut4", "ff"):
        a = np.array([[r["parts"][res][k] for k in FITTED] + [1.0] for r in mine])
        y = np.array([r["measured"][res] - r["parts"][res]["argmax"] for r in mine],
                     dtype=float)
        coef = np.linalg.lstsq(a, y, rcond=None)[0]
        factors[res] = {k: round(float(c), 3) for k, c in zip((*FITTED, "one"), coef)}
        factors[res]["argmax"] = 1.0
    return factors


def render(rows, estimates):
    lines = ["# Folded accelerator: Yosys alone beside the estimate", "",
             "Written by `benchmarks/sweep_folded.py`: each shipped example's folded plan at "
             "1, 2, 4 and 8 lanes, and random networks of every scheme at 2 lanes (held out, "
             "marked *), synthesized alone (`synth_ice40`), beside "
             "`popcorn.hdl.folded.estimate_folded`. Block RAM and SPRAM must be exact.", "",
             "| design | LUT4 | estimate | error | FF | estimate | error | EBR | estimate | "
             "SPRAM | estimate |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    errors = {"fitted": [], "held out": []}
    for r, e in zip(rows, estimates):
        m = r["measured"]
        err = {k: (e[k] - m[k]) / m[k] for k in ("lut4", "ff")}
        errors["held out" if r["held_out"] else "fitted"] += list(map(abs, err.values()))
        lines.append(f"| {r['design']}{' *' if r['held_out'] else ''} | {m['lut4']} | "
                     f"{e['lut4']} | {100 * err['lut4']:+.1f} % | {m['ff']} | {e['ff']} | "
                     f"{100 * err['ff']:+.1f} % | {m['ebr']} | {e['ebr']} | {m['spram']} | "
                     f"{e['spram']} |")
    lines.append("")
    lines += [f"{k.capitalize()}: mean error {100 * np.mean(v):.1f} %, max "
              f"{100 * max(v):.1f} %." for k, v in errors.items() if v]
    return "\n".join(lines) + "\n"


def main(argv):
    args = sweep_args(argv)
    plans = {name: plan for name, plan, _ in points()}
    if args.fit or args.rerender:
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
                got = synth_stat(FoldedAccelerator(plan), family="ice40",
                                 build_dir=Path(tmp) / str(n))
                rows.append({"design": name, "held_out": held_out,
                             "parts": {k: folded_parts(plan)[k] for k in ("lut4", "ff")},
                             "measured": {k: getattr(got, k)
                                          for k in ("lut4", "ff", "ebr", "spram")}})
                print(name, rows[-1]["measured"], flush=True)
    estimates = [estimate_folded(plans[r["design"]]) for r in rows]
    write_markdown_and_json(OUT, render(rows, estimates), rows)


if __name__ == "__main__":
    main(sys.argv[1:])
