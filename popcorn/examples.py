"""Built-in example designs, generated deterministically from a seed."""

import numpy as np

from .mapping.dense_folding import DenseFolding

EXAMPLES = ("bnn-dense",)


def bnn_dense_example(seed=2026):
    """A BNN dense layer of 64 neurons over 256 input bits (seeded random ``pm1`` weights,
    thresholds in [-16, 16]), folded PE = 4, SIMD = 16: 256 cycles per vector, the weights in 4 EBR."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 2, (64, 256), dtype=np.uint8)
    thresholds = rng.integers(-16, 17, 64)
    return DenseFolding(weights, thresholds, pe=4, simd=16)


def random_inputs(folding, count, seed=7):
    """``count`` random input bit vectors for ``folding``, led by all +1, all -1 and
    alternating bits."""
    rng = np.random.default_rng(seed)
    k = folding.in_bits
    edges = np.array([np.ones(k), np.zeros(k), np.arange(k) % 2], dtype=np.uint8)
    return np.concatenate([edges, rng.integers(0, 2, (max(count - 3, 0), k), dtype=np.uint8)])[:count]
