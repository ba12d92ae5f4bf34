"""FINN's bnn_pynq networks through `popcorn build`: TFC-w1a1 on the iCEBreaker, CNV-w1a1
and CNV-w2a2 on the ULX3S-85F (and any other by name), from the QONNX files that
`benchmarks/finn_networks.py` exported and imported (build/finn/<name>/<name>.npz).

    python benchmarks/finn_networks.py --networks tfc_1w1a cnv_1w1a   # the network files
    python benchmarks/build_finn.py [NAME[:BOARD[:TARGET]] ...]         # reports/<name>-<board>/
    python benchmarks/build_finn.py --arch folded tfc_1w1a sfc_1w1a    # reports/<name>-folded-<board>/
    python benchmarks/build_finn.py --arch folded lfc_1w1a     # 2.9 Mbit: layers streamed from flash

The test inputs are the MNIST subset's test split as the models take it
(``popcorn.frontends.bnn_pynq.mnist_inputs``). Every figure in the reports is written by
`popcorn build` from the tools' own outputs.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np

from popcorn.frontends import bnn_pynq
from popcorn.train.data import load_mnist_subset

BUILDS = {"tfc_1w1a": ("icebreaker", "auto", 100, ""),
          "cnv_1w1a": ("ulx3s-85f", "15000", 3, ""),
          "cnv_2w2a": ("ulx3s-85f", "150000", 2, "")}
"""name -> (board, --target-cycles, images simulated in RTL, --nextpnr-opts). CNV-w2a2's
weights (3.1 Mbit) fill the ULX3S-85F's 208 DP16KD only when its ROMs tile them: at
150 000 cycles per image, with the ROMs' address ranges side by side as Yosys lays them
(``popcorn.hdl.estimates.rom_tiling``), they take 207, estimated and placed alike (built at
586b16d: 37 107 LUT4 placed, 59.5 MHz; estimated 37 584 at c8c9779), and nothing is
refolded. When ROMs were counted one range per block, ``popcorn.boards.fit.fit_block_ram``
refolded two engines (221 -> 205 DP16KD estimated, 201 placed); before that, the second
convolution's 512 x 144 ROM went to about 20 000 LUT4 of logic, and router2 stalled at
about 13 000 overused wires (default density and ``--placer-heap-beta 0.6`` alike)."""

FOLDED = {"lfc_1w1a": ("1870000", 10), "cnv_1w1a": ("auto", 2)}
"""name -> (--target-cycles, images simulated in RTL) of a folded build (else auto and 100):
LFC-w1a1's 2.9 Mbit stream 29 120 words from the flash for every image, 1.86 M cycles (four
lanes: the fewest that reach it); CNV-w1a1 (about 2 M cycles an image) takes the fewest
lanes and input banks that fit the UP5K's block RAM."""


def main(args, build_dir=Path("build/finn")):
    arch = "dataflow"
    if args[:1] == ["--arch"]:
        arch, args = args[1], args[2:]
    split = load_mnist_subset()
    for arg in args or BUILDS:
        name, *rest = arg.split(":")
        board, target, images, opts = BUILDS.get(name, ("ulx3s-85f", "auto", 10, ""))
        board = rest[0] if rest else board
        target = rest[1] if len(rest) > 1 else target
        network = build_dir / name / f"{name}.npz"
        if not network.is_file():
            sys.exit(f"{network} is missing: run `python benchmarks/finn_networks.py "
                     f"--networks {name}` first")
        inputs = build_dir / name / "test_inputs.npz"
        np.savez(inputs, x=bnn_pynq.mnist_inputs(split.x_test[:200], name),
                 y=split.y_test[:200])
        command = [sys.executable, "-m", "popcorn.cli", "build", str(network), "--inputs",
                   str(inputs), "--board", board, "--target-cycles", target, "--sim-images",
                   str(images), "--arch", arch, "--nextpnr-opts", opts]
        if arch == "folded":         # the small board's architecture: images are cheap
            target, images = FOLDED.get(name, (target, 100))
            command[command.index("--board") + 1] = "icebreaker"
            command[command.index("--target-cycles") + 1] = target
            command[command.index("--sim-images") + 1] = str(images)
        print(" ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
