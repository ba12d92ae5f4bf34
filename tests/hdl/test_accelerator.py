"""Whole networks in RTL: every image's scores and class against the golden model, under
random stalls, and every handshake of a free-running burst against the cycle model."""

import numpy as np
import pytest

from popcorn.examples import EXAMPLES, load_example
from popcorn.golden.examples import SCHEMES, cnv_network, random_network
from popcorn.mapping.network_map import map_network
from popcorn.sim.network import simulate_network


def random_inputs(network, count, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2 ** network.input_quantizer.bits, (count,) + network.input_shape)


def check_network(plan, inputs, tmp_path, **kwargs):
    scores, argmax = plan.reference(inputs)
    run = simulate_network(plan, inputs, build_dir=tmp_path, **kwargs)
    assert (run.scores == scores).all() and (run.argmax == argmax).all()
    assert run.measured["interval"] == plan.cycles_per_image
    assert run.measured["latency"] == plan.latency
    return run


@pytest.mark.parametrize("scheme", SCHEMES)
def test_dense_network_scores_and_cycles(scheme, tmp_path):
    network = random_network(scheme, seed=1, layout="dense")
    plan = map_network(network, target_cycles=6)
    assert [s.kind for s in plan.stages] == ["dense", "dense", "argmax"]
    first = plan.stages[0].folding          # gathers the input elements into its buffer,
    assert first.gather == 2 * first.act_bases and first.synapse_folds > 1   # two a transfer
    assert plan.in_words == 6 and plan.cycles_per_image == 6
    check_network(plan, random_inputs(network, 40, 2), tmp_path)


@pytest.mark.parametrize("target", [16, 8, 2])
def test_input_pixels_packed_to_meet_the_target(target, tmp_path):
    """A 2x4x4 map flattened into a Dense engine: one pixel a transfer down to 16 cycles per
    image, then 2 and 8 pixels a transfer, in raster order, so that the input stream keeps
    up with the target (the weights follow the stream's order, the data is not permuted)."""
    network = random_network("abc", seed=3, layout=((2, 4, 4), (("flatten",), ("dense", 5),
                                                                 ("dense", 3))))
    plan = map_network(network, target_cycles=target)
    assert plan.in_words == target and plan.in_width == 16 * 16 // plan.in_words
    assert plan.cycles_per_image == target          # at 2, the argmax pipelined
    assert plan.stages[-1].pipelined == (target == 2)
    check_network(plan, random_inputs(network, 12, 4), tmp_path)


def test_tfc_like_network_at_two_cycles_per_image(tmp_path):
    """A dense net of 10 classes asking for 2 cycles per image: its argmax pipelined
    (one at a time it takes a word every 5): every image right under random stalls,
    every handshake of a free-running burst as predicted."""
    network = random_network("bnn", seed=4, layout=((1, 8, 8), (
        ("flatten",), ("dense", 32), ("dense", 32), ("dense", 10))))
    plan = map_network(network, target_cycles=2)
    assert plan.stages[-1].pipelined and plan.cycles_per_image == 2
    check_network(plan, random_inputs(network, 24, 5), tmp_path)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_conv_network_scores_and_cycles(scheme, tmp_path):
    """Conv 3x3 pad 1 -> pool 2 -> conv 3x3 stride 2 pad 1 -> flatten -> dense: PA-Net and
    BinaryConnect (one-hot pieces, fixed-point planes) pool comparator levels; the mapper
    gives the Dense engine a SIMD of whole pixels, so it gathers the map itself."""
    network = random_network(scheme, seed=1, layout="conv")
    plan = map_network(network, target_cycles=150)
    assert [s.kind for s in plan.stages] == ["conv2d", "maxpool2d", "conv2d", "dense",
                                             "argmax"]
    assert plan.stages[3].folding.gather
    levels = scheme in ("pa", "binaryconnect")
    assert plan.stages[0].folding.emit == ("levels" if levels else "bases")
    assert (plan.stages[1].convert is not None) == levels
    check_network(plan, random_inputs(network, 12, 3), tmp_path)


@pytest.mark.parametrize("scheme", ["bnn", "pa"])
def test_conv_map_flattened_for_a_partial_pixel_simd(scheme, tmp_path):
    """The same network with its Dense engine at SIMD 1, less than a pixel: a flatten
    stage gathers the map into one vector word."""
    network = random_network(scheme, seed=1, layout="conv")
    base = map_network(network, target_cycles=150)
    folding = [(f.pe, f.simd) for f in base.foldings[:-1]] + [(1, 1)]
    plan = map_network(network, folding=folding)
    assert [s.kind for s in plan.stages] == ["conv2d", "maxpool2d", "conv2d", "flatten",
                                             "dense", "argmax"]
    check_network(plan, random_inputs(network, 6, 3), tmp_path)


@pytest.mark.parametrize("scheme", ["bnn", pytest.param("abc", marks=pytest.mark.slow)])
def test_conv_map_gathered_by_the_dense_engine(scheme, tmp_path):
    """A Dense engine whose element fold holds whole pixels takes the map's pixels into its
    input buffer (no flatten stage): one and two pixels per fold, under stalls."""
    network = random_network(scheme, seed=1, layout="conv")
    base = map_network(network, target_cycles=150)
    pixel = base.stages[3].in_width                      # the gathering engine's pixel word
    for per_fold in (1, 2):
        simd = per_fold * pixel // base.foldings[-1].act_bases
        folding = [(f.pe, f.simd) for f in base.foldings[:-1]] + [(1, simd)]
        plan = map_network(network, folding=folding)
        assert [s.kind for s in plan.stages] == ["conv2d", "maxpool2d", "conv2d", "dense",
                                                 "argmax"]
        dense = plan.stages[3]
        assert (dense.folding.gather, dense.in_words) == (pixel, 4)
        check_network(plan, random_inputs(network, 8, per_fold), tmp_path / str(per_fold),
                      idle=0.3, stall=0.3)


@pytest.mark.parametrize("per_fold", [1, 3])
def test_gathering_over_folds_not_a_power_of_two(per_fold, tmp_path):
    """A 3 x 3 map gathered by a Dense engine of one lane: 9 or 3 element folds a bank
    (the banks' read and write addresses step past a base that is no power of two) and
    four channel folds reading each bank again, under stalls."""
    network = random_network("bnn", seed=3, layout=(
        (1, 6, 6), (("conv", 4, 3, 2, 1), ("flatten",), ("dense", 4))))
    base = map_network(network, target_cycles=64)
    pixel = base.stages[0].out_width
    simd = per_fold * pixel // base.foldings[-1].act_bases
    plan = map_network(network, folding=[(f.pe, f.simd) for f in base.foldings[:-1]]
                       + [(1, simd)])
    dense = plan.stages[-2].folding
    assert (dense.gather, dense.synapse_folds, dense.neuron_folds) == (pixel, 9 // per_fold, 4)
    check_network(plan, random_inputs(network, 6, per_fold), tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("scheme, target", [("bnn", 200),
                                            pytest.param("abc", 200, marks=pytest.mark.slow),
                                            ("xnor", 1)])
def test_zero_padded_conv_network(scheme, target, tmp_path):
    """Convolutions padded with the value 0, as PyTorch pads (``padding_fill="zero"``): the
    second reads pm1 activations, so each of its 9 border classes has its own channel
    records, picked by the engine's position counters; at one cycle per window (xnor)
    too. Scores of every image and the cycles as the golden model and the cycle model."""
    layout = ((1, 8, 8), (("conv", 4, 3, 1, 1), ("conv", 4, 3, 1, 1), ("pool", 2),
                          ("flatten",), ("dense", 3)))
    network = random_network(scheme, seed=2, layout=layout, padding_fill="zero")
    plan = map_network(network, target_cycles=target)
    assert [s.folding.classes for s in plan.stages if s.kind == "conv2d"] == [1, 9]
    check_network(plan, random_inputs(network, 6, 7), tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("scheme", ["bnn", "pa"])
def test_global_average_pool_network(scheme, tmp_path):
    """A GlobalAvgPool2d before the scores layer: the golden model folds the average into
    the Dense (repeated weight bits, Phi / HW), which gathers the map's pixels; every
    image's scores and the cycles as the golden model and the cycle model."""
    network = random_network(scheme, seed=3, layout="gap")
    plan = map_network(network, target_cycles=80)
    dense = plan.stages[-2]
    assert dense.kind == "dense" and dense.folding.fan_in == 6 * 4 * 4
    check_network(plan, random_inputs(network, 6, 8), tmp_path, idle=0.3, stall=0.3)


def test_fully_parallel_conv_keeps_one_window_per_cycle(tmp_path):
    """One cycle per window: the engine takes a window in the cycle its result leaves, so
    the window's padding steps and row ends set the pace (exact in the cycle model)."""
    network = random_network("bnn", seed=5, layout="conv")
    plan = map_network(network, target_cycles=1)
    assert plan.stages[0].folding.cycles_per_vector == 1
    check_network(plan, random_inputs(network, 6, 4), tmp_path, idle=0.5, stall=0.5)


@pytest.mark.parametrize("scheme", ["abc", "pa"])
def test_pointwise_conv_and_overlapping_pool(scheme, tmp_path):
    """A 1x1 convolution (no line buffer) and a 3x3 max-pool of stride 2 (a sliding window
    with an OR tree), behind a queue."""
    network = random_network(scheme, seed=4, layout="strided")
    plan = map_network(network, target_cycles=60)
    assert (plan.stages[0].kernel, plan.stages[1].kernel, plan.stages[1].stride) == \
        ((1, 1), (3, 3), (2, 2))
    assert plan.stages[1].queue == 18
    check_network(plan, random_inputs(network, 8, 5), tmp_path)


@pytest.mark.parametrize("scheme, fill, target", [("bnn", "zero", 40), ("bnn", "lowest", 1),
                                                  ("abc", "zero", 1), ("abc", "lowest", 40)])
def test_sequence_conv_network_scores_and_cycles(scheme, fill, target, tmp_path):
    """A 1-D convolution network lowered to 2-D, on a (2, 1, 16) map: (1, 3) convolutions
    padded (0, 1) (no line buffers), the second of stride (1, 2), whose pm1 input padded with
    the value 0 has two border classes; a (1, 8) max-pool over the whole row (a global max
    over time), flatten, dense. Scores of every image and the cycles as the golden model
    and the cycle model."""
    network = random_network(scheme, seed=1, layout="sequence", padding_fill=fill)
    plan = map_network(network, target_cycles=target)
    conv, strided, pool = plan.stages[:3]
    assert (conv.kernel, conv.padding, strided.stride, strided.out_shape) == \
        ((1, 3), (0, 1), (1, 2), (1, 8))
    assert (pool.kind, pool.kernel, pool.out_shape) == ("maxpool2d", (1, 8), (1, 1))
    assert [s.folding.classes for s in (conv, strided)] == [1, 2 if fill == "zero" else 1]
    check_network(plan, random_inputs(network, 6, 3), tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("scheme, fill", [("bnn", "zero"), ("pa", "lowest")])
def test_rectangular_conv_network_scores_and_cycles(scheme, fill, tmp_path):
    """A 2-D network of a (3, 1) convolution padded (1, 0), a (1, 3) one of stride (2, 1)
    padded (0, 1) (three border classes with the value 0 on pm1 maps) and a (2, 1) pool
    (one column: through a sliding window)."""
    network = random_network(scheme, seed=2, layout="rect", padding_fill=fill)
    plan = map_network(network, target_cycles=30)
    assert [(s.kernel, s.out_shape) for s in plan.stages[:3]] == \
        [((3, 1), (7, 8)), ((1, 3), (4, 8)), ((2, 1), (2, 8))]
    assert plan.stages[1].folding.classes == (3 if fill == "zero" else 1)
    check_network(plan, random_inputs(network, 6, 4), tmp_path, idle=0.3, stall=0.3)


def test_tiny_cnn_example_in_rtl(tmp_path):
    """The smallest trained example (MNIST, 1x28x28, BNN 4-8 channels) as `popcorn build`
    folds it by default: three test images."""
    network, x, _, _ = load_example("mnist-cnn-bnn-tiny")
    plan = map_network(network, target_cycles=4 * 28 * 28)
    check_network(plan, x[:3], tmp_path, simulator="icarus", idle=0.1, stall=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in EXAMPLES if n.startswith("mnist-cnn")))
def test_cnn_examples_in_verilator(name, tmp_path):
    network, x, _, _ = load_example(name)
    plan = map_network(network, target_cycles=4 * 28 * 28)
    check_network(plan, x[:20], tmp_path, simulator="verilator")


@pytest.mark.slow
def test_cnv_topology_in_verilator(tmp_path):
    """FINN's CNV shape (random BNN weights), folded to about 30 000 cycles per image."""
    network = cnv_network(seed=3)
    plan = map_network(network, target_cycles=30_000)
    check_network(plan, random_inputs(network, 2, 6), tmp_path, simulator="verilator",
                  idle=0.05, stall=0.05)


def test_ternary_network_fitted_to_block_ram_in_rtl(monkeypatch, tmp_path):
    """A ternary network one block RAM over the board: fit_block_ram codes an engine's
    weights (5 bits per 3 elements); the accelerator stays bit-exact with exact cycles."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import estimate_design, fit_block_ram
    from popcorn.golden.examples import with_ternary_weights

    layout = ((256,), (("dense", 128), ("dense", 64), ("dense", 4)))
    network = with_ternary_weights(random_network("pa", seed=0, layout=layout, bases=(2, 2)))
    plan = map_network(network, target_cycles=4096)
    need = estimate_design(plan, "icebreaker").total["ebr"]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", need - 1)
    fitted = fit_block_ram(plan, "icebreaker")
    assert "ternary" in [f.weight_code for f in fitted.foldings]
    assert estimate_design(fitted, "icebreaker").total["ebr"] <= need - 1
    assert fitted.cycles_per_image <= plan.cycles_per_image
    check_network(fitted, random_inputs(network, 4, 3), tmp_path, burst=2)


@pytest.mark.parametrize("scheme, layout, target, downsample", [
    ("bnn", "conv-zero", 200, False),
    pytest.param("abc", "conv", 60, False, marks=pytest.mark.slow),
    ("xnor", "conv", 1, False), ("pa", "dense", 20, False),
    pytest.param("binaryconnect", "dense", 1, False, marks=pytest.mark.slow),
    ("bnn", "conv-zero", 40, True),
    pytest.param("abc", "conv", 1, True, marks=pytest.mark.slow),
    ("pa", "dense", 8, True)])
def test_residual_network_scores_and_cycles(scheme, layout, target, downsample, tmp_path):
    """Two residual blocks: each block's input forked into a shortcut queue that the
    block's last engine reads, its lanes comparing with the table of their shortcut code;
    with ``downsample`` the second block's shortcut is a 1 x 1 convolution of stride 2 (a
    Dense layer) whose engine, inside the fork, queues Y for the closing engine to add.
    Every image's scores under random stalls, and the cycles as the cycle model's (at one
    cycle per window too, where the queues are deepest)."""
    from popcorn.golden.examples import random_residual_network

    layout, _, fill = layout.partition("-")
    graph = random_residual_network(scheme, seed=4, layout=layout, blocks=2,
                                    downsample=downsample, padding_fill=fill or "lowest")
    plan = map_network(graph, target_cycles=target)
    forks = [s for s in plan.stages if s.kind == "shortcut"]
    assert [fork.side is not None for fork in forks] == [False, downsample]
    check_network(plan, random_inputs(graph, 6, 9), tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("idle, stall", [
    (0.0, 0.95), pytest.param(0.9, 0.0, marks=pytest.mark.slow), (0.6, 0.8)])
def test_residual_queue_at_its_minimum_survives_any_stalls(idle, stall, tmp_path):
    """The shortcut queues at their closed-form minimum (no room to run ahead; an identity
    block and a downsampling block), the output stalled 95 % of the cycles (every queue of
    the main branch fills), the input starved, and both: every image's scores still come
    out equal to the golden model's."""
    from dataclasses import replace

    from popcorn.golden.examples import random_residual_network
    from popcorn.mapping.network_map import NetworkPlan

    graph = random_residual_network("bnn", seed=2, layout="conv", blocks=2, downsample=True)
    plan = map_network(graph, target_cycles=1)
    stages = [replace(s, depth=s.minimum) if s.kind == "shortcut" else s for s in plan.stages]
    tight = NetworkPlan(graph, plan.integer, tuple(stages), plan.input_shape)
    assert [s.depth for s in tight.stages if s.kind == "shortcut"] == [13, 6]
    assert tight.stages[1].depth < plan.stages[1].depth
    check_network(tight, random_inputs(graph, 5, 3), tmp_path, idle=idle, stall=stall)


@pytest.mark.parametrize("scheme, layout, target", [
    pytest.param("abc", "conv", 40, marks=pytest.mark.slow), ("bnn", "conv", 1),
    ("pa", "dense", 8), ("binaryconnect", "text", 1),
    ("xnor", "text", 60)])
def test_concat_network_scores_and_cycles(scheme, layout, target, tmp_path):
    """A tensor forked into three branches of different latencies (and, but in the text
    layout, a fourth that is the tensor itself), each queued and joined along the channels:
    every image's scores under random stalls, the cycles as the cycle model's."""
    from popcorn.golden.examples import random_concat_network

    graph = random_concat_network(scheme, seed=4, layout=layout, branches=3,
                                  identity=layout != "text")
    plan = map_network(graph, target_cycles=target)
    (concat,) = [s for s in plan.stages if s.kind == "concat"]
    assert len(concat.branches) == 3 + (layout != "text")
    check_network(plan, random_inputs(graph, 5, 9), tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("scheme, fill, target", [
    ("xnor", "lowest", 30), pytest.param("abc", "zero", 1, marks=pytest.mark.slow),
    ("pa", "lowest", 200)])
def test_text_network_over_sequences_scores_and_cycles(scheme, fill, target, tmp_path):
    """Seed 003's text model over (C, T) sequences: n-gram convolutions as 1 x n windows
    (one padded with ``fill``, one of stride 2 and pooled), each branch's max over time,
    the branches joined: every image's scores under random stalls, the cycles as the cycle
    model's."""
    from popcorn.golden.examples import random_text_network

    graph = random_text_network(scheme, seed=5, padding_fill=fill)
    plan = map_network(graph, target_cycles=target)
    check_network(plan, random_inputs(graph, 5, 11), tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("idle, stall", [
    (0.0, 0.95), pytest.param(0.9, 0.0, marks=pytest.mark.slow), (0.6, 0.8)])
def test_concat_queues_at_their_minimum_survive_any_stalls(idle, stall, tmp_path):
    """The branch queues at their closed-form minima (the forked tensor's own branch at its
    exact fewest), the output stalled 95 % of the cycles, the input starved, and both:
    every image's scores still equal the golden model's."""
    from dataclasses import replace

    from popcorn.golden.examples import random_concat_network
    from popcorn.mapping.network_map import NetworkPlan

    graph = random_concat_network("bnn", seed=2, layout="conv", branches=3, identity=True)
    plan = map_network(graph, target_cycles=1)
    stages = [replace(s, depths=s.minima) if s.kind == "concat" else s for s in plan.stages]
    tight = NetworkPlan(graph, plan.integer, tuple(stages), plan.input_shape)
    (concat,) = [s for s in tight.stages if s.kind == "concat"]
    assert concat.depths == (2, 7, 2, 8)
    check_network(tight, random_inputs(graph, 4, 3), tmp_path, idle=idle, stall=stall)


def test_concat_estimate_is_its_blocks():
    """A ConcatStage's estimate: its queues, fork and join, and every branch stage's
    blocks."""
    from popcorn.golden.examples import random_concat_network
    from popcorn.hdl.accelerator import stage_resources
    from popcorn.hdl.concat import concat_resources

    plan = map_network(random_concat_network("abc", layout="conv", branches=3,
                                             identity=True), target_cycles=40)
    (concat,) = [s for s in plan.stages if s.kind == "concat"]
    total = stage_resources(concat, "ice40")
    own = concat_resources(widths=concat.branch_widths, depths=concat.depths)
    inner = [stage_resources(stage, "ice40") for stage in concat.stages]
    assert total == {key: own[key] + sum(part[key] for part in inner) for key in total}
    assert own["lut4"] > 0 and total["lut4"] > own["lut4"]


@pytest.mark.slow
def test_resnet_example_in_rtl(tmp_path):
    """The built-in ABC-Net ResNet (an identity block and a downsampling block) on shipped
    test images: every image's scores and class under random stalls, the cycles as the
    cycle model's. Slow (about 80 s): the default run has residual networks with identity
    and downsampling blocks in test_residual_network_scores_and_cycles."""
    network, x, _, _ = load_example("digits-resnet-abc")
    plan = map_network(network, target_cycles=512)
    assert [s.side is not None for s in plan.stages if s.kind == "shortcut"] == [False, True]
    check_network(plan, x[:8], tmp_path, idle=0.3, stall=0.3)


def test_text_cnn_example_in_rtl(tmp_path):
    """The built-in XNOR-Net n-gram text CNN (three 1-D convolutions of the digit's columns,
    max over time, concatenated) on shipped test sequences: every image's scores and
    class under random stalls, the cycles as the cycle model's."""
    network, x, _, _ = load_example("digits-textcnn-xnor")
    plan = map_network(network, target_cycles=256)
    (concat,) = [s for s in plan.stages if s.kind == "concat"]
    assert [branch[0].kernel for branch in concat.branches] == [(1, 3), (1, 4), (1, 5)]
    check_network(plan, x[:8], tmp_path, idle=0.3, stall=0.3)


@pytest.mark.parametrize("scheme, stride, fill, target, multiply", [
    ("bnn", 1, "lowest", 60, "shift-add"), ("pa", 2, "zero", 8, "dsp")])
def test_separable_network_scores_and_cycles(scheme, stride, fill, target, multiply, tmp_path):
    """Seed 004's MobileNet block (random_separable_network): a depthwise 3 x 3 at fixed
    point (4-bit weights x 3-bit activations, the dense block-diagonal convolution) then a
    binary pointwise 1 x 1, bit-exact with exact cycles under random stalls. Its per-channel
    weight scales make per-channel coefficients: with ``multiply="dsp"`` their products are
    the multiplies a board maps to DSP blocks."""
    from popcorn.golden.examples import random_separable_network

    network = random_separable_network(scheme, seed=3, stride=stride, padding_fill=fill)
    plan = map_network(network, target_cycles=target, multiply=multiply)
    depthwise = plan.stages[1].folding
    assert depthwise.weight_bases == 4 and plan.stages[1].kernel == (3, 3)
    assert depthwise.needs_dsp == (multiply == "dsp")
    check_network(plan, random_inputs(network, 6, 5), tmp_path, idle=0.3, stall=0.3)
