"""Bit widths that make overflow impossible, and the error bound of coefficient rounding.

For a layer with fan-in K, output channel c, integer coefficients Phi[c, i, j] and bias B[c],
the pre-activation is ``Y = B[c] + sum_ij Phi[c,i,j] dot_ij`` with every binary dot product
in the range of its encodings (:func:`dot_range`). Each term is bounded by its own extremes,
so Y lies in ``[y_min[c], y_max[c]]`` (:func:`accumulator_range`), and every partial sum an
adder tree or accumulator can hold lies in :func:`partial_sum_range`; a signed accumulator of
:func:`signed_width` of that range cannot overflow, whatever the input.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["dot_range", "signed_width", "unsigned_width", "accumulator_range",
           "partial_sum_range", "LayerWidths", "layer_widths", "rounding_error_bound"]


def dot_range(weight_encoding, act_encoding, k):
    """(lo, hi) of a K-long binary dot product: ``[-K, K]``, or ``[0, K]`` for zo x zo."""
    if weight_encoding == "zo" and act_encoding == "zo":
        return 0, k
    return -k, k


def signed_width(lo, hi):
    """Smallest w with ``-2**(w-1) <= lo`` and ``hi <= 2**(w-1) - 1`` (at least 1)."""
    lo, hi = int(lo), int(hi)
    width = 1
    while lo < -(1 << (width - 1)) or hi > (1 << (width - 1)) - 1:
        width += 1
    return width


def unsigned_width(hi):
    """Bits of an unsigned count 0 .. hi (at least 1)."""
    return max(1, int(hi).bit_length())


def _term_ranges(coefficients, lo_d, hi_d):
    """Per channel, per term (i, j): the (lo, hi) of Phi * dot, as Python ints."""
    out = []
    for row in coefficients.tolist():
        terms = []
        for phis in row:
            for phi in phis:
                a, b = phi * lo_d, phi * hi_d
                terms.append((min(a, b), max(a, b)))
        out.append(terms)
    return out


def accumulator_range(coefficients, bias, weight_encoding, act_encoding, k):
    """(y_min, y_max), lists of Python ints per output channel.

    ``coefficients`` int64 (out, M, N), ``bias`` int64 (out,).
    """
    lo_d, hi_d = dot_range(weight_encoding, act_encoding, k)
    y_min, y_max = [], []
    for terms, b in zip(_term_ranges(coefficients, lo_d, hi_d), bias.tolist()):
        y_min.append(b + sum(t[0] for t in terms))
        y_max.append(b + sum(t[1] for t in terms))
    return y_min, y_max


def partial_sum_range(coefficients, bias, weight_encoding, act_encoding, k):
    """(lo, hi) over all channels of every partial sum ``B + (any subset of the terms)``.

    An adder tree or a sequential accumulator only ever holds such partial sums, so this range
    (which contains [y_min, y_max]) sizes the accumulator.
    """
    lo_d, hi_d = dot_range(weight_encoding, act_encoding, k)
    lo, hi = 0, 0
    for terms, b in zip(_term_ranges(coefficients, lo_d, hi_d), bias.tolist()):
        lo = min(lo, b + sum(min(t[0], 0) for t in terms), sum(min(t[0], 0) for t in terms))
        hi = max(hi, b + sum(max(t[1], 0) for t in terms), sum(max(t[1], 0) for t in terms))
    return lo, hi


@dataclass(frozen=True)
class LayerWidths:
    """Widths of one Dense/Conv2d layer of the integer model.

    Attributes
    ----------
    layer : index of the layer in the network.
    fan_in : K, bits per dot product.
    popcount_bits : unsigned width of a popcount 0 .. K.
    coefficient_bits : signed width holding every Phi[c, i, j].
    bias_bits : signed width holding every B[c].
    y_min, y_max : extremes of the pre-activation over all channels (Python ints).
    accumulator_bits : signed width holding every partial sum (:func:`partial_sum_range`),
        hence Y and every threshold compared against it.
    """

    layer: int
    fan_in: int
    popcount_bits: int
    coefficient_bits: int
    bias_bits: int
    y_min: int
    y_max: int
    accumulator_bits: int

    def to_json(self):
        return dict(self.__dict__)


def layer_widths(integer_network):
    """One :class:`LayerWidths` per Dense/Conv2d layer of an
    :class:`~popcorn.golden.integer_model.IntegerNetwork`, in network order."""
    widths = []
    for stage in integer_network.stages:
        if stage.kind not in ("dense", "conv2d"):
            continue
        phi, bias, k = stage.coefficients, stage.bias, stage.fan_in
        y_min, y_max = accumulator_range(phi, bias, stage.weight_encoding, stage.act_encoding, k)
        lo, hi = partial_sum_range(phi, bias, stage.weight_encoding, stage.act_encoding, k)
        widths.append(LayerWidths(
            layer=stage.layer, fan_in=k, popcount_bits=unsigned_width(k),
            coefficient_bits=signed_width(min(phi.min(), 0), max(phi.max(), 0)),
            bias_bits=signed_width(min(bias.min(), 0), max(bias.max(), 0)),
            y_min=min(y_min), y_max=max(y_max), accumulator_bits=signed_width(lo, hi)))
    return widths


def rounding_error_bound(stage):
    """Largest ``|Y / 2**F - y|`` over all inputs, between the integer pre-activation Y and the
    real one y = sum_ij phi_ij dot_ij + b computed from the same bases.

    With e_cij = Phi_cij - 2**F phi_cij and e_c = B_c - 2**F b_c the rounding residuals (each
    at most 1/2 in magnitude) and every |dot_ij| <= K::

        |Y_c / 2**F - y_c| <= (K * sum_ij |e_cij| + |e_c|) / 2**F  <=  (M*N*K + 1) / 2**(F+1)

    Returns the middle expression, maximized over channels (0 when nothing was rounded).
    """
    scale = 2.0 ** stage.frac_bits
    e_phi = np.abs(stage.coefficients - stage.real_coefficients * scale).sum(axis=(1, 2))
    e_bias = np.abs(stage.bias - stage.real_bias * scale)
    return float((stage.fan_in * e_phi + e_bias).max() / scale)
