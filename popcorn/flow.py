"""The build flow of a network: golden model, RTL simulation, bitstream, report.

An ordered list of named steps, each timed; ``progress(step)`` is a context manager the
caller supplies to show the running step (the CLI uses a rich status line). Steps whose
inputs did not change since their last successful run in ``build_dir`` (same generated
Verilog, build plan, case and tool versions) are not run again.
"""

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boards.build import build_bitstream
from .boards.fit import check_fit, estimate_design
from .boards.top import BoardTop
from .golden.predict import predict
from .hdl.accelerator import DataflowAccelerator
from .reports.network_report import network_report, write_report
from .sim.network import simulate_network

STEPS = ("estimate", "golden", "simulate", "bitstream", "report")


@dataclass
class FlowResult:
    bitstream: Path = None
    report_json: Path = None
    report_md: Path = None
    report: dict = None
    step_seconds: dict = field(default_factory=dict)


def build_network(plan, inputs, labels=None, *, name, board="icebreaker", build_dir="build",
                  report_dir="reports", sim_images=100, simulator="auto", seed=1,
                  progress=None):
    """Run the whole flow on a :class:`~popcorn.mapping.network_map.NetworkPlan`.

    Steps: ``estimate`` (the core's resources on ``board`` before any tool runs,
    :func:`~popcorn.boards.fit.estimate_design`; raises
    :class:`~popcorn.boards.fit.DesignTooLarge` when it clearly cannot fit), ``golden``
    (float reference and integer golden model on all ``inputs``, accuracy
    when ``labels`` are given), ``simulate`` (cocotb with ``simulator``, Icarus or
    Verilator, ``"auto"`` by the run's length, on the first ``sim_images`` inputs with
    random stalls: every image's scores and class must equal the integer model's, and
    every handshake of a free-running burst the cycle model's,
    :func:`~popcorn.sim.network.simulate_network`), ``bitstream`` (Yosys +
    nextpnr + pack for ``board``), ``report`` (JSON + Markdown into ``report_dir/name``).
    Returns a :class:`FlowResult`.
    """
    progress = progress or (lambda step: contextlib.nullcontext())
    build_dir = Path(build_dir) / name
    result = FlowResult()
    state = {}
    inputs = np.asarray(inputs)

    def estimate():
        state["estimate"] = estimate_design(plan, board)
        check_fit(state["estimate"])

    def golden():
        state["float"] = predict(plan.network, inputs, use_float=True)
        state["integer"] = predict(plan.network, inputs, frac_bits=plan.integer.frac_bits)

    def simulate():
        run = simulate_network(plan, inputs[:sim_images], build_dir=build_dir / "sim",
                               simulator=simulator, seed=seed, reuse=True)
        state["rtl_argmax"], state["measured"] = run.argmax, dict(run.measured,
                                                                  simulator=run.simulator)

    def bitstream():
        state["bitstream"], state["impl"] = build_bitstream(
            BoardTop(DataflowAccelerator(plan)), board=board, build_dir=build_dir / board,
            reuse=True, dsp=plan.needs_dsp)

    def report():
        bit = Path(os.path.relpath(state["bitstream"]))
        rep = network_report(name=name, plan=plan, labels=labels, float_pred=state["float"],
                             int_pred=state["integer"], rtl_argmax=state["rtl_argmax"],
                             measured=state["measured"], impl=state["impl"], bitstream=bit,
                             estimate=state["estimate"])
        result.report = rep
        result.report_json, result.report_md = write_report(rep, Path(report_dir) / name)
        result.bitstream = bit

    for step, run in zip(STEPS, (estimate, golden, simulate, bitstream, report)):
        start = time.monotonic()
        with progress(step):
            run()
        result.step_seconds[step] = round(time.monotonic() - start, 2)
    return result
