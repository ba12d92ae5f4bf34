"""Mapping a Dense network onto the time-multiplexed ("folded") accelerator: one engine of
``pe`` lanes x ``simd`` bits runs the layers one after another, weights in SPRAM.

The small-board architecture (issue 10), first part: Dense layers of one base pair with
``pm1`` weights and ``pm1`` or ``zo`` activations (BNN, XNOR-Net; FINN's TFC/SFC-w1a1,
whose input is {0, 1}), sign activations, the scores layer last. The engine counts
``P = popcount(XNOR(w, v))`` of the activation bits v for every layer. For ``pm1``
activations the dot is ``2 P - K`` (:func:`~popcorn.golden.binary.binary_dot`); for ``zo``
ones, reading bit v as ``2 v - 1``, it is ``sum_k w_k v_k = P - n_c`` with n_c the channel's
-1 weights. Either way ``Y = A P + C'`` per channel (:func:`xnor_affine`), and thresholds
on P follow as for the dataflow engine
(:meth:`~popcorn.mapping.linear.LinearFolding.count_thresholds`).

A layer of K inputs and C channels is padded to ``K' = SF * simd`` and ``C' = NF * pe``:
padded inputs are activation bit 0 against weight bit 1, whose XNOR is 0, so P of every
real channel is that of the unpadded layer; padded channels write 0 bits, which is what the
next layer's padded inputs must hold.

Memories (word layouts defined here, used by the RTL and its testbench):

* weights: :data:`SPRAM_WIDTH`-bit words, layer after layer from
  :attr:`FoldedLayer.weight_base`; word ``nf * SF + sf`` of a layer holds lane p's
  ``simd`` bits (channel ``nf * pe + p``, inputs ``sf * simd ..``) at bits ``p * simd``;
  above ``pe * simd`` the word is 0. Loaded at run time (SPRAM has no bitstream image).
* channel records (EBR ROM, in the bitstream): one word per neuron fold, layer after layer
  from :attr:`FoldedLayer.record_base`; lane p's record at bits ``p * record_width``:
  threshold layers ``T'`` (``count_width`` bits, unsigned) and the comparator mode (2 bits,
  :func:`~popcorn.golden.comparators.encode_comparators`); the scores layer ``A``
  (``scale_width`` bits, signed) and ``C'`` (``score_width`` bits, signed), ``Y = A P + C'``.
* activations: two input banks of ``SF_0`` ``simd``-bit words that images fill in turn
  and the first layer reads, and two banks of ``simd``-bit words: layer l writes bank ``l % 2``
  and layer l > 0 reads bank ``(l - 1) % 2``.

Cycles (:meth:`FoldedPlan.cycle_model`): the image's ``in_words`` words enter an input
bank one per cycle while the engine computes earlier images; the engine runs each
layer for ``NF * SF`` issue cycles plus :data:`DRAIN`, then hands the scores to the argmax.
"""

import math
import zlib
from dataclasses import dataclass

import numpy as np

from ..golden.widths import signed_width
from ..hwmath import argmax_stages
from ..network.validate import NetworkError
from .network_map import PREDICTED_IMAGES, map_network
from .stages import DenseStage, FlattenStage
from .timing import ChainCycles

SPRAM_WIDTH = 64
"""Bits of a weight word: the UP5K's four 16-bit SPRAMs side by side."""

SPRAM_DEPTH = 16384
"""Weight words the four SPRAMs hold (1 Mbit)."""

DRAIN = 5
"""Idle cycles after a layer's last issue: its words are read (1), registered (1), counted
(1), accumulated (1), compared (1) and written in the 5th; the next layer's first read
follows. The scores are handed to the argmax the cycle after that write would be."""

MODE_WIDTH = 2

FLASH_MAGIC = b"PCRN"
FLASH_FORMAT = 1
FLASH_OFFSET = 0x100000
"""Where the weight image goes in the board's flash: 1 MB, past the bitstream."""


@dataclass(frozen=True, eq=False)
class FoldedLayer:
    """One layer of a :class:`FoldedPlan`: ``folding`` the dataflow engine's
    :class:`~popcorn.mapping.linear.LinearFolding` of the layer (its weights, thresholds and
    score coefficients); ``nf``, ``sf`` the padded folds; ``weight_base`` and
    ``record_base`` its first words in the weight memory and the record ROM."""
    folding: object
    nf: int
    sf: int
    weight_base: int
    record_base: int

    @property
    def scores(self):
        return self.folding.activation is None

    @property
    def issue_cycles(self):
        return self.nf * self.sf


@dataclass(frozen=True, eq=False)
class FoldedPlan:
    """A Dense network mapped onto the folded accelerator (:func:`map_folded`).

    ``dataflow``: the network's :class:`~popcorn.mapping.network_map.NetworkPlan`, whose
    input words, output words and golden model the folded accelerator shares;
    ``layers``: :class:`FoldedLayer` in order; ``pe``, ``simd``: the engine."""
    dataflow: object
    layers: tuple
    pe: int
    simd: int

    # -- the interface shared with the dataflow plan ---------------------------------------
    network = property(lambda self: self.dataflow.network)
    integer = property(lambda self: self.dataflow.integer)
    in_width = property(lambda self: self.dataflow.in_width)
    in_words = property(lambda self: self.dataflow.in_words)
    out_width = property(lambda self: self.dataflow.out_width)
    classes = property(lambda self: self.dataflow.classes)
    score_width = property(lambda self: self.dataflow.score_width)

    def input_words(self, inputs):
        return self.dataflow.input_words(inputs)

    def reference(self, inputs):
        return self.dataflow.reference(inputs)

    def pack_outputs(self, scores, argmax):
        return self.dataflow.pack_outputs(scores, argmax)

    def unpack_outputs(self, words):
        return self.dataflow.unpack_outputs(words)

    def summary(self):
        """One dict per layer, as :meth:`NetworkPlan.summary
        <popcorn.mapping.network_map.NetworkPlan.summary>`'s rows: the layer as the shared
        engine runs it (padded folds, ``NF * SF`` cycles)."""
        rows = []
        for n, layer in enumerate(self.layers):
            f = layer.folding
            rows.append({
                "layer": f.linear.layer, "kind": "dense (folded)",
                "in": f"{layer.sf} x {self.simd}",
                "out": (f"1 x {self.classes * self.score_width}" if layer.scores else
                        f"{self.layers[n + 1].sf} x {self.simd}"),
                "fan_in": f.fan_in, "channels": f.channels, "weight_bases": 1,
                "act_bases": 1, "encodings": f"pm1 x {f.linear.act_encoding}",
                "output": "scores" if layer.scores else "1 sign bases",
                "pe": self.pe, "simd": self.simd, "cycles_per_vector": layer.issue_cycles,
                "vectors": 1, "engine_latency": layer.issue_cycles + DRAIN})
        return rows

    # -- engine ------------------------------------------------------------------------------
    needs_dsp = False

    @property
    def count_width(self):
        """Bits of P: 0 .. simd * max SF."""
        return (self.simd * max(layer.sf for layer in self.layers)).bit_length()

    @property
    def scale_width(self):
        return scale_width(self.layers[-1].folding)

    @property
    def record_width(self):
        """Bits of one lane's record: the widest of a threshold layer's and the scores
        layer's."""
        threshold = self.count_width + MODE_WIDTH
        return max(threshold, self.scale_width + self.score_width)

    @property
    def buffer_words(self):
        """Words of one activation bank: the largest input vector, in ``simd``-bit words."""
        return max(layer.sf for layer in self.layers)

    @property
    def weight_words(self):
        last = self.layers[-1]
        return last.weight_base + last.issue_cycles

    @property
    def record_words(self):
        return sum(layer.nf for layer in self.layers)

    def cycle_model(self, images=PREDICTED_IMAGES):
        """:class:`~popcorn.mapping.timing.ChainCycles` of ``images`` images sent back to
        back (the weights loaded), the result always taken: the accelerator's control
        (:class:`~popcorn.hdl.folded.FoldedAccelerator`) cycle for cycle. Image n's W words
        are taken from ``s_n`` on, one per cycle, into input bank ``n % 2``, free once the
        first layer has read image n - 2: ``s_n = max(s_{n-1} + W, f_{n-2} + NF_0 SF_0)``.
        The engine starts at ``c_n = max(s_n + W, h_{n-1} + 1)`` (the image waiting, the
        previous scores handed over at ``h_{n-1}``) and issues from ``f_n = c_n + 1``; its
        last issue is at ``f_n + sum(NF SF) + DRAIN (L - 1) - 1`` and the hand-over
        ``DRAIN + 1`` cycles later; the result leaves the argmax ``argmax_stages(classes)`` cycles after that."""
        w, first = self.in_words, self.layers[0].issue_cycles
        issues = sum(layer.issue_cycles for layer in self.layers)
        span = issues + DRAIN * len(self.layers)                   # first issue -> hand-over
        inputs, outputs, issued = [], [], []
        start, handed = 0, None
        for n in range(images):
            if n >= 2:
                start = max(start, issued[n - 2] + first)
            inputs += range(start, start + w)
            engine = start + w if handed is None else max(start + w, handed + 1)
            issued.append(engine + 1)
            handed = issued[-1] + span
            outputs.append(handed + argmax_stages(self.classes))
            start += w
        return ChainCycles(inputs=tuple(inputs), outputs=tuple(outputs))

    @property
    def cycles_per_image(self):
        """Interval between the last two results of :data:`PREDICTED_IMAGES` images sent
        back to back: ``max(W, sum(NF SF) + DRAIN L + 2)`` in steady state."""
        out = self.cycle_model().outputs
        return out[-1] - out[-2]

    @property
    def latency(self):
        """First input handshake to the first result's, on an idle accelerator."""
        model = self.cycle_model(1)
        return model.outputs[0] - model.inputs[0]

    # -- memory images -----------------------------------------------------------------------
    def weight_image(self):
        """The weight memory's words (Python ints of :data:`SPRAM_WIDTH` bits)."""
        words = []
        for layer in self.layers:
            bits = layer.folding.linear.weight_bits[0]                     # (C, K)
            c, k = bits.shape
            padded = np.ones((layer.nf * self.pe, layer.sf * self.simd), np.uint8)
            padded[:c, :k] = bits
            folds = padded.reshape(layer.nf, self.pe, layer.sf, self.simd).transpose(0, 2, 1, 3)
            for word_bits in folds.reshape(layer.nf * layer.sf, self.pe * self.simd):
                words.append(int.from_bytes(np.packbits(word_bits, bitorder="little")
                                            .tobytes(), "little"))
        return words

    def flash_image(self):
        """The weight image as the board's flash holds it (bytes): a 16-byte header
        (:data:`FLASH_MAGIC`, then little-endian the format (u16), the bytes per word (u16),
        the words (u32) and the payload's CRC-32 (u32: the network's digest)), the payload (:meth:`weight_image`, 8 little-endian bytes
        per word) and a trailer, the sum of the payload bytes modulo 2**32 (u32), which
        :class:`~popcorn.hdl.flash.FlashLoader` checks."""
        payload = b"".join(w.to_bytes(SPRAM_WIDTH // 8, "little") for w in self.weight_image())
        header = (FLASH_MAGIC + FLASH_FORMAT.to_bytes(2, "little")
                  + (SPRAM_WIDTH // 8).to_bytes(2, "little")
                  + len(self.weight_image()).to_bytes(4, "little")
                  + zlib.crc32(payload).to_bytes(4, "little"))
        return header + payload + (sum(payload) & 0xFFFFFFFF).to_bytes(4, "little")

    def record_image(self):
        """The record ROM's words (Python ints of ``pe * record_width`` bits)."""
        words = []
        r = self.record_width
        for layer in self.layers:
            fields = _records(layer.folding, self.count_width, self.score_width)
            for nf in range(layer.nf):
                word = 0
                for p in range(self.pe):
                    c = nf * self.pe + p
                    if c < len(fields):
                        word |= fields[c] << (p * r)
                words.append(word)
        return words


def xnor_affine(folding):
    """(A ``object`` (C, 1, 1), C' ``object`` (C,)) with ``Y = A P + C'`` for the XNOR count
    P of a layer of one ``pm1`` weight base (module docstring)."""
    lin = folding.linear
    if lin.act_encoding == "pm1":
        return folding.affine()
    phi = lin.coefficients.astype(object)[:, 0, 0]
    negatives = (1 - lin.weight_bits[0].astype(np.int64)).sum(axis=1)
    offset = lin.bias.astype(object) - phi * negatives.astype(object)
    return phi[:, None, None], offset


def scale_width(folding):
    """Signed bits of the scores layer's A."""
    scale, _ = xnor_affine(folding)
    return signed_width(min(0, int(scale.min())), max(0, int(scale.max())))


def _records(folding, count_width, score_width):
    """Per channel, the record (an int) of :func:`FoldedPlan.record_image`."""
    if folding.activation is None:
        scale, offset = xnor_affine(folding)
        a_width = scale_width(folding)
        return [(int(scale[c, 0, 0]) & ((1 << a_width) - 1))
                | ((int(offset[c]) & ((1 << score_width) - 1)) << a_width)
                for c in range(folding.channels)]
    thresholds, modes = folding.count_thresholds(xnor_affine(folding))
    return [int(thresholds[c, 0]) | (int(modes[c, 0]) << count_width)
            for c in range(folding.channels)]


def _check_layers(plan):
    """Refuse what the folded engine cannot run yet, naming the layer."""
    for stage in plan.stages:
        if isinstance(stage, (DenseStage, FlattenStage)) or stage.kind == "argmax":
            continue
        raise NetworkError(f"layer {stage.layer} ({stage.kind}): the folded accelerator runs "
                           f"Dense layers only so far; build with --arch dataflow")
    for folding in plan.foldings:
        lin, where = folding.linear, f"layer {folding.linear.layer} (dense)"
        if lin.weight_encoding != "pm1" or folding.weight_bases * folding.act_bases != 1:
            raise NetworkError(f"{where}: the folded accelerator takes one base pair of pm1 "
                               f"weights and pm1 or zo activations (BNN, XNOR-Net) so far, not "
                               f"{folding.weight_bases} x {folding.act_bases} "
                               f"{lin.weight_encoding} x {lin.act_encoding}; build with "
                               f"--arch dataflow")
        if folding.activation is not None and (folding.levels, folding.out_bases) != (1, 1):
            raise NetworkError(f"{where}: the folded accelerator takes sign activations so "
                               f"far, not {folding.levels} comparators per channel")


def map_folded(network, *, pe=1, simd=None, frac_bits=8):
    """Map a Dense ``network`` onto the folded accelerator with an engine of ``pe`` lanes of
    ``simd`` bits (``pe * simd`` at most :data:`SPRAM_WIDTH`; ``pe`` divides ``simd``, and
    the input word width divides ``simd``; by default the widest such ``simd``: a whole
    SPRAM word per cycle when ``pe`` = 1).

    Raises
    ------
    NetworkError
        for a layer the engine cannot run, naming it, or weights beyond the SPRAM.
    ValueError
        for an engine shape that breaks the rules above.
    """
    dataflow = map_network(network, frac_bits=frac_bits, target_cycles=1 << 30)
    if simd is None and isinstance(pe, int) and 0 < pe <= SPRAM_WIDTH:
        step = dataflow.in_width * pe // math.gcd(dataflow.in_width, pe)
        simd = SPRAM_WIDTH // pe // step * step or step
    for name, value in (("pe", pe), ("simd", simd)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if pe * simd > SPRAM_WIDTH or simd % pe:
        raise ValueError(f"pe x simd = {pe} x {simd}: pe must divide simd and pe * simd be "
                         f"at most {SPRAM_WIDTH} (the SPRAM word)")
    if simd % dataflow.in_width:
        raise ValueError(f"simd = {simd} must be a multiple of the {dataflow.in_width}-bit "
                         f"input word")
    _check_layers(dataflow)
    layers, weight_base, record_base = [], 0, 0
    for folding in dataflow.foldings:
        nf = -(-folding.channels // pe)
        sf = -(-folding.fan_in // simd)
        layers.append(FoldedLayer(folding, nf, sf, weight_base, record_base))
        weight_base += nf * sf
        record_base += nf
    if weight_base > SPRAM_DEPTH:
        raise NetworkError(f"the weights need {weight_base} words of {SPRAM_WIDTH} bits, the "
                           f"SPRAM holds {SPRAM_DEPTH}; streaming weights from flash is not "
                           f"built yet")
    return FoldedPlan(dataflow, tuple(layers), pe, simd)
