"""Compute density of whole generated accelerators: binary operations per LUT4 per cycle.

    python benchmarks/finn_networks.py --networks tfc_1w1a sfc_1w1a   # the network files
    python benchmarks/density.py [NAME:TARGET ...] [--label L]    # reports/perf/density.{md,json}
    python benchmarks/density.py cnv_layer2:784                   # a CNV layer (no files needed)
    python benchmarks/density.py sfc_1w1a:64 --counts tables      # counts from block RAM tables

Each NAME (a FINN network that `benchmarks/finn_networks.py` imported,
``build/finn/<name>/<name>.npz``) is built for the ULX3S-85F by ``popcorn build
--target-cycles TARGET`` with the dataflow architecture, a few images simulated in RTL
(the cycles per image measured, checked against the mapper by the build), and its
report read back: ``ops/LUT4/cycle`` is
:func:`popcorn.reports.html_report.binary_ops_per_lut4_cycle` (a multiply-accumulate of a
weight base and an activation base counted as 2 operations, nextpnr's LUT4 of the whole
design: engines, argmax, control and the UART link). The default set is issue 12's: FINN's
TFC-w1a1 and SFC-w1a1 topologies at 64 cycles per image (about 10 min and 80 min here:
SFC's 148 block RAMs and 784-bit buses keep router2 at it for over an hour). The builds
and their reports go to ``build/density/``; only the table lands in reports/. Rows are
kept per code label (``git describe``, or ``--label``), so a run on older code gives the
"before" rows.

``cnv_layer2`` is a CNV layer: FINN CNV-w1a1's second convolution (64 to 64 channels, 3 x 3,
on its 30 x 30 x 64 binary input map), then CNV's 2 x 2 max-pool and a BNN dense layer to
10 scores so that the design is a whole accelerator, written by :func:`cnv_layer2` with
seeded random +-1 weights and BatchNorm (no trained CNV here: the engine's structure and
cost do not depend on what the weights were trained on) and random inputs. At 784 cycles
per image its convolution engine holds all 64 x 576 weights as constants (one window per
cycle), the throughput-oriented folding of a CNV layer.

FINN's figure beside them is the one issue 12 quotes: SFC-max (the FINN paper, Umuroglu
et al., FPGA 2017: 12.3 M images/s on a ZC706) at about 0.45 operations per LUT6 per cycle
on a Zynq (a LUT6 holds more logic than a LUT4).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from popcorn.frontends import bnn_pynq
from popcorn.network import (Activation, BatchNorm, BnnWeights, Conv2d, Dense, Flatten,
                             MaxPool2d, Network, Scores, SignActivation)
from popcorn.network.fileformat import save_network
from popcorn.reports.html_report import binary_ops, binary_ops_per_lut4_cycle, engine_layers
from popcorn.train.data import load_mnist_subset
from verilog_speed import add_label_option, label_of, saved_rows

DEFAULT = ("tfc_1w1a:64", "sfc_1w1a:64")
BOARD = "ulx3s-85f"
SIM_IMAGES = 5
FINN_FIGURE = "FINN SFC-max, Zynq ZC706: about 0.45 ops per LUT6 per cycle (issue 12)"


def cnv_layer2(network_path, inputs_path, images=20, seed=0):
    """Write the ``cnv_layer2`` network (see the module's docstring) and random inputs."""
    rng = np.random.default_rng(seed)

    def batchnorm(channels, fan_in):
        return BatchNorm(gamma=rng.uniform(0.5, 1.5, channels), beta=rng.normal(0, 1, channels),
                         mean=rng.normal(0, np.sqrt(fan_in) / 4, channels),
                         var=np.full(channels, float(fan_in)), eps=1e-5)

    sign = SignActivation()
    layers = [Conv2d(weight=rng.standard_normal((64, 64, 3, 3)), quantizer=BnnWeights()),
              batchnorm(64, 576), Activation(sign), MaxPool2d(kernel=2, stride=2), Flatten(),
              Dense(weight=rng.standard_normal((10, 64 * 14 * 14)), quantizer=BnnWeights()),
              batchnorm(10, 64 * 14 * 14), Scores()]
    save_network(Network((64, 30, 30), sign, layers), network_path)
    np.savez(inputs_path, x=rng.standard_normal((images, 64, 30, 30)).astype(np.float32),
             y=rng.integers(0, 10, images))


def build(name, target, finn_dir, build_dir, counts="logic"):
    """Run ``popcorn build`` of ``name`` at ``target`` cycles per image (``--counts
    counts``); its report.json."""
    inputs = build_dir / f"{name}-inputs.npz"
    if name == "cnv_layer2":
        network = build_dir / f"{name}.npz"
        cnv_layer2(network, inputs)
    else:
        network = finn_dir / name / f"{name}.npz"
        if not network.is_file():
            sys.exit(f"{network} is missing: run `python benchmarks/finn_networks.py "
                     f"--networks {name}` first")
        split = load_mnist_subset()
        np.savez(inputs, x=bnn_pynq.mnist_inputs(split.x_test[:200], name),
                 y=split.y_test[:200])
    design = f"{name}-{target}" + ("" if counts == "logic" else f"-{counts}")
    command = [sys.executable, "-m", "popcorn.cli", "build", str(network), "--inputs",
               str(inputs), "--board", BOARD, "--arch", "dataflow", "--target-cycles",
               str(target), "--counts", counts, "--sim-images", str(SIM_IMAGES), "--build-dir",
               str(build_dir / design), "--report-dir", str(build_dir / design / "report")]
    print(" ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)
    reports = list((build_dir / design / "report").glob("*/report.json"))
    assert len(reports) == 1, reports
    return json.loads(reports[0].read_text())


def row(name, target, report, label, counts):
    impl = report["implementation"]
    layers = engine_layers(report["layers"])
    return {"code": label, "network": name, "target": int(target), "counts": counts,
            "board": BOARD,
            "cycles": report["cycles"]["per_image_measured"],
            "ops_per_image": sum(binary_ops(r) for r in layers),
            "lut4": impl["lut4"], "ff": impl["ff"], "ebr": impl["ebr"], "dsp": impl["dsp"],
            "fmax_mhz": report["performance"]["fmax"]["clock_mhz"],
            "layers": [(r["pe"], r["simd"]) for r in layers],
            "ops_per_lut4_cycle": round(binary_ops_per_lut4_cycle(report), 4)}


def write(out, rows):
    (out / "density.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Compute density: binary operations per LUT4 per cycle", "",
             "Written by `python benchmarks/density.py` (see its docstring): each FINN "
             "topology (and `cnv_layer2`, FINN CNV's second layer with a pool and a "
             "classifier, random weights) built by `popcorn build --arch dataflow "
             "--target-cycles T` for the "
             "ULX3S-85F (ECP5), cycles per image measured in RTL simulation, LUT4 / FF / "
             "EBR / DSP / fmax from nextpnr for the whole design (engines, argmax, control, "
             "UART link). ops/image: 2 per multiply-accumulate of a weight base and an "
             "activation base. code: the popcorn measured (`git describe`); counts: "
             "`popcorn build --counts` (logic: XNOR/AND and compressor trees; tables: "
             "block RAM count tables).", "",
             f"Beside it: {FINN_FIGURE}.", "",
             "| network | cycles/image | code | counts | PE x SIMD per layer | ops/image | "
             "LUT4 | FF | EBR | DSP | fmax MHz | ops/LUT4/cycle |",
             "| --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['network']} | {r['cycles']} | {r['code']} | {r.get('counts', 'logic')} | "
              f"{' '.join(f'{p}x{s}' for p, s in r['layers'])} | {r['ops_per_image']} | "
              f"{r['lut4']} | {r['ff']} | {r['ebr']} | {r['dsp']} | {r['fmax_mhz']} | "
              f"{r['ops_per_lut4_cycle']} |"
              for r in sorted(rows, key=lambda r: (r["network"], r["target"], r["code"],
                                                   r.get("counts", "logic")))]
    (out / "density.md").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", default=DEFAULT, metavar="NAME:TARGET")
    parser.add_argument("--finn-dir", default="build/finn", type=Path)
    parser.add_argument("--build-dir", default="build/density", type=Path)
    parser.add_argument("--out", default="reports/perf", type=Path)
    parser.add_argument("--counts", choices=("logic", "tables"), default="logic",
                        help="popcorn build --counts")
    add_label_option(parser)
    args = parser.parse_args()
    label = label_of(args)
    args.build_dir.mkdir(parents=True, exist_ok=True)
    rows = saved_rows(args.out, "density")
    for arg in args.networks:
        name, target = arg.split(":")
        report = build(name, target, args.finn_dir, args.build_dir, args.counts)
        new = row(name, target, report, label, args.counts)
        print(new, flush=True)
        rows = [r for r in rows if (r["code"], r["network"], r["target"], r.get("counts", "logic"))
                != (label, name, int(target), args.counts)] + [new]
        write(args.out, rows)


if __name__ == "__main__":
    main()
