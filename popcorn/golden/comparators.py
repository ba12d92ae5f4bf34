"""Comparator activations: integer pre-activations to thermometer codes and one-hot pieces.

ARCHITECTURE.md, "Integer semantics": batch norm followed by an activation quantizer is
folded into per-channel integer thresholds ``T[c, k]`` with a direction ``d[c]`` (-1 when
the batch-norm scale gamma < 0). Level ``k`` of channel ``c`` is ``[Y >= T[c, k]]`` when
``d = +1`` and ``[Y <= T[c, k]]`` when ``d = -1``. With thresholds monotonic in k
(non-decreasing for +1, non-increasing for -1) the L levels form a thermometer code:

* ``L = 1`` is the sign activation of BNN / XNOR-Net (bit 1 = +1, seed 001);
* ABC-Net's N activation bases ``H_v`` are the N levels, each read as a ``pm1`` base
  (seed 000: ``H_v(R) = +1`` iff ``R + v > 0.5``, one comparator per shift v);
* PA-Net's pieces (seed 004, Fig. 3) are one-hot: piece k is ``level_k & ~level_{k+1}``
  (the last piece is the last level); "below every endpoint" is the all-zero code.
"""

import numpy as np


def check_thresholds(thresholds, directions):
    """Validate (C, L) integer thresholds and (C,) directions in {+1, -1}; return arrays."""
    t = np.asarray(thresholds)
    d = np.asarray(directions)
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"thresholds must be integers, not {t.dtype}")
    if t.ndim != 2 or 0 in t.shape:
        raise ValueError(f"thresholds must be a non-empty 2-D array (channels, levels), "
                         f"not shape {t.shape}")
    if d.shape != (t.shape[0],) or not np.isin(d, (-1, 1)).all():
        raise ValueError(f"directions must be {t.shape[0]} values of +1 or -1, one per "
                         f"channel, not {d.tolist()!r}")
    steps = np.diff(t, axis=1) * d[:, None]
    bad = np.flatnonzero((steps < 0).any(axis=1))
    if bad.size:
        c = int(bad[0])
        order = "non-decreasing" if d[c] > 0 else "non-increasing"
        raise ValueError(f"thresholds of channel {c} must be {order} for direction "
                         f"{int(d[c]):+d}, not {t[c].tolist()}")
    return t.astype(np.int64), d.astype(np.int64)


def thermometer_bits(y, thresholds, directions):
    """Levels (..., C, L) as bits for integer pre-activations ``y`` (..., C)."""
    t, d = check_thresholds(thresholds, directions)
    y = np.asarray(y, dtype=np.int64)[..., None]
    return np.where(d[:, None] > 0, y >= t, y <= t).astype(np.uint8)


def onehot_from_thermometer(levels):
    """PA-Net pieces (..., C, L) from thermometer levels (..., C, L)."""
    levels = np.asarray(levels, dtype=np.uint8)
    upper = np.concatenate([levels[..., 1:], np.zeros_like(levels[..., :1])], axis=-1)
    return levels & (1 - upper)


# -- the comparator modes both hardware comparators use ------------------------------------
# One encoding for every comparator in the hardware (the layer engine's channel ROM and
# ComparatorActivation's threshold ROM): 2 bits per comparator.
MODE_ZERO, MODE_ONE, MODE_GE, MODE_LE = 0, 1, 2, 3
"""Comparator modes: constant 0, constant 1, ``[Y >= T]``, ``[Y <= T]``."""


def direction_modes(directions):
    """Modes (same shape) of directions +1 / -1 (and 0 with a ``constant`` handled by the
    caller): +1 -> MODE_GE, -1 -> MODE_LE."""
    d = np.asarray(directions)
    return np.where(d > 0, MODE_GE, MODE_LE).astype(np.int64)


def compare_modes(y, thresholds, modes):
    """Comparator bits ``uint8`` of ``y`` against ``thresholds`` under ``modes`` (all
    broadcast): what :func:`popcorn.hdl.comparator.compare` computes."""
    y, t, md = (np.asarray(a, dtype=np.int64) for a in (y, thresholds, modes))
    bits = ((md == MODE_GE) & (y >= t)) | ((md == MODE_LE) & (y <= t)) | (md == MODE_ONE)
    return bits.astype(np.uint8)


def binary_from_thermometer(levels, bits):
    """Fixed-point bases (..., C, bits): bit b of the number of levels set."""
    level = np.asarray(levels, dtype=np.int64).sum(axis=-1)
    return ((level[..., None] >> np.arange(bits)) & 1).astype(np.uint8)
