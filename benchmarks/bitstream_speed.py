"""Wall time of a warm UP5K bitstream: `popcorn build --steps bitstream` of the built-in
examples on the iCEBreaker, Yosys and nextpnr rerun on a hot YoWASP cache.

    python benchmarks/bitstream_speed.py [NAME ...]     # reports/perf/bitstream_speed.{md,json}

NAME: the examples to build (by default every one that `build_examples.py --all` builds on
the iCEBreaker, with its options: ``--target-fps 92`` but for the digits BNN). For each, a
first build runs unless its build folder holds a finished one (it warms the YoWASP cache
and leaves the build that the second run would reuse); then the bitstream's reuse stamp
(``popcorn.digest``, :func:`popcorn.boards.build.build_bitstream`) is removed and the same
command runs again: that run is measured, from the command's start (Python, mapping, the
build plan) to the packed bitstream. The row also has the bitstream step's own seconds
(``steps/bitstream.json``), the architecture and the LUT4 nextpnr placed.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from build_examples import GRAPHS
from verilog_speed import add_label_option, label_of, saved_rows

from popcorn.examples import EXAMPLES


def command(name, build_dir):
    """The `popcorn build` command line of example ``name`` on the iCEBreaker."""
    args = [sys.executable, "-m", "popcorn.cli", "--quiet", "build", "--example", name,
            "--board", "icebreaker", "--steps", "bitstream", "--build-dir", str(build_dir)]
    return args + ([] if name == "digits-bnn" else ["--target-fps", "92"])


def build_folder(name, build_dir):
    """The build folder of example ``name``: ``NAME-icebreaker``, or
    ``NAME-folded-icebreaker`` where ``--arch auto`` chose the folded architecture."""
    for arch in ("", "-folded"):
        folder = build_dir / f"{name}{arch}-icebreaker"
        if list(folder.rglob("popcorn.digest")):
            return folder
    return None


def measure(name, build_dir):
    folder = build_folder(name, build_dir)
    if folder is None:
        subprocess.run(command(name, build_dir), check=True)
        folder = build_folder(name, build_dir)
    stamps = list(folder.rglob("popcorn.digest"))
    for stamp in stamps:
        stamp.unlink()
    start = time.monotonic()
    subprocess.run(command(name, build_dir), check=True)
    wall = round(time.monotonic() - start, 1)
    step = json.loads((folder / "steps" / "bitstream.json").read_text())
    impl = step["implementation"]
    return {"example": name, "folded": "flash_image" in step, "wall_s": wall,
            "step_s": step["seconds"], "lut4": impl["lut4"],
            "fmax_mhz": impl["fmax_mhz"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*",
                        default=[name for name in EXAMPLES if name not in GRAPHS])
    parser.add_argument("--build-dir", default="build/bitstream_speed")
    parser.add_argument("--out", default="reports/perf")
    add_label_option(parser)
    args = parser.parse_args()
    label = label_of(args)
    out = Path(args.out)
    rows = saved_rows(out, "bitstream_speed")
    for name in args.names:
        row = dict(code=label, **measure(name, Path(args.build_dir)))
        print(row, flush=True)
        rows = [r for r in rows if r["example"] != name] + [row]
        write(out, rows)


def write(out, rows):
    (out / "bitstream_speed.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Warm UP5K bitstream speed", "",
             "Written by `python benchmarks/bitstream_speed.py` on this machine (2 cores, "
             "shared with other work while it ran): `popcorn build --example NAME --board "
             "icebreaker --steps bitstream` run again after a first build, with the "
             "bitstream's reuse stamp removed so that Yosys and nextpnr rerun on a hot "
             "YoWASP cache. Code: the popcorn measured (`git describe`). Wall: the whole "
             "command; step: the bitstream step's own seconds.", "",
             "| example | code | architecture | wall (s) | step (s) | LUT4 | fmax (MHz) |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['example']} | {r['code']} | {'folded' if r['folded'] else 'dataflow'} "
              f"| {r['wall_s']} "
              f"| {r['step_s']} | {r['lut4']} | {r['fmax_mhz']} |"
              for r in sorted(rows, key=lambda r: r["example"])]
    (out / "bitstream_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
