# amaranth: UnusedElaboratable=no
"""BitPlanes (fixed-point input layer) against popcorn.golden.window_ref.bit_planes."""

import numpy as np
import pytest

from popcorn.golden import window_ref as ref
from popcorn.golden.binary import pack_words
from popcorn.hdl.input_layer import BitPlanes
from popcorn.sim.runner import run_testbench


def pixel_images(n, pixels, channels, bits, seed):
    """Edge cases (all zeros, all at the maximum, alternating 0b1010.. / 0b0101..,
    every single bit), then random pixels."""
    rng = np.random.default_rng(seed)
    top = (1 << bits) - 1
    alt = int("10" * bits, 2) & top
    edges = [np.zeros((pixels, channels)), np.full((pixels, channels), top),
             np.where(np.indices((pixels, channels)).sum(axis=0) % 2, alt, top ^ alt),
             np.resize(1 << np.arange(bits), (pixels, channels))]
    rand = rng.integers(0, top + 1, (n, pixels, channels))
    return np.concatenate([np.array(edges), rand]).astype(np.int64)


@pytest.mark.parametrize("channels, bits, pixels", [(1, 8, 16), (3, 8, 12), (2, 4, 9)])
def test_bit_planes_bit_exact_with_stalls(tmp_path, channels, bits, pixels):
    images = pixel_images(4, pixels, channels, bits, seed=channels * bits)
    c = dict(block="planes", channels=channels, bits=bits, images=images, seed=bits,
             idle=0.3, stall=0.3, burst=3)
    block = BitPlanes(channels=channels, bits=bits)
    measured = run_testbench(block, test_module="popcorn.sim.testbenches.window_tb",
                             build_dir=tmp_path, case=c)
    assert measured == {"images": len(images), "words": len(images) * pixels,
                        "cycles_per_image": pixels, "latency": 1}


def test_bit_planes_reference_reconstructs_pixels():
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (7, 3))
    planes = ref.bit_planes(pixels)
    assert planes.shape == (7, 8, 3) and set(np.unique(planes)) <= {0, 1}
    betas = BitPlanes(channels=3).betas()
    assert (sum(beta * planes[:, b, :] for b, beta in enumerate(betas)) == pixels).all()
    # plane-major word layout: bit b*C + c is bit b of channel c
    word = pack_words(planes[:1], axes=2)[0]
    for b in range(8):
        for c in range(3):
            assert (word >> (b * 3 + c)) & 1 == (pixels[0, c] >> b) & 1


def test_bit_planes_reference_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"pixels must be unsigned 8-bit integers, found "
                                         r"values in \[0, 256\]"):
        ref.bit_planes(np.array([[0, 256]]))


@pytest.mark.parametrize("params, error, message", [
    (dict(channels=0), ValueError, "channel count must be a positive integer, not 0"),
    (dict(bits=0), ValueError, "pixel width must be a positive integer, not 0"),
    (dict(bits=8.0), TypeError, "pixel width must be a positive integer, not 8.0"),
])
def test_bit_planes_validation(params, error, message):
    with pytest.raises(error, match=message):
        BitPlanes(**params)
