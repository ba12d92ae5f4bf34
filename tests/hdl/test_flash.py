"""The folded accelerator's weights from SPI flash: the loader against a flash model, good
and bad images."""

import numpy as np
import pytest

from popcorn.boards.host_link import WeightsFromFlash, flash_error_word
from popcorn.golden.examples import sign_mlp
from popcorn.hdl.flash import FlashLoader
from popcorn.hdl.folded import FoldedAccelerator
from popcorn.mapping.folded import map_folded
from popcorn.sim.runner import run_testbench

OFFSET = 0x100


def _run(tmp_path, plan, flash, images=3):
    x = np.random.default_rng(3).normal(size=(images, plan.in_words))
    scores, argmax = plan.reference(x)
    case = dict(flash=np.frombuffer(flash, np.uint8),
                inputs=np.array([f"{w:x}" for w in plan.input_words(x)]),
                expected=np.array([f"{w:x}" for w in plan.pack_outputs(scores, argmax)]),
                seed=1, idle=0.2, stall=0.2, max_cycles=200_000,
                error_word=f"{flash_error_word(plan.out_width):x}")
    core = WeightsFromFlash(FoldedAccelerator(plan), plan.flash_image(), offset=OFFSET)
    return run_testbench(core, test_module="popcorn.sim.testbenches.flash_tb",
                         build_dir=tmp_path, case=case, cells=("SB_SPRAM256KA",))


def _flash(image):
    return b"\xff" * OFFSET + image


@pytest.fixture(scope="module")
def plan():
    return map_folded(sign_mlp((20, 12, 4), seed=2), pe=2, simd=16)


def test_weights_from_flash_then_images_bit_exact(tmp_path, plan):
    image = plan.flash_image()
    measured = _run(tmp_path, plan, _flash(image))
    assert (measured["ready"], measured["error"]) == (1, 0)
    assert measured["commands"] == [0xAB, 0x03]
    assert len(measured["outputs"]) == 3
    # 16 cycles a byte on the SPI, and the wake-up rest, bound the load time from below
    assert measured["load_cycles"] >= 16 * (4 + len(image))


@pytest.mark.parametrize("damage", ["another network", "truncated", "flipped bit", "none"])
def test_bad_images_are_refused(tmp_path, plan, damage):
    image = bytearray(plan.flash_image())
    if damage == "another network":
        image = bytearray(map_folded(sign_mlp((20, 12, 4), seed=3), pe=2, simd=16)
                          .flash_image())
    elif damage == "truncated":
        image = image[:len(image) // 2]
    elif damage == "flipped bit":
        image[30] ^= 0x10
    elif damage == "none":
        image = b""
    measured = _run(tmp_path, plan, _flash(bytes(image)), images=2)
    assert (measured["ready"], measured["error"]) == (0, 1)
    # every image is answered, and with the error word: nothing computed on bad weights
    assert measured["outputs"] == [hex(flash_error_word(plan.out_width))] * 2


def test_a_damaged_stream_pass_is_refused(tmp_path):
    """The loader checks the whole image, the stream's pass too: a bit flipped in the
    streamed layer's words stops the accelerator before any image."""
    plan = map_folded(sign_mlp((20, 12, 4), seed=2), pe=2, simd=16, spram_words=2,
                      stream_depth=2)
    image = bytearray(plan.flash_image())
    assert plan.stream_words and plan.stream_offset < len(image) - 5
    image[plan.stream_offset + 3] ^= 0x01
    measured = _run(tmp_path, plan, _flash(bytes(image)), images=2)
    assert (measured["ready"], measured["error"]) == (0, 1)
    assert measured["outputs"] == [hex(flash_error_word(plan.out_width))] * 2


def test_loader_checks_its_arguments():
    with pytest.raises(ValueError, match="offset must fit the 24-bit address"):
        FlashLoader(bytes(32), offset=1 << 24)
    with pytest.raises(ValueError, match="16-byte header"):
        FlashLoader(bytes(8), offset=0)
