"""ComparatorActivation, Argmax, SerialArgmax and Queue resources against the real Yosys (both
families), and structural properties of the estimates."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from popcorn.golden.examples import random_thresholds
from popcorn.hdl.argmax import Argmax, SerialArgmax
from popcorn.hdl.comparator import ComparatorActivation
from popcorn.hdl.estimates import ARGMAX_FACTORS, estimate_argmax, estimate_comparator
from popcorn.hdl.queue import BLOCK_QUEUE_LUT4, Queue
from popcorn.hdl.synth import synth_stat

SYNTH_OPTS = {"ice40": "", "ecp5": "-nowidelut"}


def comparator(channels, levels, pe, in_width, output="thermometer", seed=1):
    thresholds, directions = random_thresholds(channels, levels, in_width, seed=seed)
    return ComparatorActivation(thresholds=thresholds, directions=directions, pe=pe,
                                in_width=in_width, output=output)


BLOCKS = {
    "cmp_sign": lambda: comparator(16, 1, 2, 10),
    "cmp_pa": lambda: comparator(24, 7, 4, 8, "onehot"),
    "cmp_ebr": lambda: comparator(128, 1, 1, 15),      # ROM in EBR on both families
    "argmax_10": lambda: Argmax(classes=10, width=12),
    "argmax_5": lambda: Argmax(classes=5, width=18),
    "argmax_10_pipelined": lambda: Argmax(classes=10, width=12, pipelined=True),
    "argmax_10_serial": lambda: SerialArgmax(classes=10, width=15),
    # a queue in block RAM on both families; in LUT RAM on ECP5, where its enabled read
    # makes a DP16KD dearer (window.ECP5_EBR_ENABLED_READ), in block RAM on iCE40
    "queue_129": lambda: Queue(width=12, depth=129),
    "queue_65": lambda: Queue(width=24, depth=65),
}


@pytest.mark.synth
@pytest.mark.parametrize("name, family", [       # each block on one family by default,
    (name, family) if (n + (family == "ecp5")) % 2 == 0   # alternating; both with -m slow
    else pytest.param(name, family, marks=pytest.mark.slow)
    for n, name in enumerate(BLOCKS) for family in ("ice40", "ecp5")])
def test_resources_against_yosys(name, family, tmp_path):
    """EBR and DSP exact, FF within max(3, 1 %) (Yosys keeps 3 more of the 267 FF of the
    10-class argmax on ECP5), LUT4 within max(6, 25 %) (the comparator's iCE40 error
    reaches 24 % in the sweep)."""
    block = BLOCKS[name]()
    est = block.resources(family=family)
    got = synth_stat(block, family=family, synth_opts=SYNTH_OPTS[family], build_dir=tmp_path)
    assert (est["ebr"], est["dsp"]) == (got.ebr, got.dsp), (est, got)
    assert abs(est["ff"] - got.ff) <= max(3, 0.01 * got.ff), (est, got)
    assert abs(est["lut4"] - got.lut4) <= max(6, 0.25 * got.lut4), (est, got)


def test_comparator_estimate_grows_and_rom_moves_to_ebr():
    base = dict(pe=1, in_width=12)
    small = estimate_comparator(channels=16, levels=1, **base)
    assert estimate_comparator(channels=16, levels=3, **base)["lut4"] > small["lut4"]
    # two more levels: their in_width threshold bits and a mode bit each
    assert estimate_comparator(channels=16, levels=3, **base)["ff"] == small["ff"] + 2 * 13
    assert estimate_comparator(channels=64, levels=1, **base)["lut4"] > small["lut4"]
    assert small["ebr"] == 0
    big = estimate_comparator(channels=512, levels=1, **base)
    assert big["ebr"] == 2 and big["ff"] == 9 + 2 + 1   # counter, primed, o.valid, payload


def test_argmax_estimate_counts_registers():
    # 2 classes, one at a time: held scores, busy; the compare stage (valid, 1 keep bit),
    # the select stage (valid, 1 index bit: the best score is never read)
    assert estimate_argmax(classes=2, width=8)["ff"] == 16 + 1 + (1 + 1) + (1 + 1)
    # 5 classes, 3 levels of two stages, each a valid. Level 1: the 2 compares (of the
    # held scores); the best of 0..1 and of 2..3 (a score and 1 varying index bit each)
    # and class 4 (its score; its index a constant). Level 2: the compare, the three
    # candidates again; the best of 0..3 (score, 2 index bits) and class 4. Level 3: the
    # compare and the candidates' index bits (their scores unread); the 3-bit index.
    assert estimate_argmax(classes=5, width=8)["ff"] == \
        (1 + 2) + (1 + 2 * (8 + 1) + 8) + (1 + 1 + 2 * (8 + 1) + 8) + (1 + (8 + 2) + 8) \
        + (1 + 1 + 2) + (1 + 3) + 40 + 1
    # pipelined: one stage per level, a 40-bit copy of the scores per stage, no busy;
    # class 4's score in stages 1 and 2 is its copy's
    assert estimate_argmax(classes=5, width=8, pipelined=True)["ff"] == \
        3 + 2 * (8 + 1) + (8 + 2) + 3 + 3 * 40
    assert estimate_argmax(classes=16, width=8)["lut4"] < estimate_argmax(classes=16,
                                                                           width=16)["lut4"]


def test_queue_and_argmax_constants_are_the_sweeps_fit():
    """BLOCK_QUEUE_LUT4 and ARGMAX_FACTORS are what ``benchmarks/sweep_dataflow.py --fit``
    computes from the Yosys counts saved in reports/blocks/dataflow_estimates.json."""
    root = Path(__file__).resolve().parents[2]
    fit = subprocess.run([sys.executable, "sweep_dataflow.py", "--fit"],
                         cwd=root / "benchmarks", check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": f"{root}:{root / 'benchmarks'}"})
    fitted = json.loads(fit.stdout)
    assert {family: tuple(v) for family, v in fitted["BLOCK_QUEUE_LUT4"].items()} \
        == BLOCK_QUEUE_LUT4
    assert fitted["ARGMAX_FACTORS"] == ARGMAX_FACTORS
