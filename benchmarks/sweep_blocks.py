"""Synthesis sweep of the popcount and PE blocks: real Yosys counts beside the estimates.

For every point of a small parameter sweep the block is synthesized on its own with the
YoWASP Yosys (``synth_ice40``; ``synth_ecp5 -nowidelut``) and its LUT4/FF/EBR/DSP are
written beside :mod:`popcorn.hdl.estimates` and the estimate's error. A few points are
also placed and routed behind the UART link (``BoardTop``, nextpnr) for fmax.

    PYTHONPATH=. python benchmarks/sweep_blocks.py [--families ice40 ecp5] [--no-fmax]
    PYTHONPATH=. python benchmarks/sweep_blocks.py --rerender   # estimates only, no tools
    PYTHONPATH=. python benchmarks/sweep_blocks.py --fit        # print fitted factors
    PYTHONPATH=. python benchmarks/sweep_blocks.py --engine [--families ice40 ecp5]
    PYTHONPATH=. python benchmarks/sweep_blocks.py --engine --rerender  # estimates only
    PYTHONPATH=. python benchmarks/sweep_blocks.py --engine --only two-fold  # some layers
    PYTHONPATH=. python benchmarks/sweep_blocks.py --engine --fit       # ENGINE_FACTORS and
                                                                        # CONSTANT_WEIGHT_SHARING

Writes ``reports/blocks/sweep.md`` and ``reports/blocks/sweep.json``; with ``--engine``
the layer engine (``MatrixVectorActivation``) on a handful of layers beside
``estimate_mva``: ``reports/blocks/engine_estimates.md`` and ``.json``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import SYNTH_OPTS, FlatStreams
from popcorn.boards.build import build_bitstream
from popcorn.boards.top import BoardTop
from popcorn.hdl import estimates
from popcorn.hdl.pe import BinaryPE
from popcorn.hdl.popcount import Popcount
from popcorn.hwmath import tree_levels
from popcorn.hdl.synth import synth_stat

ROOT = Path(__file__).resolve().parent.parent
BOARD = {"ice40": "icebreaker", "ecp5": "ulx3s-85f"}
PAIRS = [("pm1", "pm1"), ("pm1", "zo"), ("zo", "pm1"), ("zo", "zo")]


def popcount_points():
    pts = []
    for width in (16, 64, 256, 1024):
        levels = tree_levels(width, 3)
        for p in sorted({0, (levels + 1) // 2, levels}):
            pts.append(dict(width=width, pipeline=p, group=3))
    for group in (1, 2, 4):
        pts.append(dict(width=256, pipeline=tree_levels(256, group), group=group))
    pts.append(dict(width=4096, pipeline=tree_levels(4096, 3), group=3))
    return pts


def pe_points():
    pts = []
    for wenc, aenc in PAIRS:
        group = 4 if wenc != aenc else 3
        levels = tree_levels(64 * (2 if wenc != aenc else 1), group)
        for p in (0, levels):
            pts.append(dict(simd=64, folds=1, weight_encoding=wenc, act_encoding=aenc,
                            pipeline=p))
    pts.append(dict(simd=64, folds=4, weight_encoding="pm1", act_encoding="pm1", pipeline=3))
    pts.append(dict(simd=64, folds=4, weight_encoding="zo", act_encoding="pm1", pipeline=3))
    for p in (0, 3, 8):
        pts.append(dict(simd=256, folds=1, weight_encoding="pm1", act_encoding="pm1",
                        pipeline=p))
    return pts


# Points not used to fit the factors: their error tests the estimate on designs it has
# not seen.
HELD_OUT = [
    ("popcount", dict(width=512, pipeline=3, group=3)),
    ("popcount", dict(width=2000, pipeline=7, group=3)),
    ("popcount", dict(width=300, pipeline=5, group=2)),
    ("pe", dict(simd=128, folds=2, weight_encoding="pm1", act_encoding="pm1", pipeline=5)),
    ("pe", dict(simd=100, folds=1, weight_encoding="zo", act_encoding="zo", pipeline=2)),
    ("pe", dict(simd=96, folds=3, weight_encoding="pm1", act_encoding="zo", pipeline=4)),
]

FMAX_POINTS = [
    ("popcount", dict(width=256, pipeline=0, group=3)),
    ("popcount", dict(width=256, pipeline=4, group=3)),
    ("popcount", dict(width=256, pipeline=8, group=3)),
    ("pe", dict(simd=64, folds=4, weight_encoding="pm1", act_encoding="zo", pipeline=3)),
]


def make(block, params):
    return Popcount(**params) if block == "popcount" else BinaryPE(**params)


def estimate(block, params, family):
    fn = estimates.estimate_popcount if block == "popcount" else estimates.estimate_pe
    return fn(**params, family=family)


def features(block, params):
    if block == "popcount":
        f = estimates.tree_features(params["width"], params["group"], params["pipeline"])
        f["extra"] = 0
        return f
    return estimates.pe_features(**params)


def tag(block, params):
    return block + "_" + "_".join(f"{k}{v}" for k, v in params.items())


def synth_point(block, params, family, build_root, held_out=False):
    got = synth_stat(make(block, params), family=family, synth_opts=SYNTH_OPTS[family],
                     build_dir=build_root / family / tag(block, params))
    row = {"block": block, "family": family, "params": params, "held_out": held_out,
           "actual": got.to_dict()}
    print(json.dumps(row), flush=True)
    return row


def fmax_point(block, params, family, build_root):
    start = time.monotonic()
    core = make(block, params)
    _, impl = build_bitstream(BoardTop(FlatStreams(core) if block == "pe" else core),
                              board=BOARD[family],
                              build_dir=build_root / f"{family}_board" / tag(block, params))
    row = {"block": block, "family": family, "params": params, "board": BOARD[family],
           "fmax_mhz": impl.fmax_mhz, "board_lut4": impl.lut4, "board_ff": impl.ff,
           "seconds": round(time.monotonic() - start, 1)}
    print(json.dumps(row), flush=True)
    return row


def attach_estimates(rows):
    """Add the current estimates and their errors to every synthesized row."""
    for r in rows:
        est = estimate(r["block"], r["params"], r["family"])
        r["estimate"] = est
        r["error_pct"] = {
            key: (round(100 * (est[key] - r["actual"][key]) / r["actual"][key], 1)
                  if r["actual"][key] else (0.0 if est[key] == 0 else None))
            for key in ("lut4", "ff")}
    return rows


def fit(rows):
    """Least-squares factors (compressor, reg_adder, comb_adder, fixed) per family."""
    out = {}
    for family in sorted({r["family"] for r in rows}):
        sel = [r for r in rows if r["family"] == family and not r.get("held_out")]
        feats = [features(r["block"], r["params"]) for r in sel]
        a = np.array([[f["compressor"], f["reg_adder"], f["comb_adder"], 1.0] for f in feats])
        b = np.array([r["actual"]["lut4"] - f["extra"] for r, f in zip(sel, feats)])
        # Relative least squares: every point weighs the same, small or large.
        w = 1.0 / np.maximum(b, 1.0)
        sol, *_ = np.linalg.lstsq(a * w[:, None], b * w, rcond=None)
        out[family] = dict(zip(("compressor", "reg_adder", "comb_adder", "fixed"),
                               (round(float(x), 3) for x in sol)))
    return out


def describe(block, p):
    if block == "popcount":
        return f"N={p['width']} g={p['group']} d={p['pipeline']}"
    enc = f"{p['weight_encoding']}x{p['act_encoding']}"
    g = f" g={p['group']}" if p.get("group") else ""
    return f"SIMD={p['simd']} folds={p['folds']} {enc}{g} d={p['pipeline']}"


def markdown(rows, fmax_rows):
    lines = [
        "# Block synthesis sweep: Yosys counts beside the estimates",
        "",
        "Generated by `benchmarks/sweep_blocks.py`. `actual`: Yosys `stat` of the block",
        "synthesized on its own (iCE40: `synth_ice40`; ECP5: `synth_ecp5 -nowidelut`, a",
        "CCU2C counted as 2 LUT4). `est.`: `popcorn.hdl.estimates` (factors in",
        "`estimates.FACTORS`, fitted by least squares on the points not marked held out).",
        "Error = (est - actual)",
        "/ actual. EBR and DSP are 0 in every run and every estimate.",
        "",
    ]
    for family in ("ice40", "ecp5"):
        sel = [r for r in rows if r["family"] == family]
        if not sel:
            continue
        lines += [f"## {family}", ""]
        for label, part in (("fitted points", [r for r in sel if not r.get("held_out")]),
                            ("held-out points (not used for the fit)",
                             [r for r in sel if r.get("held_out")])):
            if not part:
                continue
            errs = [abs(r["error_pct"]["lut4"]) for r in part]
            ff_errs = [abs(r["error_pct"]["ff"]) for r in part
                       if r["error_pct"]["ff"] is not None]
            lines.append(f"- {label}: LUT4 estimate error mean |err| {np.mean(errs):.1f} %, "
                         f"max {max(errs):.1f} %; FF mean |err| {np.mean(ff_errs):.1f} %, "
                         f"max {max(ff_errs):.1f} % ({len(part)} points).")
        lines += ["",
                  "| block | parameters | LUT4 | est. LUT4 | err % | FF | est. FF | err % | "
                  "carry | EBR | DSP | Yosys s |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
                  "---: |"]
        for r in sel:
            a, e, err = r["actual"], r["estimate"], r["error_pct"]
            held = " (held out)" if r.get("held_out") else ""
            lines.append(
                f"| {r['block']} | {describe(r['block'], r['params'])}{held} | {a['lut4']} | "
                f"{e['lut4']} | {err['lut4']} | {a['ff']} | {e['ff']} | {err['ff']} | "
                f"{a['carry']} | {a['ebr']} | {a['dsp']} | {a['seconds']} |")
        lines.append("")
    if fmax_rows:
        lines += ["## fmax (nextpnr, block behind the UART link)", "",
                  "| board | block | parameters | fmax MHz | board LUT4 | board FF |",
                  "| --- | --- | --- | ---: | ---: | ---: |"]
        for r in fmax_rows:
            lines.append(f"| {r['board']} | {r['block']} | {describe(r['block'], r['params'])}"
                         f" | {r['fmax_mhz']} | {r['board_lut4']} | {r['board_ff']} |")
        lines.append("")
    return "\n".join(lines)


def engine_points():
    """(name, LinearFolding, held_out) of the engine sweep: BNN (EBR weights), ABC-Net
    shaped with constant and per-channel A, parallel and serial bases, pipelined, DSP and
    scores; and BNN layers with constant weights (one or two folds, NF*SF <= 2), which fit
    ``estimates.CONSTANT_WEIGHT_SHARING``. Held-out layers are not used in any fit."""
    from popcorn.mapping.synthetic import abc_per_channel, bnn_hidden
    from popcorn.mapping.linear import LinearFolding
    bnn = bnn_hidden(256, 64)
    abc_pc = abc_per_channel()
    abc_u = abc_per_channel(uniform=True)
    points = [
        ("BNN 256->64 PE4 SIMD32", LinearFolding(*bnn, pe=4, simd=32)),
        ("BNN 256->64 PE4 SIMD32 d3", LinearFolding(*bnn, pe=4, simd=32, pipeline=3)),
        ("ABC A/channel PE2 SIMD16", LinearFolding(*abc_pc, pe=2, simd=16)),
        ("ABC A/channel PE2 SIMD16 dsp", LinearFolding(*abc_pc, pe=2, simd=16, multiply="dsp")),
        ("ABC A/channel PE2 SIMD16 serial", LinearFolding(*abc_pc, pe=2, simd=16,
                                                           bases="serial")),
        ("ABC A/channel PE2 SIMD16 serial dsp", LinearFolding(*abc_pc, pe=2, simd=16,
                                                               bases="serial", multiply="dsp")),
        ("ABC A const PE2 SIMD16", LinearFolding(*abc_u, pe=2, simd=16)),
        ("ABC A const PE2 SIMD16 serial d2", LinearFolding(*abc_u, pe=2, simd=16,
                                                            bases="serial", pipeline=2)),
        ("ABC A const scores PE4 SIMD64", LinearFolding(abc_u[0], None, pe=4, simd=64)),
    ]
    points = [(name, folding, False) for name, folding in points]
    for simd, pe, d in ((64, 1, 4), (64, 2, 4), (64, 4, 4), (64, 8, 4), (64, 16, 4),
                        (64, 16, 0), (32, 16, 0), (128, 8, 4), (32, 32, 3)):
        points.append((f"BNN const {simd}->{pe} PE{pe} SIMD{simd} d{d}",
                       LinearFolding(*bnn_hidden(simd, pe, seed=1), pe=pe, simd=simd,
                                     pipeline=d), False))
    for simd, pe, d in ((96, 12, 2), (48, 24, 0), (256, 4, 5)):
        points.append((f"BNN const {simd}->{pe} PE{pe} SIMD{simd} d{d} seed 2",
                       LinearFolding(*bnn_hidden(simd, pe, seed=2), pe=pe, simd=simd,
                                     pipeline=d), True))
    # one fold counted as selected counts (LinearFolding.count_selection)
    for fan_in, channels, d, held in ((256, 16, 4, False), (128, 32, 3, False),
                                      (784, 32, 5, True)):
        points.append((f"BNN selected {fan_in}->{channels} PE{channels} SIMD{fan_in} d{d}",
                       LinearFolding(*bnn_hidden(fan_in, channels, seed=5), pe=channels,
                                     simd=fan_in, pipeline=d), held))
    # two folds of constant words (NF = 2 or SF = 2), picked by the fold bit
    for fan_in, channels, pe, simd, d, held in (
            (64, 16, 8, 64, 4, False), (64, 32, 16, 64, 0, False), (128, 8, 8, 64, 4, False),
            (256, 8, 4, 256, 4, False), (256, 4, 4, 128, 0, False),
            (96, 24, 12, 96, 2, True), (256, 8, 4, 256, 0, True)):
        points.append((f"BNN two-fold {fan_in}->{channels} PE{pe} SIMD{simd} d{d}",
                       LinearFolding(*bnn_hidden(fan_in, channels, seed=4), pe=pe,
                                     simd=simd, pipeline=d), held))
    # the trained demo network's layers, as `popcorn build` maps them
    from popcorn.examples import load_example
    from popcorn.mapping.network_map import map_network
    plan = map_network(load_example("digits-bnn")[0], target_cycles=256)   # the CLI default
    for folding in plan.foldings:
        points.append((f"digits-bnn layer {folding.linear.layer} PE{folding.pe} "
                       f"SIMD{folding.simd}", folding, True))
    # the LeNet examples' engines as `popcorn build --board ulx3s-85f` maps them: with a
    # per-channel A as gated multiples (fits ENGINE_FACTORS' gated_pp / product_sum;
    # XNOR-Net's first layer: narrow bit-plane A; the scores layers), and with a uniform A
    for name, layer, held in (("mnist-cnn-xnor", 0, False), ("mnist-cnn-abc", 9, False),
                              ("mnist-cnn-bnn", 9, False), ("mnist-cnn-pa", 9, True),
                              # a uniform A: shifted counts of bit-plane inputs and of
                              # hidden layers' bases, wide zo and pm1 trees (shift_sum)
                              ("mnist-cnn-abc", 0, False), ("mnist-cnn-abc", 4, False),
                              ("mnist-cnn-pa", 0, False), ("mnist-cnn-pa", 4, False),
                              ("mnist-cnn-bnn", 0, True)):
        folding = next(f for f in example_plan(name, "ulx3s-85f").foldings
                       if f.linear.layer == layer)
        points.append((f"{name} layer {layer} PE{folding.pe} SIMD{folding.simd}", folding,
                       held))
    # a uniform A with many shifted counts added in product stages (fits shift_sum):
    # digits-mobilenet-pa's uniform engines (20 and 12 base pairs)
    for layer, held in ((0, False), (12, False), (6, True)):
        folding = next(f for f in example_plan("digits-mobilenet-pa", "ulx3s-85f").foldings
                       if f.linear.layer == layer)
        points.append((f"digits-mobilenet-pa layer {layer} PE{folding.pe} "
                       f"SIMD{folding.simd}", folding, held))
    return points


def example_plan(name, board):
    """The dataflow plan ``popcorn build --example NAME --board BOARD`` builds (default
    options)."""
    from popcorn.cli import _dataflow_plan
    from popcorn.examples import load_example
    _, plan = _dataflow_plan(load_example(name)[0], board, "fill", target_cycles="auto",
                             frac_bits=8, pipeline="auto", bases="parallel",
                             multiply="shift-add")
    return plan


def engine_row(name, family, folding, got, held_out, opts=None):
    if opts is None:
        opts = (SYNTH_OPTS[family] + (" -dsp" if folding.needs_dsp and family == "ice40"
                                      else "")).strip()
    est = estimates.estimate_mva(folding, family)
    return {"layer": name, "family": family, "synth_opts": opts, "held_out": held_out,
            "actual": got.to_dict(), "estimate": est,
            "error_pct": {k: round(100 * (est[k] - getattr(got, k)) / getattr(got, k), 1)
                          if getattr(got, k) else None for k in ("lut4", "ff")}}


def engine_fit(out):
    """Relative non-negative least-squares ``ENGINE_FACTORS`` (arith, acc, gated_pp,
    product_sum, shift_sum, rom + control) per family on the saved engine counts of the layers whose weights come from
    a ROM (not held out)."""
    saved = json.loads((out / "engine_estimates.json").read_text())["rows"]
    points = {name: folding for name, folding, held in engine_points()
              if not held and not folding.weight_constants}
    fitted = {}
    for family in ("ice40", "ecp5"):
        a, b = [], []
        for r in saved:
            if r["family"] != family or r["layer"] not in points:
                continue
            feats = estimates.mva_features(points[r["layer"]], family)
            a.append([feats["arith"], feats["acc"], feats["gated_pp"], feats["product_sum"],
                      feats["shift_sum"], feats["rom"] + feats["control"]])
            b.append(r["actual"]["lut4"] - feats["trees"])
        a, b = np.array(a), np.array(b, dtype=float)
        w = 1.0 / np.maximum(b, 1.0)
        arith, acc, gated_pp, product_sum, shift_sum, other = (
            round(float(x), 2) for x in _nonnegative_lstsq(a * w[:, None], b * w))
        fitted[family] = {"arith": arith, "acc": acc, "gated_pp": gated_pp,
                          "product_sum": product_sum, "shift_sum": shift_sum, "rom": other,
                          "control": other}
    return fitted


def _nonnegative_lstsq(a, b):
    """Least squares ``a x ~ b`` with ``x >= 0`` (a LUT4 count per feature is never
    negative; features that move together, as a gate stage's partial-product bits and its
    sums, can fit one of them below 0): a factor that comes out negative is dropped (0)
    and the others fitted again."""
    active = list(range(a.shape[1]))
    while True:
        sol = np.zeros(a.shape[1])
        sol[active], *_ = np.linalg.lstsq(a[:, active], b, rcond=None)
        if sol.min() >= 0:
            return sol
        active.remove(int(np.argmin(sol)))


def sharing_fit(out):
    """``CONSTANT_WEIGHT_SHARING``: per family and fold count (1 or 2, or "selected"
    counts), the exponent beta (a grid of 0.005 steps in [0, 0.6]) whose estimates have
    the least relative squared LUT4 error on the saved counts of the constant-weight
    layers not held out."""
    saved = json.loads((out / "engine_estimates.json").read_text())["rows"]
    points = {name: folding for name, folding, held in engine_points()
              if not held and folding.weight_constants}

    def kind(folding):
        return "selected" if folding.count_selection() is not None else \
            folding.neuron_folds * folding.synapse_folds

    fitted = {}
    for family in ("ice40", "ecp5"):
        fitted[family] = {}
        for folds in (1, 2, "selected"):
            rows = [(points[r["layer"]], r["actual"]["lut4"]) for r in saved
                    if r["family"] == family and r["layer"] in points and
                    kind(points[r["layer"]]) == folds]

            def error(beta):
                table = {f: dict(v) for f, v in estimates.CONSTANT_WEIGHT_SHARING.items()}
                table[family][folds] = beta
                with _patched(estimates, "CONSTANT_WEIGHT_SHARING", table):
                    return sum(((estimates.estimate_mva(f, family)["lut4"] - got) / got) ** 2
                               for f, got in rows)
            fitted[family][folds] = min((round(0.005 * k, 3) for k in range(121)), key=error)
    return fitted


class _patched:
    """``with _patched(module, name, value)``: ``module.name`` is ``value`` inside."""

    def __init__(self, module, name, value):
        self.module, self.name, self.value = module, name, value

    def __enter__(self):
        self.saved = getattr(self.module, self.name)
        setattr(self.module, self.name, self.value)

    def __exit__(self, *exc):
        setattr(self.module, self.name, self.saved)


def engine_sweep(families, build_root, out, rerender=False, only=None):
    """Synthesize the engine points (``only``: those whose name contains it, the saved
    counts of the others kept) and write the report."""
    from popcorn.hdl.mva import MatrixVectorActivation
    rows = []
    if rerender or only:
        saved = {(r["family"], r["layer"]): r["actual"]
                 for r in json.loads((out / "engine_estimates.json").read_text())["rows"]}
        families = sorted({f for f, _ in saved} | set(families), key=["ice40", "ecp5"].index)
    for family in families:
        for name, folding, held_out in engine_points():
            if rerender or (only and only not in name and (family, name) in saved):
                from popcorn.hdl.synth import CellCount
                got = CellCount(**saved[family, name])
                rows.append(engine_row(name, family, folding, got, held_out))
                continue
            opts = SYNTH_OPTS[family] + (" -dsp" if folding.needs_dsp and family == "ice40"
                                         else "")
            got = synth_stat(MatrixVectorActivation(folding), family=family, synth_opts=opts,
                             build_dir=build_root / "engine" / family / name.replace(" ", "_")
                             .replace("/", "_").replace(">", ""))
            row = engine_row(name, family, folding, got, held_out, opts.strip())
            print(json.dumps(row), flush=True)
            rows.append(row)
    lines = ["# Layer engine: Yosys counts beside estimate_mva", "",
             "Generated by `benchmarks/sweep_blocks.py --engine`. `actual`: Yosys `stat` of "
             "`MatrixVectorActivation` synthesized alone (iCE40 `synth_ice40`, plus `-dsp` "
             "when `LinearFolding.needs_dsp`; ECP5 `synth_ecp5 -nowidelut`, a CCU2C counted "
             "as 2 LUT4). `est.`: `popcorn.hdl.estimates.estimate_mva`. Its "
             "`ENGINE_FACTORS` were fitted on the first nine layers and the LeNet "
             "examples' layers not held out, "
             "`CONSTANT_WEIGHT_SHARING` on the `BNN const` (constant weights, NF*SF = 1) "
             "and `BNN two-fold` layers (NF*SF = 2) not marked held out; held-out layers "
             "and the small layers of "
             "`tests/hdl/test_mva_estimates.py` are in no fit. "
             "Error = (est - actual) / actual.", ""]
    for family in families:
        sel = [r for r in rows if r["family"] == family]
        lines += [f"## {family}", ""]
        for label, part in (("fitted layers", [r for r in sel if not r["held_out"]]),
                            ("held-out layers", [r for r in sel if r["held_out"]])):
            errs = [abs(r["error_pct"]["lut4"]) for r in part]
            ff = [abs(r["error_pct"]["ff"]) for r in part]
            lines.append(f"- {label} ({len(part)}): LUT4 mean |err| {np.mean(errs):.1f} %, "
                         f"max {max(errs):.1f} %; FF mean |err| {np.mean(ff):.1f} %, "
                         f"max {max(ff):.1f} %.")
        lines += ["",
                  "| layer | LUT4 | est. | err % | FF | est. | err % | EBR | est. | DSP | "
                  "est. | Yosys s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                  "| ---: |"]
        for r in sel:
            a, e, err = r["actual"], r["estimate"], r["error_pct"]
            held = " (held out)" if r["held_out"] else ""
            lines.append(f"| {r['layer']}{held} | {a['lut4']} | {e['lut4']} | {err['lut4']} | "
                         f"{a['ff']} | {e['ff']} | {err['ff']} | {a['ebr']} | {e['ebr']} | "
                         f"{a['dsp']} | {e['dsp']} | {a['seconds']} |")
        lines.append("")
    lines += [
        "## Known weak spots", "",
        "- Constant weights: one sharing exponent per family stands for how much logic "
        "Yosys/ABC shares between lanes that see the same activations; it does not "
        "depend on the pipeline depth, while Yosys shares more in an unpipelined tree.",
        "- Serial bases: the base-pair and A multiplexer model is the least tested part "
        "(four layers here, two in `tests/hdl/test_mva_estimates.py`).",
        "- ROMs in logic are costed as arbitrary functions of the address "
        "(`estimates.rom_resources`); weights with structure cost less.",
        ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine_estimates.json").write_text(json.dumps(
        {"engine_factors": estimates.ENGINE_FACTORS,
         "constant_weight_sharing": estimates.CONSTANT_WEIGHT_SHARING, "rows": rows},
        indent=1))
    (out / "engine_estimates.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", action="store_true",
                    help="sweep the layer engine instead of the popcount and PE blocks")
    ap.add_argument("--families", nargs="+", default=["ice40", "ecp5"])
    ap.add_argument("--no-fmax", action="store_true", help="skip the nextpnr builds")
    ap.add_argument("--rerender", action="store_true",
                    help="reuse the synthesized counts of sweep.json, recompute estimates")
    ap.add_argument("--fit", action="store_true", help="print least-squares factors")
    ap.add_argument("--only", default=None, help="with --engine: synthesize only the layers "
                    "whose name contains this, keep the saved counts of the others")
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "sweep"))
    ap.add_argument("--out", default=str(ROOT / "reports" / "blocks"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    build_root = Path(args.build_dir)
    if args.engine and args.fit:
        print(json.dumps({"ENGINE_FACTORS": engine_fit(out),
                          "CONSTANT_WEIGHT_SHARING": sharing_fit(out)}, indent=1))
        return 0
    if args.engine:
        return engine_sweep(args.families, build_root, out, rerender=args.rerender,
                            only=args.only)
    if args.rerender or args.fit:
        saved = json.loads((out / "sweep.json").read_text())
        rows, fmax_rows = saved["synth"], saved["fmax"]
    else:
        rows, fmax_rows = [], []
        for family in args.families:
            for block, pts in (("popcount", popcount_points()), ("pe", pe_points())):
                for params in pts:
                    rows.append(synth_point(block, params, family, build_root))
            for block, params in HELD_OUT:
                rows.append(synth_point(block, params, family, build_root, held_out=True))
            if not args.no_fmax:
                for block, params in FMAX_POINTS if family == "ice40" else FMAX_POINTS[1:2]:
                    fmax_rows.append(fmax_point(block, params, family, build_root))
    if args.fit:
        print(json.dumps(fit(rows), indent=1))
        return 0
    attach_estimates(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(
        {"factors": estimates.FACTORS, "synth": rows, "fmax": fmax_rows}, indent=1))
    (out / "sweep.md").write_text(markdown(rows, fmax_rows))
    print(markdown(rows, fmax_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
