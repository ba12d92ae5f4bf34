"""DenseFolding: validation messages, ROM images, cycle formulas."""

import numpy as np
import pytest

from popcorn.mapping.dense_folding import DenseFolding


def layer(n=6, k=12, pe=2, simd=4, thresholds=None, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 2, (n, k))
    t = rng.integers(-k, k + 2, n) if thresholds is None else thresholds
    return DenseFolding(w, t, pe=pe, simd=simd)


def test_weights_of_wrong_shape():
    with pytest.raises(ValueError, match=r"weights must be a non-empty 2-D array \(neurons, "
                                         r"input bits\), not shape \(12,\)"):
        DenseFolding(np.ones(12, np.uint8), [0], pe=1, simd=1)


def test_weights_not_bits():
    with pytest.raises(ValueError, match=r"weights must hold only bits 0 and 1, found values "
                                         r"in \[-1, 1\]"):
        DenseFolding(np.array([[1, -1]]), [0], pe=1, simd=1)


def test_threshold_count():
    with pytest.raises(ValueError, match=r"thresholds must have shape \(2,\), one per neuron, "
                                         r"not \(3,\)"):
        DenseFolding(np.ones((2, 4), np.uint8), [0, 0, 0], pe=1, simd=1)


@pytest.mark.parametrize("bad", [-5, 6])
def test_threshold_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"threshold of neuron 1 is {bad}, out of range "
                                         r"\[-4, 5\] for K = 4 inputs"):
        DenseFolding(np.ones((2, 4), np.uint8), [0, bad], pe=1, simd=1)


def test_threshold_not_integer():
    with pytest.raises(TypeError, match="thresholds must be integers, not float64"):
        DenseFolding(np.ones((2, 4), np.uint8), [0.5, 1.0], pe=1, simd=1)


def test_simd_not_dividing():
    with pytest.raises(ValueError, match="simd = 5 does not divide the 12 input bits; "
                                         "choose a divisor of 12"):
        layer(simd=5)


def test_pe_not_dividing():
    with pytest.raises(ValueError, match="pe = 4 does not divide the 6 neurons"):
        layer(pe=4)


@pytest.mark.parametrize("bad", [0, -2, 2.0, True])
def test_pe_not_positive_integer(bad):
    with pytest.raises(TypeError, match=rf"pe must be a positive integer, not {bad!r}"):
        layer(pe=bad)


def test_cycle_formulas():
    f = layer(n=6, k=12, pe=2, simd=4)
    assert (f.neuron_folds, f.synapse_folds, f.cycles_per_vector, f.latency) == (3, 3, 9, 11)


def test_weight_rom_layout():
    """Word nf*SF + sf, field p holds w[nf*pe + p, sf*simd:(sf+1)*simd]."""
    f = layer(n=6, k=12, pe=2, simd=4)
    rom = f.weight_rom()
    assert len(rom) == 9
    for nf in range(3):
        for sf in range(3):
            word = rom[nf * 3 + sf]
            for p in range(2):
                field = (word >> (p * 4)) & 0xF
                want = f.weights[nf * 2 + p, sf * 4:(sf + 1) * 4]
                assert field == sum(int(b) << i for i, b in enumerate(want))


def test_popcount_thresholds_are_equivalent():
    """pc >= ceil((T+K)/2) exactly when 2*pc - K >= T, for every pc and every T."""
    k = 7
    f = DenseFolding(np.ones((2 * k + 2, k), np.uint8), np.arange(-k, k + 2), pe=1, simd=1)
    for t, tp in zip(f.thresholds, f.popcount_thresholds()):
        for pc in range(k + 1):
            assert (pc >= tp) == (2 * pc - k >= t)
    assert f.popcount_thresholds().max() < 2 ** f.threshold_width
