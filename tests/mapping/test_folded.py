"""The folded accelerator's mapping: memory images and padding against the golden model."""

import numpy as np
import pytest

from popcorn.golden.comparators import compare_modes
from popcorn.golden.examples import random_network, sign_mlp
from popcorn.mapping.folded import DRAIN, map_folded, scale_width
from popcorn.network import NetworkError


def _signed(value, width):
    value &= (1 << width) - 1
    return value - ((value >> (width - 1)) << width)


def run_images(plan, inputs):
    """Scores computed from the plan's memory images alone, word by word as the module
    docstring lays them out."""
    words, records = plan.weight_image(), plan.record_image()
    r, s, pe, cw = plan.record_width, plan.simd, plan.pe, plan.count_width
    scores = []
    for image in plan.dataflow.input_pixels(inputs):
        x = np.zeros(plan.layers[0].sf * s, np.uint8)
        x[:image.size] = image.reshape(-1)
        for n, layer in enumerate(plan.layers):
            counts, fields = [], []
            for nf in range(layer.nf):
                for p in range(pe):
                    bits = [(words[layer.weight_base + nf * layer.sf + sf] >> (p * s + i)) & 1
                            for sf in range(layer.sf) for i in range(s)]
                    counts.append(int(np.sum(np.array(bits) == x)))
                    fields.append((records[layer.record_base + nf] >> (p * r)) & ((1 << r) - 1))
            c = layer.folding.channels
            if layer.scores:
                a_w = scale_width(layer.folding)
                scores.append([_signed(f, a_w) * p + _signed(f >> a_w, plan.score_width)
                               for p, f in zip(counts[:c], fields[:c])])
            else:
                x = np.zeros(plan.layers[n + 1].sf * s, np.uint8)
                x[:c] = [compare_modes(p, f & ((1 << cw) - 1), f >> cw)
                         for p, f in zip(counts[:c], fields[:c])]
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


def test_padding_holds_real_counts_only():
    plan = map_folded(sign_mlp((10, 3, 2)), pe=2, simd=8)   # K 10 -> 16, C 3 -> 4
    first = plan.layers[0]
    assert (first.nf, first.sf) == (2, 2)
    word = plan.weight_image()[1]            # nf 0, sf 1: inputs 8..15, of which 8, 9 real
    assert (word >> 2) & 0x3F == 0x3F and (word >> 10) & 0x3F == 0x3F   # padded weights 1
    issues = 2 * 2 + 1 * 1
    assert plan.cycles_per_image == max(10, issues + DRAIN * 2 + 2)
    assert plan.latency == 10 + 1 + issues + DRAIN * 2 + 1   # argmax of 2 classes: 1


def test_interval_is_the_slower_of_input_and_compute():
    wide = map_folded(sign_mlp((40, 30, 20, 3)), pe=1, simd=4)     # compute-bound
    issues = sum(layer.issue_cycles for layer in wide.layers)
    assert wide.cycles_per_image == issues + DRAIN * 3 + 2
    narrow = map_folded(sign_mlp((60, 2, 2)), pe=2, simd=32)       # input-bound: 60 words
    assert narrow.cycles_per_image == 60


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(pe=3, simd=8), ValueError, "pe must divide simd"),
    (dict(pe=1, simd=65), ValueError, "at most 64"),
    (dict(pe=0), ValueError, "pe must be a positive integer"),
])
def test_engine_shape_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        map_folded(sign_mlp((8, 4, 2)), **kwargs)


def test_unsupported_layers_are_refused_by_name():
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): the folded accelerator runs "
                                           r"Dense layers only"):
        map_folded(random_network("bnn", layout="conv"))
    with pytest.raises(NetworkError, match=r"layer 0 \(dense\): the folded accelerator takes "
                                           r"one base pair of pm1"):
        map_folded(random_network("bnn", layout="dense"))   # 8-bit input: 8 bases


def test_weights_beyond_the_spram_are_refused():
    with pytest.raises(NetworkError, match="the SPRAM holds 16384"):
        map_folded(sign_mlp((2048, 1024, 10)), pe=1, simd=64)


def test_folded_needs_spram_and_is_refused_without():
    from popcorn.boards.fit import DesignTooLarge, check_fit, estimate_design

    plan = map_folded(sign_mlp((64, 32, 10)))
    est = estimate_design(plan, "icebreaker")
    assert est.total["spram"] == 4 and est.capacity["spram"] == 4
    check_fit(est)
    with pytest.raises(DesignTooLarge, match=r"about 4 SPRAM blocks \(estimate\), the device "
                                             r"has 0.*build with --arch dataflow"):
        check_fit(estimate_design(plan, "ulx3s-85f"))
