"""Dense layers of the integer model built directly, for engine tests and benchmarks (no
training, no network): shapes chosen by the caller, weights and thresholds random."""

import numpy as np

from popcorn.golden.integer_model import IntLinear, IntThreshold
from popcorn.network import AbcActivation, SignActivation


def bnn_hidden(fan_in=256, channels=64, seed=0):
    """A BNN hidden layer: pm1 x pm1, Phi = 1, sign activation with random thresholds
    inside the reachable range of Y (so every comparator is live)."""
    rng = np.random.default_rng(seed)
    linear = IntLinear(
        layer=0, kind="dense", weight_bits=rng.integers(0, 2, (1, channels, fan_in)).astype(
            np.uint8), weight_encoding="pm1", act_encoding="pm1", input_quantizer=None,
        coefficients=np.ones((channels, 1, 1), dtype=np.int64),
        bias=np.zeros(channels, dtype=np.int64), real_coefficients=None, real_bias=None,
        frac_bits=0)
    thresholds = rng.integers(-fan_in // 4, fan_in // 4 + 1, (channels, 1))
    direction = rng.choice([-1, 1], (channels, 1)).astype(np.int8)
    return linear, IntThreshold(0, SignActivation(), thresholds, direction,
                                np.zeros((channels, 1), dtype=np.uint8))


def abc_per_channel(fan_in=64, channels=16, m=2, n=3, seed=0, uniform=False):
    """An ABC-Net-shaped layer (M pm1 weight bases, N pm1 activation bases, three
    comparators) with per-channel coefficients Phi (XNOR-Net-like alpha per channel), or
    one set for every channel with ``uniform``."""
    rng = np.random.default_rng(seed)
    coeff = rng.integers(-90, 91, (1 if uniform else channels, m, n))
    coeff = np.broadcast_to(coeff, (channels, m, n)).copy()
    linear = IntLinear(
        layer=0, kind="dense", weight_bits=rng.integers(0, 2, (m, channels, fan_in)).astype(
            np.uint8), weight_encoding="pm1", act_encoding="pm1", input_quantizer=None,
        coefficients=coeff, bias=rng.integers(-300, 301, channels), real_coefficients=None,
        real_bias=None, frac_bits=4)
    quantizer = AbcActivation(np.array([0.9, 0.5, 0.1]), np.array([0.3, 0.6, 1.0]))
    span = int(np.abs(coeff).sum(axis=(1, 2)).max()) * fan_in // 4
    thresholds = np.sort(rng.integers(-span, span + 1, (channels, n)), axis=1)
    direction = np.ones((channels, n), dtype=np.int8)
    return linear, IntThreshold(0, quantizer, thresholds, direction,
                                np.zeros((channels, n), dtype=np.uint8))
