"""The build flow of a layer: golden check, RTL simulation, bitstream, report.

An ordered list of named steps, each timed; ``progress(name)`` is a context manager the
caller supplies to show the running step (the CLI uses a rich status line).
"""

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .boards.build import build_bitstream
from .boards.top import BoardTop
from .examples import random_inputs
from .hdl.mvtu import MatrixVectorThreshold
from .reports.layer_report import layer_report, write_report
from .sim.runner import run_testbench


@dataclass
class FlowResult:
    bitstream: Path = None
    report_json: Path = None
    report_md: Path = None
    step_seconds: dict = field(default_factory=dict)


def build_layer(folding, *, name, board="icebreaker", build_dir="build", report_dir="reports",
                vectors=1000, seed=1, progress=None):
    """Run the whole flow on a :class:`~popcorn.mapping.dense_folding.DenseFolding`.

    Steps: ``simulate`` (cocotb + Icarus: ``vectors`` random vectors with stalls, every
    output checked against the golden model, cycles measured and checked against the
    folding's prediction), ``bitstream`` (Yosys + nextpnr + pack for ``board``), and
    ``report`` (JSON + Markdown into ``report_dir``). Steps whose inputs (generated
    Verilog, build plan, case, tool versions) did not change since their last successful
    run in ``build_dir`` are not run again. Returns a :class:`FlowResult`.
    """
    progress = progress or (lambda step: contextlib.nullcontext())
    build_dir = Path(build_dir) / name
    result = FlowResult()
    state = {}

    def simulate():
        inputs = random_inputs(folding, vectors, seed=seed)
        case = dict(weights=folding.weights, thresholds=folding.thresholds, pe=folding.pe,
                    simd=folding.simd, inputs=inputs, seed=seed, idle=0.3, stall=0.3)
        state["measured"] = run_testbench(
            MatrixVectorThreshold(folding), test_module="popcorn.sim.testbenches.mvtu_tb",
            build_dir=build_dir / "sim", case=case, reuse=True)

    def bitstream():
        state["bitstream"], state["impl"] = build_bitstream(
            BoardTop(MatrixVectorThreshold(folding)), board=board,
            build_dir=build_dir / board, reuse=True)

    def report():
        bit = Path(os.path.relpath(state["bitstream"]))
        rep = layer_report(name=name, folding=folding, measured=state["measured"],
                           impl=state["impl"], bitstream=bit)
        result.report_json, result.report_md = write_report(rep, Path(report_dir) / name)
        result.bitstream = bit

    for step, run in (("simulate", simulate), ("bitstream", bitstream), ("report", report)):
        start = time.monotonic()
        with progress(step):
            run()
        result.step_seconds[step] = round(time.monotonic() - start, 2)
    return result
