"""The folded accelerator in RTL (Icarus, Yosys's SPRAM model): every image's scores and
class against the golden model under random stalls, every handshake of a free-running
burst against the plan's cycle model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from popcorn.golden.examples import random_network, sign_mlp
from popcorn.hdl.folded import FOLDED_FACTORS
from popcorn.mapping.folded import map_folded
from popcorn.sim.network import simulate_network


def _matches_golden_and_cycle_model(tmp_path, plan, x):
    """Simulate ``plan`` on ``x`` (Icarus, random stalls, then a burst of 3): every image's
    scores and class equal the golden model's, the interval and latency the cycle model's."""
    run = simulate_network(plan, x, build_dir=tmp_path, simulator="icarus", burst=3)
    scores, argmax = plan.reference(x)
    assert np.array_equal(run.scores, scores) and np.array_equal(run.argmax, argmax)
    assert run.measured["interval"] == plan.cycles_per_image
    assert run.measured["latency"] == plan.latency


@pytest.mark.parametrize("sizes, pe, simd, scheme, binary_input", [
    ((23, 12, 9, 5), 2, 8, "bnn", False),     # padded inputs and channels, 2 lanes
    ((40, 16, 10), 1, 64, "xnor", False),     # one fold per vector: K <= simd
    ((30, 7, 3), 4, 4, "bnn", True),          # simd = pe; {0, 1} input, as FINN's TFC
])
def test_folded_bit_exact_with_exact_cycles(tmp_path, sizes, pe, simd, scheme, binary_input):
    plan = map_folded(sign_mlp(sizes, scheme=scheme, seed=simd, binary_input=binary_input),
                      pe=pe, simd=simd)
    x = np.random.default_rng(2).normal(size=(6, sizes[0]))
    if binary_input:
        x = (x > 0).astype(float)
    _matches_golden_and_cycle_model(tmp_path, plan, x)


@pytest.mark.parametrize("scheme, layout, pe, simd", [
    ("bnn", "conv", 2, 8),        # 8-bit planes, pad 1, pool 2 (some channels by the
                                  # minimum), stride 2
    ("xnor", "strided", 1, 64),   # 1x1 conv, overlapping pool 3 stride 2, a whole SPRAM word
    pytest.param("abc", "conv", 2, 8, marks=pytest.mark.slow),   # 3 x 3 pm1 bases
    ("pa", "strided", 4, 16),     # {0, 1} weights and pieces: AND counts, one-hot bases
    ("binaryconnect", "dense", 4, 4),   # 2-bit fixed-point activations: binary bases
    ("xnor", "rgb", 2, 16),       # 3 channels, the first layer's 3 kernel rows at once
    ("abc", "gap", 2, 8),         # a global average pool: a Dense over the map
    ("bnn", "rect", 2, 8),        # (3, 1) rows at once, (1, 3) stride (2, 1), pool (2, 1)
    ("pa", "sequence", 2, 16),    # a sequence's (1, 3) convolutions, its max over time
])
def test_folded_cnn_bit_exact_with_exact_cycles(tmp_path, scheme, layout, pe, simd):
    plan = map_folded(random_network(scheme, layout=layout, seed=simd), pe=pe, simd=simd)
    x = np.random.default_rng(5).random((4,) + tuple(plan.network.input_shape))
    _matches_golden_and_cycle_model(tmp_path, plan, x)


@pytest.mark.parametrize("layout, spram_words, depth", [
    ("dense", 6, 4),     # the two first layers streamed (read once), a FIFO of 4
    ("conv", 20, 3),     # the middle conv streamed: its words again for each output pixel
])
def test_folded_streamed_layers_bit_exact_with_exact_cycles(tmp_path, layout, spram_words,
                                                            depth):
    """Layers beyond the SPRAM stream from the flash model through the board's
    WeightsFromFlash (loader, then FlashStream): every image's scores, and every handshake
    of the burst at the cycle StreamTiming predicts (the FIFO full, then the SPI's word
    per 64 cycles and the restarts bounding the issues)."""
    plan = map_folded(random_network("bnn", layout=layout, seed=8), pe=2, simd=8,
                      spram_words=spram_words, stream_depth=depth)
    assert plan.stream_words and plan.weight_words <= spram_words
    x = np.random.default_rng(5).random((4,) + tuple(plan.network.input_shape))
    _matches_golden_and_cycle_model(tmp_path, plan, x)


BANDS = ((3, 12, 12), (("conv", 4, 3, 1, 0), ("conv", 4, 3, 1, 0), ("pool", 2),
                       ("conv", 6, 3, 1, 0), ("flatten",), ("dense", 4)))
"""CNV's start in small: the first map in a ring of 4 rows, the two layers in bands."""

PADDED_BANDS = ((1, 10, 10), (("conv", 4, 3, 1, 1), ("conv", 4, 3, 2, 1), ("pool", 2),
                              ("flatten",), ("dense", 3)))
"""A ring read through padding rows (above and below the map) with a stride of 2."""


@pytest.mark.parametrize("scheme, layout, pe, simd, banks, spram_words", [
    ("bnn", BANDS, 8, 8, 1, None),     # CNV's engine on the UP5K: 8 lanes, one input bank
    ("abc", BANDS, 2, 16, 2, 160),     # 3 x 3 bases; the Dense layer streamed from the flash
    ("xnor", PADDED_BANDS, 2, 8, 2, None),
])
def test_folded_bands_bit_exact_with_exact_cycles(tmp_path, scheme, layout, pe, simd, banks,
                                                  spram_words):
    """A layer writing a ring of rows, its reader in bands with it: every image's scores
    and every handshake at the predicted cycle."""
    extra = {} if spram_words is None else {"spram_words": spram_words, "stream_depth": 4}
    plan = map_folded(random_network(scheme, layout=layout, seed=3), pe=pe, simd=simd,
                      input_banks=banks, **extra)
    assert plan.layers[0].out_ring in (4, 8) and plan.input_banks == banks
    assert bool(plan.stream_words) == (spram_words is not None)
    x = np.random.default_rng(5).random((4,) + tuple(plan.network.input_shape))
    _matches_golden_and_cycle_model(tmp_path, plan, x)


def test_folded_separable_network_bit_exact_with_exact_cycles(tmp_path):
    """Seed 004's MobileNet block (random_separable_network) on the folded engine: the
    depthwise 3 x 3 as the dense block-diagonal convolution of 4-bit zo weights and 3-bit
    planes, then the binary pointwise 1 x 1."""
    from popcorn.golden.examples import random_separable_network

    plan = map_folded(random_separable_network("abc", seed=2), pe=2, simd=8)
    x = np.random.default_rng(6).random((3,) + tuple(plan.network.input_shape))
    run = simulate_network(plan, x, build_dir=tmp_path, simulator="icarus", burst=2)
    scores, argmax = plan.reference(x)
    assert np.array_equal(run.scores, scores) and np.array_equal(run.argmax, argmax)
    assert run.measured["interval"] == plan.cycles_per_image
    assert run.measured["latency"] == plan.latency


@pytest.mark.parametrize("kind, scheme, pe, simd", [
    ("text", "xnor", 2, 8),       # seed 003's shape: 3 branches of the input, max over the map
    pytest.param("conv", "abc", 2, 4, marks=pytest.mark.slow),   # branches of a stem's
                                  # 6 x 6 map, joined, a strided conv after
    ("textcnn", "pa", 2, 8),      # random_text_network: 1 x n convolutions; a pool, then
                                  # a max over time of other minimum channels: two windows
])
def test_folded_concat_bit_exact_with_exact_cycles(tmp_path, kind, scheme, pe, simd):
    """A Concat's branches read one map in one phase, each writing its channels from a word
    of its own; the layer after reads the joined map."""
    from popcorn.golden.examples import random_concat_network, random_text_network

    net = random_text_network(scheme, seed=simd) if kind == "textcnn" else \
        random_concat_network(scheme, layout=kind, seed=simd, branches=3 if kind == "text"
                              else 2)
    plan = map_folded(net, pe=pe, simd=simd)
    x = np.random.default_rng(7).random((3,) + tuple(plan.network.input_shape))
    _matches_golden_and_cycle_model(tmp_path, plan, x)


@pytest.mark.slow
def test_folded_textcnn_example_bit_exact_with_exact_cycles(tmp_path):
    """The built-in seed 003 text model (digits-textcnn-xnor) on two lanes. Slow: the
    default run has random_text_network's text CNN in test_folded_concat_bit_exact..."""
    from popcorn.examples import load_example

    net, x, _, _ = load_example("digits-textcnn-xnor")
    plan = map_folded(net, pe=2)
    run = simulate_network(plan, x[:3], build_dir=tmp_path, simulator="icarus", burst=2)
    scores, argmax = plan.reference(x[:3])
    assert np.array_equal(run.scores, scores) and np.array_equal(run.argmax, argmax)
    assert run.measured["interval"] == plan.cycles_per_image
    assert run.measured["latency"] == plan.latency


def test_folded_factors_are_the_sweeps_fit():
    """FOLDED_FACTORS is what ``benchmarks/sweep_folded.py --fit`` computes from the Yosys
    counts saved in reports/blocks/folded_estimates.json (with the parts as the code now
    composes them): refit after a change to the engine or to :func:`folded_parts`."""
    root = Path(__file__).resolve().parents[2]
    fit = subprocess.run([sys.executable, "benchmarks/sweep_folded.py", "--fit"], cwd=root,
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert json.loads(fit.stdout.splitlines()[-1]) == FOLDED_FACTORS
