"""Simulating a whole accelerator against the golden model (cocotb, Icarus or Verilator)."""

from dataclasses import dataclass

import numpy as np

from .runner import run_testbench

__all__ = ["RtlRun", "Divergence", "RtlMismatch", "simulate_network", "first_divergence",
           "predict_rtl", "choose_simulator", "VERILATOR_ABOVE"]

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
                     stall=0.3, reuse=False, check=True, hardware=None):
    """Run :class:`~popcorn.hdl.accelerator.DataflowAccelerator` of ``plan`` (or
    :class:`~popcorn.hdl.folded.FoldedAccelerator` of a
    :class:`~popcorn.mapping.folded.FoldedPlan`, its weights loaded first) on ``inputs``
    with random stalls, then ``burst`` images free-running; every output word must equal
    the golden model's and every handshake of the burst the cycle model's
    (:mod:`popcorn.sim.testbenches.network_tb`). Returns an :class:`RtlRun`.

    ``check=False`` records outputs that differ instead of failing (and skips the burst);
    ``hardware`` simulates another plan's accelerator against ``plan``'s golden model
    (the tests' fault injection).

    Raises :class:`~popcorn.sim.runner.SimulationFailed` naming the first image that
    differs or the first handshake off the prediction.
    """
    from ..hdl.accelerator import DataflowAccelerator
    from ..hdl.folded import FoldedAccelerator
    from ..mapping.folded import FoldedPlan

    inputs = np.asarray(inputs)
    scores, argmax = plan.reference(inputs)
    burst = max(1, min(burst, len(inputs)))
    model = plan.cycle_model(burst)
    start = model.inputs[0]
    case = dict(inputs=_hex(plan.input_words(inputs)),
                expected=_hex(plan.pack_outputs(scores, argmax)),
                in_words=plan.in_words,
                cycles_in=np.array(model.inputs, dtype=np.int64) - start,
                cycles_out=np.array(model.outputs, dtype=np.int64) - start,
                seed=seed, idle=idle, stall=stall, check=int(check))
    sim = choose_simulator(plan, len(inputs), simulator)
    if isinstance(plan, FoldedPlan) and (hardware or plan).stream_words:
        case, component = _from_flash(hardware or plan, case)
        cells = ("SB_SPRAM256KA",)
    elif isinstance(plan, FoldedPlan):
        case["weights"] = _hex((hardware or plan).weight_image())
        component, cells = FoldedAccelerator(hardware or plan), ("SB_SPRAM256KA",)
    else:
        component, cells = DataflowAccelerator(hardware or plan), ()
    measured = run_testbench(component, test_module="popcorn.sim.testbenches.network_tb",
                             build_dir=build_dir, case=case, simulator=sim, reuse=reuse,
                             cells=cells)
    rtl_scores, rtl_argmax = plan.unpack_outputs([int(w, 16) for w in measured.pop("outputs")])
    return RtlRun(rtl_scores, rtl_argmax, measured, sim)


SIM_FLASH_OFFSET = 0x100
"""Where simulations put the weight image in the flash model (the board's
:data:`~popcorn.mapping.folded.FLASH_OFFSET` would make a megabyte of padding)."""


def _from_flash(plan, case):
    """(case, component) of a folded plan that streams layers: the accelerator behind
    :class:`~popcorn.boards.host_link.WeightsFromFlash`, its image in the flash model."""
    from ..boards.host_link import WeightsFromFlash
    from ..hdl.folded import FoldedAccelerator
    from ..mapping.folded import STREAM_RESTART, STREAM_WORD_CYCLES

    image = plan.flash_image()
    flash = b"\xff" * SIM_FLASH_OFFSET + image
    # the loader (16 cycles a byte and its wake-up), then the FIFO filled, twice over
    load = 2 * (20 * len(image) + (STREAM_WORD_CYCLES + STREAM_RESTART) * plan.stream_depth
                + 10_000)
    case = case | {"flash": np.frombuffer(flash, np.uint8), "load_cycles": load}
    return case, WeightsFromFlash(FoldedAccelerator(plan), image, offset=SIM_FLASH_OFFSET)


def _hex(words):
    return np.array([f"{w:x}" for w in words])


@dataclass(frozen=True)
class Divergence:
    """Where an image's RTL words first depart from the golden model: ``stage`` (index in
    the plan), its network ``layer`` and ``kind``, the output ``word`` of the image, the
    ``pixel`` (y, x) it stands for, the ``element`` (channel) and both values (the
    element's bits as an integer; scores as signed integers)."""
    image: int
    stage: int
    layer: int
    kind: str
    word: int
    pixel: tuple
    element: int
    rtl: int
    golden: int
    rtl_word: int
    golden_word: int

    def __str__(self):
        return (f"image {self.image}: first divergence at layer {self.layer} ({self.kind}), "
                f"pixel (y={self.pixel[0]}, x={self.pixel[1]}), channel {self.element}, "
                f"word {self.word}: RTL {self.rtl} != golden {self.golden} (words "
                f"{self.rtl_word:#x} != {self.golden_word:#x})")


def first_divergence(plan, image, *, index=0, build_dir, simulator="icarus", hardware=None):
    """Simulate one ``image`` through an accelerator with probes and return the first
    :class:`Divergence` from the stages' references (None when every word agrees).
    ``index`` is the image's number in the caller's batch, for the report."""
    from ..hdl.accelerator import DataflowAccelerator

    image = np.asarray(image)[None]
    from ..mapping.stages import stream_references

    expected = stream_references(plan.stages, plan.input_words(image))
    limit = 8 * plan.cycle_model(1).outputs[-1] + 1000
    case = dict(inputs=_hex(plan.input_words(image)), images=1,
                stages=len(plan.stages) - 1, max_cycles=limit)
    measured = run_testbench(DataflowAccelerator(hardware or plan, probes=True),
                             test_module="popcorn.sim.testbenches.network_probe_tb",
                             build_dir=build_dir, case=case, simulator=simulator)
    got = [[int(w, 16) for w in words] for words in measured["probes"]]
    got.append([int(w, 16) for w in measured["outputs"]])
    for n, (stage, want, have) in enumerate(zip(plan.stages, expected, got)):
        for w in range(len(want)):
            if w < len(have) and have[w] == want[w]:
                continue
            rtl_word = have[w] if w < len(have) else 0
            return _divergence(index, n, stage, w, rtl_word, want[w])
    return None


def _divergence(image, n, stage, w, rtl_word, golden_word):
    rows, cols, elements, bits = stage.out_layout
    mask = (1 << bits) - 1
    values = [((rtl_word >> (e * bits)) & mask, (golden_word >> (e * bits)) & mask)
              for e in range(elements)]
    e = next(e for e, (a, b) in enumerate(values) if a != b) if rtl_word != golden_word \
        else 0
    rtl, golden = values[e]
    if stage.kind == "dense" and stage.folding.activation is None:    # signed scores
        rtl, golden = (v - (1 << bits) if v >> (bits - 1) else v for v in (rtl, golden))
    return Divergence(image=image, stage=n, layer=stage.layer, kind=stage.kind, word=w,
                      pixel=divmod(w, cols), element=e, rtl=rtl, golden=golden,
                      rtl_word=rtl_word, golden_word=golden_word)


class RtlMismatch(RuntimeError):
    """The RTL's scores differ from the golden model's; ``divergence`` says where first."""

    def __init__(self, divergence, images):
        self.divergence = divergence
        where = divergence if isinstance(divergence, (Divergence, str)) else (
            f"image {divergence}: every stage agreed with the golden model when it was "
            f"simulated alone (a difference that depends on the images before it)")
        super().__init__(f"the RTL differs from the golden model on {images} image(s); "
                         f"{where}")


def predict_rtl(plan, inputs, *, build_dir, simulator="auto"):
    """Scores and classes of ``inputs`` from the RTL simulation of ``plan``'s accelerator
    (no stalls, then a free-running burst whose handshakes must equal the cycle model's):
    an :class:`RtlRun` equal to the golden model's, or :class:`RtlMismatch` naming the first
    divergence of the first image that differs (:func:`first_divergence`; for a
    :class:`~popcorn.mapping.folded.FoldedPlan`, the image and both scores)."""
    from pathlib import Path

    from ..mapping.folded import FoldedPlan

    inputs = np.asarray(inputs)
    run = simulate_network(plan, inputs, build_dir=Path(build_dir) / "run", simulator=simulator,
                           idle=0.0, stall=0.0, check=False, reuse=True)
    scores, _ = plan.reference(inputs)
    bad = np.flatnonzero((run.scores != scores).any(axis=1))
    if bad.size and isinstance(plan, FoldedPlan):       # no stage probes to locate it
        raise RtlMismatch(f"image {bad[0]}: scores {run.scores[bad[0]].tolist()}, the golden "
                          f"model's {scores[bad[0]].tolist()} (the folded engine has no "
                          f"per-layer probes; --arch dataflow locates the layer)", bad.size)
    if bad.size:
        where = first_divergence(plan, inputs[bad[0]], index=int(bad[0]),
                                 build_dir=Path(build_dir) / "diagnose",
                                 simulator=run.simulator)
        raise RtlMismatch(where if where is not None else int(bad[0]), bad.size)
    return run
