"""The build flow of a network: named steps ``step(plan, config)``, run in this order.

=========  ==============================================  ===========================
step       does; its result                                depends on
=========  ==============================================  ===========================
estimate   the core's resources on the board before any    plan, board
           tool runs; raises
           :class:`~popcorn.boards.fit.DesignTooLarge`
           when it clearly cannot fit; ``estimate``
           (``DesignEstimate.to_dict()``)
golden     float reference and integer golden model on     network, fractional bits,
           all inputs; ``float_scores``,                   inputs
           ``float_argmax``, ``integer_scores``,
           ``integer_argmax``, ``integer_frac_bits``
simulate   cocotb on the first ``sim_images`` inputs with  plan, those inputs,
           random stalls, checked against the golden       simulator, seed
           model and the cycle model
           (:func:`~popcorn.sim.network.simulate_network`);
           ``scores``, ``argmax``, ``measured`` cycles,
           ``simulator``
bitstream  Yosys + nextpnr + pack for the board;           plan, board
           ``bitstream`` (path), ``implementation``
           (``Implementation.to_dict()``)
report     ``report.json``, ``report.md`` and              plan, configuration; loads
           ``report.html`` into ``<report_dir>/<name>``    the four results above
           from the saved results of the steps above;
           ``report_json``, ``report_md``,
           ``report_html``, ``bitstream`` (paths)
=========  ==============================================  ===========================

Each step saves its result in ``<build_dir>/<name>/steps/``: ``<step>.json``, with its
wall time (``seconds``) and a ``digest`` of what it depends on (last column), and
``<step>.npz`` for arrays. :func:`load` returns a saved result only when that digest
equals the current plan and configuration's, else raises :class:`MissingResult` naming
the step to run first. The simulation and the bitstream reuse their tools' outputs in
``build_dir`` when nothing they depend on changed.
"""

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_open, write_bytes, write_text
from .boards.build import build_bitstream
from .boards.fit import LOGIC_MARGIN, DesignEstimate, check_fit, check_link, \
    estimate_design, place_weight_roms
from .boards.host_link import WeightsFromFlash
from .boards.top import BoardTop
from .golden.predict import Prediction, predict
from .hdl.accelerator import DataflowAccelerator
from .hdl.folded import FoldedAccelerator
from .mapping.folded import FLASH_OFFSET, FoldedPlan
from .mapping.network_map import map_network
from .reports.network_report import network_report, write_report
from .reports.nextpnr import Implementation
from .sim.network import simulate_network
from .tools import toolchain_drift


@dataclass(frozen=True, eq=False)
class FlowConfig:
    """What the steps run on besides the plan: ``inputs`` (B, *input_shape) and their
    ``labels`` (B,) or None; the results go to ``build_dir/name`` and the report to
    ``report_dir/name``; ``simulator`` (``"icarus"``, ``"verilator"`` or ``"auto"``: by the
    run's length) runs the first ``sim_images`` inputs with stalls drawn from ``seed``;
    ``nextpnr_opts`` go to nextpnr's command line and ``placements`` is how many placer
    seeds a build that misses its clock narrowly may try
    (:func:`~popcorn.boards.build.build_bitstream`'s ``seeds``); ``clock_hz``: the
    design's clock from the FPGA's PLL (:class:`~popcorn.boards.top.BoardTop`), None for
    the board's oscillator."""
    name: str
    inputs: np.ndarray
    labels: np.ndarray = None
    board: str = "icebreaker"
    build_dir: Path = Path("build")
    report_dir: Path = Path("reports")
    sim_images: int = 100
    simulator: str = "auto"
    seed: int = 1
    nextpnr_opts: str = ""
    placements: int = 4
    clock_hz: float = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", np.asarray(self.inputs))
        if self.labels is not None:
            object.__setattr__(self, "labels", np.asarray(self.labels))
        object.__setattr__(self, "build_dir", Path(self.build_dir))
        object.__setattr__(self, "report_dir", Path(self.report_dir))

    @property
    def steps_dir(self):
        """Where the steps' results are saved."""
        return self.build_dir / self.name / "steps"


class MissingResult(Exception):
    """A step needs an earlier step's result that is not saved, or saved for another plan
    or configuration."""


_DEPENDS = {
    "estimate": lambda plan, config: (plan, config.board),
    "golden": lambda plan, config: (plan.network, plan.integer.frac_bits, config.inputs),
    "simulate": lambda plan, config: (plan, config.inputs[:config.sim_images],
                                      config.simulator, config.seed),
    "bitstream": lambda plan, config: (plan, config.board, config.clock_hz),
    "report": lambda plan, config: (plan, config),
}


def _digest(parts):
    """SHA-256 of ``parts``: dataclasses field by field (private ones left out), arrays
    by dtype, shape and bytes, containers item by item, anything else by its repr."""
    sha = hashlib.sha256()

    def feed(obj):
        sha.update(type(obj).__qualname__.encode())
        if dataclasses.is_dataclass(obj):
            for f in dataclasses.fields(obj):
                if not f.name.startswith("_"):
                    sha.update(f.name.encode())
                    feed(getattr(obj, f.name))
        elif isinstance(obj, np.ndarray):
            sha.update(f"{obj.dtype.str}{obj.shape}".encode())
            sha.update(np.ascontiguousarray(obj).tobytes())
        elif isinstance(obj, (tuple, list)):
            sha.update(str(len(obj)).encode())
            for item in obj:
                feed(item)
        else:
            sha.update(repr(obj).encode())
        sha.update(b";")

    feed(parts)
    return sha.hexdigest()


def _step(run):
    """Make ``run(plan, config) -> (fields, arrays)`` a step: timed, its result saved as
    ``<name>.json`` (fields, ``seconds``, ``digest``) and ``<name>.npz`` (arrays, if any)
    and returned as one dict, the same :func:`load` returns."""
    name = run.__name__

    @functools.wraps(run)
    def step(plan, config):
        start = time.monotonic()
        fields, arrays = run(plan, config)
        result = {"digest": _digest(_DEPENDS[name](plan, config)),
                  "seconds": round(time.monotonic() - start, 2), **fields}
        config.steps_dir.mkdir(parents=True, exist_ok=True)
        path = config.steps_dir / f"{name}.json"
        path.unlink(missing_ok=True)           # no result of this step until it is complete
        if arrays:
            with atomic_open(config.steps_dir / f"{name}.npz") as file:
                np.savez(file, **arrays)
        write_text(path, json.dumps(result, indent=2) + "\n")
        return {**result, **arrays}
    return step


def load(step, plan, config, *, by=None):
    """The saved result of ``step`` (as the step returned it) for ``plan`` and ``config``.

    Raises :class:`MissingResult` when there is none, or when it was saved for another
    plan or configuration (a different digest of what ``step`` depends on); the message
    names ``by``, the step that needs it.
    """
    path = config.steps_dir / f"{step}.json"
    needs = f"`{by}` needs the result of `{step}`" if by else f"the result of `{step}`"
    if not path.is_file():
        raise MissingResult(f"{needs}: run `popcorn build ... --steps {step}` first")
    result = json.loads(path.read_text())
    if result["digest"] != _digest(_DEPENDS[step](plan, config)):
        raise MissingResult(f"{needs}, but the one in {path} was made with another "
                            f"network, mapping or configuration: run `popcorn build ... "
                            f"--steps {step}` again")
    arrays = config.steps_dir / f"{step}.npz"
    if arrays.is_file():
        with np.load(arrays) as data:
            result.update({key: data[key] for key in data.files})
    return result


@_step
def estimate(plan, config):
    """The core's :class:`~popcorn.boards.fit.DesignEstimate`, checked against the board
    (and an image against the host link's frame)."""
    for name, pinned, installed in toolchain_drift():
        warnings.warn(f"the estimates were fitted on {name} {pinned}, but {installed} is "
                      f"installed: they may be off; install the pinned version "
                      f"(`pip install {name}=={pinned}`) or re-fit them "
                      f"(benchmarks/sweep_*.py --fit)")
    est = estimate_design(plan, config.board)
    check_fit(est, slowest=lambda: most_folded(plan, config.board))
    check_link(plan)
    over = est.over_capacity()
    if over:
        warnings.warn(
            f"the estimate is over the {config.board}'s capacity ("
            + ", ".join(f"{need} of {have} {what}" for what, need, have in over)
            + f"), within the estimates' error ({LOGIC_MARGIN}x), so the tools decide: if "
              f"nextpnr cannot place it, fold more (a larger --target-cycles) or choose a "
              f"larger board")
    cells = est.logic_cells
    return {"estimate": est.to_dict(), "logic_cells": cells and cells[0]}, {}


def most_folded(plan, board):
    """The estimate of a dataflow ``plan``'s network with every engine folded to one lane
    of one input bit (its weight ROMs placed for ``board``), or None for a folded plan."""
    if isinstance(plan, FoldedPlan):
        return None
    first = plan.foldings[0]
    slowest = map_network(plan.network, frac_bits=plan.integer.frac_bits,
                          folding=[(1, 1)] * len(plan.foldings), bases=first.bases,
                          multiply=first.multiply)
    return estimate_design(place_weight_roms(slowest, board), board)


@_step
def golden(plan, config):
    """Scores and classes of the float reference and the integer golden model."""
    ref = predict(plan.network, config.inputs, use_float=True)
    integer = predict(plan.network, config.inputs, frac_bits=plan.integer.frac_bits)
    return {"integer_frac_bits": integer.frac_bits}, {
        "float_scores": ref.scores, "float_argmax": ref.argmax,
        "integer_scores": integer.scores, "integer_argmax": integer.argmax}


@_step
def simulate(plan, config):
    """The RTL's scores and classes and the measured cycles
    (:class:`~popcorn.sim.network.RtlRun`)."""
    run = simulate_network(plan, config.inputs[:config.sim_images],
                           build_dir=config.build_dir / config.name / "sim",
                           simulator=config.simulator, seed=config.seed, reuse=True)
    return ({"measured": run.measured, "simulator": run.simulator},
            {"scores": run.scores, "argmax": run.argmax})


@_step
def bitstream(plan, config):
    """The bitstream's path and the :class:`~popcorn.reports.nextpnr.Implementation`."""
    status = _STATUS.get()
    folded = isinstance(plan, FoldedPlan)
    if folded:                          # weights from the board's flash at power-up
        core = WeightsFromFlash(FoldedAccelerator(plan), plan.flash_image(),
                                offset=FLASH_OFFSET)
    else:
        core = DataflowAccelerator(plan)
    path, impl = build_bitstream(BoardTop(core, flash=folded, clock_hz=config.clock_hz),
                                 board=config.board,
                                 build_dir=config.build_dir / config.name / config.board,
                                 reuse=True, dsp=plan.needs_dsp,
                                 progress=status and status.update,
                                 estimated_lut4=estimate_design(plan, config.board).total["lut4"],
                                 nextpnr_opts=config.nextpnr_opts,
                                 seeds=config.placements)
    result = {"bitstream": str(path), "implementation": impl.to_dict()}
    if folded:
        image = path.parent / "weights.bin"
        write_bytes(image, plan.flash_image())
        result["flash_image"] = {"path": str(image), "offset": FLASH_OFFSET}
    return result, {}


@_step
def report(plan, config):
    """The report, from the saved results of the other steps; its files' paths."""
    est, gold, sim, bit = (load(step, plan, config, by="report")
                           for step in ("estimate", "golden", "simulate", "bitstream"))
    path = Path(os.path.relpath(bit["bitstream"]))
    rep = network_report(
        name=config.name, plan=plan, labels=config.labels,
        float_pred=Prediction(gold["float_scores"], gold["float_argmax"]),
        int_pred=Prediction(gold["integer_scores"], gold["integer_argmax"],
                            gold["integer_frac_bits"]),
        rtl_argmax=sim["argmax"], measured=dict(sim["measured"], simulator=sim["simulator"]),
        impl=Implementation.from_dict(bit["implementation"]), bitstream=path,
        estimate=DesignEstimate(**dict(est["estimate"], layers=tuple(est["estimate"]["layers"]))),
        flash_image=bit.get("flash_image"))
    json_path, md_path, html_path = write_report(rep, config.report_dir / config.name)
    return {"report_json": str(json_path), "report_md": str(md_path),
            "report_html": str(html_path), "bitstream": str(path)}, {}


STEPS = {step.__name__: step for step in (estimate, golden, simulate, bitstream, report)}
"""The steps by name, in pipeline order."""


_STATUS = contextvars.ContextVar("status", default=None)
"""What ``progress(step)`` yielded for the running step; a step with long tool runs calls
its ``update(text)`` with what the tools are doing."""


def run_steps(plan, config, steps=tuple(STEPS), *, progress=None):
    """Run ``steps`` (names of :data:`STEPS`, any order) in pipeline order; return their
    results by name. ``progress(step)`` is a context manager the caller supplies to show
    the running step (the CLI uses a rich status line); what it yields, if anything, has an
    ``update(text)`` that the bitstream step calls with the tools' progress."""
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown step {unknown[0]!r}; the steps are {', '.join(STEPS)}")
    progress = progress or (lambda step: contextlib.nullcontext())
    results = {}
    for name in (name for name in STEPS if name in steps):
        with progress(name) as status:
            token = _STATUS.set(status)
            try:
                results[name] = STEPS[name](plan, config)
            finally:
                _STATUS.reset(token)
    return results


@dataclass
class FlowResult:
    """What :func:`build_network` returns: the bitstream's and the report files' paths,
    the report and each step's seconds."""
    bitstream: Path = None
    report_json: Path = None
    report_md: Path = None
    report_html: Path = None
    report: dict = None
    step_seconds: dict = field(default_factory=dict)


def build_network(plan, inputs, labels=None, *, name, board="icebreaker", build_dir="build",
                  report_dir="reports", sim_images=100, simulator="auto", seed=1,
                  progress=None):
    """Run every step on a :class:`~popcorn.mapping.network_map.NetworkPlan` (see the
    module docstring); return a :class:`FlowResult`."""
    config = FlowConfig(name=name, inputs=inputs, labels=labels, board=board,
                        build_dir=build_dir, report_dir=report_dir, sim_images=sim_images,
                        simulator=simulator, seed=seed)
    results = run_steps(plan, config, progress=progress)
    rep = results["report"]
    return FlowResult(bitstream=Path(rep["bitstream"]), report_json=Path(rep["report_json"]),
                      report_md=Path(rep["report_md"]), report_html=Path(rep["report_html"]),
                      report=json.loads(Path(rep["report_json"]).read_text()),
                      step_seconds={step: r["seconds"] for step, r in results.items()})
