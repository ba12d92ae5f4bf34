"""Mapping networks to stages: the stages' references chain to the golden model, the
weights are permuted for the stream's element order, and what the hardware cannot carry
is refused by name."""

from dataclasses import replace

import numpy as np
import pytest

from popcorn.golden.examples import SCHEMES, random_network
from popcorn.mapping.network_map import map_network
from popcorn.golden.binary import pack_words
from popcorn.mapping.stages import unpack_pixels
from popcorn.network import (Activation, BnnWeights, Conv2d, Dense, FixedPointActivation,
                             Flatten, MaxPool2d, Network, NetworkError, Scores, SignActivation)


def chained(plan, inputs):
    """The accelerator's output words per image, stage reference after stage reference."""
    out = []
    for image in inputs:
        words = plan.input_words(image[None])
        for stage in plan.stages:
            assert len(words) == stage.in_words
            assert all(w < 1 << stage.in_width for w in words)
            words = stage.reference(words)
        out += words
    return out


@pytest.mark.parametrize("layout", ["conv", "conv-zero", "dense", "strided", "gap", "sequence",
                                    "sequence-zero", "rect", "rect-zero"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_stage_references_chain_to_the_golden_model(scheme, layout):
    layout, _, fill = layout.partition("-")
    network = random_network(scheme, seed=7, layout=layout, padding_fill=fill or "lowest")
    plan = map_network(network, target_cycles=40)
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, 256, (6,) + network.input_shape)
    scores, argmax = plan.reference(inputs)
    assert chained(plan, inputs) == plan.pack_outputs(scores, argmax)


def test_pixel_words_round_trip():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, (7, 5, 3), dtype=np.uint8)
    assert (unpack_pixels(pack_words(bits, axes=2), 5, 3) == bits).all()


def test_input_pixels_are_raster_order_with_all_channels():
    """(C, H, W) codes stream as H*W words of C bytes: the pixel codes themselves."""
    layers = (Flatten(), Dense(np.ones((2, 12)), BnnWeights()), Scores())
    network = Network((3, 2, 2), FixedPointActivation(8, 1 / 255), layers)
    plan = map_network(network)
    x = np.arange(12, dtype=np.uint8).reshape(1, 3, 2, 2) * 20
    words = plan.input_words(x)
    assert plan.in_width == 24 and plan.in_words == 4
    assert words == [int(x[0, 0, y, xx]) | int(x[0, 1, y, xx]) << 8 | int(x[0, 2, y, xx]) << 16
                     for y in range(2) for xx in range(2)]


def _conv_network(weight, padding=0, pool_input=False, quantizer=None):
    quantizer = quantizer or FixedPointActivation(8, 1 / 255)
    layers = [MaxPool2d(2)] if pool_input else []
    size = 3 if pool_input else 6
    layers += [Conv2d(weight, BnnWeights(), padding=padding), Activation(SignActivation())]
    out = weight.shape[0]
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    oh = size + 2 * ph - weight.shape[2] + 1
    ow = size + 2 * pw - weight.shape[3] + 1
    layers += [Flatten(), Dense(np.ones((2, out * oh * ow)), BnnWeights()), Scores()]
    return Network((1, 6, 6), quantizer, tuple(layers))


def test_rectangular_kernels_map_per_axis():
    network = _conv_network(np.ones((2, 1, 3, 2)), padding=(1, 0))
    conv = map_network(network).stages[0]
    assert (conv.kernel, conv.stride, conv.padding, conv.out_shape) == \
        ((3, 2), (1, 1), (1, 0), (6, 5))
    assert conv.window_width == 3 * 2 * 8


def test_padding_of_a_kernel_or_more_along_an_axis_is_refused():
    network = _conv_network(np.ones((2, 1, 3, 2)), padding=(1, 2))
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): padding 2 is not smaller "
                                           r"than the kernel 2 along the width"):
        map_network(network)


def test_padding_of_a_kernel_or_more_is_refused():
    network = _conv_network(np.ones((2, 1, 2, 2)), padding=2)
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): padding 2 is not smaller "
                                           r"than the kernel 2"):
        map_network(network)


def test_pooling_fixed_point_input_is_refused():
    network = _conv_network(np.ones((2, 1, 3, 3)), pool_input=True)
    with pytest.raises(NetworkError, match=r"layer 0 \(maxpool2d\): pooling the network "
                                           r"input of fixedpoint bases is not mapped"):
        map_network(network)
    signed = _conv_network(np.ones((2, 1, 3, 3)), pool_input=True,
                           quantizer=SignActivation())
    assert [s.kind for s in map_network(signed).stages][:2] == ["maxpool2d", "conv2d"]


def test_folding_per_engine_is_checked():
    network = random_network("bnn", seed=0, layout="conv")
    with pytest.raises(ValueError, match=r"folding gives 2 \(pe, simd\) pairs for 3 Conv2d "
                                         r"and Dense layers"):
        map_network(network, folding=[(1, 1), (1, 1)])
    with pytest.raises(NetworkError, match=r"layer 0: simd = 4 does not divide the 9 inputs"):
        map_network(network, folding=[(1, 4), (1, 1), (1, 1)])


def test_the_layer_table_states_each_engine_weight_rom():
    """A report's layer row names the weight ROM's shape, its code and where it was put."""
    import dataclasses

    from popcorn.golden.examples import with_ternary_weights
    from popcorn.mapping.stages import stage_summary

    network = with_ternary_weights(random_network("pa", seed=0, layout="dense", bases=(2, 2)))
    stage = map_network(network, target_cycles=40).stages[1]
    f = stage.folding
    assert stage_summary(stage)["weight_rom"] == \
        f"{f.pe * 2 * f.simd} x {f.neuron_folds * f.synapse_folds}"
    coded = dataclasses.replace(stage, folding=dataclasses.replace(
        f, weight_code="ternary", weight_memory="block"))
    assert stage_summary(coded)["weight_rom"] == \
        f"{f.pe * -(-f.simd // 3) * 5} x {f.neuron_folds * f.synapse_folds}, " \
        f"ternary-coded, in block"


# -- residual blocks ----------------------------------------------------------------------

def check_graph_words(plan, graph, seed):
    """Stage reference after stage reference (stream_references), the words of 6 random
    images give the integer graph model's scores and classes (run_integer_graph)."""
    from popcorn.golden.integer_graph import run_integer_graph, to_integer_graph
    from popcorn.golden.predict import input_thermometer
    from popcorn.mapping.stages import stream_references

    inputs = np.random.default_rng(seed).integers(0, 256, (6,) + graph.input_shape)
    golden = run_integer_graph(to_integer_graph(graph), input_thermometer(graph, inputs))
    words = [stream_references(plan.stages, plan.input_words(image[None]))[-1][0]
             for image in inputs]
    assert words == plan.pack_outputs(golden.scores, golden.argmax)


@pytest.mark.parametrize("layout", ["conv", "conv-zero", "dense"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_residual_stage_references_chain_to_the_graph_model(scheme, layout):
    """Two identity blocks: a ShortcutStage where each block's input stream begins, and
    the block's last engine reading it; stage after stage, the words give the integer
    graph model's scores (run_integer_graph, which the plan's reference is)."""
    from popcorn.golden.examples import random_residual_network

    layout, _, fill = layout.partition("-")
    graph = random_residual_network(scheme, seed=5, layout=layout, blocks=2,
                                    padding_fill=fill or "lowest")
    plan = map_network(graph, target_cycles=40)
    kinds = [stage.kind for stage in plan.stages]
    engine = "conv2d" if layout == "conv" else "dense"
    assert kinds[:6] == [engine, "shortcut", engine, engine, "shortcut", engine]
    assert [f.shortcut is not None for f in plan.foldings][:5] == [False, False, True,
                                                                  False, True]
    check_graph_words(plan, graph, seed=2)


def test_shortcut_queue_depth_is_tight_and_stall_free():
    """The closed form (shortcut_depth: L + 1, L = sum p (W + 1) over the block's
    convolutions) is the fewest words that cannot hang the cycle model; one fewer hangs
    it. The depth the mapper picks gives the cycles of an unbounded queue."""

    from popcorn.golden.examples import random_residual_network
    from popcorn.mapping.network_map import NetworkPlan

    graph = random_residual_network("bnn", seed=1, layout="conv")
    for target in (1, 60, 400):
        plan = map_network(graph, target_cycles=target)
        n = [s.kind for s in plan.stages].index("shortcut")
        fork = plan.stages[n]
        assert fork.minimum == 2 * (5 + 1) + 1              # two 3x3 convs on 5-pixel rows

        def with_depth(depth):
            stages = list(plan.stages)
            stages[n] = replace(fork, depth=depth)
            return NetworkPlan(graph, plan.integer, tuple(stages), plan.input_shape)

        with pytest.raises(RuntimeError, match="produced"):
            with_depth(fork.minimum - 1).cycle_model()
        unbounded = with_depth(1 << 20)
        assert with_depth(fork.minimum).cycles_per_image >= unbounded.cycles_per_image
        assert fork.depth >= fork.minimum
        assert plan.cycle_model() == unbounded.cycle_model()
        assert plan.summary()[n]["output"] == (f"queue of {fork.depth} words "
                                               f"(deadlock-free from 13)")
    assert with_depth(fork.minimum).cycles_per_image > unbounded.cycles_per_image


def test_residual_blocks_the_hardware_cannot_carry_are_refused():
    """A block whose main branch holds a pool is refused naming the node."""
    from popcorn.golden.examples import random_residual_network
    from popcorn.network import Graph, Node

    graph = random_residual_network("bnn", layout="conv")
    nodes = list(graph.nodes)
    at = [node.name for node in nodes].index("b0.a.q")
    nodes.insert(at + 1, Node("b0.pool", MaxPool2d(1), ("b0.a.q",)))
    nodes[at + 2] = Node("b0.b", nodes[at + 2].layer, ("b0.pool",))
    with pytest.raises(NetworkError, match="residual block from 'x0' holds layer b0.pool "
                                           r"\(maxpool2d\)"):
        map_network(Graph(graph.input_shape, graph.input_quantizer, tuple(nodes)))


@pytest.mark.parametrize("layout", ["conv", "conv-zero", "dense"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_downsampling_block_references_chain_to_the_graph_model(scheme, layout):
    """An identity block, then a downsampling block whose shortcut is a linear layer (a
    1 x 1 convolution of stride 2, or a Dense layer) and its BatchNorm: the side engine
    runs inside the block's ShortcutStage and emits Y, which the closing engine adds to
    its own; the words give the integer graph model's scores."""
    from popcorn.golden.examples import random_residual_network

    layout, _, fill = layout.partition("-")
    graph = random_residual_network(scheme, seed=3, layout=layout, blocks=2, downsample=True,
                                    padding_fill=fill or "lowest")
    plan = map_network(graph, target_cycles=40)
    forks = [stage for stage in plan.stages if stage.kind == "shortcut"]
    assert [fork.side is None for fork in forks] == [True, False]
    side = forks[1].side
    assert side.layer == "b1.short" and side.folding.activation is None
    closing = [f for f in plan.foldings if f.addend is not None]
    assert len(closing) == 1 and closing[0].addend == side.folding.y_range()
    assert closing[0].linear.layer == "b1.b"
    check_graph_words(plan, graph, seed=4)


def test_downsampling_queue_minimum_does_not_hang():
    """With a side engine the closed form counts the shortcut words the side branch can
    make while the main branch waits, not those its window and engine hold: an upper
    bound, with which the cycle model never hangs, and the mapper's depth runs as an
    unbounded queue."""

    from popcorn.golden.examples import random_residual_network
    from popcorn.mapping.network_map import NetworkPlan

    graph = random_residual_network("abc", seed=3, layout="conv", blocks=2, downsample=True)
    for target in (1, 40, 400):
        plan = map_network(graph, target_cycles=target)
        n = [i for i, s in enumerate(plan.stages) if s.kind == "shortcut"][-1]
        fork = plan.stages[n]

        def with_depth(depth):
            stages = list(plan.stages)
            stages[n] = replace(fork, depth=depth)
            return NetworkPlan(graph, plan.integer, tuple(stages), plan.input_shape)

        assert fork.minimum == 6 and fork.depth >= fork.minimum
        with_depth(fork.minimum).cycle_model()                  # does not raise
        assert plan.cycle_model() == with_depth(1 << 20).cycle_model()


def test_explicit_folding_of_a_downsampling_block_lists_its_shortcut_layer():
    """``folding`` counts the shortcut's layer too, just before the layer that closes the
    block: the mapper's own choice given back maps the same engines."""
    from popcorn.golden.examples import random_residual_network

    graph = random_residual_network("bnn", layout="conv", blocks=2, downsample=True)
    plan = map_network(graph, target_cycles=40)
    side = [stage.side.folding for stage in plan.stages
            if getattr(stage, "side", None) is not None]
    assert len(side) == 1 and side[0] in plan.foldings     # after its ShortcutStage
    order = []
    for f in plan.foldings:
        if f is not side[0]:
            order += side + [f] if f.addend is not None else [f]
    chosen = [(f.pe, f.simd) for f in order]
    assert len(chosen) == len(plan.foldings)
    again = map_network(graph, folding=chosen)
    assert [(f.pe, f.simd) for f in again.foldings] == [(f.pe, f.simd) for f in plan.foldings]
    with pytest.raises(ValueError, match=f"gives {len(chosen) - 1} .* for {len(chosen)}"):
        map_network(graph, folding=chosen[:-1])


# -- concatenated branches ----------------------------------------------------------------

@pytest.mark.parametrize("layout, branches, identity", [
    ("conv", 3, False), ("conv", 2, True), ("dense", 3, True), ("text", 3, False)])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_concat_stage_references_chain_to_the_graph_model(scheme, layout, branches, identity):
    """A tensor forked into parallel branches (convolutions, pools, Dense layers, or the
    tensor itself) joined along the channels: one ConcatStage holding the branches, the
    chain going on after it; stage after stage, the words give the integer graph model's
    scores."""
    from popcorn.golden.examples import random_concat_network

    graph = random_concat_network(scheme, seed=1, layout=layout, branches=branches,
                                  identity=identity)
    plan = map_network(graph, target_cycles=40)
    (concat,) = [stage for stage in plan.stages if stage.kind == "concat"]
    assert len(concat.branches) == branches + identity
    assert (not concat.branches[-1]) == identity
    assert concat.out_width == sum(concat.branch_widths)
    assert len(plan.foldings) == sum(node.layer.kind in ("conv2d", "dense")
                                     for node in graph.nodes)
    check_graph_words(plan, graph, seed=2)


@pytest.mark.parametrize("fill", ["lowest", "zero"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_text_network_over_sequences_maps(scheme, fill):
    """Seed 003's text model over (C, T) sequences (random_text_network): mapped as its
    graph over 1 x T maps, its n-gram convolutions 1 x n windows with no line buffer, the
    max over time a 1 x T' pool, the branches a ConcatStage; stage after stage the words
    give the integer graph model's scores."""
    from popcorn.golden.examples import random_text_network

    graph = random_text_network(scheme, seed=2, padding_fill=fill)
    plan = map_network(graph, target_cycles=30)
    (concat,) = [stage for stage in plan.stages if stage.kind == "concat"]
    assert [[s.kind for s in branch] for branch in concat.branches] == [
        ["conv2d", "maxpool2d"], ["conv2d", "maxpool2d", "maxpool2d"], ["conv2d", "maxpool2d"]]
    assert [branch[0].kernel for branch in concat.branches] == [(1, 2), (1, 3), (1, 4)]
    assert concat.branches[2][1].kernel == (1, 6) and concat.out_words == 1
    assert [s.kind for s in plan.stages[1:]] == ["dense", "argmax"]   # one word: no Flatten
    check_graph_words(plan, graph, seed=4)


def test_branch_graph_maps():
    """The two-branch graph of the graph tests (two convolutions of the network input):
    forked at the input."""
    from ..network.test_graph import branch_graph

    graph = branch_graph()
    plan = map_network(graph, target_cycles=40)
    assert [s.kind for s in plan.stages][0] == "concat"
    check_graph_words(plan, graph, seed=3)


def test_concat_queue_depths_are_tight_and_stall_free():
    """The closed form (branch_depths) for the branch that is the forked tensor itself is
    the fewest words that cannot hang the cycle model (one fewer hangs it: a 3 x 3 padded
    convolution on 6-pixel rows needs W + 2 = 8 words ahead); those of the branches of
    stages (upper bounds) do not hang it; the mapper's depths run as unbounded queues."""

    from popcorn.golden.examples import random_concat_network
    from popcorn.mapping.network_map import NetworkPlan

    graph = random_concat_network("bnn", seed=1, layout="conv", branches=2, identity=True)
    for target in (1, 40, 400):
        plan = map_network(graph, target_cycles=target)
        n = [s.kind for s in plan.stages].index("concat")
        concat = plan.stages[n]
        assert concat.minima == (2, 7, 8)

        def with_depths(depths):
            stages = list(plan.stages)
            stages[n] = replace(concat, depths=depths)
            return NetworkPlan(graph, plan.integer, tuple(stages), plan.input_shape)

        with pytest.raises(RuntimeError, match="produced"):
            with_depths(concat.minima[:2] + (7,)).cycle_model()
        with_depths(concat.minima).cycle_model()                # does not raise
        assert all(d >= m for d, m in zip(concat.depths, concat.minima))
        assert plan.cycle_model() == with_depths((1 << 20,) * 3).cycle_model()
        assert plan.summary()[n]["output"] == (
            f"queues of {', '.join(map(str, concat.depths))} words (deadlock-free from "
            f"2, 7, 8)")


def test_explicit_folding_follows_the_branches_in_order():
    """``plan.foldings`` lists a Concat's branch engines in its place, branch 0 first; the
    mapper's own choice given back as ``folding`` maps the same engines; the layer table
    has a row per branch stage after the ConcatStage's, with its branch."""
    from popcorn.golden.examples import random_concat_network

    graph = random_concat_network("abc", seed=2, layout="conv", branches=3)
    plan = map_network(graph, target_cycles=40)
    names = [f.linear.layer for f in plan.foldings]
    assert names == ["x0", "br0.0", "br1.0", "br2.0", "br2.1", "post", "fc"]
    chosen = [(f.pe, f.simd) for f in plan.foldings]
    again = map_network(graph, folding=chosen)
    assert [(f.pe, f.simd) for f in again.foldings] == chosen
    rows = plan.summary()
    n = [row["kind"] for row in rows].index("concat")
    assert [row.get("branch") for row in rows[n + 1:n + 5]] == [0, 1, 2, 2]
    assert [row["layer"] for row in rows[n + 1:n + 5]] == ["br0.0", "br1.0", "br2.0", "br2.1"]


def _dense_concat(nodes_edit):
    """The dense-layout concat graph (bnn, two branches) with its nodes edited."""
    from popcorn.golden.examples import random_concat_network
    from popcorn.network import Graph

    graph = random_concat_network("bnn", layout="dense", branches=2)
    return Graph(graph.input_shape, graph.input_quantizer, tuple(nodes_edit(list(graph.nodes))))


def test_concats_the_hardware_cannot_carry_are_refused():
    """Branches that start from different tensors, a forked tensor read outside the
    Concat's branches, and a Concat inside a residual block are refused naming the node;
    branches of other map sizes are refused by the graph itself."""
    from popcorn.golden.examples import random_concat_network, random_residual_network
    from popcorn.network import BnnWeights, Concat, Dense, Graph, Node

    with pytest.raises(NetworkError, match=r"node 'cat': 'x0.q', which its branches fork, "
                                           r"is read by 3 nodes"):
        map_network(_dense_concat(lambda nodes: nodes[:-2] + [
            Node("cat2", Concat(), ("cat", "x0.q")),
            Node("fc", Dense(np.ones((4, 18)), BnnWeights()), ("cat2",)), nodes[-1]]))
    graph = random_concat_network("bnn", layout="conv", branches=3)
    nodes = list(graph.nodes)
    at = [node.name for node in nodes].index("br2.0")
    nodes[at] = Node("br2.0", nodes[at].layer, ("br0.0.q",))
    with pytest.raises(NetworkError, match=r"node 'cat': its branches start from 'br0.0.q', "
                                           r"'x0.q'; the dataflow accelerator forks one"):
        map_network(Graph(graph.input_shape, graph.input_quantizer, tuple(nodes)))
    graph = random_residual_network("bnn", layout="dense")
    nodes = list(graph.nodes)
    at = [node.name for node in nodes].index("b0.b")
    nodes[at:at] = [Node("c0", Dense(np.ones((4, 8)), BnnWeights()), ("b0.a.q",)),
                    Node("c0.q", nodes[at - 1].layer, ("c0",)),
                    Node("c1", Dense(np.ones((4, 8)), BnnWeights()), ("b0.a.q",)),
                    Node("c1.q", nodes[at - 1].layer, ("c1",)),
                    Node("cat", Concat(), ("c0.q", "c1.q"))]
    nodes[at + 5] = Node("b0.b", nodes[at + 5].layer, ("cat",))
    with pytest.raises(NetworkError, match=r"residual block from 'x0' holds layer cat "
                                           r"\(concat\)"):
        map_network(Graph(graph.input_shape, graph.input_quantizer, tuple(nodes)))
    graph = random_concat_network("bnn", layout="text", branches=2)
    nodes = list(graph.nodes)
    at = [node.name for node in nodes].index("br1.1")
    nodes[at] = Node("br1.1", MaxPool2d(2), nodes[at].inputs)
    with pytest.raises(NetworkError, match=r"node 'cat' \(concat\): concatenates"):
        Graph(graph.input_shape, graph.input_quantizer, tuple(nodes))


@pytest.mark.parametrize("stride, fill", [(1, "lowest"), (2, "zero")])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_separable_network_maps(scheme, stride, fill):
    """Seed 004's MobileNet block (random_separable_network): the depthwise 3 x 3 at fixed
    point (4-bit weights, 3-bit activations) is a Conv2d engine of the dense block-diagonal
    convolution, K = C * 9 (C times the taps it needs, and C times the weight ROM), the
    pointwise 1 x 1 a binary one; stage after stage the words give the integer model's
    scores."""
    from popcorn.golden.integer_model import run_integer, to_integer
    from popcorn.golden.predict import input_thermometer
    from popcorn.golden.examples import random_separable_network
    from popcorn.mapping.stages import stage_summary

    network = random_separable_network(scheme, seed=4, stride=stride, padding_fill=fill)
    plan = map_network(network, target_cycles=60)
    assert [s.kind for s in plan.stages] == ["conv2d", "conv2d", "conv2d", "dense", "argmax"]
    gathering = plan.stages[3].folding
    assert gathering.gather                     # the map gathered in the engine, no flatten
    # its trees' first level registered (the buffer's read), one stage more than without
    assert gathering.front_register and gathering.pipeline == gathering.auto_pipeline \
        == replace(gathering, gather=0).auto_pipeline + 1
    depthwise = plan.stages[1].folding
    assert (depthwise.fan_in, depthwise.weight_bases, depthwise.act_bases) == (4 * 9, 4, 3)
    assert depthwise.weight_rom_bits().size == 4 * 4 * 4 * 9   # M x out x C * 9: zeros kept
    assert ", block-diagonal: 4 groups, 1/4 of it non-zero" in \
        stage_summary(plan.stages[1])["weight_rom"]
    inputs = np.random.default_rng(3).integers(0, 256, (6,) + network.input_shape)
    golden = run_integer(to_integer(network), input_thermometer(network, inputs))
    assert chained(plan, inputs) == plan.pack_outputs(golden.scores, golden.argmax)


TFC_LIKE = ((1, 8, 8), (("flatten",), ("dense", 32), ("dense", 32), ("dense", 10)))


@pytest.mark.parametrize("target, mode", [(1, "pipelined"), (2, "pipelined"), (8, "pipelined"),
                                          (16, "tournament"), (20, "serial"), (64, "serial")])
def test_argmax_mode_is_the_cheapest_that_keeps_the_pace(target, mode):
    """A dense net of 10 classes: the serial argmax takes a word every 20 cycles (two per
    class after the first, + 1), the one-at-a-time tournament every 9 (4 levels of two
    stages + 1), the pipelined one every cycle; the mapper picks the cheapest that keeps
    the network at its target, the cycle model agreeing (with the next cheaper one, the
    network runs at that one's pace)."""

    from popcorn.mapping.network_map import NetworkPlan

    network = random_network("bnn", seed=4, layout=TFC_LIKE)
    plan = map_network(network, target_cycles=target)
    argmax = plan.stages[-1]
    assert argmax.mode == mode
    assert argmax.timing()[0].pipelined == (mode == "pipelined")
    assert plan.cycles_per_image == target
    cheaper = {"pipelined": ("tournament", 9), "tournament": ("serial", 20)}
    if mode in cheaper:
        slower, pace = cheaper[mode]
        slow = NetworkPlan(network, plan.integer, plan.stages[:-1] +
                           (replace(argmax, mode=slower),), plan.input_shape)
        assert slow.cycles_per_image == pace
    with pytest.raises(ValueError, match="argmax mode must be one of serial, tournament, "
                                         "pipelined, not 'fast'"):
        replace(argmax, mode="fast")
