"""Wall time of network -> Verilog / RTLIL, phase by phase, as `popcorn build` runs them.

    python benchmarks/verilog_speed.py [NAME[:BOARD[:TARGET]] ...] [--profile]
                                               # reports/perf/verilog_speed.{md,json}

NAME is a built-in example (``digits-bnn``) or a FINN network that
`benchmarks/finn_networks.py` imported (``build/finn/<name>/<name>.npz``, or ``--finn-dir``);
by default the digits BNN on the iCEBreaker and CNV-w2a2 on the ULX3S-85F at 150 000 cycles
per image, as `benchmarks/build_finn.py` builds it. The phases:

- map: ``map_network`` as `popcorn build` calls it and, for the dataflow architecture,
  ``place_weight_roms`` for the board (the default ``--weight-memory fill``);
- elaborate: ``Fragment.get`` of a fresh ``DataflowAccelerator`` for the platform
  ``write_verilog`` passes (every ``elaborate``, the ROMs' contents included);
- verilog: ``popcorn.sim.verilog.write_verilog`` of a fresh accelerator, what the simulate
  step writes (elaboration, Amaranth's RTLIL, Yosys's ``write_verilog`` and the memories'
  contents), with the file's size;
- rtlil: the board build plan of ``BoardTop`` around a fresh accelerator
  (``platform.build(..., do_build=False)`` and its digest, what the bitstream step does
  before Yosys runs), with the size of its RTLIL files;
- total: map + verilog + rtlil (elaborate is part of verilog and of rtlil).

``--profile`` writes a cProfile of the verilog and rtlil phases of each network to
``build/verilog_speed/<name>-<phase>.prof`` (``python -m pstats``).
"""

import argparse
import cProfile
import json
import subprocess
import time
from pathlib import Path

from amaranth.hdl import Fragment

from popcorn.boards.boards import get_board
from popcorn.boards.fit import place_weight_roms
from popcorn.boards.top import BoardTop
from popcorn.examples import EXAMPLES, load_example
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.network import load_network
from popcorn.sim.verilog import write_verilog

try:
    from popcorn.sim.verilog import VerilogFiles
except ImportError:             # popcorn before the ROM modules: elaborated without platform
    VerilogFiles = type(None)

DEFAULT = ("digits-bnn:icebreaker:auto", "cnv_2w2a:ulx3s-85f:150000")


def load(name, finn_dir):
    if name in EXAMPLES:
        return load_example(name)[0]
    return load_network(Path(finn_dir) / name / f"{name}.npz")


def measure(name, board, target, finn_dir, build_dir, profile):
    timings = {}

    def timed(phase, run):
        prof = cProfile.Profile() if profile and phase in ("verilog", "rtlil") else None
        start = time.perf_counter()
        if prof:
            prof.enable()
        result = run()
        if prof:
            prof.disable()
            prof.dump_stats(build_dir / f"{name}-{phase}.prof")
        timings[phase] = round(time.perf_counter() - start, 2)
        print(f"{name}: {phase} {timings[phase]} s", flush=True)
        return result

    net = load(name, finn_dir)
    if target == "auto":
        target = max(256, 4 * net.input_shape[-1] * net.input_shape[-2])

    plan = timed("map", lambda: place_weight_roms(
        map_network(net, target_cycles=int(target)), board))
    timed("elaborate", lambda: Fragment.get(DataflowAccelerator(plan), VerilogFiles()))
    source = timed("verilog", lambda: write_verilog(DataflowAccelerator(plan),
                                                    build_dir / f"{name}.v"))
    spec = get_board(board)

    def rtlil():
        build = spec.platform().build(BoardTop(DataflowAccelerator(plan)), name="top",
                                      do_build=False, synth_opts=spec.synth_opts)
        build.digest()
        return build
    build = timed("rtlil", rtlil)
    words = sum(f.neuron_folds * f.synapse_folds for f in plan.foldings)
    bits = sum(f.neuron_folds * f.synapse_folds * f.weight_rom_width for f in plan.foldings)
    return {"network": name, "board": board, "target_cycles": int(target),
            "engines": len(plan.foldings), "rom_words": words, "rom_bits": bits,
            **timings,
            "total": round(timings["map"] + timings["verilog"] + timings["rtlil"], 2),
            "verilog_mb": round(source.stat().st_size / 1e6, 1),
            "rtlil_mb": round(sum(len(text) for file, text in build.files.items()
                                  if file.endswith(".il")) / 1e6, 1)}


def code_label():
    """``git describe --always`` of the popcorn measured (its package's checkout), with
    ``-dirty`` when a file outside ``reports/`` differs (the benchmarks' own tables there
    do not make the code they measure dirty)."""
    import popcorn

    root = Path(popcorn.__file__).resolve().parent.parent
    try:
        def git(*args):
            return subprocess.run(["git", *args], check=True, capture_output=True,
                                  text=True, cwd=root).stdout.strip()
        changed = git("status", "--porcelain", "--", ".", ":(exclude)reports")
        return git("describe", "--always") + ("-dirty" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def add_label_option(parser):
    """A benchmark's ``--label``: what names the code measured in its table (default:
    :func:`code_label`); rows of other labels are kept. Read it with :func:`label_of`."""
    parser.add_argument("--label", default=None,
                        help="names the code measured (default: its `git describe`); "
                             "rows of other labels are kept")


def label_of(args):
    """The label of ``add_label_option``'s parsed ``args``."""
    return code_label() if args.label is None else args.label


def saved_rows(out, name):
    """The rows a benchmark saved in ``out/name.json`` (none yet: ``[]``); ``out`` made."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / f"{name}.json"
    return json.loads(saved.read_text()) if saved.is_file() else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", default=DEFAULT)
    parser.add_argument("--finn-dir", default="build/finn")
    parser.add_argument("--build-dir", default="build/verilog_speed")
    parser.add_argument("--out", default="reports/perf")
    parser.add_argument("--label", default=None,
                        help="names the code measured in the table (default: its "
                             "`git describe`); rows of other labels in the report are kept")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    label = code_label() if args.label is None else args.label
    build_dir = Path(args.build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    rows = saved_rows(out, "verilog_speed")
    for arg in args.networks:
        name, *rest = arg.split(":")
        board = rest[0] if rest else "ulx3s-85f"
        target = rest[1] if len(rest) > 1 else "auto"
        row = dict(code=label, **measure(name, board, target, args.finn_dir, build_dir,
                                         args.profile))
        print(row, flush=True)
        rows = [r for r in rows if (r["code"], r["network"], r["board"])
                != (label, name, board)] + [row]
    (out / "verilog_speed.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Network -> Verilog / RTLIL speed", "",
             "Written by `python benchmarks/verilog_speed.py` on this machine (2 cores, "
             "shared with other work while it ran); seconds of wall time per phase "
             "(see the script's docstring): map (`map_network` + `place_weight_roms`), "
             "elaborate (`Fragment.get` of the accelerator), verilog (`write_verilog` of "
             "the accelerator, as the simulate step writes it), rtlil (the board build "
             "plan of `BoardTop`, as the bitstream step makes it before Yosys runs); total: "
             "map + verilog + rtlil, what `popcorn build` spends before its tools run. "
             "Code: the popcorn measured (`git describe`). ROM words/bits: the weight ROMs "
             "of every engine.", "",
             "| network | board | cycles | code | engines | ROM words | ROM bits | map (s) "
             "| elaborate (s) | verilog (s) | rtlil (s) | total (s) | Verilog (MB) "
             "| RTLIL (MB) |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: | ---: |"]
    lines += [f"| {r['network']} | {r['board']} | {r['target_cycles']} | {r['code']} "
              f"| {r['engines']} | {r['rom_words']} | {r['rom_bits']} | {r['map']} "
              f"| {r['elaborate']} | {r['verilog']} | {r['rtlil']} | {r['total']} "
              f"| {r['verilog_mb']} | {r['rtlil_mb']} |"
              for r in sorted(rows, key=lambda r: (r["network"], r["board"]))]
    (out / "verilog_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
