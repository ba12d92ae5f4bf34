"""Weight ROMs moved into spare block RAM (place_weight_roms), and Yosys honouring it."""

import dataclasses

import numpy as np
import pytest

from popcorn.boards.boards import get_board
from popcorn.boards.fit import estimate_design, place_weight_roms, fit_block_ram
from popcorn.examples import load_example
from popcorn.hdl.estimates import estimate_mva, weight_rom_resources
from popcorn.hdl.mva import MatrixVectorActivation
from popcorn.hdl.synth import synth_stat
from popcorn.mapping.linear import LinearFolding
from popcorn.mapping.network_map import map_network
from popcorn.mapping.synthetic import bnn_hidden


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s-85f"])
def test_spare_block_ram_takes_the_roms_kept_in_logic(board):
    plan = map_network(load_example("digits-bnn")[0], target_cycles=64)
    family = get_board(board).family
    before = estimate_design(plan, board).total
    placed = place_weight_roms(plan, board)
    after = estimate_design(placed, board).total
    moved = [n for n, (a, b) in enumerate(zip(plan.foldings, placed.foldings))
             if a.weight_memory != b.weight_memory]
    assert moved, "a 64-cycle digits plan keeps some weight ROM in logic"
    for n in moved:
        old, new = plan.foldings[n], placed.foldings[n]
        assert new.weight_memory == "block"
        assert estimate_mva(new, family)["lut4"] < estimate_mva(old, family)["lut4"]
        assert new.weight_rom() == old.weight_rom()
    assert after["lut4"] < before["lut4"]
    assert before["ebr"] < after["ebr"] <= get_board(board).capacity["ebr"]
    assert place_weight_roms(placed, board) is placed          # nothing left to move
    assert placed.cycles_per_image == plan.cycles_per_image


def test_ecp5_registers_the_word_of_every_block_ram_weight_rom():
    """On the ECP5 a weight ROM Yosys puts in block RAM anyway is marked so, which
    registers its word (one cycle more in its engine, no more block RAM); on the iCE40 it
    is left as it was."""
    plan = map_network(load_example("digits-bnn")[0], target_cycles=256)
    in_ebr = [n for n, f in enumerate(plan.foldings) if f.weight_memory == "auto" and
              weight_rom_resources(f, "ecp5")["ebr"]]
    assert in_ebr, "the digits demo keeps a weight ROM in block RAM"
    ecp5, ice40 = place_weight_roms(plan, "ulx3s-85f"), place_weight_roms(plan, "icebreaker")
    for n in in_ebr:
        before, after = plan.foldings[n], ecp5.foldings[n]
        assert (before.weight_stage, after.weight_memory, after.weight_stage) == \
            (0, "block", 1)
        assert after.latency == before.latency + 1
        assert after.weight_rom() == before.weight_rom()
        assert ice40.foldings[n].weight_stage == 0
        assert estimate_mva(after, "ecp5")["ebr"] == estimate_mva(before, "ecp5")["ebr"]


def test_no_spare_block_ram_moves_nothing(monkeypatch):
    plan = map_network(load_example("digits-bnn")[0], target_cycles=64)
    used = estimate_design(plan, "icebreaker").total["ebr"]
    board = get_board("icebreaker")
    monkeypatch.setitem(board.capacity, "ebr", used)
    assert place_weight_roms(plan, "icebreaker") is plan


def test_too_few_block_rams_move_roms_to_logic(monkeypatch):
    """A board one block RAM short where no refolding frees one: the ROM that costs the
    fewest LUT4 per block freed goes to logic, and the design's block RAMs fit."""
    plan = map_network(load_example("mnist-cnn-bnn")[0], target_cycles=512)
    before = estimate_design(plan, "ulx3s-85f").total
    monkeypatch.setitem(get_board("ulx3s-85f").capacity, "ebr", before["ebr"] - 1)
    placed = place_weight_roms(plan, "ulx3s-85f")
    after = estimate_design(placed, "ulx3s-85f").total
    assert [(f.pe, f.simd) for f in placed.foldings] == [(f.pe, f.simd) for f in plan.foldings]
    memories = [f.weight_memory for f in placed.foldings]
    assert "logic" in memories and "block" not in memories, memories
    assert after["ebr"] <= before["ebr"] - 1 and after["lut4"] > before["lut4"]


def test_fitting_block_ram_pays_no_more_than_moving_a_rom_to_logic(monkeypatch):
    """Refolding or moving to logic, whichever is cheaper: one block RAM short, the design
    fits for no more LUT4 than the cheapest single ROM moved to logic would cost."""
    for example, target in (("digits-bnn", 512), ("mnist-cnn-bnn", 20000)):
        plan = map_network(load_example(example)[0], target_cycles=target)
        before = estimate_design(plan, "icebreaker").total
        monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", before["ebr"] - 1)
        fitted = estimate_design(fit_block_ram(plan, "icebreaker"), "icebreaker").total
        assert fitted["ebr"] <= before["ebr"] - 1
        costs = []
        for n, folding in enumerate(plan.foldings):
            stages = list(plan.stages)
            index = [i for i, s in enumerate(stages) if hasattr(s, "folding")][n]
            stages[index] = dataclasses.replace(
                stages[index], folding=dataclasses.replace(folding, weight_memory="logic"))
            moved = estimate_design(dataclasses.replace(plan, stages=tuple(stages)),
                                    "icebreaker").total
            if moved["ebr"] <= before["ebr"] - 1:
                costs.append(moved["lut4"])
        assert costs and fitted["lut4"] <= min(costs), (example, fitted, costs)


@pytest.mark.synth
def test_yosys_puts_a_block_weight_rom_in_block_ram(tmp_path):
    """A 256-bit x 16-word ROM Yosys keeps in logic goes to DP16KD when marked "block", as
    the estimate says (block RAMs exact), and the engine then needs fewer LUT4; a 16-bit x
    256-word ROM Yosys puts in a DP16KD goes to logic when marked "logic"."""
    folding = LinearFolding(*bnn_hidden(128, 32, seed=3), pe=8, simd=32, pipeline=1)
    deep = LinearFolding(*bnn_hidden(512, 64, seed=3), pe=1, simd=16, pipeline=1)
    for memory in ("auto", "logic"):
        f = dataclasses.replace(deep, weight_memory=memory)
        got = synth_stat(MatrixVectorActivation(f), family="ecp5", synth_opts="-nowidelut",
                         build_dir=tmp_path / f"deep-{memory}")
        assert (got.ebr > 0) == (memory == "auto") and got.ebr == estimate_mva(f, "ecp5")["ebr"]
    got = {}
    for memory in ("auto", "block"):
        f = dataclasses.replace(folding, weight_memory=memory)
        got[memory] = synth_stat(MatrixVectorActivation(f), family="ecp5",
                                 synth_opts="-nowidelut", build_dir=tmp_path / memory)
        assert got[memory].ebr == estimate_mva(f, "ecp5")["ebr"]
    assert got["auto"].ebr == 0 and got["block"].ebr > 0
    assert got["block"].lut4 < got["auto"].lut4


@pytest.mark.parametrize("example, target, move", [
    ("digits-bnn", 256, "refold"), ("digits-bnn", 4096, "logic"),
    ("mnist-cnn-bnn", 20000, "logic"), ("mnist-cnn-xnor", 100000, "logic")])
def test_refolding_tiles_block_ram_at_the_same_throughput(monkeypatch, example, target, move):
    """A board one block RAM short of the plan: engines take foldings that need fewer
    block RAMs at the same speed (the digits BNN at 256 cycles per image: its first
    engine's input buffer and weight ROM at SIMD 32 take 2, at 16 they take 6), or, where
    no folding at the same speed tiles better, a ROM moves to logic (the digits BNN at
    4096; the MNIST CNNs, whose Dense engines gather their map and keep their SIMD of
    whole pixels); the design fits, no engine
    is slower than the slowest was, the accelerator's interval does not grow, and the
    stages still compute the golden model's words."""
    from tests.mapping.test_network_map import chained

    network = load_example(example)[0]
    plan = map_network(network, target_cycles=target)
    before = estimate_design(plan, "icebreaker").total["ebr"]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", before - 1)
    refolded = fit_block_ram(plan, "icebreaker")
    assert refolded is not plan
    assert estimate_design(refolded, "icebreaker").total["ebr"] <= before - 1
    slowest = max(s.folding.cycles_per_vector * s.out_words for s in plan.stages
                  if hasattr(s, "folding"))
    changed = 0
    for old, new in zip(plan.stages, refolded.stages):
        if hasattr(old, "folding"):
            assert new.folding.cycles_per_vector * new.out_words <= slowest
            assert new.folding.pipeline == new.folding.auto_pipeline
            changed += (old.folding.pe, old.folding.simd) != (new.folding.pe, new.folding.simd) \
                if move == "refold" else new.folding.weight_memory == "logic" != \
                old.folding.weight_memory
    assert changed
    assert refolded.cycles_per_image <= plan.cycles_per_image
    top = 2 ** network.input_quantizer.bits
    inputs = np.random.default_rng(2).integers(0, top, (3,) + network.input_shape)
    assert chained(refolded, inputs) == plan.pack_outputs(*plan.reference(inputs))


def test_a_plan_within_the_block_ram_is_not_refolded():
    plan = map_network(load_example("mnist-cnn-bnn")[0], target_cycles=20000)
    assert fit_block_ram(plan, "ulx3s-85f") is plan
