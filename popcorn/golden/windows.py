"""Sliding windows shared by the float reference and the integer model."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["im2col", "pool_windows"]


def im2col(x, kernel, stride, padding, pad_value=0):
    """Convolution windows of ``x`` (..., C, H, W): (..., Ho, Wo, C*kh*kw).

    Each window is flattened in (C, kh, kw) order, matching a PyTorch weight
    (out, C, kh, kw) reshaped to (out, C*kh*kw). Padding inserts ``pad_value``.
    """
    kh, kw = kernel
    if padding:
        widths = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
        x = np.pad(x, widths, constant_values=pad_value)
    win = sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::stride, ::stride, :, :]
    win = np.moveaxis(win, -5, -3)  # (..., Ho, Wo, C, kh, kw)
    return win.reshape(win.shape[:-3] + (int(np.prod(win.shape[-3:])),))  # also for B = 0


def pool_windows(x, kernel, stride):
    """Pooling windows of ``x`` (..., H, W), no padding: (..., Ho, Wo, kernel*kernel)."""
    win = sliding_window_view(x, (kernel, kernel), axis=(-2, -1))[..., ::stride, ::stride, :, :]
    return win.reshape(win.shape[:-2] + (kernel * kernel,))
