"""The pre-build estimate of a mapped network against the board."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from popcorn.boards.fit import (LINK_FACTORS, DesignTooLarge, check_fit, estimate_design,
                                estimate_link)
from popcorn.examples import load_example
from popcorn.hdl.estimates import estimate_mva, estimate_serial_argmax
from popcorn.hdl.handshake import RegisterSlice, register_slice_resources
from popcorn.hdl.pool import MaxPool
from popcorn.hdl.queue import Queue
from popcorn.hdl.window import SlidingWindow
from popcorn.mapping.network_map import map_network


@pytest.fixture(scope="module")
def network():
    return load_example("digits-bnn")[0]


def test_estimate_is_the_sum_of_the_blocks(network):
    plan = map_network(network, target_cycles=256)
    est = estimate_design(plan, "ulx3s-85f")
    assert [(layer["layer"], layer["kind"]) for layer in est.layers] == \
        [("input", "register slice"), (1, "dense"), (4, "dense"), (7, "dense"),
         (9, "argmax"), ("link", "host link")]
    assert plan.foldings[0].gather == 5                     # the first engine gathers pixels
    parts = [register_slice_resources(plan.in_width, "ecp5")]
    parts += [estimate_mva(f, "ecp5") for f in plan.foldings]
    assert plan.stages[-1].mode == "serial"                 # 256 cycles an image
    parts.append(estimate_serial_argmax(classes=10, width=plan.score_width, family="ecp5"))
    parts.append(dict(estimate_link(family="ecp5", in_width=plan.in_width,
                                    out_width=plan.out_width, in_words=plan.in_words),
                      ebr=0, dsp=0))
    for key in ("lut4", "ff", "ebr", "dsp"):
        assert est.total[key] == sum(p[key] for p in parts)
        assert [layer[key] for layer in est.layers] == [p[key] for p in parts]
    assert est.capacity == {"lut4": 83640, "ff": 83640, "ebr": 208, "dsp": 156, "spram": 0}
    check_fit(est)                                         # fits: no error


def test_conv_estimate_counts_window_pool_and_flatten():
    from popcorn.golden.examples import random_network

    plan = map_network(random_network("pa", seed=1, layout="conv"), target_cycles=150)
    est = estimate_design(plan, "icebreaker")
    conv, pool = plan.stages[0], plan.stages[1]
    window = SlidingWindow(height=8, width=8, channels=conv.in_width, kernel=3, padding=1)
    expect = [window.resources(), estimate_mva(conv.folding, "ice40")]
    assert est.layers[0]["layer"] == "input"                # the input's register slice
    assert est.layers[1]["lut4"] == sum(p["lut4"] for p in expect)
    assert est.layers[1]["ff"] == sum(p["ff"] for p in expect)
    pooled = MaxPool(height=8, width=8, channels=pool.in_width, kernel=2).resources()
    queue = Queue(width=pool.in_width, depth=pool.queue).resources()
    queue_out = RegisterSlice(pool.in_width).resources()   # the slice behind the queue
    assert pool.queue == 16                                # two rows of the 8x8 map
    assert est.layers[2]["ff"] == pooled["ff"] + queue["ff"] + queue_out["ff"]
    assert est.layers[2]["lut4"] == pooled["lut4"] + queue["lut4"] + queue_out["lut4"] + \
        pool.channels * pool.bits                          # one LUT4 per one-hot piece


def test_unfolded_network_does_not_fit_the_up5k_but_fits_the_ecp5(network):
    plan = map_network(network, target_cycles=1)
    with pytest.raises(DesignTooLarge, match=r"the design does not fit icebreaker: its layers "
                       r"need about \d+ LUT4 \(estimate\), the device has 5280; layer 1 \(dense\) "
                       r"alone"):
        check_fit(estimate_design(plan, "icebreaker"))
    check_fit(estimate_design(plan, "ulx3s-85f"))


def _most_folded(network, board):
    plan = map_network(network, target_cycles=1)
    return lambda: estimate_design(map_network(
        network, folding=[(1, 1)] * len(plan.foldings)), board)


def test_the_advice_says_how_far_folding_goes(network):
    """Logic short, the same network folded to one lane of one bit per engine fits: the
    advice is to fold more, with that design's figures."""
    plan = map_network(network, target_cycles=1)
    folded = _most_folded(network, "icebreaker")()
    check_fit(folded)
    with pytest.raises(DesignTooLarge, match=rf"Fold more \(a larger --target-cycles\): with "
                       rf"every engine at one lane of one input bit it needs about "
                       rf"{folded.total['lut4']} LUT4 and {folded.total['ff']} flip-flops"):
        check_fit(estimate_design(plan, "icebreaker"), slowest=_most_folded(network,
                                                                             "icebreaker"))


def test_folding_that_cannot_fit_is_not_advised():
    """A design whose registers do not shrink with folding (the text CNN's windows and
    engines on the UP5K): refused saying that folding more does not make it fit (first
    for its logic cells or, since the product stages add pairs, for its flip-flops)."""
    from popcorn.examples import load_example

    network = load_example("digits-textcnn-xnor")[0]
    plan = map_network(network, target_cycles=256)
    with pytest.raises(DesignTooLarge, match=r"(logic cells|flip-flops) \(estimate\), the "
                       r"device has 5280[.;].* Folding more does not make it fit: with every "
                       r"engine at one "
                       r"lane of one input bit it still needs about \d+ LUT4 and \d+ "
                       r"flip-flops \(\d+ logic cells\)\. Choose a larger board"):
        check_fit(estimate_design(plan, "icebreaker"), slowest=_most_folded(network,
                                                                             "icebreaker"))


def test_too_few_block_rams_are_not_answered_with_folding(network, monkeypatch):
    """Block RAM short: the message says that folding does not shrink the weights."""
    from popcorn.boards.boards import get_board

    plan = map_network(network, target_cycles=256)
    used = estimate_design(plan, "icebreaker").total["ebr"]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", used - 1)
    with pytest.raises(DesignTooLarge, match=rf"need about {used} block RAMs \(estimate\), "
                       rf"the device has {used - 1}; .*folding more does not shrink the "
                       rf"weights"):
        check_fit(estimate_design(plan, "icebreaker"))


def test_folded_block_ram_short_names_what_it_holds(monkeypatch):
    """The folded engine short of block RAM: the message names the maps, images, records
    and the stream FIFO it holds (its weights are in SPRAM), not the dataflow's ROMs."""
    from popcorn.boards.boards import get_board
    from popcorn.golden.examples import random_network
    from popcorn.mapping.folded import map_folded

    plan = map_folded(random_network("bnn", layout="conv", seed=8), pe=2, simd=8,
                      spram_words=20)
    used = estimate_design(plan, "icebreaker").total["ebr"]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", used - 1)
    with pytest.raises(DesignTooLarge, match=rf"need about {used} block RAMs .* two "
                       rf"activation maps .* weight stream's FIFO"):
        check_fit(estimate_design(plan, "icebreaker"))


def test_unknown_board(network):
    with pytest.raises(ValueError, match="unknown board 'de10'"):
        estimate_design(map_network(network), "de10")


def test_an_image_larger_than_a_link_frame_is_refused():
    from types import SimpleNamespace

    from popcorn.boards.fit import check_link

    check_link(SimpleNamespace(in_words=65535, in_width=8))
    with pytest.raises(DesignTooLarge, match=r"an image is 98304 bytes on the host link "
                                             r"\(32768 words of 3 bytes\), more than a frame "
                                             r"carries \(65535\)"):
        check_link(SimpleNamespace(in_words=32768, in_width=24))


def test_ice40_logic_cells_refused_beyond_the_margin(network):
    """LUT4 and flip-flops each within the margin, but together more logic cells than the
    margin allows: refused, naming the cells."""
    from dataclasses import replace

    from popcorn.boards.fit import LC_PACKING, LOGIC_MARGIN

    est = estimate_design(map_network(network, target_cycles=256), "icebreaker")
    each = int(5280 * LOGIC_MARGIN / (2 * LC_PACKING)) + 10    # half the margin's cells, plus
    big = replace(est, total=dict(est.total, lut4=each, ff=each))
    assert each <= 5280 * LOGIC_MARGIN
    with pytest.raises(DesignTooLarge, match=rf"its {each} LUT4 and {each} flip-flops need "
                       rf"about \d+ logic cells \(estimate\), the device has 5280"):
        check_fit(big)
    check_fit(replace(est, total=dict(est.total, lut4=each - 40, ff=each - 40)))


def test_link_factors_are_the_sweeps_fit():
    """LINK_FACTORS is what ``benchmarks/sweep_link.py --fit`` computes from the Yosys
    counts saved in reports/blocks/link_estimates.json: rerun the sweep and refit after a
    change to the link."""
    root = Path(__file__).resolve().parents[2]
    fit = subprocess.run([sys.executable, "benchmarks/sweep_link.py", "--fit"], cwd=root,
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert json.loads(fit.stdout) == LINK_FACTORS
