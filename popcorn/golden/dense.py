"""Golden model of a binary fully-connected layer with per-neuron thresholds (BNN, seed 001).

This is FINN's matrix-vector-threshold unit with the integer semantics of ARCHITECTURE.md:
weights and inputs are ``pm1`` bases, the pre-activation is the exact dot product
``y = 2*pc(XNOR(w, x)) - K`` and the output bit is ``[y >= T]`` (+1 when set).
"""

from .binary import binary_dot, threshold_bits


def bnn_dense(x_bits, weight_bits, thresholds):
    """Output bits (..., N) of a BNN dense layer for input bits (..., K)."""
    return threshold_bits(binary_dot(weight_bits, x_bits, "pm1", "pm1"), thresholds)
