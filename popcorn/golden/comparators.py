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


# -- the stored encoding every hardware comparator uses -----------------------------------
# One encoding for every comparator in the hardware (the layer engine's channel ROM and
# ComparatorActivation's threshold ROM): a stored threshold T' and 2 mode bits, and
#
#     bit = ([Y >= T'] & compare) ^ invert          (compare = mode bit 1, invert = bit 0)
#
# so the hardware needs ONE comparison, one carry chain, per comparator: ``[Y <= T]`` is
# ``~[Y >= T + 1]``, stored as T' = T + 1 with invert set. Testing ``[Y >= T]`` and
# ``[Y <= T]`` directly costs a subtraction and an equality and a mode multiplexer after
# them, about twice the logic, and the multiplexer lies on the engine's critical path.
MODE_ZERO, MODE_ONE, MODE_GE, MODE_LT = 0, 1, 2, 3
"""Comparator modes (bit 1 compare, bit 0 invert): constant 0, constant 1,
``[Y >= T']`` and ``[Y < T']`` (``[Y <= T]`` of the integer model, stored as T' = T + 1)."""


def direction_modes(directions):
    """Modes (same shape) of directions +1 / -1: +1 -> MODE_GE, -1 -> MODE_LT (whose stored
    threshold is T + 1, see :func:`encode_comparators`)."""
    d = np.asarray(directions)
    return np.where(d > 0, MODE_GE, MODE_LT).astype(np.int64)


def encode_comparators(thresholds, directions, constant=None, *, field=None):
    """The stored encoding ``(T', modes)`` ``int64`` (same shape) of comparators
    ``[Y >= T]`` (direction +1), ``[Y <= T]`` (-1) and constants (0, bit ``constant``):
    T' = T for +1 and T + 1 for -1, 0 for a constant.

    ``field``: optional ``(lo, hi)``, the values the threshold field holds, which must
    include every Y the comparator sees. A T' outside it makes ``[Y >= T']`` the same for
    every such Y, so the comparator is stored as that constant (exact, never truncated):
    this is how ``[Y <= hi]``, whose T' = hi + 1 would overflow the field, is kept. Then
    every T' lies in ``lo .. hi``.

    :func:`compare_modes` evaluates the result; for every Y in the field it equals the
    integer model's bits (:func:`thermometer_bits`,
    :func:`popcorn.golden.integer_model.apply_thresholds`).
    """
    t = np.asarray(thresholds, dtype=np.int64)
    d = np.broadcast_to(np.asarray(directions), t.shape)
    c = np.zeros(t.shape, dtype=np.int64) if constant is None else \
        np.broadcast_to(np.asarray(constant, dtype=np.int64), t.shape)
    modes = np.where(d > 0, MODE_GE, np.where(d < 0, MODE_LT,
                                              np.where(c != 0, MODE_ONE, MODE_ZERO)))
    stored = np.where(d > 0, t, np.where(d < 0, t + 1, 0))
    if field is not None:
        lo, hi = field
        live = d != 0
        always = live & (stored <= lo)         # [Y >= T'] = 1 for every Y in the field
        never = live & (stored > hi)           # [Y >= T'] = 0
        invert = modes & 1
        modes = np.where(always, MODE_ZERO | (invert ^ 1), np.where(never, MODE_ZERO | invert,
                                                                   modes))
        stored = np.where(always | never, 0, stored)
    return stored.astype(np.int64), modes.astype(np.int64)


def compare_modes(y, thresholds, modes):
    """Comparator bits ``uint8`` of ``y`` against stored thresholds T' under ``modes`` (all
    broadcast): ``([y >= T'] & compare) ^ invert``, what :func:`popcorn.hdl.comparator.compare`
    computes."""
    y, t, md = (np.asarray(a, dtype=np.int64) for a in (y, thresholds, modes))
    bits = ((y >= t) & (md >> 1)) ^ (md & 1)
    return bits.astype(np.uint8)


def binary_from_thermometer(levels, bits):
    """Fixed-point bases (..., C, bits): bit b of the number of levels set."""
    level = np.asarray(levels, dtype=np.int64).sum(axis=-1)
    return ((level[..., None] >> np.arange(bits)) & 1).astype(np.uint8)
