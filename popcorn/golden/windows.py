"""Sliding windows shared by the float reference and the integer model."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..network.validate import check_pair

__all__ = ["im2col", "pool_windows"]


def im2col(x, kernel, stride, padding, pad_value=0):
    """Convolution windows of ``x`` (..., C, H, W): (..., Ho, Wo, C*kh*kw).

    ``kernel``, ``stride`` and ``padding`` are integers (square) or pairs ``(h, w)``:
    ``padding[0]`` rows of ``pad_value`` above and below, ``padding[1]`` columns left and
    right; ``Ho = (H + 2 ph - kh) // sh + 1``, likewise Wo. Each window is flattened in
    (C, kh, kw) order, matching a PyTorch weight (out, C, kh, kw) reshaped to
    (out, C*kh*kw).
    """
    (kh, kw), (sh, sw) = check_pair(kernel, "kernel"), check_pair(stride, "stride")
    ph, pw = check_pair(padding, "padding", minimum=0)
    if ph or pw:
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
        x = np.pad(x, widths, constant_values=pad_value)
    win = sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :]
    win = np.moveaxis(win, -5, -3)  # (..., Ho, Wo, C, kh, kw)
    return win.reshape(win.shape[:-3] + (int(np.prod(win.shape[-3:])),))  # also for B = 0


def pool_windows(x, kernel, stride):
    """Pooling windows of ``x`` (..., H, W), no padding: (..., Ho, Wo, kh*kw), ``kernel`` and
    ``stride`` integers (square) or pairs ``(h, w)``."""
    (kh, kw), (sh, sw) = check_pair(kernel, "kernel"), check_pair(stride, "stride")
    win = sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :]
    return win.reshape(win.shape[:-2] + (kh * kw,))
