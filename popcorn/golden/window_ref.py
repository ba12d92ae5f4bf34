"""References of the streaming data-movement blocks: sliding windows, OR-pooling,
flattening and the bit planes of fixed-point inputs.

A feature map is a ``(H, W, C)`` array of bits (``uint8`` 0/1) in either encoding;
these functions only move bits, so the encoding matters only for padding:
a padding bit 0 means -1 in ``pm1`` and 0 in ``zo``, a padding bit 1 means +1 / 1.
The hardware (:mod:`popcorn.hdl.window`, :mod:`popcorn.hdl.pool`,
:mod:`popcorn.hdl.input_layer`) is checked word for word against these functions.
"""

import numpy as np

from ..network.validate import check_pair
from .binary import check_bits
from .windows import im2col


def out_size(size, kernel, stride, padding=0):
    """Output positions along one axis: ``(size + 2*padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def pad(fmap, padding, value=0):
    """``fmap`` (H, W, C) with ``padding`` (an integer or ``(ph, pw)``) rows above and
    below and columns left and right of bit ``value``."""
    fmap = check_bits(fmap, "feature map")
    ph, pw = check_pair(padding, "padding", minimum=0)
    return np.pad(fmap, ((ph, ph), (pw, pw), (0, 0)), constant_values=value)


def windows(fmap, kernel, stride=1, padding=0, pad_value=0):
    """All kh x kw windows of the padded ``fmap``, in raster order of output positions;
    ``kernel``, ``stride``, ``padding`` integers (square) or pairs ``(h, w)``.

    Returns an array ``(OH, OW, kh, kw, C)``: ``out[oy, ox, ky, kx, c]`` is
    ``padded[oy*sh + ky, ox*sw + kx, c]`` (the golden model's
    :func:`~popcorn.golden.windows.im2col`, in the hardware's (ky, kx, c) order).
    """
    fmap = check_bits(fmap, "feature map")
    kh, kw = check_pair(kernel, "kernel")
    cols = im2col(np.moveaxis(fmap, -1, 0), (kh, kw), stride, padding, pad_value)
    oh, ow = cols.shape[:2]
    return cols.reshape(oh, ow, fmap.shape[-1], kh, kw).transpose(0, 1, 3, 4, 2)


def or_pool(fmap, kernel, stride=None):
    """Max-pooling of thermometer codes (or ``pm1`` sign bits): the bitwise OR of every
    kh x kw window, ``(OH, OW, C)``; no padding, ``stride`` defaults to ``kernel``
    (integers or pairs ``(h, w)``)."""
    w = windows(fmap, kernel, kernel if stride is None else stride)
    return np.bitwise_or.reduce(w.reshape(*w.shape[:2], -1, w.shape[-1]), axis=2)


def flatten(fmap):
    """``(H, W, C)`` -> ``(H*W*C,)`` in order (y, x, c), c fastest."""
    return check_bits(fmap, "feature map").reshape(-1)


def bit_planes(pixels, bits=8):
    """Split unsigned ``bits``-bit integers ``(..., C)`` into ``(..., bits, C)`` ``zo``
    planes: plane b holds bit b of every element, so
    ``sum_b 2**b * planes[..., b, :] == pixels``."""
    pixels = np.asarray(pixels)
    if pixels.size and (pixels.min() < 0 or pixels.max() >= 1 << bits):
        raise ValueError(f"pixels must be unsigned {bits}-bit integers, found values in "
                         f"[{pixels.min()}, {pixels.max()}]")
    b = np.arange(bits).reshape(bits, 1)
    return ((pixels[..., np.newaxis, :].astype(np.int64) >> b) & 1).astype(np.uint8)
