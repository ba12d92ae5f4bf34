"""estimate_mva against the real Yosys on small layers (iCE40, the engine synthesized
alone), and the ROM placement rule."""

import numpy as np
import pytest

from popcorn.golden.integer_model import IntLinear, IntThreshold
from popcorn.hdl.estimates import estimate_mva, rom_resources
from popcorn.hdl.mva import MatrixVectorActivation
from popcorn.hdl.synth import synth_stat
from popcorn.mapping.linear import LinearFolding
from popcorn.network import AbcActivation, SignActivation


def bnn_layer(fan_in, channels, rng):
    linear = IntLinear(
        layer=0, kind="dense", weight_bits=rng.integers(0, 2, (1, channels, fan_in)).astype(
            np.uint8), weight_encoding="pm1", act_encoding="pm1", input_quantizer=None,
        coefficients=np.ones((channels, 1, 1), dtype=np.int64),
        bias=np.zeros(channels, dtype=np.int64), real_coefficients=None, real_bias=None,
        frac_bits=0)
    thresholds = rng.integers(-fan_in // 4, fan_in // 4 + 1, (channels, 1))
    return linear, IntThreshold(0, SignActivation(), thresholds,
                                rng.choice([-1, 1], (channels, 1)).astype(np.int8),
                                np.zeros((channels, 1), dtype=np.uint8))


def abc_layer(fan_in, channels, rng, uniform):
    m, n = 2, 3
    coeff = rng.integers(-90, 91, (1 if uniform else channels, m, n))
    coeff = np.broadcast_to(coeff, (channels, m, n)).copy()
    linear = IntLinear(
        layer=0, kind="dense", weight_bits=rng.integers(0, 2, (m, channels, fan_in)).astype(
            np.uint8), weight_encoding="pm1", act_encoding="pm1", input_quantizer=None,
        coefficients=coeff, bias=rng.integers(-300, 301, channels), real_coefficients=None,
        real_bias=None, frac_bits=4)
    span = int(np.abs(coeff).sum(axis=(1, 2)).max()) * fan_in // 4
    return linear, IntThreshold(
        0, AbcActivation(np.array([0.9, 0.5, 0.1]), np.array([0.3, 0.6, 1.0])),
        np.sort(rng.integers(-span, span + 1, (channels, n)), axis=1),
        np.ones((channels, n), dtype=np.int8), np.zeros((channels, n), dtype=np.uint8))


def test_rom_placement_rule():
    # Yosys memory_libmap: logic costs width*depth/16, an EBR 64 (+2).
    assert rom_resources(64, 32)["ebr"] == 0                 # 128 < 4 EBR = 258
    assert rom_resources(128, 128)["ebr"] == 8               # 1024 > 8 EBR = 514
    assert rom_resources(16, 256) == {"lut4": 0, "ff": 0, "ebr": 1}
    assert rom_resources(16, 256, read_ports=2)["ebr"] == 2


@pytest.mark.synth
def test_estimate_mva_against_yosys(tmp_path):
    """EBR and SB_MAC16 exact; LUT4 and FF within 50 % on three small layers that are not
    part of the factor fit (measured when written, LUT4 / FF: BNN +7 % / +3 %, ABC serial
    DSP +47 % / +16 %, ABC constant serial +37 % / +21 %; the sweep in
    reports/blocks/engine_estimates.md gives the error of every fitted point)."""
    rng = np.random.default_rng(3)
    cases = [
        ("bnn_ebr", LinearFolding(*bnn_layer(256, 16, rng), pe=2, simd=16, pipeline=2)),
        ("abc_serial_dsp", LinearFolding(*abc_layer(32, 4, rng, uniform=False), pe=2, simd=16,
                                         bases="serial", multiply="dsp")),
        ("abc_uniform", LinearFolding(*abc_layer(32, 4, rng, uniform=True), pe=1, simd=8,
                                      bases="serial", pipeline=1)),
    ]
    for name, folding in cases:
        got = synth_stat(MatrixVectorActivation(folding), family="ice40",
                         synth_opts="-dsp" if folding.needs_dsp else "",
                         build_dir=tmp_path / name)
        est = estimate_mva(folding, "ice40")
        assert (est["ebr"], est["dsp"]) == (got.ebr, got.dsp), (name, est, got)
        for key in ("lut4", "ff"):
            actual = getattr(got, key)
            assert abs(est[key] - actual) <= 0.5 * actual, (name, key, est, got)
