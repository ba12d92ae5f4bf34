"""Folding of a BNN dense layer onto a matrix-vector-threshold unit (FINN's MVTU).

A layer of N neurons over K input bits, ``pm1`` weights and integer thresholds, runs on
``pe`` neurons in parallel, each consuming ``simd`` input bits per cycle:

* neuron folds ``NF = N / pe``, synapse folds ``SF = K / simd``;
* one vector takes ``NF * SF`` cycles of the datapath: that is the initiation interval;
* weight ROM: depth ``NF * SF``, word ``pe * simd`` bits; word ``nf*SF + sf`` holds, for
  PE ``p`` (neuron ``n = nf*pe + p``), the bits ``w[n, sf*simd:(sf+1)*simd]`` at word bits
  ``[p*simd, (p+1)*simd)``;
* threshold ROM: depth ``NF``, word ``pe`` popcount thresholds of ``threshold_width`` bits.

The pre-activation ``y = 2*pc - K`` is compared as ``y >= T``, i.e. ``pc >= ceil((T+K)/2)``,
so the hardware stores popcount thresholds and never a signed sum.
"""

from dataclasses import dataclass

import numpy as np

from ..golden.binary import check_bits, pack_words
from ..golden.dense import bnn_dense


@dataclass(frozen=True, eq=False)
class DenseFolding:
    """A validated BNN dense layer and its folding.

    Parameters
    ----------
    weights : (N, K) bits, ``pm1`` (1 = +1).
    thresholds : (N,) integers T in ``[-K, K+1]``: output bit = ``[dot(w, x) >= T]``;
        ``-K`` makes a neuron constant +1, ``K+1`` constant -1.
    pe : neurons computed in parallel, divides N.
    simd : input bits consumed per cycle and PE, divides K.
    """
    weights: np.ndarray
    thresholds: np.ndarray
    pe: int
    simd: int

    def __post_init__(self):
        w = check_bits(self.weights, "weights")
        if w.ndim != 2 or 0 in w.shape:
            raise ValueError(f"weights must be a non-empty 2-D array (neurons, input bits), "
                             f"not shape {w.shape}")
        n, k = w.shape
        t = np.asarray(self.thresholds)
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"thresholds must be integers, not {t.dtype}")
        if t.shape != (n,):
            raise ValueError(f"thresholds must have shape ({n},), one per neuron, "
                             f"not {t.shape}")
        bad = np.flatnonzero((t < -k) | (t > k + 1))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"threshold of neuron {i} is {int(t[i])}, out of range "
                             f"[{-k}, {k + 1}] for K = {k} inputs; clamp constant neurons "
                             f"to these bounds")
        for name, value, total, what in (("pe", self.pe, n, "neurons"),
                                         ("simd", self.simd, k, "input bits")):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise TypeError(f"{name} must be a positive integer, not {value!r}")
            if total % value:
                raise ValueError(f"{name} = {value} does not divide the {total} {what}; "
                                 f"choose a divisor of {total}")
        w.setflags(write=False)
        t = t.astype(np.int64)
        t.setflags(write=False)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "thresholds", t)

    @property
    def neurons(self):
        return self.weights.shape[0]

    @property
    def in_bits(self):
        return self.weights.shape[1]

    @property
    def neuron_folds(self):
        return self.neurons // self.pe

    @property
    def synapse_folds(self):
        return self.in_bits // self.simd

    @property
    def cycles_per_vector(self):
        """Initiation interval in cycles: ``NF * SF``."""
        return self.neuron_folds * self.synapse_folds

    @property
    def latency(self):
        """Cycles from the input handshake to the output ``valid``: ``NF*SF + 2``."""
        return self.cycles_per_vector + 2

    @property
    def popcount_width(self):
        """Bits of the per-PE accumulator, holding 0..K."""
        return self.in_bits.bit_length()

    @property
    def threshold_width(self):
        """Bits of a popcount threshold, holding 0..K+1."""
        return (self.in_bits + 1).bit_length()

    def popcount_thresholds(self):
        """(N,) thresholds on the popcount: ``ceil((T + K) / 2)``, in ``[0, K+1]``."""
        return -((-(self.thresholds + self.in_bits)) // 2)

    def weight_rom(self):
        """Weight ROM words (Python ints), depth ``NF*SF``, width ``pe*simd``."""
        w = self.weights.reshape(self.neuron_folds, self.pe, self.synapse_folds, self.simd)
        w = w.transpose(0, 2, 1, 3).reshape(self.cycles_per_vector, self.pe * self.simd)
        return pack_words(w)

    def threshold_rom(self):
        """Threshold ROM words (Python ints), depth ``NF``, ``pe`` fields of
        ``threshold_width`` bits, PE ``p`` at the p-th field."""
        tw = self.threshold_width
        words = []
        for group in self.popcount_thresholds().reshape(self.neuron_folds, self.pe):
            words.append(sum(int(v) << (p * tw) for p, v in enumerate(group)))
        return words

    def reference(self, x_bits):
        """Golden output bits (..., N) for input bits (..., K)."""
        return bnn_dense(x_bits, self.weights, self.thresholds)

