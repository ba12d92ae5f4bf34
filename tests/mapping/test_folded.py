"""The folded accelerator's mapping: memory images and padding against the golden model."""

import numpy as np
import pytest

from popcorn.golden.comparators import compare_modes
from popcorn.golden.quantizers import thermometer_to_bases
from popcorn.golden.examples import random_network, sign_mlp
from popcorn.mapping.folded import DRAIN, WRITE_AFTER_ISSUE, choose_folded, map_folded
from popcorn.network import NetworkError


def _signed(value, width):
    value &= (1 << width) - 1
    return value - ((value >> (width - 1)) << width)


def _field(word, lane, width, start=0, bits=None, signed=True):
    value = (word >> (lane * width + start)) & ((1 << (bits or width)) - 1)
    return _signed(value, bits or width) if signed else value


def run_images(plan, inputs):
    """Scores computed from the plan's memory images alone, word by word as the module
    docstring lays them out, with the loops it states; each phase's layers read the map
    the phase before wrote (phase 0 the input) and write theirs from word ``out_offset``
    of each pixel."""
    words, records, coefs = plan.weight_image(), plan.record_image(), plan.coefficient_image()
    stream = plan.stream_image()       # a streamed layer's words, one per issue, in order
    r, s, pe, cw, aw = plan.record_width, plan.simd, plan.pe, plan.count_width, plan.coef_width
    scores = []
    for image in plan.dataflow.input_pixels(inputs):         # (pixels, C, N) bits
        first = plan.layers[0]
        h, w = first.map
        # fmap[y, x, j]: the pixel's base-j bits, CW words of simd bits end to end
        maps = {-1: np.zeros((h, w, first.planes, first.words * s), np.uint8)}
        maps[-1][:, :, :, :first.elements] = image.reshape(
            h, w, first.elements, first.planes).transpose(0, 1, 3, 2)
        streamed = 0                   # the stream's words of the layers before
        for layer in plan.layers:
            fmap = maps[layer.phase - 1]
            (kh, kw), (sy, sx), (py, px) = layer.kernel, layer.stride, layer.padding
            (pkh, pkw), (psy, psx) = layer.pool
            (okh, okw), (osy, osx) = layer.outer
            ph, pw = layer.out_shape
            c, m, nb = layer.folding.channels, layer.wbases, layer.planes
            out = np.zeros((ph, pw, layer.nf * pe, max(layer.out_planes, 1)), np.int64)
            for oy, ox, nf, p in np.ndindex(ph, pw, layer.nf, pe):
                record = records[layer.record_base + nf]
                pooled = []
                for position, (ey, ex, dy, dx) in enumerate(np.ndindex(okh, okw, pkh, pkw)):
                    qy, qx = oy * osy + ey, ox * osx + ex
                    total = 0
                    for i, j, t, word in np.ndindex(m, nb, layer.steps, layer.words):
                        # rows kernel rows at once, each a word of simd bits (rows = 1) or
                        # the E elements of a pixel (rows > 1: one word per pixel)
                        seg = s if layer.rows == 1 else layer.elements
                        x = np.zeros(s, np.uint8)
                        for row in range(layer.rows):
                            iy = (qy * psy + dy) * sy + t // kw * layer.rows + row - py
                            ix = (qx * psx + dx) * sx + t % kw - px
                            if 0 <= iy < layer.map[0] and 0 <= ix < layer.map[1]:
                                x[row * seg:(row + 1) * seg] = \
                                    fmap[iy, ix, j, word * s:word * s + seg]
                        if layer.streamed:     # the issue's place in the loops
                            issue = np.ravel_multi_index(
                                (oy, ox, nf, position, i, j, t, word),
                                (ph, pw, layer.nf, layer.pool_positions, m, nb, layer.steps,
                                 layer.words))
                            wv = stream[streamed + issue] >> (p * s)
                        else:
                            wv = words[layer.weight_base + ((nf * m + i) * layer.steps + t)
                                       * layer.words + word] >> (p * s)
                        bits = np.array([(wv >> e) & 1 for e in range(s)])
                        count = int(np.sum(bits & x) if layer.counts_and else np.sum(bits == x))
                        a = _field(coefs[(layer.record_base + nf) * plan.pairs + i * nb + j], p, aw)
                        total += a * count
                    pooled.append(total)
                if layer.scores:
                    out[oy, ox, nf * pe + p, 0] = pooled[0] + _field(record, p, r, 0,
                                                                      plan.score_width)
                    continue
                if nf * pe + p >= c:
                    continue
                minimum, outer = (_field(record, p, r, plan.levels * (cw + 2) + f, 1,
                                         signed=False) for f in (0, 1))
                levels = np.array([[compare_modes(v, _field(record, p, r, k * (cw + 2), cw),
                                                  _field(record, p, r, k * (cw + 2) + cw, 2,
                                                         signed=False))
                                    for k in range(layer.levels)] for v in pooled])
                levels = levels.reshape(okh * okw, pkh * pkw, -1)
                best = levels.min(axis=1) if minimum else levels.max(axis=1)
                best = best.min(axis=0) if outer and plan.outer_pools else best.max(axis=0)
                out[oy, ox, nf * pe + p] = thermometer_to_bases(
                    best[None, :].astype(np.uint8), layer.folding.activation.quantizer)[0]
            streamed += layer.issue_cycles if layer.streamed else 0
            if layer.scores:
                scores.append(out[0, 0, :c, 0])
                break
            target = maps.setdefault(layer.phase, np.zeros(
                (ph, pw, layer.out_planes, layer.out_words * s), np.uint8))
            start = layer.out_offset * s
            target[:, :, :, start:start + layer.nf * pe] = out.transpose(0, 1, 3, 2)
    return np.array(scores, dtype=np.int64)


@pytest.mark.parametrize("scheme, binary_input", [("bnn", False), ("xnor", False),
                                                  ("bnn", True)])
@pytest.mark.parametrize("pe, simd", [(1, 64), (2, 8), (4, 16), (1, 5)])
def test_memory_images_compute_the_golden_scores(scheme, binary_input, pe, simd):
    net = sign_mlp((23, 12, 9, 5), scheme=scheme, seed=pe + simd, binary_input=binary_input)
    plan = map_folded(net, pe=pe, simd=simd)
    x = np.random.default_rng(1).normal(size=(6, 23))
    if binary_input:
        x = (x > 0).astype(float)
        assert plan.layers[0].folding.linear.act_encoding == "zo"
    scores, _ = plan.reference(x)
    assert np.array_equal(run_images(plan, x), scores)
    assert len(plan.weight_image()) == plan.weight_words == sum(
        -(-c // pe) * -(-k // simd) for k, c in ((23, 12), (12, 9), (9, 5)))


@pytest.mark.parametrize("scheme", ["bnn", "xnor", "abc", "pa", "binaryconnect"])
@pytest.mark.parametrize("layout, pe, simd", [("conv", 2, 8), ("strided", 1, 64),
                                              ("dense", 4, 4), ("conv", 1, 3), ("rgb", 2, 16),
                                              ("rgb", 4, 4), ("sequence", 2, 8),
                                              ("sequence", 1, 64), ("rect", 2, 8),
                                              ("rect", 4, 16)])
def test_cnn_memory_images_compute_the_golden_scores(scheme, layout, pe, simd):
    """Every scheme; 8-bit inputs as bit planes, padded and strided convolutions, pools
    (overlapping, some channels by the minimum), flatten, rectangular kernels, strides,
    padding and pools and the (1, k) convolutions of a sequence: the images and loops
    against the golden model."""
    plan = map_folded(random_network(scheme, layout=layout, seed=pe + simd), pe=pe, simd=simd)
    x = np.random.default_rng(3).random((3,) + tuple(plan.network.input_shape))
    scores, _ = plan.reference(x)
    assert np.array_equal(run_images(plan, x), scores)


def test_padding_holds_real_counts_only():
    plan = map_folded(sign_mlp((10, 3, 2)), pe=2, simd=8)   # K 10 -> 16, C 3 -> 4
    first = plan.layers[0]
    assert (first.nf, first.words) == (2, 2)
    word = plan.weight_image()[1]            # nf 0, word 1: inputs 8..15, of which 8, 9 real
    assert (word >> 2) & 0x3F == 0x3F and (word >> 10) & 0x3F == 0x3F   # padded weights 1
    issues = 2 * 2 + 1 * 1
    assert plan.cycles_per_image == max(10, issues + DRAIN + WRITE_AFTER_ISSUE + 2)
    # the 10 words, the start, the issues and drain, the hand-over, the serial argmax of 2
    # classes (the input handshake, the compare of class 1, its select with o.valid)
    assert plan.latency == 10 + 1 + issues + DRAIN + WRITE_AFTER_ISSUE + 3


def test_interval_is_the_slower_of_input_and_compute():
    wide = map_folded(sign_mlp((40, 30, 20, 3)), pe=1, simd=4)     # compute-bound
    issues = sum(layer.issue_cycles for layer in wide.layers)
    assert wide.cycles_per_image == issues + DRAIN * 2 + WRITE_AFTER_ISSUE + 2
    narrow = map_folded(sign_mlp((60, 2, 2)), pe=2, simd=32)       # input-bound: 60 words
    assert narrow.cycles_per_image == 60


def test_conv_cycles_count_every_loop():
    """A conv layer's issues: pooled pixels x neuron folds x pool positions x bases x taps
    (the first layer's kernel rows at once) x words per pixel."""
    plan = map_folded(random_network("bnn", layout="conv"), pe=2, simd=8)
    conv, second, dense = plan.layers
    assert conv.rows == 3                                  # 3 rows of 1 element: 3 bits
    assert conv.issue_cycles == 4 * 4 * 2 * 4 * 8 * 3 * 1   # 8x8, pad 1, pool 2; 4 ch; 8 bits
    assert second.issue_cycles == 2 * 2 * 3 * 1 * 1 * 9 * 1     # stride 2, pad 1: 2x2; 6 ch
    assert dense.issue_cycles == 1 * 3 * 1 * 1 * 4 * 1          # the 2x2 map as its kernel


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(pe=3, simd=8), ValueError, "pe must divide simd"),
    (dict(pe=1, simd=65), ValueError, "at most 64"),
    (dict(pe=0), ValueError, "pe must be a positive integer"),
])
def test_engine_shape_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        map_folded(sign_mlp((8, 4, 2)), **kwargs)


def test_weights_beyond_the_spram_stream_from_flash():
    """2048 x 1024 binary weights are 32768 words: twice the SPRAM; the first layer
    streams (each of its words read once an image), the second stays."""
    plan = map_folded(sign_mlp((2048, 1024, 10)), pe=1, simd=64)
    first, second = plan.layers
    assert first.streamed and not second.streamed
    assert plan.stream_words == first.issue_cycles == 32768
    assert plan.weight_words == second.weight_words == len(plan.weight_image()) == 160
    assert second.weight_base == 0
    assert plan.stream_offset == 16 + 8 * 160
    image = plan.flash_image()
    assert len(image) == 16 + 8 * (160 + 32768) + 4
    assert int.from_bytes(image[8:12], "little") == 160 + 32768


@pytest.mark.parametrize("layout, spram_words", [("conv", 20), ("conv", 0), ("strided", 30),
                                                 ("dense", 12)])
def test_streamed_layers_compute_the_golden_scores(layout, spram_words):
    """The stream's words, taken one per issue in the loops' order, and the SPRAM's give
    the golden scores."""
    plan = map_folded(random_network("abc", layout=layout, seed=3), pe=2, simd=8,
                      spram_words=spram_words)
    assert any(layer.streamed for layer in plan.layers)
    assert plan.weight_words <= spram_words
    x = np.random.default_rng(4).random((2,) + tuple(plan.network.input_shape))
    assert np.array_equal(run_images(plan, x), plan.reference(x)[0])


def test_streamed_layers_are_the_cheapest_set():
    """Among every set of layers whose rest fits the SPRAM, the streamed ones take the
    fewest stream words (brute force over the subsets)."""
    import itertools

    plan = map_folded(random_network("bnn", layout="conv", seed=5), pe=2, simd=8)
    sizes = [layer.weight_words for layer in plan.layers]
    costs = [layer.issue_cycles for layer in plan.layers]
    for capacity in range(sum(sizes) + 1):
        chosen = map_folded(random_network("bnn", layout="conv", seed=5), pe=2, simd=8,
                            spram_words=capacity)
        best = min(sum(costs[n] for n in subset)
                   for k in range(len(sizes) + 1)
                   for subset in itertools.combinations(range(len(sizes)), k)
                   if sum(sizes) - sum(sizes[n] for n in subset) <= capacity)
        assert chosen.stream_words == best
        assert chosen.weight_words <= capacity


def test_stream_timing_by_hand():
    """Three words a pass in a FIFO of two: the first two issue at once; word 2 starts on
    the SPI 4 cycles after word 0's issue (popped 3 cycles after it, the slot free the
    cycle after), arrives 64 cycles later and issues 1 after that; word 3 (a new pass)
    starts 64 + 81 cycles after word 2, or 4 cycles after word 1's issue."""
    from popcorn.mapping.folded import StreamTiming

    timing = StreamTiming(3, 2)
    assert timing.issue(10, 4) == 10 + 4 + 64 + 1 + 64 + 81
    assert timing.taken == [10, 11, 79, 79 + 64 + 81]


def test_a_flash_image_beyond_the_flash_is_refused(monkeypatch):
    import popcorn.mapping.folded as folded

    monkeypatch.setattr(folded, "FLASH_BYTES", folded.FLASH_OFFSET + 1000)
    with pytest.raises(NetworkError, match="needs 263444 bytes of flash .* has 1000 past the bitstream"):
        map_folded(sign_mlp((2048, 1024, 10)), pe=1, simd=64)


def test_zero_padding_of_pm1_maps_is_refused_by_name():
    """The folded engine pads with code 0 only; a convolution padded with the value 0 on
    pm1 activations is refused, naming the layer and the way out. (A zero-padded
    convolution on the fixed-point input pads alike either way and maps.)"""
    network = random_network("bnn", seed=1, layout="conv", padding_fill="zero")
    with pytest.raises(NetworkError, match=r"layer 4 \(conv2d\): padding pm1 activations "
                                           r"with the value 0 .* build with --arch dataflow"):
        map_folded(network)
    first = random_network("bnn", seed=1, layout=((1, 6, 6), (
        ("conv", 3, 3, 1, 1), ("flatten",), ("dense", 3))), padding_fill="zero")
    map_folded(first)


@pytest.mark.parametrize("scheme", ["bnn", "xnor", "abc", "pa", "binaryconnect"])
@pytest.mark.parametrize("kind, pe, simd", [("text", 2, 8), ("text", 1, 64), ("conv", 2, 4),
                                            ("dense", 4, 16), ("textcnn", 2, 8)])
def test_concat_memory_images_compute_the_golden_scores(scheme, kind, pe, simd):
    """A Concat's branches read one map in one phase and write their channels side by
    side, each from a word of its own: the text model's n-gram convolutions of the input,
    each with its max over time (a pool and the max after it composed, or run as two
    windows when the max takes the minimum of other channels), branches of a stem's map
    (the layer after reads the joined map) or of a vector; the images and loops against the
    golden model."""
    from popcorn.golden.examples import random_concat_network, random_text_network

    net = random_text_network(scheme, seed=simd) if kind == "textcnn" else \
        random_concat_network(scheme, layout=kind, seed=simd, branches=3 if kind == "text"
                              else 2)
    plan = map_folded(net, pe=pe, simd=simd)
    x = np.random.default_rng(4).random((3,) + tuple(plan.network.input_shape))
    scores, _ = plan.reference(x)
    assert np.array_equal(run_images(plan, x), scores)


def test_textcnn_example_memory_images_compute_the_golden_scores():
    """The built-in seed 003 text model (digits-textcnn-xnor): three 1 x n convolutions of
    32 filters of one sequence, each with its max over time, joined, a dense layer."""
    from popcorn.examples import load_example

    net, x, _, _ = load_example("digits-textcnn-xnor")
    plan = map_folded(net, pe=2)
    assert [(l.phase, l.out_offset, l.out_words) for l in plan.layers] == \
        [(0, 0, 3), (0, 1, 3), (0, 2, 3), (1, 0, 1)]       # 32 channels: a 32-bit word each
    scores, _ = plan.reference(x[:2])
    assert np.array_equal(run_images(plan, x[:2]), scores)


def test_pools_after_a_layer_fuse_or_run_as_two_windows():
    """random_text_network's second branch: a MaxPool1d 2 and the max over time after it.
    Taking the maximum of every channel both, they fuse into one (1, 4) window; when the
    max over time takes the minimum of some channels, they are two windows, the second's
    AND flags in the records."""
    from popcorn.golden.examples import random_text_network

    fused = map_folded(random_text_network("bnn", seed=64), pe=1).layers[1]
    assert (fused.pool, fused.outer) == (((1, 4), (1, 4)), ((1, 1), (1, 1)))
    plan = map_folded(random_text_network("bnn", seed=8), pe=1)
    two = plan.layers[1]
    assert (two.pool, two.minimum, two.outer, two.outer_minimum) == \
        (((1, 2), (1, 2)), (), ((1, 2), (1, 2)), (0, 2))
    assert plan.outer_pools and two.out_shape == (1, 1) and two.pool_positions == 4
    flag = plan.levels * (plan.count_width + 2) + 1
    assert [plan.record_image()[two.record_base + c] >> flag & 1 for c in range(3)] == [1, 0, 1]


def test_concat_branches_share_a_phase():
    from popcorn.golden.examples import random_concat_network

    plan = map_folded(random_concat_network("bnn", layout="text", branches=3), pe=2, simd=4)
    *branches, fc = plan.layers
    assert [(l.phase, l.out_offset, l.out_words) for l in branches] == \
        [(0, 0, 3), (0, 1, 3), (0, 2, 3)]                     # 3, 2, 2 channels: a word each
    assert plan.readers == branches and fc.phase == 1 and fc.words == 3
    assert fc.spread == (0, 1, 2, 4, 5, 8, 9)
    first = sum(l.issue_cycles for l in branches) + 2 * DRAIN
    model = plan.cycle_model(3)            # image 2 waits for the readers of image 0
    assert model.inputs[2 * plan.in_words] >= first + 2


def test_other_graphs_are_refused_by_name():
    """A Concat's branch of two layers, and residual blocks, are the dataflow
    accelerator's: the folded mapper names the layer and the way out."""
    from popcorn.golden.examples import random_concat_network, random_residual_network

    with pytest.raises(NetworkError, match=r"layer cat \(concat\): branch 2 is not one "
                                           r"Conv2d or Dense layer and its pools.*build with "
                                           r"--arch dataflow"):
        map_folded(random_concat_network("bnn", layout="dense", branches=3))
    with pytest.raises(NetworkError, match=r"residual blocks .* build with --arch dataflow"):
        map_folded(random_residual_network("bnn", layout="dense"))


def test_rectangular_layers_fold_per_axis():
    """Kernels, strides, padding and pools per axis: a sequence's (1, k) convolutions and
    its max over time, a (3, 1) first layer whose three kernel rows are read at once."""
    seq = map_folded(random_network("bnn", seed=1, layout="sequence"), pe=2, simd=8)
    first, second, dense = seq.layers
    assert (first.map, first.kernel, first.padding, first.conv_shape) == \
        ((1, 16), (1, 3), (0, 1), (1, 16))
    assert (second.stride, second.pool, second.conv_shape, second.out_shape) == \
        ((1, 2), ((1, 8), (1, 8)), (1, 8), (1, 1))
    assert second.issue_cycles == 1 * 3 * 8 * 1 * 1 * 3 * 1   # 3 folds, 8 positions, 3 taps
    assert seq.input_bank[0] == 16 * first.words            # no padding rows: Py = 0
    rect = map_folded(random_network("bnn", seed=1, layout="rect"), pe=2, simd=8)
    first, second, dense = rect.layers
    assert (first.rows, first.padding, first.steps) == (3, (1, 0), 1)
    assert (second.stride, second.pool, second.out_shape) == ((2, 1), ((2, 1), (2, 1)), (2, 8))
    assert rect.input_bank[0] == (7 + 1) * 8


def test_folded_needs_spram_and_is_refused_without():
    from popcorn.boards.fit import DesignTooLarge, check_fit, estimate_design

    plan = map_folded(sign_mlp((64, 32, 10)))
    est = estimate_design(plan, "icebreaker")
    assert est.total["spram"] == 4 and est.capacity["spram"] == 4
    check_fit(est)
    with pytest.raises(DesignTooLarge, match=r"about 4 SPRAM blocks \(estimate\), the device "
                                             r"has 0.*build with --arch dataflow"):
        check_fit(estimate_design(plan, "ulx3s-85f"))


def test_choose_folded_takes_the_fewest_lanes_that_meet_the_target():
    net = random_network("bnn", layout="conv", seed=4)
    one, four = map_folded(net, pe=1), map_folded(net, pe=4)
    assert four.cycles_per_image < one.cycles_per_image
    assert choose_folded(net, one.cycles_per_image).pe == 1
    assert choose_folded(net, one.cycles_per_image - 1).pe == 2
    fastest = min((map_folded(net, pe=pe) for pe in (1, 2, 4, 8)),
                  key=lambda p: p.cycles_per_image)
    assert choose_folded(net, 1).cycles_per_image == fastest.cycles_per_image


def test_coefficients_by_layer_and_pair_when_no_channel_has_its_own():
    """A BinaryConnect MLP's A depends on the layer and the activation plane alone: a
    table, equal to every neuron fold's ROM word; XNOR-Net's per-channel alpha needs the
    ROM; the RTL tests run both (test_folded_cnn_bit_exact_with_exact_cycles)."""
    from popcorn.golden.examples import random_network

    plan = map_folded(random_network("binaryconnect", layout="dense", seed=4), pe=4, simd=4)
    table, words = plan.pair_coefficients, plan.coefficient_image()
    assert table is not None and plan.uniform_coefficient is None
    mask, aw = (1 << plan.coef_width) - 1, plan.coef_width
    fold = 0
    for layer, row in zip(plan.layers, table):
        for nf in range(layer.nf):
            for q, value in enumerate(row):
                word = words[(fold + nf) * plan.pairs + q]
                lanes = min(plan.pe, layer.folding.channels - nf * plan.pe) \
                    if q < layer.wbases * layer.planes else 0
                assert all((word >> (p * aw)) & mask == value & mask for p in range(lanes))
        fold += layer.nf
    xnor = map_folded(random_network("xnor", layout="strided", seed=64), pe=1, simd=64)
    assert xnor.pair_coefficients is None


@pytest.mark.parametrize("scheme", ["bnn", "pa"])
def test_separable_network_folds(scheme):
    """Seed 004's MobileNet block (random_separable_network): the folded engine runs the
    depthwise 3 x 3 as the dense block-diagonal convolution (4-bit zo weights x 3-bit
    planes, C times the weight words and cycles it needs), then the binary pointwise
    1 x 1; the images and loops against the golden model."""
    from popcorn.golden.examples import random_separable_network

    plan = map_folded(random_separable_network(scheme, seed=1), pe=2, simd=8)
    depthwise = plan.layers[1]
    assert (depthwise.wbases, depthwise.planes, depthwise.folding.fan_in) == (4, 3, 4 * 9)
    x = np.random.default_rng(2).random((2,) + tuple(plan.network.input_shape))
    scores, _ = plan.reference(x)
    assert np.array_equal(run_images(plan, x), scores)


BANDS = ((3, 12, 12), (("conv", 4, 3, 1, 0), ("conv", 4, 3, 1, 0), ("pool", 2),
                       ("conv", 6, 3, 1, 0), ("flatten",), ("dense", 4)))
"""CNV's start in small: a 3 x 3 convolution read by a 3 x 3 one with a 2 x 2 pool."""

PADDED_BANDS = ((1, 10, 10), (("conv", 4, 3, 1, 1), ("conv", 4, 3, 2, 1), ("pool", 2),
                              ("flatten",), ("dense", 3)))
"""A ring read through padding rows (above and below the map) with a stride of 2."""


@pytest.mark.parametrize("layout", [BANDS, PADDED_BANDS, "gap", "rect", "conv", "sequence"])
def test_rings_hold_every_row_until_its_last_read(layout):
    """Walking the segments with each ring's rows as the RTL writes them (row y at
    ``y % ring``): every row a reader's output row reads, padding aside, is in the ring,
    and no other row; every layer's output rows run once, in order."""
    plan = map_folded(random_network("bnn", layout=layout), pe=2, simd=8)
    rows = {n: [] for n in range(len(plan.layers))}
    rings = {}                          # writer -> {ring row: map row}
    for index, first, last in plan.segments:
        layer = plan.layers[index]
        rows[index] += range(first, last + 1)
        if layer.out_ring:
            rings.setdefault(index, {}).update({y % layer.out_ring: y
                                                for y in range(first, last + 1)})
        if layer.in_ring:
            assert plan.layers[index - 1].out_ring == layer.in_ring
            for oy in range(first, last + 1):
                lo, hi = layer.rows_read(oy)
                for y in range(max(lo, 0), min(hi, layer.map[0] - 1) + 1):
                    assert rings[index - 1][y % layer.in_ring] == y, (oy, y)
    assert all(rows[n] == list(range(layer.out_shape[0]))
               for n, layer in enumerate(plan.layers))
    banded = layout in (BANDS, PADDED_BANDS, "gap", "rect")
    assert any(layer.out_ring for layer in plan.layers) == banded
    whole = map_folded(random_network("bnn", layout=layout), pe=2, simd=8, rings=False)
    assert len(whole.segments) == len(whole.layers)
    assert (sum(plan.bank_words) < sum(whole.bank_words)) == banded


def test_bands_cost_a_drain_per_segment():
    """The CNV-like pair: rows 0-3 of the first layer before the second's first pooled
    row (conv rows 0, 1: input rows 0-3), then two more before each next; a ring of 4
    rows (the reader's output row spans 4 of its input's); the cycles every segment's
    issues and a drain between segments."""
    plan = map_folded(random_network("bnn", layout=BANDS), pe=2, simd=8)
    assert plan.segments == ((0, 0, 3), (1, 0, 0), (0, 4, 5), (1, 1, 1), (0, 6, 7),
                             (1, 2, 2), (0, 8, 9), (1, 3, 3), (2, 0, 1), (3, 0, 0))
    assert [layer.out_ring for layer in plan.layers] == [4, 0, 0, 0]
    assert plan.bank_words == (4 * 10 * 1, 4 * 4 * 1)       # ring of 4 x 10; the 4 x 4 map
    issues = sum(layer.issue_cycles for layer in plan.layers)
    assert plan.cycles_per_image == issues + DRAIN * 9 + WRITE_AFTER_ISSUE + 2
    assert np.array_equal(run_images(plan, x := np.random.default_rng(1).random(
        (3, 3, 12, 12))), plan.reference(x)[0])


def test_one_input_bank_takes_the_next_image_after_the_first_layers_last_read():
    two = map_folded(random_network("bnn", layout="conv"), pe=2, simd=8)
    one = map_folded(random_network("bnn", layout="conv"), pe=2, simd=8, input_banks=1)
    first = one.layers[0].issue_cycles
    model = one.cycle_model(3)
    w = one.in_words
    # image 1's first word: 3 cycles after the first layer's last issue for image 0
    assert model.inputs[w] == w + 1 + first - 1 + 1 + 2
    assert two.cycle_model(3).inputs[w] == w                # two banks: right after image 0
    # the later layers hide the wait: the interval is the same
    assert one.cycles_per_image == two.cycles_per_image
    with pytest.raises(ValueError, match="input_banks must be 1 or 2"):
        map_folded(random_network("bnn", layout="conv"), pe=2, simd=8, input_banks=3)
