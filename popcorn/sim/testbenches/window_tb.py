# amaranth: UnusedElaboratable=no
"""cocotb testbench of the data-movement blocks: :class:`~popcorn.hdl.window.SlidingWindow`,
:class:`~popcorn.hdl.pool.MaxPool`, :class:`~popcorn.hdl.flatten.Flatten` and
:class:`~popcorn.hdl.input_layer.BitPlanes`.

Case (``POPCORN_CASE``): ``block`` (``"window"``, ``"pool"``, ``"flatten"``,
``"planes"``), the block's parameters (``height``, ``width``, ``channels``, ``kernel``,
``stride``, ``padding``, ``pad_value``, ``bits``; unused ones are absent), ``images``
(N x H x W x C bits, or N x P x C pixels for ``planes``), ``seed``, ``idle``, ``stall``,
``burst`` (images in the free-running phase). Two phases:

1. every image with random stalls on ``i.valid`` and ``o.ready``; every output word is
   compared, in order, with :mod:`popcorn.golden.window_ref`, and ``o`` must keep the
   stream rules (``valid`` and the payload held until the transfer);
2. ``burst`` images free-running (no stalls): the first-pixel handshakes of consecutive
   images must be ``cycles_per_image()`` apart, each image's first output must follow
   its first pixel by ``latency()`` cycles and every output's handshake must fall on
   the cycle ``output_offsets()`` predicts; the output is checked again.

Writes ``images``, ``words``, ``cycles_per_image`` and ``latency`` to ``POPCORN_RESULT``.
"""

import json
import os
import random

import cocotb
import numpy as np

from popcorn.golden import window_ref as ref
from popcorn.golden.binary import pack_words
from popcorn.sim.streams import StreamSink, StreamSource, run_cycles, start_clock_and_reset


class StreamRules:
    """Checks the stream rules on ``<prefix>``: once ``valid`` is high it stays high,
    with the same payload, until the transfer (``valid & ready``)."""

    def __init__(self, dut, prefix):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.held = None   # payload offered but not taken in the previous cycle

    def drive(self):
        pass

    def sample(self, cycle):
        valid, ready = int(self.valid.value), int(self.ready.value)
        if self.held is not None:
            assert valid, f"cycle {cycle}: valid dropped before the transfer"
            assert int(self.payload.value) == self.held, (
                f"cycle {cycle}: payload changed while waiting for ready")
        self.held = int(self.payload.value) if valid and not ready else None


def build(case):
    """The component the case describes (the same object the test exported)."""
    from popcorn.hdl.flatten import Flatten
    from popcorn.hdl.input_layer import BitPlanes
    from popcorn.hdl.pool import MaxPool
    from popcorn.hdl.window import SlidingWindow

    p = {key: _geometry(case[key]) for key in ("height", "width", "channels", "kernel", "stride",
                                               "padding", "pad_value", "bits") if key in case}
    block = str(case["block"])
    if block == "window":
        return SlidingWindow(**p)
    if block == "pool":
        return MaxPool(**p, invert=sum(int(b) << c for c, b in enumerate(_invert(case))))
    if block == "flatten":
        return Flatten(**p)
    if block == "planes":
        return BitPlanes(**p)
    raise ValueError(f"unknown block {block!r}")


def _geometry(value):
    """A case's integer, or its ``[h, w]`` pair (kernel, stride, padding) as a tuple."""
    return tuple(int(v) for v in value) if np.ndim(value) else int(value)


def _invert(case):
    """The pool's AND (minimum) channels as a bit per channel (none without ``invert``)."""
    return case["invert"] if "invert" in case else np.zeros(int(case["channels"]), np.uint8)


def reference(case, images):
    """(input words, output words, outputs per image) of ``images`` for ``case``."""
    block = str(case["block"])
    if block == "planes":
        bits = int(case["bits"])
        ins = [int(sum(int(v) << (bits * c) for c, v in enumerate(px)))
               for px in images.reshape(-1, images.shape[-1])]
        planes = ref.bit_planes(images, bits)                 # (N, P, bits, C)
        assert (np.tensordot(planes, 1 << np.arange(bits), axes=([-2], [0])) == images).all()
        return ins, pack_words(planes, axes=2), images.shape[1]
    ins = pack_words(images)
    outs = []
    for img in images:
        if block == "window":
            w = ref.windows(img, _geometry(case["kernel"]), _geometry(case["stride"]),
                            _geometry(case["padding"]), int(case["pad_value"]))
            outs.append(pack_words(w, axes=3))
        elif block == "pool":
            invert = _invert(case)          # AND = NOT OR NOT on these channels
            outs.append(pack_words(ref.or_pool(img ^ invert, _geometry(case["kernel"]),
                                               _geometry(case["stride"])) ^ invert))
        else:
            outs.append(pack_words(ref.flatten(img)[np.newaxis]))
    return ins, [w for o in outs for w in o], len(outs[0])


@cocotb.test()
async def matches_reference_and_cycle_formulas(dut):
    case = np.load(os.environ["POPCORN_CASE"])
    block = build(case)
    rng = random.Random(int(case["seed"]))
    images = case["images"]
    ins, expected, per_image = reference(case, images)
    n_words = len(expected)
    in_per_image = len(ins) // len(images)
    if str(case["block"]) == "planes":
        cycles = block.cycles_per_image(in_per_image)
        offsets = block.output_offsets(in_per_image)
    else:
        cycles = block.cycles_per_image()
        offsets = block.output_offsets()
    latency = block.latency()
    await start_clock_and_reset(dut)

    # Phase 1: random stalls on both sides, every word checked in order.
    source = StreamSource(dut, "i", ins, idle=float(case["idle"]), rng=rng)
    sink = StreamSink(dut, "o", stall=float(case["stall"]), rng=rng)
    rules = StreamRules(dut, "o")
    budget = 20 * len(images) * (cycles + latency + 2)
    # Run until the input is used up too: trailing pixels may follow the last window.
    await run_cycles(dut, [source], [sink, rules],
                     until=lambda: source.done and len(sink.words) == len(expected),
                     max_cycles=budget)
    for n, (got, want) in enumerate(zip(sink.words, expected)):
        assert got == want, (f"image {n // per_image}, output {n % per_image}: "
                             f"{got:#x} != reference {want:#x}")

    # Phase 2: free-running burst, cycles measured.
    burst = images[:int(case["burst"])]
    ins, expected, _ = reference(case, burst)
    source = StreamSource(dut, "i", ins)
    sink = StreamSink(dut, "o")
    await run_cycles(dut, [source], [sink],
                     until=lambda: source.done and len(sink.words) == len(expected),
                     max_cycles=len(burst) * (cycles + latency + 2) + 10)
    assert sink.words == expected, "free-running output differs from the reference"
    firsts_in = source.fired[::in_per_image]
    firsts_out = sink.fired[::per_image]
    assert len(burst) >= 2, "the burst needs two images to measure cycles per image"
    intervals = sorted(set(np.diff(firsts_in).tolist()))
    latencies = sorted(set(o - i for i, o in zip(firsts_in, firsts_out)))
    assert intervals == [cycles], f"cycles per image {intervals} != predicted {cycles}"
    assert latencies == [latency], f"latency {latencies} != predicted {latency}"
    for n, first in enumerate(firsts_in):
        got = [t - first for t in sink.fired[n * per_image:(n + 1) * per_image]]
        assert got == offsets, f"image {n}: output cycles {got} != predicted {offsets}"

    with open(os.environ["POPCORN_RESULT"], "w") as f:
        json.dump({"images": len(images), "words": n_words,
                   "cycles_per_image": intervals[0], "latency": latencies[0]}, f)
