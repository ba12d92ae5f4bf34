"""Simulating a whole accelerator against the golden model (cocotb, Icarus or Verilator)."""

from dataclasses import dataclass

import numpy as np

from .runner import run_testbench

__all__ = ["RtlRun", "simulate_network", "choose_simulator", "VERILATOR_ABOVE"]

VERILATOR_ABOVE = 200_000
"""Simulated cycles above which :func:`choose_simulator` picks Verilator: it compiles for
a few seconds and then runs far faster than Icarus (``benchmarks/sim_speed.py``)."""


@dataclass(frozen=True)
class RtlRun:
    """``scores`` ``int64`` (B, classes) and ``argmax`` (B,) the RTL produced, equal to the
    golden model's (checked); ``measured``: ``interval`` and ``latency`` of the
    free-running burst (equal to the cycle model's), ``cycles`` of the stalled run;
    ``simulator``."""
    scores: np.ndarray
    argmax: np.ndarray
    measured: dict
    simulator: str


def choose_simulator(plan, images, simulator="auto"):
    """``simulator`` unless ``"auto"``: then Verilator when the run is long (more than
    :data:`VERILATOR_ABOVE` cycles predicted), else Icarus (no compile time)."""
    if simulator != "auto":
        return simulator
    return "verilator" if images * plan.cycles_per_image > VERILATOR_ABOVE else "icarus"


def simulate_network(plan, inputs, *, build_dir, simulator="auto", burst=3, seed=1, idle=0.3,
                     stall=0.3, reuse=False):
    """Run :class:`~popcorn.hdl.accelerator.DataflowAccelerator` of ``plan`` on ``inputs``
    with random stalls, then ``burst`` images free-running; every output word must equal
    the golden model's and every handshake of the burst the cycle model's
    (:mod:`popcorn.sim.testbenches.network_tb`). Returns an :class:`RtlRun`.

    Raises :class:`~popcorn.sim.runner.SimulationFailed` naming the first image that
    differs or the first handshake off the prediction.
    """
    from ..hdl.accelerator import DataflowAccelerator

    inputs = np.asarray(inputs)
    scores, argmax = plan.reference(inputs)
    burst = max(1, min(burst, len(inputs)))
    model = plan.cycle_model(burst)
    start = model.inputs[0]
    case = dict(inputs=np.array([f"{w:x}" for w in plan.input_words(inputs)]),
                expected=np.array([f"{w:x}" for w in plan.pack_outputs(scores, argmax)]),
                in_words=plan.in_words,
                cycles_in=np.array(model.inputs, dtype=np.int64) - start,
                cycles_out=np.array(model.outputs, dtype=np.int64) - start,
                seed=seed, idle=idle, stall=stall)
    sim = choose_simulator(plan, len(inputs), simulator)
    measured = run_testbench(DataflowAccelerator(plan),
                             test_module="popcorn.sim.testbenches.network_tb",
                             build_dir=build_dir, case=case, simulator=sim, reuse=reuse)
    rtl_scores, rtl_argmax = plan.unpack_outputs([int(w, 16) for w in measured.pop("outputs")])
    return RtlRun(rtl_scores, rtl_argmax, measured, sim)
