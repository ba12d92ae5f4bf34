"""Zero padding of ``pm1`` activations: a padded convolution's per-position correction.

A Conv2d with ``padding_fill="zero"`` (:class:`~popcorn.network.layers.Conv2d`, PyTorch and
ONNX semantics) sees the value 0 at its padded taps. The packed model and the hardware pad
with activation code 0, all bits zero, which a ``pm1`` base reads as -1: a padded tap k adds
``t_ik * (-1)`` to every ``dot_ij`` (t_ik the value of weight base i at tap k: +-1 for
``pm1`` weights, 0/1 for ``zo``). So, for ``pm1`` activations,

    dot_ij(zero fill) = dot_ij(code 0) + D[i, c],   D[i, c] = sum over padded taps k of t_ik[c]

and ``Y = Y(code 0) + sum_ij Phi[c, i, j] D[i, c]``. (``zo`` activations read code 0 as 0:
both fills agree and nothing is corrected.)

The padded taps of an output position depend only on the borders its window crosses. Along
one axis, output index o reads input rows ``o * stride - padding + t`` (t < kernel); the set
of those outside the map is its *axis class* (interior positions share one); rows and columns
each have their own kernel, stride and padding. A position's class is
``rows[oy] * column_classes + cols[ox]``: 9 for a 3 x 3 kernel with padding 1 on a map of 3
or more, 3 for a (1, 3) kernel with padding (0, 1) on a 1 x T map. The hardware keeps one
channel record per class and channel fold (:class:`~popcorn.mapping.linear.LinearFolding`
``borders``); the engine counts output positions to pick it.
"""

from dataclasses import dataclass

import numpy as np

from .binary import values

__all__ = ["BorderCorrection", "axis_classes", "border_correction"]


def axis_classes(size, kernel, stride, padding):
    """(classes ``int64`` (out,), padded ``bool`` (n, kernel)) along one axis of ``size``
    inputs: output o's class, and per class which of its window's taps are padding. Classes
    are numbered in order of first appearance."""
    out = (size + 2 * padding - kernel) // stride + 1
    rows = np.arange(out)[:, None] * stride - padding + np.arange(kernel)[None, :]
    padded = (rows < 0) | (rows >= size)
    patterns, classes = np.unique(padded, axis=0, return_inverse=True)
    # np.unique sorts the patterns; renumber them by first appearance
    first = np.array([np.flatnonzero(classes.ravel() == c)[0] for c in range(len(patterns))])
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[classes.ravel()].astype(np.int64), patterns[order]


@dataclass(frozen=True, eq=False)
class BorderCorrection:
    """The correction of one padded convolution with ``padding_fill="zero"``.

    ``rows`` ``int64`` (Ho,) and ``cols`` ``int64`` (Wo,): the axis classes of the output
    rows and columns; ``dots`` ``int64`` (M, classes, out): D[i, c] of each class (what
    padding with code 0 took from every dot_ij of weight base i)."""

    rows: np.ndarray
    cols: np.ndarray
    dots: np.ndarray

    @property
    def classes(self):
        return self.dots.shape[1]

    @property
    def column_classes(self):
        return int(self.cols.max()) + 1

    def class_map(self):
        """``int64`` (Ho, Wo): each output position's class."""
        return self.rows[:, None] * self.column_classes + self.cols[None, :]

    def correction(self, coefficients):
        """``int64`` (classes, out): what to add to Y at each class,
        ``sum_ij Phi[c, i, j] D[i, c]`` (``coefficients`` Phi (out, M, N), ``int64`` or
        Python ints)."""
        weight = np.asarray(coefficients).sum(axis=2).T              # (M, out)
        return (self.dots * weight[:, None, :]).sum(axis=0)


def border_correction(stage, height, width):
    """The :class:`BorderCorrection` of a Conv2d stage of the integer model
    (:class:`~popcorn.golden.integer_model.IntLinear`, weights in (C, kh, kw) order) on a
    ``height`` x ``width`` input, or None when zero and code-0 padding agree (no padding,
    ``padding_fill="lowest"``, or ``zo`` activations)."""
    if not stage.zero_fill_differs:
        return None
    kh, kw = stage.kernel
    m, out, k = stage.weight_bits.shape
    taps = values(stage.weight_bits, stage.weight_encoding).reshape(m, out, k // (kh * kw),
                                                                       kh, kw).sum(axis=2)
    (sh, sw), (ph, pw) = stage.stride, stage.padding
    rows, row_padded = axis_classes(height, kh, sh, ph)
    cols, col_padded = axis_classes(width, kw, sw, pw)
    dots = np.empty((m, len(row_padded) * len(col_padded), out), dtype=np.int64)
    for ry, py in enumerate(row_padded):
        for rx, px in enumerate(col_padded):
            padded = py[:, None] | px[None, :]
            dots[:, ry * len(col_padded) + rx] = (taps * padded).sum(axis=(-2, -1))
    return BorderCorrection(rows, cols, dots)
