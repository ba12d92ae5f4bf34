"""Mapping a network onto the time-multiplexed ("folded") accelerator: one engine of ``pe``
lanes x ``simd`` bits runs the layers one after another, weights in SPRAM.

The small-board architecture (issue 10). Layers: Conv2d (kh x kw, stride and padding per
axis: rectangular kernels and the (1, k) convolutions of a sequence alike), a MaxPool2d
after it (fused: any window and stride per axis, OR or, for the ``minimum`` channels, AND
of the comparator levels; pools in a row fuse into one window when they compose, else
into two), Flatten and Dense, a
Concat of parallel branches (each one Conv2d or Dense layer with its pools: seed 003's text
model; a residual Add is refused), the scores layer last; every scheme: M weight
bases x N activation bases of either encoding, L comparators per channel whose levels
become the next layer's N' bases (sign, ABC-Net, PA-Net's pieces, fixed-point planes).

Every layer is a convolution of an H x W map of E-element pixels: a Dense layer after a
Flatten has the whole map as its kernel (its weights are in the stream's (y, x, c) order,
:class:`~popcorn.mapping.stages.FlattenStage`), a Dense layer on a vector a 1 x 1 map of K
elements. A pixel takes ``CW = ceil(E / simd)`` words per base; padded elements are
activation bit 0 against weight bit 1, whose XNOR is 0.

The engine counts one bit per element and base pair (i, j), ``P_ij = popcount(XNOR(t_i,
v_j))`` for ``pm1`` weights and ``popcount(t_i & v_j)`` for ``zo`` ones, and accumulates
``S = sum_ij A[c, i, j] P_ij`` with A and C' of
:meth:`~popcorn.mapping.linear.LinearFolding.affine` (the table of
:mod:`popcorn.mapping.linear`), so that ``Y = S + C'``. The comparators
compare S with ``T - C'``; the scores are ``S + C'``. Padding taps read code 0 (every base
bit 0), as the golden model pads.

Loops (one weight word and one activation word per cycle), outermost first: pooled output
pixel (oy, ox), neuron fold nf, second pool window position (ey, ex), pool window position
(dy, dx), weight base i, activation base j, tap (ky, kx), word cw. The pooled pixel is
``(qy, qx) = (oy * OSy + ey, ox * OSx + ex)`` (OS the second pool's stride), the conv
output pixel ``(cy, cx) = (qy * PSy + dy, qx * PSx + dx)``, its tap reads input pixel
``(cy * Sy + ky - Py, cx * Sx + kx - Px)``. A group (oy, ox, nf, ey, ex, dy, dx)
accumulates S of ``pe`` channels, compares it, and ORs the comparator levels over the pool
window (ANDs them for the ``minimum`` channels), then those over the second window (ANDs
them for the ``outer_minimum`` ones).

Memories (word layouts defined here, used by the RTL and its testbench):

* weights: :data:`SPRAM_WIDTH`-bit words, layer after layer from
  :attr:`FoldedLayer.weight_base`; word ``((nf * M + i) * steps + t) * CW + cw`` of a layer
  holds lane p's ``simd`` bits of base i (channel ``nf * pe + p``, tap t = (ky, kx) in
  steps of ``rows`` kernel rows, elements ``cw * simd ..``; with ``rows`` > 1 row r's E
  elements at bits ``r * E``; padding 1 for ``pm1`` weights, 0 for ``zo``, so that it
  counts 0) at bits ``p * simd``; above ``pe * simd`` the word is 0. Loaded at run time
  (SPRAM has no bitstream image). Only the resident layers' words
  (:attr:`FoldedLayer.streamed` false) are in the SPRAM.
* weight stream (layers too large for the SPRAM, :func:`choose_streamed`): the streamed
  layers' words in issue order (a word again for every issue that reads it), one image's
  pass after another, read from the board's flash into a FIFO of :data:`STREAM_DEPTH`
  words (:class:`~popcorn.hdl.flash.FlashStream`); an issue of a streamed layer takes the
  FIFO's next word instead of reading the SPRAM.
* channel records (EBR ROM, in the bitstream): one word per neuron fold, layer after layer
  from :attr:`FoldedLayer.record_base`; lane p's record at bits ``p * record_width``:
  threshold layers, for each comparator k < L, ``T'_k`` (``count_width`` bits, signed) and
  its mode (2 bits, :func:`~popcorn.golden.comparators.encode_comparators`), then the pool's
  AND flag (1 bit, at ``levels * (count_width + 2)``) and, when a layer has a second pool
  (:attr:`FoldedPlan.outer_pools`), the second's (the bit after); the scores layer ``C'``
  (``score_width`` bits, signed).
* coefficients (EBR ROM, unless one value serves every pair: then a constant, or every
  layer's depends on the pair alone: then a table of :attr:`FoldedPlan.pair_coefficients`
  in logic): word
  ``(record_base + nf) * PAIRS + i * N + j`` (:attr:`FoldedPlan.pairs`, a power of two)
  holds lane p's ``A[c, i, j]`` at bits ``p * coef_width`` (signed).
* input banks: two (one with ``input_banks=1``), that images fill in turn and the layers of phase 0
  (:attr:`FoldedLayer.phase`: the first, or a Concat's branches) read; a bank holds the
  image's pixels, ``CW`` words each, of ``N * ew`` bits (``ew = min(simd, E)`` elements):
  base j of element e of word cw at bit ``j * ew + e``; pixel (y, x) at word
  ``((y + Py) * W + x) * CW`` (Py: :attr:`FoldedPlan.input_pad`). The first layer's
  ``rows`` kernel rows are read at once from ``rows`` memories: memory r holds pixel (y, x)
  at row ``y + Py - r``, so that one address gives rows iy .. iy + rows - 1.
* activation banks: two of ``planes * simd``-bit words (:attr:`FoldedPlan.planes`), pixel
  after pixel (raster order), ``CW`` words each, base j of element e at bit
  ``j * simd + e``: a layer of phase q writes bank ``q % 2`` and one of phase q > 0 reads
  bank ``(q - 1) % 2`` (a chain's layer l is of phase l; a Concat's branches share one,
  each writing its channels from word :attr:`FoldedLayer.out_offset` of each pixel); one
  memory, bank 0 at word 0 and bank 1 after it, each as deep as the largest map it holds
  (:attr:`FoldedPlan.bank_words`: CNV's first map alone is in bank 0).
* row rings (:func:`band_layers`): when a convolution reads a map through a window of
  fewer rows than the map has, the layer before it writes only a ring of
  :attr:`FoldedLayer.out_ring` rows (a power of two, the most rows any output row of the
  reader spans): map row y at ring row ``y % out_ring``; the two layers then run in
  bands (:attr:`FoldedPlan.segments`), the writer's rows each reader row needs, then that
  reader row. CNV's first map, 30 x 30 x 64 bits, takes 4 rows instead of 30.

Cycles (:meth:`FoldedPlan.cycle_model`): the image's ``in_words`` words enter an input
bank one per cycle while the engine computes earlier images; the engine runs each segment
(:attr:`FoldedPlan.segments`: a layer's output rows, a whole layer unless it is banded)
for its :attr:`FoldedLayer.row_issues` per row plus :data:`DRAIN`, then hands the scores
to the argmax; a streamed layer's issue waits for its word in the FIFO
(:class:`StreamTiming`).
"""

import zlib
from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..golden.comparators import encode_comparators
from ..golden.widths import signed_width
from ..hwmath import serial_argmax_latency
from ..network.validate import NetworkError
from .network_map import PREDICTED_IMAGES, map_network
from .stages import (ConcatStage, ConvStage, DenseStage, FlattenStage, PoolStage,
                     ShortcutStage)
from .timing import ChainCycles

SPRAM_WIDTH = 64
"""Bits of a weight word: the UP5K's four 16-bit SPRAMs side by side."""

SPRAM_DEPTH = 16384
"""Weight words the four SPRAMs hold (1 Mbit)."""

READ_AFTER_ISSUE = 2
"""Cycles from an issue to its reads: the loop counters registered (1), the addresses
computed from them and registered (2); the memories are read in that cycle."""

WRITE_AFTER_ISSUE = 9
"""Cycles from an issue to the write of its group's outputs: the reads (2), the words
registered (3), the popcounts of 16-bit parts (4), their sum (5), times the base pair's
coefficient A (6), accumulated (7), compared or scored (8); the pool and the write in the
9th."""

DRAIN = WRITE_AFTER_ISSUE - READ_AFTER_ISSUE
"""Idle cycles after a layer's last issue: the next layer's first read follows the last
write. The scores are handed to the argmax ``WRITE_AFTER_ISSUE + 1`` cycles after the last
issue."""

MODE_WIDTH = 2

FLASH_MAGIC = b"PCRN"
FLASH_FORMAT = 2
"""2: the payload holds the weight stream's pass after the SPRAM's words."""
FLASH_OFFSET = 0x100000
"""Where the weight image goes in the board's flash: 1 MB, past the bitstream."""

FLASH_BYTES = 16 << 20
"""The iCEBreaker's SPI flash (W25Q128J)."""

FLASH_HEADER = 16
"""Bytes of the flash image's header (:meth:`FoldedPlan.flash_image`)."""

STREAM_WORD_CYCLES = SPRAM_WIDTH
"""Cycles of one streamed word on the SPI flash: two bits (dual output) per two cycles
(``sck`` at half the clock)."""

STREAM_RESTART = 81
"""Cycles a pass's first word waits beyond :data:`STREAM_WORD_CYCLES` after the last word
of the pass before: ``cs`` released for one cycle, then the dual-output read command and
its 24-bit address (a bit a clock) and 8 dummy clocks, two cycles a clock."""

STREAM_LATENCY = 1
"""Cycles from a streamed word's write into the FIFO to its first issue (the engine's
credit of unclaimed words counts it)."""

POP_AFTER_ISSUE = READ_AFTER_ISSUE + 1
"""Cycles from a streamed issue to its word's pop from the FIFO (where the SPRAM's word
would arrive); the FIFO has room again the cycle after."""

STREAM_DEPTH = 257
"""Words of the weight-stream FIFO: 256 in block RAM (four EBR of 64 bits x 256) and its
output register."""


@dataclass(frozen=True, eq=False)
class FoldedLayer:
    """One layer of a :class:`FoldedPlan`: ``folding`` the dataflow engine's
    :class:`~popcorn.mapping.linear.LinearFolding` of the layer (its weights, thresholds and
    coefficients, weights in (ky, kx, c) order); ``nf`` its neuron folds; ``weight_base``
    and ``record_base`` its first words in the weight memory and the record ROM; the
    geometry (module docstring): input ``map`` (H, W) of ``elements``-element pixels of
    ``planes`` bases, ``words`` (CW) per pixel and base, ``kernel`` (kh, kw), ``stride``
    (Sy, Sx), ``padding`` (Py, Px), ``pool`` ((window h, w), (stride y, x); ((1, 1), (1, 1))
    without a pool), ``minimum`` the channels
    the pool ANDs; ``scale`` A (C, M, N) and ``offset`` C' (C,) of ``Y = S + C'``
    (:meth:`~popcorn.mapping.linear.LinearFolding.affine`); ``rows``: kernel rows read in one
    issue (the first layer's, when its ``kh`` rows of E elements fit ``simd`` bits: its
    taps (ky, kx) for every ky at once, see the input banks), else 1; ``phase``: the layer reads the input banks in phase 0,
    else activation bank ``(phase - 1) % 2``, and writes bank ``phase % 2`` (a Concat's
    branches share a phase); its channels start at word ``out_offset`` of each of the
    output map's pixels of ``out_words`` words; ``spread``: the word position of each of
    its input pixel's E elements when they are not 0 .. E - 1 (after a Concat), the
    others padding; ``outer``, ``outer_minimum``: a second pool (as ``pool``) of the pooled
    map, when the pools after the layer do not fuse into one window; ``streamed``: its
    weights come from the flash stream, not the SPRAM (:func:`choose_streamed`);
    ``out_ring``: rows of its output map kept in its bank (0: every row), ``in_ring`` the
    same of its input map (:func:`band_layers`)."""
    folding: object
    nf: int
    weight_base: int
    record_base: int
    map: tuple
    elements: int
    planes: int
    words: int
    kernel: tuple
    stride: tuple
    padding: tuple
    pool: tuple
    minimum: tuple
    scale: object
    offset: object
    rows: int = 1
    phase: int = 0
    out_offset: int = 0
    out_words: int = 1
    spread: tuple = ()
    outer: tuple = ((1, 1), (1, 1))
    outer_minimum: tuple = ()
    streamed: bool = False
    out_ring: int = 0
    in_ring: int = 0

    @property
    def scores(self):
        return self.folding.activation is None

    @property
    def counts_and(self):
        """The weights are {0, 1}: the engine counts AND, else XNOR."""
        return self.folding.linear.weight_encoding == "zo"

    @property
    def wbases(self):
        return self.folding.weight_bases

    @property
    def levels(self):
        return 0 if self.scores else self.folding.levels

    @property
    def out_planes(self):
        return 0 if self.scores else self.folding.out_bases

    @property
    def conv_shape(self):
        """(OH, OW) of the convolution."""
        return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in
                     zip(self.map, self.kernel, self.stride, self.padding))

    @property
    def out_shape(self):
        """(PH, PW): the output map, pooled by ``pool`` then ``outer``."""
        inner = ((n - k) // s + 1 for n, k, s in zip(self.conv_shape, *self.pool))
        return tuple((n - k) // s + 1 for n, k, s in zip(inner, *self.outer))

    @property
    def pool_positions(self):
        """Conv outputs pooled into one output pixel: the two windows' areas."""
        (kh, kw), (oh, ow) = self.pool[0], self.outer[0]
        return kh * kw * oh * ow

    @property
    def taps(self):
        return self.kernel[0] * self.kernel[1]

    @property
    def steps(self):
        """Tap issues per word and base pair: ``kh / rows * kw``."""
        return self.kernel[0] // self.rows * self.kernel[1]

    @property
    def group_issues(self):
        """Issues of one group (output pixel, neuron fold, pool position)."""
        return self.wbases * self.planes * self.steps * self.words

    @property
    def weight_words(self):
        return self.nf * self.wbases * self.steps * self.words

    def s_range(self):
        """(lo, hi) of S and of every partial sum of it, over channels."""
        k = self.folding.fan_in
        lo = min(sum(min(0, int(a)) * k for a in row.ravel()) for row in self.scale)
        hi = max(sum(max(0, int(a)) * k for a in row.ravel()) for row in self.scale)
        return lo, hi

    @property
    def issue_cycles(self):
        (ph, pw) = self.out_shape
        return ph * pw * self.nf * self.pool_positions * self.group_issues

    @property
    def row_issues(self):
        """Issues of one output row (of :attr:`out_shape`)."""
        return self.issue_cycles // self.out_shape[0]

    def rows_read(self, oy):
        """(first, last) input map row that output row ``oy`` reads, padding rows
        included (negative, or past the map)."""
        (kh, _), (sy, _), (py, _) = self.kernel, self.stride, self.padding
        (pkh, _), (psy, _) = self.pool
        (okh, _), (osy, _) = self.outer
        return (oy * osy * psy * sy - py,
                ((oy * osy + okh - 1) * psy + pkh - 1) * sy + kh - 1 - py)

    @property
    def positions(self):
        """Where a tap's ``rows * E`` weight elements go in its ``words * simd`` bits."""
        return list(self.spread) or list(range(self.rows * self.elements))

    @property
    def in_words(self):
        """Words of the layer's input map in its bank (its ring's rows when it has one)."""
        return (self.in_ring or self.map[0]) * self.map[1] * self.words


@dataclass(frozen=True, eq=False)
class FoldedPlan:
    """A network mapped onto the folded accelerator (:func:`map_folded`); the widths and
    tables derived from every layer are computed once (``cached_property``).

    ``dataflow``: the network's :class:`~popcorn.mapping.network_map.NetworkPlan`, whose
    input words, output words and golden model the folded accelerator shares;
    ``layers``: :class:`FoldedLayer` in order; ``pe``, ``simd``: the engine;
    ``stream_depth``: words of the weight-stream FIFO (when a layer is streamed);
    ``input_banks``: input banks (2: an image enters while the engine computes the one
    before; 1: after the first layer's last read of it, half the block RAM)."""
    dataflow: object
    layers: tuple
    pe: int
    simd: int
    stream_depth: int = STREAM_DEPTH
    input_banks: int = 2

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
        engine runs it (its kind says ``streamed`` when its weights come from the flash
        stream); ``vectors`` the convolution outputs it computes (every pool window
        position of every pooled pixel), ``cycles_per_vector`` the issues of each."""
        rows = []
        for layer in self.layers:
            f = layer.folding
            (h, w), (ph, pw) = layer.map, layer.out_shape
            kind = "dense" if layer.kernel == layer.map and layer.padding == (0, 0) \
                else "conv2d"
            rows.append({
                "layer": f.linear.layer,
                "kind": f"{kind}{' + maxpool' if layer.pool_positions > 1 else ''}"
                        f"{', streamed' if layer.streamed else ''}"
                        f"{f', a ring of {layer.out_ring} rows' if layer.out_ring else ''}"
                        " (folded)",
                "in": f"{h * w * layer.words} x {layer.planes * min(self.simd, layer.elements)}",
                "out": (f"1 x {self.classes * self.score_width}" if layer.scores else
                        f"{ph * pw} x {f.channels * layer.out_planes}"),
                "fan_in": f.fan_in, "channels": f.channels, "weight_bases": layer.wbases,
                "act_bases": layer.planes,
                "encodings": f"{f.linear.weight_encoding} x {f.linear.act_encoding}",
                "output": "scores" if layer.scores else
                          f"{layer.out_planes} {f.activation.quantizer.quantizer} bases",
                "pe": self.pe, "simd": self.simd,
                "cycles_per_vector": layer.nf * layer.group_issues,
                "vectors": ph * pw * layer.pool_positions,   # conv outputs computed
                "engine_latency": layer.issue_cycles + DRAIN})
        return rows

    # -- engine ------------------------------------------------------------------------------
    needs_dsp = False

    @cached_property
    def count_width(self):
        """Signed bits of S: every layer's partial sums fit."""
        return max(signed_width(*layer.s_range()) for layer in self.layers)

    @cached_property
    def coef_width(self):
        values = [int(v) for layer in self.layers for v in layer.scale.ravel()]
        return signed_width(min(0, *values), max(0, *values))

    @cached_property
    def uniform_coefficient(self):
        """The one A of every channel and pair of every layer, or None (then a ROM)."""
        values = {int(v) for layer in self.layers for v in layer.scale.ravel()}
        return values.pop() if len(values) == 1 else None

    @cached_property
    def pair_coefficients(self):
        """``[layer][pair]``: A[i, j] of every layer and pair (:attr:`pairs` per layer, 0
        past its M * N) when no layer's A depends on the channel (a BNN's, a fixed-point
        input's bit planes), else None (then a ROM of every neuron fold's)."""
        table = []
        for layer in self.layers:
            pairs = layer.scale.reshape(layer.folding.channels, -1)
            if (pairs != pairs[:1]).any():
                return None
            table.append([int(v) for v in pairs[0]] + [0] * (self.pairs - pairs.shape[1]))
        return table

    @property
    def pairs(self):
        """Coefficient words per neuron fold: M * N of the widest layer, rounded up to a
        power of two (so the ROM's address is the record's, then the pair)."""
        return 1 << (max(layer.wbases * layer.planes for layer in self.layers) - 1).bit_length()

    @cached_property
    def levels(self):
        """Comparators per lane: the most of any layer."""
        return max(layer.levels for layer in self.layers)

    @cached_property
    def planes(self):
        """Bases per element in the activation banks: the most of any layer's output."""
        return max([layer.out_planes for layer in self.layers] + [1])

    @cached_property
    def record_width(self):
        """Bits of one lane's record: the widest of a threshold layer's and the scores
        layer's."""
        threshold = self.levels * (self.count_width + MODE_WIDTH) + 1 + self.outer_pools
        return max(threshold, self.score_width)

    @property
    def outer_pools(self):
        """Whether a layer has a second pool (its records a second AND flag)."""
        return any(layer.outer != ((1, 1), (1, 1)) for layer in self.layers)

    @cached_property
    def segments(self):
        """``((layer, first row, last row), ...)``: what the engine runs, in order. A layer
        runs its output rows (of :attr:`FoldedLayer.out_shape`) in one segment, unless it
        writes a ring (:attr:`FoldedLayer.out_ring`): then it and its reader alternate,
        the writer's rows up to the last one reader row k reads (``rows_read``), then row
        k, and the writer's rows no reader row reads last."""
        segments, n = [], 0
        while n < len(self.layers):
            layer = self.layers[n]
            height = layer.out_shape[0]
            if not layer.out_ring:
                segments.append((n, 0, height - 1))
                n += 1
                continue
            reader, done = self.layers[n + 1], -1
            for k in range(reader.out_shape[0]):
                need = min(reader.rows_read(k)[1], height - 1)
                if need > done:
                    segments.append((n, done + 1, need))
                    done = need
                if segments[-1][0] == n + 1:
                    segments[-1] = (n + 1, segments[-1][1], k)
                else:
                    segments.append((n + 1, k, k))
            if done < height - 1:
                segments.append((n, done + 1, height - 1))
            n += 2
        return tuple(segments)

    @property
    def readers(self):
        """The layers that read the input banks (phase 0: the first, or a Concat's
        branches)."""
        return [layer for layer in self.layers if layer.phase == 0]

    @property
    def input_pad(self):
        """Rows above the map in an input bank: the most ``Py`` of its readers."""
        return max(layer.padding[0] for layer in self.readers)

    @property
    def input_bank(self):
        """(words, bits) of one input bank (of each of its ``rows`` memories): the first
        layer's map with :attr:`input_pad` rows above it."""
        first = self.layers[0]
        words = (first.map[0] + self.input_pad) * first.map[1] * first.words
        return words, first.planes * min(self.simd, first.elements)

    @property
    def buffer_words(self):
        """Words of the larger activation bank: the largest input map of a layer after the
        first."""
        return max(self.bank_words)

    @property
    def bank_words(self):
        """Words of activation banks 0 and 1: the largest input map of the layers that read
        each (the odd phases bank 0, the even ones after the first bank 1; at least 1)."""
        return tuple(max([layer.in_words for layer in self.layers
                          if layer.phase and (layer.phase - 1) % 2 == bank] or [1])
                     for bank in (0, 1))

    @property
    def weight_words(self):
        """Words of the SPRAM's image: the resident layers'."""
        return sum(layer.weight_words for layer in self.layers if not layer.streamed)

    @property
    def stream_words(self):
        """Words of one image's pass of the weight stream: the streamed layers' issues."""
        return sum(layer.issue_cycles for layer in self.layers if layer.streamed)

    @property
    def record_words(self):
        return sum(layer.nf for layer in self.layers)

    def cycle_model(self, images=PREDICTED_IMAGES):
        """:class:`~popcorn.mapping.timing.ChainCycles` of ``images`` images sent back to
        back (the weights loaded and the weight stream's FIFO full), the result always
        taken: the accelerator's control (:class:`~popcorn.hdl.folded.FoldedAccelerator`)
        cycle for cycle. Image n's W words are taken from ``s_n`` on, one per cycle, into
        input bank ``n % B`` (B :attr:`input_banks`), free three cycles after the last
        issue ``r_{n-B}`` of its readers (:attr:`readers`) for image n - B (the read
        :data:`READ_AFTER_ISSUE` cycles later, then the bank's flag): ``s_n = max(s_{n-1}
        + W, r_{n-B} + 1 + READ_AFTER_ISSUE)``. The engine starts at ``c_n = max(s_n + W,
        h_{n-1} + 1)`` (the image waiting, the previous scores handed over at
        ``h_{n-1}``) and issues from ``c_n + 1``, segment after segment
        (:attr:`segments`): a resident layer's issues on consecutive cycles, a streamed
        layer's each at its word's arrival at the latest (:class:`StreamTiming`), the
        next segment's first issue :data:`DRAIN` + 1 cycles after the last; the hand-over
        ``WRITE_AFTER_ISSUE + 1`` cycles after the last issue; the result leaves the
        argmax (:class:`~popcorn.hdl.argmax.SerialArgmax`) ``serial_argmax_latency(classes)``
        cycles after that, and the argmax takes the next scores the cycle after at the
        earliest."""
        w, readers = self.in_words, len(self.readers)
        stream = StreamTiming(self.stream_words, self.stream_depth)
        inputs, outputs, reader_last = [], [], []
        start, handed = 0, None
        last_read = max(n for n, (index, _, _) in enumerate(self.segments)
                        if index < readers)
        for n in range(images):
            if n >= self.input_banks:
                start = max(start, reader_last[n - self.input_banks] + 1 + READ_AFTER_ISSUE)
            inputs += range(start, start + w)
            issue = (start + w if handed is None else max(start + w, handed + 1)) + 1
            for number, (index, first, final) in enumerate(self.segments):
                layer = self.layers[index]
                count = (final - first + 1) * layer.row_issues
                if layer.streamed:
                    last = stream.issue(issue, count)
                else:
                    last = issue + count - 1
                if number == last_read:
                    reader_last.append(last)
                issue = last + DRAIN + 1
            handed = last + 1 + WRITE_AFTER_ISSUE
            if outputs:                 # the argmax free the cycle after its last result
                handed = max(handed, outputs[-1] + 1)
            outputs.append(handed + serial_argmax_latency(self.classes))
            start += w
        return ChainCycles(inputs=tuple(inputs), outputs=tuple(outputs))

    @property
    def cycles_per_image(self):
        """Interval between the last two results of :data:`PREDICTED_IMAGES` images sent
        back to back: ``max(W, sum(I) + DRAIN (S - 1) + WRITE_AFTER_ISSUE + 2)`` (S
        segments) in steady state with two input banks."""
        out = self.cycle_model().outputs
        return out[-1] - out[-2]

    @property
    def latency(self):
        """First input handshake to the first result's, on an idle accelerator."""
        model = self.cycle_model(1)
        return model.outputs[0] - model.inputs[0]

    # -- memory images -----------------------------------------------------------------------
    def layer_words(self, layer):
        """``layer``'s weight words in address order (Python ints of :data:`SPRAM_WIDTH`
        bits; module docstring)."""
        bits = layer.folding.linear.weight_bits                          # (M, C, K)
        m, c = bits.shape[:2]
        (kh, kw), rows, e, s = layer.kernel, layer.rows, layer.elements, self.simd
        taps = bits.reshape(m, c, kh // rows, rows, kw, e).transpose(0, 1, 2, 4, 3, 5)
        padded = np.full((m, layer.nf * self.pe, layer.steps, layer.words * s),
                         0 if layer.counts_and else 1, np.uint8)
        padded[:, :c, :, layer.positions] = taps.reshape(m, c, layer.steps, rows * e)
        folds = padded.reshape(m, layer.nf, self.pe, layer.steps * layer.words, s)
        return [int.from_bytes(np.packbits(word_bits, bitorder="little").tobytes(), "little")
                for word_bits in folds.transpose(1, 0, 3, 2, 4).reshape(-1, self.pe * s)]

    def weight_image(self):
        """The SPRAM's words: the resident layers' :meth:`layer_words`, layer after layer
        from each one's :attr:`FoldedLayer.weight_base`."""
        return [w for layer in self.layers if not layer.streamed
                for w in self.layer_words(layer)]

    def stream_image(self):
        """One image's pass of the weight stream: every issue's word of the streamed
        layers, in issue order (the loops of the module docstring)."""
        words = []
        for layer in self.layers:
            if layer.streamed:
                table = self.layer_words(layer)
                words += [table[a] for a in _issue_addresses(layer)]
        return words

    def flash_image(self):
        """The weight image as the board's flash holds it (bytes): a
        :data:`FLASH_HEADER`-byte header (:data:`FLASH_MAGIC`, then little-endian the
        format (u16), the bytes per word (u16), the words (u32) and the payload's CRC-32
        (u32: the network's digest)), the payload (:meth:`weight_image`, then
        :meth:`stream_image`, 8 little-endian bytes per word) and a trailer, the sum of
        the payload bytes modulo 2**32 (u32), which :class:`~popcorn.hdl.flash.FlashLoader`
        checks. The stream's pass starts at byte :attr:`stream_offset` of the image."""
        words = self.weight_image() + self.stream_image()
        payload = b"".join(w.to_bytes(SPRAM_WIDTH // 8, "little") for w in words)
        header = (FLASH_MAGIC + FLASH_FORMAT.to_bytes(2, "little")
                  + (SPRAM_WIDTH // 8).to_bytes(2, "little")
                  + len(words).to_bytes(4, "little")
                  + zlib.crc32(payload).to_bytes(4, "little"))
        return header + payload + (sum(payload) & 0xFFFFFFFF).to_bytes(4, "little")

    @property
    def stream_offset(self):
        """Byte of the flash image where the weight stream's pass starts."""
        return FLASH_HEADER + self.weight_words * SPRAM_WIDTH // 8

    def record_image(self):
        """The record ROM's words (Python ints of ``pe * record_width`` bits)."""
        r = self.record_width
        return [_lanes([_record(layer, c, self) for c in range(nf * self.pe, (nf + 1) * self.pe)
                        if c < layer.folding.channels], r)
                for layer in self.layers for nf in range(layer.nf)]

    def coefficient_image(self):
        """The coefficient ROM's words (Python ints of ``pe * coef_width`` bits)."""
        words = []
        for layer in self.layers:
            pairs = layer.scale.reshape(layer.folding.channels, -1)          # (C, M * N)
            for nf in range(layer.nf):
                lanes = pairs[nf * self.pe:(nf + 1) * self.pe]
                words += [_lanes([int(v) for v in lanes[:, q]], self.coef_width)
                          if q < pairs.shape[1] else 0 for q in range(self.pairs)]
        return words


def _issue_addresses(layer):
    """The weight word (from the layer's first) of each of ``layer``'s issues, in issue
    order: word ``((nf * M + i) * steps + t) * CW + cw`` for the loops oy, ox, nf, ey, ex,
    dy, dx, i, j, t, cw (module docstring)."""
    (ph, pw), m, steps, cw = layer.out_shape, layer.wbases, layer.steps, layer.words
    nf, i, t, c = np.ix_(range(layer.nf), range(m), range(steps), range(cw))
    per_fold = ((nf * m + i) * steps + t) * cw + c                  # (nf, M, steps, CW)
    per_fold = np.broadcast_to(per_fold[:, None, :, None],
                               (layer.nf, layer.pool_positions, m, layer.planes, steps, cw))
    return np.tile(per_fold.ravel(), ph * pw)


class StreamTiming:
    """The weight stream's words against the issues that take them, across images: the
    FIFO of ``depth`` words holds a pass's first ``depth`` words (of ``words`` per pass,
    cyclically) when the first image comes (:class:`~popcorn.hdl.flash.FlashStream` is
    primed); word k >= depth starts on the SPI at ``b_k = max(b_{k-1} +
    STREAM_WORD_CYCLES (+ STREAM_RESTART for a pass's first word), i_{k-depth} +
    POP_AFTER_ISSUE + 1)`` (its FIFO slot freed by the pop of word k - depth, issued at
    ``i``), is written into the FIFO at ``b_k + STREAM_WORD_CYCLES`` and can be issued
    :data:`STREAM_LATENCY` cycles later."""

    def __init__(self, words, depth):
        self.words, self.depth = words, depth
        self.taken = []                  # i_k: the cycle each word was issued
        self.begun = None                # b_{k-1}

    def issue(self, first, count):
        """The cycle of the last of ``count`` issues of a streamed layer whose first could
        issue at ``first`` (then each the cycle after the one before, unless it waits)."""
        issue = first
        for _ in range(count):
            k = len(self.taken)
            if k >= self.depth:
                free = self.taken[k - self.depth] + POP_AFTER_ISSUE + 1
                if self.begun is None:
                    self.begun = free
                else:
                    restart = STREAM_RESTART if k % self.words == 0 else 0
                    self.begun = max(self.begun + STREAM_WORD_CYCLES + restart, free)
                issue = max(issue, self.begun + STREAM_WORD_CYCLES + STREAM_LATENCY)
            self.taken.append(issue)
            issue += 1
        return issue - 1


def choose_streamed(layers, capacity):
    """``layers`` with ``streamed`` set on those whose weights go to the flash stream (and
    the resident ones' ``weight_base`` from 0): the set whose issues take the fewest
    stream words (:attr:`FoldedLayer.issue_cycles`; a weight read once per image costs one
    word, one read at every output pixel that many) among those leaving at most
    ``capacity`` words in the SPRAM; none when every layer fits."""
    sizes = [layer.weight_words for layer in layers]
    best = {0: (0, ())}              # resident words -> (stream words, streamed indices)
    for n, layer in enumerate(layers):
        grown = {}
        for used, (cost, streamed) in best.items():
            for key, value in ((used + sizes[n], (cost, streamed)),
                               (used, (cost + layer.issue_cycles, streamed + (n,)))):
                if key <= capacity and (key not in grown or value < grown[key]):
                    grown[key] = value
        best = grown
    streamed = set(min(best.values())[1])
    placed, base = [], 0
    for n, layer in enumerate(layers):
        placed.append(replace(layer, streamed=n in streamed, weight_base=base))
        base += 0 if n in streamed else layer.weight_words
    return tuple(placed)


def band_layers(layers):
    """``layers`` with a ring (:attr:`FoldedLayer.out_ring`) between a layer and the
    convolution after it wherever that convolution's output rows each read fewer rows
    than the map has, rounded up to a power of two: a chain's layers, each alone in its
    phase (not a Concat's branches), neither streamed (the stream's words stay in layer
    order), the writer not itself reading a ring."""
    layers = list(layers)
    phases = Counter(layer.phase for layer in layers)
    for n, (writer, reader) in enumerate(zip(layers, layers[1:])):
        if (writer.in_ring or writer.streamed or reader.streamed or writer.scores
                or phases[writer.phase] > 1 or phases[reader.phase] > 1
                or reader.phase != writer.phase + 1 or reader.spread):
            continue
        span = max(hi - lo + 1 for lo, hi in map(reader.rows_read, range(reader.out_shape[0])))
        ring = 1 << (span - 1).bit_length()
        if ring < reader.map[0]:
            layers[n] = replace(writer, out_ring=ring)
            layers[n + 1] = replace(reader, in_ring=ring)
    return tuple(layers)


def _lanes(values, width):
    """One word of per-lane fields: value p at bits ``p * width``, two's complement."""
    return sum((int(v) & ((1 << width) - 1)) << (p * width) for p, v in enumerate(values))


def _record(layer, c, plan):
    """Channel c's record (an int) of :meth:`FoldedPlan.record_image`."""
    if layer.scores:
        return int(layer.offset[c]) & ((1 << plan.score_width) - 1)
    act, w = layer.folding.activation, plan.count_width
    stored, modes = encode_comparators(
        act.thresholds[c:c + 1].astype(object) - layer.offset[c], act.direction[c:c + 1],
        act.constant[c:c + 1], field=(-(1 << (w - 1)), (1 << (w - 1)) - 1))
    fields = _lanes([(int(t) & ((1 << w) - 1)) | (int(mode) << w)
                     for t, mode in zip(stored[0], modes[0])], w + MODE_WIDTH)
    flags = int(c in layer.minimum) | int(c in layer.outer_minimum) << 1
    return fields | (flags << (plan.levels * (w + MODE_WIDTH)))


def _refuse(stage, what):
    raise NetworkError(f"layer {stage.layer} ({stage.kind}): {what}; build with "
                       f"--arch dataflow")


def _fused_pool(stage, pools):
    """The MaxPool2d ``pools`` after ``stage`` as at most two windows, each
    ``(((kh, kw), (sy, sx)), minimum)`` (``(((1, 1), (1, 1)), ())``: none): a 1 x 1 pool of
    stride 1 is the identity; a pool after a pool composes into its window when the
    windows leave no gaps (a stride at most the window) and it ANDs the same channels
    (window ``(k2 - 1) s1 + k1``, stride ``s1 s2`` per axis), else it starts the second."""
    windows = []
    for p in pools:
        if tuple(p.kernel) == tuple(p.stride) == (1, 1):
            continue
        mine = tuple(int(c) for c in p.minimum)
        if windows and set(mine) == set(windows[-1][1]) and all(
                s <= k for s, k in zip(*windows[-1][0])):
            (kernel, stride), _ = windows.pop()
            windows.append(((tuple((k2 - 1) * s1 + k1 for k1, s1, k2 in
                                   zip(kernel, stride, p.kernel)),
                             tuple(s1 * s2 for s1, s2 in zip(stride, p.stride))), mine))
        elif len(windows) < 2:
            windows.append(((tuple(p.kernel), tuple(p.stride)), mine))
        else:
            _refuse(p, f"a third pool after layer {stage.layer} that does not fuse into the "
                       f"two before (the minimum of other channels, or gaps) is not in the "
                       f"folded engine")
    return (windows + [(((1, 1), (1, 1)), ())] * 2)[:2]


def fold_layers(dataflow, pe, simd):
    """The :class:`FoldedLayer` of every engine of the dataflow plan, its pools fused; a
    Concat's branches (each one Conv2d or Dense layer and its pools) read the same input
    in one phase and write their channels into the same output map, branch b from word
    ``sum(ceil(C_a / simd) for a < b)`` of each pixel, so that the layer after it reads
    branch b's channel c as element ``offset_b * simd + c`` (:attr:`FoldedLayer.spread`)
    and the elements between as padding."""
    stages = [s for s in dataflow.stages if s.kind != "argmax"]
    layers = []
    source = None        # (H, W, E, words, spread) of the next layer's input; None: the input
    n = 0
    while n < len(stages):
        stage = stages[n]
        n += 1
        if isinstance(stage, FlattenStage):
            if source is None:
                source = (stage.height, stage.width, stage.channels,
                          -(-stage.channels // simd), ())
            continue
        if isinstance(stage, PoolStage):
            _refuse(stage, "the folded accelerator pools only right after a convolution")
        if isinstance(stage, ShortcutStage):
            _refuse(stage, "residual blocks (a shortcut queue) are not in the folded engine")
        pools = []
        while n < len(stages) and isinstance(stages[n], PoolStage):
            pools.append(stages[n])
            n += 1
        concat = isinstance(stage, ConcatStage)
        if concat:
            branches = []
            for b, branch in enumerate(stage.branches):
                if not branch or not isinstance(branch[0], (ConvStage, DenseStage)) or any(
                        not isinstance(p, PoolStage) for p in branch[1:]):
                    _refuse(stage, f"branch {b} is not one Conv2d or Dense layer and its "
                                   f"pools, as the folded engine runs a Concat's branches")
                branches.append((branch[0], branch[1:]))
            if pools:
                _refuse(pools[0], "the folded accelerator pools only right after a "
                                  "convolution")
        else:
            branches = [(stage, pools)]
        widths = [-(-s.folding.channels // simd) for s, _ in branches]
        offsets = np.cumsum([0] + widths[:-1])
        phase = 1 + max([l.phase for l in layers], default=-1)
        alone = not concat and phase == 0
        for (linear, pool), offset in zip(branches, offsets):
            layers.append(_fold_layer(linear, pool, source, layers, pe, simd, alone,
                                      phase=phase, out_offset=int(offset),
                                      out_words=sum(widths)))
        last = layers[-1]
        channels = [s.folding.channels for s, _ in branches]
        spread = () if not concat else tuple(
            int(o) * simd + c for o, k in zip(offsets, channels) for c in range(k))
        source = (*last.out_shape, sum(channels), sum(widths), spread)
    if not layers[-1].scores:
        raise NetworkError("the folded accelerator needs the scores layer last")
    return tuple(layers)


def _fold_layer(stage, pools, source, layers, pe, simd, alone, **where):
    """The :class:`FoldedLayer` of ``stage`` with its ``pools`` fused, reading ``source``
    ((H, W, E, words, spread) of the map before it; None: the input), after ``layers``;
    ``alone``: it is the only reader of the input banks (then it may read ``rows`` kernel
    rows at once); ``where``: its phase and output words."""
    folding = stage.folding
    (pool, minimum), (outer, outer_minimum) = _fused_pool(stage, pools)
    if isinstance(stage, ConvStage):
        if folding.borders is not None:
            _refuse(stage, "padding pm1 activations with the value 0 (padding_fill="
                           "'zero') is not in the folded engine")
        h, w, e = stage.height, stage.width, stage.channels
        words, spread = (-(-e // simd), ()) if source is None else source[3:]
        kernel, stride, padding = (tuple(stage.kernel), tuple(stage.stride),
                                   tuple(stage.padding))
    else:
        h, w, e, words, spread = source or (1, 1, folding.fan_in, -(-folding.fan_in // simd),
                                            ())
        kernel, stride, padding = (h, w), (1, 1), (0, 0)
    nf = -(-folding.channels // pe)
    rows = kernel[0] if alone and isinstance(stage, ConvStage) \
        and kernel[0] * e <= simd else 1
    last = layers[-1] if layers else None
    layer = FoldedLayer(folding, nf, last.weight_base + last.weight_words if last else 0,
                        last.record_base + last.nf if last else 0, (h, w), e,
                        folding.act_bases, words, kernel, stride, padding, pool, minimum,
                        *folding.affine(), rows, spread=spread, outer=outer,
                        outer_minimum=outer_minimum, **where)
    if layer.scores and (layer.pool_positions > 1 or layer.out_shape != (1, 1)):
        _refuse(stage, "the folded accelerator takes a scores layer of one output pixel")
    return layer


def map_folded(network, *, pe=1, simd=None, frac_bits=8, spram_words=SPRAM_DEPTH,
               stream_depth=STREAM_DEPTH, input_banks=2, rings=True):
    """Map ``network`` onto the folded accelerator with an engine of ``pe`` lanes of
    ``simd`` bits (``pe * simd`` at most :data:`SPRAM_WIDTH`; ``pe`` divides ``simd``,
    and an input word of ``min(simd, E)`` elements holds whole input transfers; by default
    the widest such ``simd``: a whole SPRAM word per cycle when ``pe`` = 1). Weights beyond
    ``spram_words`` words stream from the flash (:func:`choose_streamed`) through a FIFO of
    ``stream_depth`` words (the tests make both small). ``input_banks``: 2 or 1
    (:attr:`FoldedPlan.input_banks`); ``rings``: the row rings of :func:`band_layers`
    (fewer activation words, a few :data:`DRAIN` cycles more per band).

    Raises
    ------
    NetworkError
        for a layer the engine cannot run, naming it, or a flash image beyond the flash.
    ValueError
        for an engine shape that breaks the rules above.
    """
    dataflow = map_network(network, frac_bits=frac_bits, target_cycles=1 << 30)
    if simd is None and isinstance(pe, int) and 0 < pe <= SPRAM_WIDTH:
        simd = SPRAM_WIDTH // pe // pe * pe
    for name, value in (("pe", pe), ("simd", simd)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if pe * simd > SPRAM_WIDTH or simd % pe:
        raise ValueError(f"pe x simd = {pe} x {simd}: pe must divide simd and pe * simd be "
                         f"at most {SPRAM_WIDTH} (the SPRAM word)")
    layers = fold_layers(dataflow, pe, simd)
    per_transfer = dataflow.in_width // layers[0].planes      # elements per input transfer
    if min(simd, layers[0].elements) % per_transfer:
        raise ValueError(f"simd = {simd}: an input word of {min(simd, layers[0].elements)} "
                         f"elements must hold whole transfers of {per_transfer}")
    if stream_depth < 2:
        raise ValueError(f"stream_depth must be at least 2, not {stream_depth!r}")
    if input_banks not in (1, 2):
        raise ValueError(f"input_banks must be 1 or 2, not {input_banks!r}")
    layers = choose_streamed(layers, spram_words)
    plan = FoldedPlan(dataflow, band_layers(layers) if rings else layers, pe, simd,
                      stream_depth, input_banks)
    size = FLASH_HEADER + (plan.weight_words + plan.stream_words) * SPRAM_WIDTH // 8 + 4
    if FLASH_OFFSET + size > FLASH_BYTES:
        raise NetworkError(f"the weight image needs {size} bytes of flash (its streamed "
                           f"layers' words again for every output pixel), the board's "
                           f"flash has {FLASH_BYTES - FLASH_OFFSET} past the bitstream; "
                           f"build it with --arch dataflow for a larger board "
                           f"(--board ulx3s-85f)")
    return plan


ENGINE_LANES = (1, 2, 4, 8)
"""The engines :func:`choose_folded` tries, cheapest first: ``pe`` lanes of the default
``simd`` (64, 32, 16, 8 bits), all reading one 64-bit SPRAM word per cycle."""


def choose_folded(network, target_cycles, *, frac_bits=8):
    """The cheapest engine of :data:`ENGINE_LANES` whose plan needs at most
    ``target_cycles`` per image (fewer lanes first: each adds an accumulator, a comparator
    and a score multiplier), or the fastest when none does; the plan's ``cycles_per_image``
    says which. Raises as :func:`map_folded`."""
    plans = []
    for pe in ENGINE_LANES:
        plan = map_folded(network, pe=pe, frac_bits=frac_bits)
        if plan.cycles_per_image <= target_cycles:
            return plan
        plans.append(plan)
    return min(plans, key=lambda p: p.cycles_per_image)
