"""Build the built-in CNN examples end to end (golden model, RTL simulation against it with
exact cycles, bitstream, report) with `popcorn build`, one command per example.

    python benchmarks/build_examples.py [NAME ...]     # reports/<example>-<board>/
    python benchmarks/build_examples.py --all           # every example on both boards

The smallest network goes on the iCEBreaker; the others on the ULX3S-85F, where they fit
without folding them into the ground. With ``--all`` (what `make examples` runs), every
shipped example on both boards with ``--arch auto``: on the iCEBreaker the folded
architecture where the dataflow one does not fit, at ``--target-fps 92`` (the examples with
branches, :data:`GRAPHS`, on the ULX3S only). Every figure in
the reports is written by `popcorn build` from the tools' own outputs.
"""

import subprocess
import sys

BUILDS = {
    "mnist-cnn-bnn-tiny": "icebreaker",
    "mnist-cnn-bnn": "ulx3s-85f",
    "mnist-cnn-binaryconnect": "ulx3s-85f",
    "mnist-cnn-xnor": "ulx3s-85f",
    "mnist-cnn-abc": "ulx3s-85f",
    "mnist-cnn-pa": "ulx3s-85f",
    "digits-resnet-abc": "ulx3s-85f",
    "digits-textcnn-xnor": "ulx3s-85f",
    "digits-mobilenet-pa": "ulx3s-85f",
}
"""Example -> board, each with the default folding (``--target-cycles auto``)."""

GRAPHS = ("digits-resnet-abc", "digits-textcnn-xnor")
"""Examples with branches: the folded architecture takes no graphs and their dataflow
designs exceed the UP5K, so ``--all`` builds them on the ULX3S only."""


def main(names):
    if names == ["--all"]:
        for name in ("digits-bnn", *BUILDS):
            for board in ("ulx3s-85f",) if name in GRAPHS else ("icebreaker", "ulx3s-85f"):
                command = [sys.executable, "-m", "popcorn.cli", "build", "--example", name,
                           "--board", board]
                if board == "icebreaker" and name != "digits-bnn":
                    command += ["--target-fps", "92"]
                print(" ".join(command[1:]), flush=True)
                subprocess.run(command, check=True)
        return
    for name in names or BUILDS:
        command = [sys.executable, "-m", "popcorn.cli", "build", "--example", name, "--board",
                   BUILDS[name]]
        print(" ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
