"""The host side of the UART link (:class:`~popcorn.boards.host_link.UARTLink`): images to
request frames, reply frames to scores and classes, and a run of images on a board checked
against the integer golden model (what ``popcorn run`` does).

Payloads (README, "The host link"; frames in :mod:`popcorn.boards.frames`): an image is
``plan.in_words`` pixel words in raster order, each ``ceil(plan.in_width / 8)`` bytes,
little-endian (word bit 0 is bit 0 of the first byte); the board answers each image with
one output word of ``ceil(plan.out_width / 8)`` bytes, little-endian: ``plan.classes`` two's
complement scores of ``plan.score_width`` bits (class 0 lowest), the class above them, zero
padding up to the byte.
"""

import json
import math
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import serial

from ..golden.predict import predict
from ..mapping.folded import FLASH_OFFSET, map_folded
from ..mapping.network_map import map_network
from ..network import NetworkError
from . import frames

__all__ = ["LinkError", "BuildMismatch", "image_bytes", "reply_size", "decode_replies",
           "load_report", "plan_of_build", "open_port", "exchange", "BoardRun", "run_board"]

WINDOW = 2
"""Images sent ahead of the replies read: the board takes a whole image while it transmits
the previous reply, so its receiver never overruns, and the link stays busy."""

RETRIES = 3
"""Times an image is sent again after an error reply or a lost reply, before giving up."""

QUIET_SECONDS = max(0.05, 20 * frames.IDLE_SECONDS)
"""The pause before sending again after an error: the board discards bytes until its line
has been idle for :data:`~popcorn.boards.frames.IDLE_SECONDS`."""

_ROW_KEYS = ("layer", "kind", "in", "out", "fan_in", "channels", "weight_bases",
             "act_bases", "encodings", "output", "pe", "simd")


class LinkError(Exception):
    """The port cannot be opened, or the board does not answer, or answers short."""


class BuildMismatch(NetworkError):
    """The network is not the one the build (its report) was made from."""


def image_bytes(plan, images):
    """One ``bytes`` per image of ``images`` (B, *input_shape; codes or reals, as the golden
    model takes them): its ``plan.in_words`` pixel words
    (:meth:`~popcorn.mapping.network_map.NetworkPlan.input_words`) in raster order, each
    ``ceil(plan.in_width / 8)`` bytes, little-endian."""
    size = math.ceil(plan.in_width / 8)
    words = plan.input_words(images)
    per = plan.in_words
    return [b"".join(w.to_bytes(size, "little") for w in words[i * per:(i + 1) * per])
            for i in range(len(words) // per)]


def reply_size(plan):
    """Bytes of the board's reply to one image: ``ceil(plan.out_width / 8)``."""
    return math.ceil(plan.out_width / 8)


def decode_replies(plan, data):
    """(scores ``int64`` (B, classes), classes ``int64`` (B,)) of ``data``: B replies of
    :func:`reply_size` bytes, each a little-endian output word
    (:meth:`~popcorn.mapping.network_map.NetworkPlan.unpack_outputs`; padding bits that are
    not zero give a class out of range)."""
    size = reply_size(plan)
    words = [int.from_bytes(data[i:i + size], "little") for i in range(0, len(data), size)]
    return plan.unpack_outputs(words)


def load_report(path):
    """(report dict, its path) of a build: ``path`` is the ``report.json`` that ``popcorn
    build`` wrote or the folder holding it; ``ValueError`` naming ``path`` otherwise."""
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    try:
        report = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        report, problem = None, error
    else:
        problem = "no `design`, `network` or `layers`"
    if not isinstance(report, dict) or not {"design", "network", "layers"} <= report.keys():
        raise ValueError(f"{file}: not the report.json of a `popcorn build` ({problem}); pass "
                         f"--report REPORT_DIR/NAME (reports/NAME by default)")
    return report, file


def plan_of_build(network, report):
    """The :class:`~popcorn.mapping.network_map.NetworkPlan` (or, for an ``--arch folded``
    build, the :class:`~popcorn.mapping.folded.FoldedPlan`) the build of ``report`` (a
    ``report.json`` dict) made of ``network``: the report's fractional bits and each
    engine's (pe, simd). The options the report does not record (pipeline, bases,
    multiply, weight memory) change neither the link's words nor the scores.

    Raises :class:`BuildMismatch` naming the first difference when ``network``'s input,
    classes or stages (kind and stream shape of every layer) are not the report's.
    """
    net = report["network"]
    theirs = (tuple(net["input_shape"]), net["classes"], net["input_quantizer"])
    ours = (tuple(network.input_shape), network.classes, network.input_quantizer.quantizer)
    for what, a, b in zip(("input shape", "classes", "input quantizer"), theirs, ours):
        if a != b:
            raise BuildMismatch(f"the network's {what} is {b}, the build's {a}")
    engines = {row["layer"]: (row["pe"], row["simd"]) for row in report["layers"]
               if "pe" in row}
    folded = any(row["kind"].endswith("(folded)") for row in report["layers"])
    try:
        if folded:     # the same link: its weights come from the board's flash
            (pe, simd), = set(engines.values())
            plan = map_folded(network, frac_bits=net["frac_bits"], pe=pe, simd=simd)
        else:
            plan = map_network(network, frac_bits=net["frac_bits"], folding=engines)
    except (NetworkError, ValueError) as error:
        raise BuildMismatch(f"the build's folding does not fit the network ({error})") \
            from None
    rows = plan.summary()
    if len(rows) != len(report["layers"]):
        raise BuildMismatch(f"the network maps to {len(rows)} stages, the build has "
                            f"{len(report['layers'])}")
    for row, built in zip(rows, report["layers"]):
        for key in _ROW_KEYS:
            if row.get(key) != built.get(key):
                raise BuildMismatch(f"layer {built['layer']} ({built['kind']}): {key} is "
                                    f"{row.get(key)} in the network, {built.get(key)} in the "
                                    f"build")
    return plan


def open_port(name, *, baud, timeout):
    """The serial port ``name`` at ``baud``, 8N1, reads waiting at most ``timeout``
    seconds; :class:`LinkError` when it cannot be opened."""
    try:
        return serial.Serial(name, baudrate=baud, timeout=timeout)
    except (serial.SerialException, ValueError) as error:
        raise LinkError(f"cannot open {name} ({error}); pass the board's serial port with "
                        f"--port") from None


class _NoReply(Exception):
    """No whole, intact reply frame within the port's timeout; ``noise``: the bytes read."""

    def __init__(self, noise):
        super().__init__(noise)
        self.noise = noise


def _read_reply(port):
    """``(status, tag, payload)`` of the next reply frame on ``port`` (bytes before its sync
    byte skipped); :class:`_NoReply` when none comes whole and intact in time."""
    noise = b""
    while True:
        byte = port.read(1)
        if not byte:
            raise _NoReply(noise)
        if byte[0] == frames.REPLY_SYNC:
            break
        noise += byte
    head = byte + port.read(frames.HEADER - 1)
    data = head + port.read(int.from_bytes(head[3:5], "little") + 2) \
        if len(head) == frames.HEADER else head
    try:
        status, tag, payload, _ = frames.parse_reply(data)
    except frames.FrameError:
        raise _NoReply(noise + data) from None
    return status, tag, payload


def exchange(port, payloads, size, *, window=WINDOW, retries=RETRIES):
    """Send ``payloads`` (one ``bytes`` per image) as image requests (tag: the image's
    index modulo 256) on ``port``, at most ``window`` images ahead of the replies, and read
    the ``size``-byte result of each; return (results, the requests sent again, seconds from
    the first byte sent to the last reply read).

    An image answered with an error status, or whose reply does not come whole and intact,
    is sent again with those sent after it, once the line has been quiet for
    :data:`QUIET_SECONDS` (the board discards bytes until then), at most ``retries`` times.
    ``port`` is a pyserial ``Serial``; its ``timeout`` bounds each reply.

    Raises :class:`LinkError` when not a byte answers the first image, when an image
    fails more than ``retries`` times, or when the board reports that it has no weights
    (a folded build that could not read them from flash).
    """
    requests = [frames.request(frames.IMAGE, n & 0xFF, p) for n, p in enumerate(payloads)]
    results, failures = [None] * len(payloads), Counter()
    pending, flight = deque(range(len(payloads))), {}      # flight: tag -> image
    resent, heard = 0, False

    def again(n, why):
        nonlocal resent
        failures[n] += 1
        if failures[n] > retries:
            raise LinkError(f"{port.name}: image {n} failed {failures[n]} times ({why}); "
                            f"check the cable and the baud rate ({port.baudrate}), and that "
                            f"the board runs the bitstream of this build")
        time.sleep(QUIET_SECONDS)
        port.reset_input_buffer()
        pending.extendleft(sorted(flight.values(), reverse=True))
        resent += len(flight)
        flight.clear()

    try:
        port.reset_input_buffer()
        start = time.perf_counter()
        while pending or flight:
            while pending and len(flight) < window:
                n = pending.popleft()
                port.write(requests[n])
                flight[n & 0xFF] = n
            try:
                status, tag, payload = _read_reply(port)
            except _NoReply as missing:
                first = min(flight.values())
                if not heard and not missing.noise:
                    raise LinkError(
                        f"{port.name}: no reply to image {first} within {port.timeout:g} s; "
                        f"check the port, the baud rate ({port.baudrate}) and that the "
                        f"board runs the bitstream of this build") from None
                noise = missing.noise
                again(first, f"no intact reply within {port.timeout:g} s"
                      + (f", {len(noise)} bytes that are no reply frame" if noise else ""))
                continue
            heard = True
            n = flight.get(tag)
            if n is None:
                continue                      # a late reply to a request sent again
            if status == frames.NO_WEIGHTS:
                raise LinkError(
                    f"{port.name}: the board answered image {n} with `no weights`: it could "
                    f"not read its weights (LED 0 lit, LED 1 dark); the weight image at "
                    f"{FLASH_OFFSET >> 10}k in its flash is missing, truncated or of another "
                    f"network: write this build's weights.bin with `iceprog -o "
                    f"{FLASH_OFFSET >> 10}k weights.bin`")
            if status == frames.OK and len(payload) == size:
                results[n] = payload
                del flight[tag]
            else:
                again(n, frames.STATUS.get(status, f"status {status}") if status != frames.OK
                      else f"a result of {len(payload)} bytes, not {size}")
    except serial.SerialException as error:
        raise LinkError(f"{port.name}: {error}") from None
    return results, resent, time.perf_counter() - start


@dataclass(frozen=True)
class BoardRun:
    """The board's ``scores`` (B, classes) and ``classes`` (B,), the integer golden
    model's (``golden_scores``, ``golden_classes``), the wall time of the exchange and the
    image requests sent again after link errors (``resent``)."""
    scores: np.ndarray
    classes: np.ndarray
    golden_scores: np.ndarray
    golden_classes: np.ndarray
    seconds: float
    resent: int = 0

    @property
    def mismatches(self):
        """Indices of the images whose board class or scores differ from the golden model's."""
        differ = (self.scores != self.golden_scores).any(axis=1) | \
            (self.classes != self.golden_classes)
        return np.flatnonzero(differ)

    @property
    def images_per_s(self):
        return len(self.classes) / self.seconds


def run_board(port, plan, images, *, window=WINDOW):
    """Classify ``images`` (B, *input_shape) on the board behind ``port``
    (:func:`exchange`) and with the integer golden model
    (:func:`~popcorn.golden.predict.predict` at the plan's fractional bits); a
    :class:`BoardRun`."""
    replies, resent, seconds = exchange(port, image_bytes(plan, images), reply_size(plan),
                                        window=window)
    scores, classes = decode_replies(plan, b"".join(replies))
    golden = predict(plan.network, images, frac_bits=plan.integer.frac_bits)
    return BoardRun(scores, classes, golden.scores, golden.argmax, seconds, resent)
