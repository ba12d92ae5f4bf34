"""Will a mapped network fit a board? The accelerator core's resources, estimated before any
tool runs, against the board's capacity."""

import dataclasses
import math
from dataclasses import dataclass

from ..hdl.accelerator import stage_resources
from ..hdl.estimates import estimate_mva, rom_resources, weight_rom_resources
from ..hdl.folded import estimate_folded
from ..hdl.handshake import register_slice_resources
from ..hwmath import divisors
from ..mapping.folded import FoldedPlan
from ..mapping.linear import table_shapes, takes_tables, weight_rom_width
from .boards import get_board
from .frames import MAX_PAYLOAD
from .host_link import verdict_memory

KEYS = ("lut4", "ff", "ebr", "dsp", "spram")
NAMES = {"lut4": "LUT4", "ff": "flip-flops", "ebr": "block RAMs", "dsp": "DSP blocks",
         "spram": "SPRAM blocks"}

# How far over the capacity an estimate must be before the build is refused without
# running the tools: whole designs' LUT4 and FF estimates are within 10 % of nextpnr's
# placed counts (every shipped example and the held-out networks of
# benchmarks/estimate_check.py: reports/perf/estimate_check.md), though single blocks
# reach 30 % (reports/blocks/); a design estimated this much larger does not fit. Block
# RAM, SPRAM and DSP estimates were exact on every example and held-out network.
LOGIC_MARGIN = 1.1

PLACEABLE_CELLS = 0.82
"""The share of the iCE40's logic cells an automatic choice fills at most: nextpnr's
placer failed on dataflow designs of 4 540 cells (86 %, a held-out LeNet BNN of
`benchmarks/estimate_check.py`, estimated 4 477: "Unable to find legal placement") and
4 643 (88 %, mnist-cnn-bnn-tiny before its Dense engine gathered the map) and had not
placed one of 5 179 (98 %) after 12 minutes, where designs of 4 524 and 4 601 cells
placed in under a minute: above about 85 % placement is chance. The cell estimate's
own error is about 3 % (the examples and that LeNet: -1.4 to -2.8 %)."""

LC_PACKING = 0.9
"""iCE40 logic cells per LUT4 plus flip-flop: a cell holds one LUT4 and one flip-flop,
shared only when the flip-flop takes the LUT's output, so a design needs more cells than
either count alone. The largest ratio nextpnr placed on the builds in ``reports/``
(0.815-0.891), rounded up; refitted by ``benchmarks/fit_logic_cells.py``
(``reports/blocks/logic_cells.md``)."""


ADVICE = {
    "lut4": "Fold more (a larger --target-cycles), use serial bases, or choose a larger board",
    "ebr": "Block RAM holds the weight ROMs (those Yosys or --weight-memory put there), line "
           "buffers and queues; folding more does not shrink the weights (ROMs of fewer "
           "words but as many bits). Choose a board with more block RAM, or a network with "
           "fewer weight bits",
    "ebr folded": "The folded engine's block RAM holds two activation maps (the largest a "
                  "layer reads), two input images, a threshold record per channel and the "
                  "weight stream's FIFO; its weights are in SPRAM and the flash. Choose a "
                  "board with more block RAM, or a network with smaller maps",
    "dsp": "Use --multiply shift-add, or choose a board with more DSP blocks",
    "spram": "The folded architecture keeps its weights in SPRAM (iCE40 UP5K); build "
             "with --arch dataflow on this board",
}
"""What to change when a resource is short (:func:`check_fit`'s messages)."""


class DesignTooLarge(ValueError):
    """The estimated core alone exceeds the board (see :func:`check_fit`)."""


@dataclass(frozen=True)
class DesignEstimate:
    """``layers``: one ``{"layer", "kind", "lut4", "ff", "ebr", "dsp"}`` per stage of the
    plan (the network's layer index; the sum of the estimates of the stage's blocks,
    :func:`~popcorn.hdl.accelerator.stage_resources`), the argmax included;
    ``total`` their sum: the accelerator core synthesized alone, without the UART link
    and board glue; ``capacity`` the board's
    (:attr:`~popcorn.boards.boards.Board.capacity`)."""
    board: str
    family: str
    layers: tuple
    total: dict
    capacity: dict

    @property
    def logic_cells(self):
        """``(need, have)`` of iCE40 logic cells (:data:`LC_PACKING` times the LUT4 and
        flip-flops, against the device's cells), or None on a family whose LUTs and
        flip-flops are counted apart."""
        if self.family != "ice40":
            return None
        need = math.ceil(LC_PACKING * (self.total["lut4"] + self.total["ff"]))
        return need, self.capacity["lut4"]

    def within_capacity(self):
        """Every resource within the board's capacity, and the iCE40's logic cells within
        :data:`PLACEABLE_CELLS` of the device's: what ``--arch auto`` and
        ``--target-cycles auto`` ask of the dataflow architecture."""
        cells = self.logic_cells
        return all(self.total[key] <= self.capacity[key] for key in KEYS) and \
            (cells is None or cells[0] <= PLACEABLE_CELLS * cells[1])

    def over_capacity(self):
        """``[(what, need, have)]``: the resources (and the iCE40's logic cells) the
        estimate puts over the board's capacity, no margin."""
        over = [(NAMES[key], self.total[key], self.capacity[key]) for key in KEYS
                if self.total[key] > self.capacity[key]]
        cells = self.logic_cells
        if cells is not None and cells[0] > cells[1]:
            over.append(("logic cells", *cells))
        return over

    def to_dict(self):
        return {"board": self.board, "family": self.family, "layers": list(self.layers),
                "total": self.total, "capacity": self.capacity}


def estimate_design(plan, board):
    """The :class:`DesignEstimate` of :class:`~popcorn.hdl.accelerator.DataflowAccelerator`
    for ``plan`` on ``board`` (a name of :data:`~popcorn.boards.boards.BOARDS`)."""
    b = get_board(board)
    if isinstance(plan, FoldedPlan):
        layers = [{"layer": "all", "kind": "folded engine", **estimate_folded(plan, b.family)}]
    else:
        layers = [{"layer": "input", "kind": "register slice", "spram": 0,
                   **register_slice_resources(plan.in_width, b.family)}]
        layers += [{"layer": stage.layer, "kind": stage.kind, "spram": 0,
                    **stage_resources(stage, b.family)} for stage in plan.stages]
    folded = isinstance(plan, FoldedPlan)
    link = estimate_link(family=b.family, in_width=plan.in_width, out_width=plan.out_width,
                         in_words=plan.in_words, flash_words=plan.weight_words if folded else 0)
    layers.append({"layer": "link", "kind": "host link", "spram": 0, "dsp": 0,
                   "ebr": verdict_memory(b.family)["ebr"], **link})
    total = {k: sum(part[k] for part in layers) for k in KEYS}
    return DesignEstimate(board=b.name, family=b.family, layers=tuple(layers), total=total,
                          capacity=dict(b.capacity))


def check_fit(estimate, slowest=None):
    """Raise :class:`DesignTooLarge` when the core's estimate exceeds the board: LUT4 or
    flip-flops more than :data:`LOGIC_MARGIN` times the capacity, or more block RAMs or
    DSP blocks than the device has; on the iCE40, logic cells
    (:attr:`DesignEstimate.logic_cells`) more than the margin times the device's. The
    message names the resource, both figures, the heaviest layer and what to change. A
    design between the capacity and the margin is left to nextpnr, which fails with the
    resource it lacks.

    ``slowest``: None, or a function giving the estimate of the same network with every
    engine folded to one lane of one input bit (called only when logic is short): the
    advice then says whether folding more can make the design fit, with the figures."""
    short = _short(estimate)
    if short is None:
        return
    key = short
    if key == "cells":
        cells = estimate.logic_cells
        raise DesignTooLarge(
            f"the design does not fit {estimate.board}: its {estimate.total['lut4']} LUT4 "
            f"and {estimate.total['ff']} flip-flops need about {cells[0]} logic cells "
            f"(estimate), the device has {cells[1]}. {_logic_advice(slowest)}")
    need, have = estimate.total[key], estimate.capacity[key]
    heaviest = max(estimate.layers, key=lambda layer: layer[key])
    advice = _logic_advice(slowest) if key in ("lut4", "ff") else ADVICE[
        "ebr folded" if key == "ebr" and heaviest["kind"] == "folded engine" else key]
    raise DesignTooLarge(
        f"the design does not fit {estimate.board}: its layers need about {need} "
        f"{NAMES[key]} (estimate), the device has {have}; layer "
        f"{heaviest['layer']} ({heaviest['kind']}) alone needs {heaviest[key]}. {advice}")


def _short(estimate):
    """The first resource :func:`check_fit` finds short (a key of :data:`KEYS`, or
    ``"cells"``), or None."""
    for key in KEYS:
        limit = estimate.capacity[key] * (LOGIC_MARGIN if key in ("lut4", "ff") else 1)
        if estimate.total[key] > limit:
            return key
    cells = estimate.logic_cells
    if cells is not None and cells[0] > cells[1] * LOGIC_MARGIN:
        return "cells"
    return None


def _logic_advice(slowest):
    """What to change when LUT4, flip-flops or logic cells are short: fold more, unless
    ``slowest()`` (the most folded design's estimate) is short too."""
    folded = None if slowest is None else slowest()
    if folded is None:
        return ADVICE["lut4"]
    cells = folded.logic_cells
    figures = (f"about {folded.total['lut4']} LUT4 and {folded.total['ff']} flip-flops"
               + (f" ({cells[0]} logic cells)" if cells is not None else ""))
    if _short(folded) in ("lut4", "ff", "cells"):
        return (f"Folding more does not make it fit: with every engine at one lane of one "
                f"input bit it still needs {figures}. Choose a larger board")
    return (f"Fold more (a larger --target-cycles): with every engine at one lane of one "
            f"input bit it needs {figures}; or choose a larger board")


LINK_FACTORS = {
    "ice40": {"plain": {"lut4": {"one": 429.71, "in_bytes": 0.72, "out_bytes": 8.26},
                        "ff": {"one": 302.59, "in_bytes": 8.98, "out_bytes": 2.87}},
              "flash": {"lut4": {"one": 183.96, "bits": 0.88}, "ff": {"one": 157.4, "bits": 1.0}}},
    "ecp5": {"plain": {"lut4": {"one": 424.5, "in_bytes": 2.82, "out_bytes": 8.53},
                       "ff": {"one": 285.59, "in_bytes": 8.98, "out_bytes": 2.87}},
             "flash": {"lut4": {"one": 174.64, "bits": 2.92}, "ff": {"one": 157.4, "bits": 1.0}}},
}
"""LUT4 and flip-flops per feature of :func:`link_features`, fitted by
``benchmarks/sweep_link.py --fit`` (``reports/blocks/link_estimates.md``)."""


def link_features(*, in_width, out_width, in_words, flash_words):
    """The host link's cost drivers: ``plain`` (the UART, the frame receiver and
    transmitter: fixed, plus the input word's bytes, gathered in a register, and the
    result's, each a leg of the reply's byte multiplexer) and ``flash`` (the flash loader:
    fixed, plus its counters and address bits of the image's length)."""
    return {"plain": {"one": 1, "in_bytes": -(-in_width // 8), "out_bytes": -(-out_width // 8)},
            "flash": {"one": 1, "bits": (16 + 8 * flash_words + 4).bit_length()}}


def estimate_link(*, family, in_width, out_width, in_words, flash_words=0):
    """Estimated ``{"lut4", "ff"}`` of the host link (:class:`~.host_link.UARTLink`) of
    a core with ``in_width``-bit input words (``in_words`` an image) and ``out_width``-bit
    results, with the flash loader (:class:`~.host_link.WeightsFromFlash`) of
    ``flash_words`` 64-bit words unless 0: :data:`LINK_FACTORS` times
    :func:`link_features`."""
    feats = link_features(in_width=in_width, out_width=out_width, in_words=in_words,
                          flash_words=flash_words)
    parts = ("plain", "flash") if flash_words else ("plain",)
    k = LINK_FACTORS[family]
    return {res: round(sum(k[part][res][f] * feats[part][f] for part in parts
                           for f in feats[part]))
            for res in ("lut4", "ff")}


def check_link(plan):
    """Raise :class:`DesignTooLarge` when an image does not fit one host-link frame
    (:data:`~popcorn.boards.frames.MAX_PAYLOAD` bytes)."""
    size = plan.in_words * ((plan.in_width + 7) // 8)
    if size > MAX_PAYLOAD:
        raise DesignTooLarge(
            f"an image is {size} bytes on the host link ({plan.in_words} words of "
            f"{(plan.in_width + 7) // 8} bytes), more than a frame carries ({MAX_PAYLOAD}); "
            f"use a smaller input (fewer pixels or channels)")


def fit_block_ram(plan, board):
    """``plan`` with its engines' weight ROMs refolded or moved to logic until the design
    needs no more block RAMs than ``board`` has; ``plan`` itself when it fits already.

    A weight ROM of ``pe * M * simd`` bits by ``NF * SF`` words fills its block RAMs only
    when its shape suits them (ECP5 DP16KD: 512 x 36 .. 16 384 x 1; 18 kbit only at widths
    of 9, 18 or 36 bits): CNV-w2a2 at 150 000 cycles per image puts its second-to-last
    convolution's 8 x 147 456 bits in 72 DP16KD, where 18 x 65 536 takes 64. Two kinds of
    move free block RAMs:

    * refolding an engine: another (pe, simd) whose cycles per image (cycles per vector
      times vectors) stay within the plan's slowest engine's, so the throughput is
      unchanged, and whose weight ROM stays in block RAM but takes fewer blocks, with
      ternary weights coded or not (``weight_code``: 5 bits per 3 elements, 20 LUT4 of
      decoder per code); of those with the same count, the fewest lanes times SIMD, plain
      before coded. The popcount tree keeps the mapper's ``"auto"`` pipeline where it had it
      (:attr:`~popcorn.mapping.linear.LinearFolding.auto_pipeline`);
    * the weight ROM to logic (``weight_memory="logic"``) while the LUT4 fit the board
      (a wide and shallow ROM wastes most of its blocks: CNV-w2a2's second convolution at
      60 000 cycles per image, 1 024 x 72 bits in 29 DP16KD); an engine's count tables
      (``weight_code="tables"``) to logic or back to a weight ROM, refolded with tables
      kept where the folding takes them.

    Moves are taken greedily, the fewest LUT4 paid per block RAM freed first, while the
    design needs more block RAMs than the board has, and after that as long as they save
    LUT4 too. Estimates from :func:`~popcorn.hdl.estimates.estimate_mva`.
    """
    if isinstance(plan, FoldedPlan):
        return plan
    b = get_board(board)
    total = estimate_design(plan, board).total
    over = total["ebr"] - b.capacity["ebr"]
    if over <= 0:
        return plan
    lut4 = total["lut4"]
    engines = [n for n, stage in enumerate(plan.stages) if hasattr(stage, "folding")]
    interval = max(plan.stages[n].folding.cycles_per_vector * plan.stages[n].out_words
                   for n in engines)
    now = {n: estimate_mva(plan.stages[n].folding, b.family) for n in engines}
    refoldings = {n: _tilings(plan.stages[n], interval, b.family, now[n]["ebr"])
                  for n in engines}
    stages = list(plan.stages)

    def to_logic(n):
        f = stages[n].folding
        moves = [_refolded(f, weight_memory="logic")]
        if f.weight_code == "tables":         # or back to a weight ROM, placed by Yosys
            moves.append(_refolded(f, weight_code="plain"))
        return [(estimate_mva(moved, b.family), moved) for moved in moves]

    in_logic = {n: to_logic(n) for n in engines}
    while True:
        moves = [((est["lut4"] - now[n]["lut4"]) / (now[n]["ebr"] - est["ebr"]), n, est, f)
                 for n in engines for est, f in refoldings[n] + in_logic[n]
                 if est["ebr"] < now[n]["ebr"] and (
                     lut4 + est["lut4"] - now[n]["lut4"] <= b.capacity["lut4"])]
        if not moves:
            break
        cost, n, est, folding = min(moves, key=lambda move: move[:2])
        if over <= 0 and cost > 0:
            break
        over -= now[n]["ebr"] - est["ebr"]
        lut4 += est["lut4"] - now[n]["lut4"]
        now[n] = est
        stages[n] = dataclasses.replace(stages[n], folding=folding)
        in_logic[n] = [] if folding.weight_memory == "logic" else to_logic(n)
    if stages == list(plan.stages):
        return plan
    return dataclasses.replace(plan, stages=tuple(stages), _cycles={})


def _tilings(stage, interval, family, ebr_now):
    """``[(estimate, folding)]``: the foldings of ``stage``'s engine within ``interval``
    cycles per image whose weight ROM stays in block RAM but takes fewer blocks than
    ``ebr_now``, the one with the fewest lanes times SIMD for each count (see
    :func:`fit_block_ram`)."""
    f = stage.folding
    per_fold = f.cycles_per_vector // (f.neuron_folds * f.synapse_folds)
    codes = ("plain", "ternary") if f.ternary_weights else ("plain",)
    fewest = {}
    for pe in divisors(f.channels):
        for simd in divisors(f.fan_in):
            folds = (f.channels // pe) * (f.fan_in // simd)
            if folds * per_fold * stage.out_words > interval:
                continue
            # an engine that counts from tables keeps them where the folding can, or
            # goes back to a weight ROM (a small board's block RAM)
            for code in ("tables",) * (f.weight_code == "tables" and takes_tables(
                    folds, simd)) + codes:
                if code == "tables":
                    ebr = sum(rom_resources(width, depth, read_ports=f.act_bases,
                                            family=family)["ebr"]
                              for width, depth in table_shapes(pe, simd, folds,
                                                               f.weight_bases))
                else:
                    ebr = rom_resources(weight_rom_width(pe, simd, f.weight_bases, code),
                                        folds, family=family)["ebr"]
                key = (pe * simd, code != "plain", pe)
                if 0 < ebr < ebr_now and (ebr not in fewest or key < fewest[ebr][0]):
                    fewest[ebr] = (key, code)
    tilings = []
    for (size, _, pe), code in fewest.values():
        try:
            folding = _refolded(f, pe=pe, simd=size // pe, weight_code=code)
        except ValueError:          # a gathering engine's pixels no longer pack its folds
            continue
        tilings.append((estimate_mva(folding, family), folding))
    return tilings


def _refolded(folding, **changes):
    """``folding`` with ``changes`` (pe, simd, weight_code, weight_memory), its popcount
    trees keeping the ``"auto"`` pipeline where they had it (a weight word read from block
    RAM has its trees' first level registered, ``LinearFolding.front_register``: one stage
    more), else as many stages as the new trees allow.
    Raises ValueError when the changed folding is not one."""
    auto = folding.pipeline == folding.auto_pipeline
    moved = dataclasses.replace(folding, pipeline=0, **changes)
    return dataclasses.replace(moved, pipeline=moved.auto_pipeline if auto
                               else min(folding.pipeline, moved.tree_levels))


def _fewer_table_lanes(stages, spare, family):
    """``(stages, spare)`` with engines that count from tables refolded to fewer lanes
    where ``spare`` block RAMs pay for it in LUT4: each lane's accumulator, comparators,
    channel record and share of the element-fold multiplexer go, the trees stay (as many
    elements a cycle), the tables grow (fewer lanes fill a block RAM word). Candidates keep
    the engine's cycles per image within the slowest engine's and count from tables; the
    most LUT4 saved per block RAM first, each while it fits (SFC-w1a1 at 64 cycles per
    image, its hidden layers 16 x 64 -> 8 x 128: 2 283 -> 1 975 LUT4 for 22 DP16KD more,
    Yosys alone)."""
    engines = [n for n, stage in enumerate(stages) if hasattr(stage, "folding")]
    if not engines:
        return stages, spare
    interval = max(stages[n].folding.cycles_per_vector * stages[n].out_words for n in engines)
    while spare > 0:
        moves = []
        for n in engines:
            f = stages[n].folding
            if f.weight_code != "tables":
                continue
            now = estimate_mva(f, family)
            for pe in divisors(f.channels):
                if pe >= f.pe:
                    break
                for simd in divisors(f.fan_in):
                    folds = (f.channels // pe) * (f.fan_in // simd)
                    if folds * stages[n].out_words > interval or not takes_tables(folds, simd):
                        continue
                    try:
                        moved = _refolded(f, pe=pe, simd=simd)
                    except ValueError:    # a gathering engine's pixels no longer pack
                        continue
                    est = estimate_mva(moved, family)
                    extra, saved = est["ebr"] - now["ebr"], now["lut4"] - est["lut4"]
                    if saved > 0 and 0 < extra <= spare:
                        moves.append((-saved / extra, n, extra, moved))
        if not moves:
            break
        _, n, extra, moved = min(moves, key=lambda move: move[:2])
        stages[n] = dataclasses.replace(stages[n], folding=moved)
        spare -= extra
    return stages, spare


def place_weight_roms(plan, board):
    """``plan`` with its weight ROMs placed for ``board``
    (:attr:`~popcorn.mapping.linear.LinearFolding.weight_memory`): first
    :func:`fit_block_ram`, where the design needs more block RAMs than the board has; then,
    with block RAM to spare (the capacity less the estimated design's), ROMs that Yosys
    would keep in logic move to block RAM, those saving the most LUT4 per block RAM first,
    each while it fits: CNV-w1a1 on the ULX3S-85F at 30 000 cycles per image, the second
    convolution's 1 024 x 36 ROM, about 3 000 LUT4 in logic, takes 29 DP16KD; then engines
    that count from tables take fewer lanes where the spare block RAM pays for it in LUT4
    (:func:`_fewer_table_lanes`). On the ECP5, every weight ROM in block RAM is then
    marked so (``weight_memory="block"``): its word registered, one cycle more. Estimates from
    :func:`~popcorn.hdl.estimates.estimate_mva`; a plan with nothing to change is returned
    as it is.
    """
    if isinstance(plan, FoldedPlan):
        return plan
    plan = fit_block_ram(plan, board)
    b = get_board(board)
    spare = b.capacity["ebr"] - estimate_design(plan, board).total["ebr"]
    moves = []
    for n, stage in enumerate(plan.stages):
        folding = getattr(stage, "folding", None)
        if spare <= 0 or folding is None or folding.weight_memory == "block":
            continue
        moved = _refolded(folding, weight_memory="block")
        now, then = estimate_mva(folding, b.family), estimate_mva(moved, b.family)
        ebr, luts = then["ebr"] - now["ebr"], then["lut4"] - now["lut4"]
        if ebr > 0 and luts < 0:
            moves.append((luts / ebr, n, ebr, moved))       # LUT4 saved per block
    stages = list(plan.stages)
    for _, n, ebr, moved in sorted(moves, key=lambda move: (move[0], move[1])):
        if ebr <= spare:
            stages[n] = dataclasses.replace(stages[n], folding=moved)
            spare -= ebr
    stages, spare = _fewer_table_lanes(stages, spare, b.family)
    if b.family == "ecp5":
        # the ROMs Yosys would put in block RAM anyway, marked so: their word is registered
        # (LinearFolding.weight_stage), the DP16KD's clock-to-output apart from the trees
        # (the digits demo's ULX3S clock was set by DP16KD -> two tree levels, 9.9 ns);
        # flip-flops are plentiful beside the ECP5's LUTs
        for n, stage in enumerate(stages):
            folding = getattr(stage, "folding", None)
            if folding is not None and folding.weight_memory == "auto" \
                    and not folding.weight_constants \
                    and weight_rom_resources(folding, b.family)["ebr"]:
                stages[n] = dataclasses.replace(
                    stage, folding=_refolded(folding, weight_memory="block"))
    if stages == list(plan.stages):
        return plan
    return dataclasses.replace(plan, stages=tuple(stages), _cycles={})
