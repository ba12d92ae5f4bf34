"""The mapped stages of a dataflow accelerator: one per layer kind, each answering what it
streams, what it computes and when.

Streams carry one word per pixel, raster order (x fastest), image after image; a vector
(the input of a Dense layer) is one word. A pixel word holds C elements of ``bits`` bits
each, element c at bits ``[c*bits, (c+1)*bits)``: an element's N activation bases (base j at
bit ``c*N + j``; for fixed-point inputs simply the pixel codes) or, between an engine and a
max-pool, its L comparator levels (a thermometer code). A vector word is the same with the
elements in the stream's (y, x, c) order: :func:`~popcorn.golden.binary.pack_words` of
the bits ``(..., elements, bits)`` with ``axes=2``, and :func:`unpack_pixels` back; scores
are :func:`~popcorn.mapping.linear.pack_scores` words.

Each stage has ``in_width``/``in_words`` and ``out_width``/``out_words`` (bits per word,
words per image), ``out_layout`` (output rows, columns, elements per word, bits per
element), ``reference(words)`` (what it outputs for its input words: the golden
model of the stage, on stream words), and ``timing()`` (the cycle models of its blocks,
:mod:`popcorn.mapping.timing`). The Amaranth component of each stage is chosen by
:mod:`popcorn.hdl.accelerator`, its resource estimate by :func:`popcorn.boards.fit`.
"""

from dataclasses import dataclass

import numpy as np

from ..golden.binary import pack_words
from ..golden.quantizers import thermometer_to_bases
from ..golden.window_ref import flatten as flatten_ref
from ..golden.window_ref import or_pool, windows
from ..hwmath import argmax_latency, class_width
from .linear import LinearFolding, table_shapes, unpack_scores
from .timing import (ArgmaxTiming, ConcatTiming, EngineTiming, FlattenTiming,
                     GatherEngineTiming, PoolTiming, QueueTiming, RegisterSliceTiming,
                     ResidualEngineTiming, ShortcutTiming, WindowTiming)

__all__ = ["ConvStage", "DenseStage", "PoolStage", "FlattenStage", "ArgmaxStage",
           "ShortcutStage", "ConcatStage", "unpack_pixels", "engine_stages",
           "input_queue_depth", "branch_depths", "shortcut_depth", "stream_references"]


def unpack_pixels(words, elements, bits):
    """Inverse of :func:`~popcorn.golden.binary.pack_words` (``axes=2``) for words of
    ``elements`` elements of ``bits`` bits: ``uint8`` (len(words), elements, bits)."""
    width = elements * bits
    nbytes = max(1, -(-width // 8))
    raw = np.frombuffer(b"".join(int(w).to_bytes(nbytes, "little") for w in words),
                        dtype=np.uint8).reshape(len(words), nbytes)
    out = np.unpackbits(raw, axis=1, bitorder="little")[:, :width]
    return out.reshape(len(words), elements, bits)


def engine_stages(folding):
    """Register stages between an engine's issue and its output register
    (:class:`~popcorn.mapping.timing.EngineTiming`): the ROM read (and the weight stage of
    a deep ROM), the tree's ``pipeline`` stages, the accumulator, the product stages and,
    with a compare stage, Y's register (and with a level stage the levels'). So the
    latency is ``cycles_per_vector + 1 + engine_stages``, :attr:`LinearFolding.latency`."""
    return 2 + folding.pipeline + folding.weight_stage + folding.product_stages \
        + folding.compare_stage + folding.level_stage


def input_queue_depth(width):
    """Depth of the queue in front of a convolution or pool fed by another stage: two rows
    of its input, ``2 * W`` pixels. The producer delivers a map row by row in bursts (a
    pool emits a row of outputs every k input rows; an engine a row of windows per input
    row) while the consumer reads its rows at its own pace; with one row of slack the
    consumer still waits for the burst it is reading while the producer holds the next
    one, with two it reads one row while the next arrives (CNV: 46 857 cycles per image
    without queues, 31 744 with one row, 28 835 with two, the slowest engine's bound
    28 800; ``benchmarks/queue_depths.py``)."""
    return 2 * width


def _needed(stage, q):
    """The last input word (raster index) output word q of ``stage`` needs: for a
    :class:`ConvStage` (and a :class:`PoolStage`, unpadded) the real pixel at or before the
    padded position that completes its window; for a stage of one output word per image
    (Dense, Flatten) the last of that image's input words (a Dense stage not folded yet,
    the engine closing a residual block, reads one vector word)."""
    if isinstance(stage, DenseStage) and stage.folding is None:
        return q
    if not isinstance(stage, (ConvStage, PoolStage)):
        return (q + 1) * stage.in_words - 1
    ow = stage.out_shape[1]
    (kh, kw), (sh, sw) = stage.kernel, stage.stride
    ph, pw = getattr(stage, "padding", (0, 0))
    y, x = (q // ow) * sh + kh - 1 - ph, (q % ow) * sw + kw - 1 - pw  # real coordinates
    if y >= stage.height:
        return stage.height * stage.width - 1
    return y * stage.width + min(x, stage.width - 1)


def branch_depths(branches, words):
    """Words of each branch's output queue of a fork and join that no stall pattern can
    deadlock: ``branches`` chains of stages reading one forked stream (an empty chain: the
    stream itself), each making ``words`` words per image, joined word q with word q.

    Word q of branch b needs the fork's input up to word N_b(q) (each stage's
    :func:`_needed`, composed), and the fork moves a word into every branch in one
    handshake, so the join waits for its words q until every branch has taken input word
    N(q) = max_b N_b(q); meanwhile the words q' >= q a branch makes are unread. A branch
    takes word N(q) when its queue holds every word it made from the input before it: for a
    branch of stages the words with N_b(q') < N(q), for an empty branch (its words are the
    input's) the words q' <= N(q), word N(q) included. The depth is the most of them over q
    (at least 2). Exact (the fewest: one word fewer hangs
    :func:`~popcorn.mapping.timing.chain_cycles`) for an empty branch; for a branch of
    stages an upper bound, since the words its own blocks hold are not counted."""
    needs = []
    for branch in branches:
        row = []
        for q in range(words):
            for stage in reversed(branch):
                q = _needed(stage, q)
            row.append(q)
        needs.append(row)
    last = [max(column) for column in zip(*needs)]
    depths = []
    for branch, row in zip(branches, needs):
        most, made, own = 0, 0, int(not branch)      # an empty branch queues word N(q)
        for q in range(words):
            made = max(made, q)
            while made < words and row[made] < last[q] + own:
                made += 1
            most = max(most, made - q)
        depths.append(max(2, most))
    return tuple(depths)


def shortcut_depth(main, side=None):
    """Words of the shortcut queue of a residual block that no stall pattern can deadlock
    (the fewest for an identity block): :func:`branch_depths` of the main branch ``main``
    (Conv or Dense stages, the last closing the block: it takes its window q with shortcut
    word q) and the shortcut branch (``side``: a 1 x 1 downsampling :class:`ConvStage`, or
    a :class:`DenseStage`; None for the identity). For an identity block of stride-1
    convolutions with k = 2p + 1 (square) on W-pixel rows, ``L + 1`` with ``L = sum p (W + 1)``;
    there one word fewer hangs :func:`~popcorn.mapping.timing.chain_cycles` (tested). With
    a side convolution an upper bound."""
    return branch_depths([main, () if side is None else (side,)], main[-1].out_words)[1]


def _queue(stage):
    """The stage's input queue and the register slice behind it
    (:func:`popcorn.hdl.accelerator.stage_blocks`)."""
    return [QueueTiming(depth=stage.queue), RegisterSliceTiming()] if stage.queue else []


def _engine_timing(folding):
    """The cycle model of an engine that takes its input as one word."""
    model = ResidualEngineTiming if folding.side_bits else EngineTiming
    return model(cycles_per_vector=folding.cycles_per_vector, stages=engine_stages(folding))


def _side_reference(folding, vectors, classes, words):
    """``folding.reference`` of ``vectors``, with the words port ``r`` took alongside (the
    shortcut's bits or the addend's Y) when the engine closes a residual block."""
    if not folding.side_bits:
        return folding.reference(vectors, classes)
    if words is None:
        raise ValueError("a residual engine's reference needs its shortcut words")
    if folding.shortcut is not None:
        return folding.reference(vectors, classes,
                                 unpack_pixels(words, folding.channels, folding.shortcut_bits))
    return folding.reference(vectors, classes, None,
                             unpack_scores(words, folding.channels, folding.addend_width))


@dataclass(frozen=True, eq=False)
class ConvStage:
    """A Conv2d layer (with the comparators after it): a sliding window
    (:class:`~popcorn.mapping.timing.WindowTiming`) whose kh x kw windows an engine folded
    PE x SIMD treats as Dense inputs. ``kernel``, ``stride``, ``padding``: pairs ``(h, w)``
    (``padding`` smaller than ``kernel`` on each axis).

    ``folding``'s weights are in the window's element order (ky, kx, c), permuted at
    mapping time from the golden model's (c, ky, kx) (:func:`~popcorn.golden.windows.im2col`).
    Padding feeds all-zero bits: activation code 0, as the golden model pads (a layer
    padded with the value 0 corrects Y by the position's border class,
    ``folding.borders``). In: H*W
    pixels of ``channels * bits`` bits; out: OH*OW pixels of ``folding.out_width`` bits.
    ``queue``: depth of the FIFO in front of the window (0: none; :func:`input_queue_depth`
    when another stage feeds it).
    """
    layer: int
    folding: LinearFolding
    height: int
    width: int
    channels: int
    bits: int
    kernel: tuple
    stride: tuple
    padding: tuple
    queue: int = 0

    kind = "conv2d"

    @property
    def out_shape(self):
        """(OH, OW)."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return ((self.height + 2 * ph - kh) // sh + 1, (self.width + 2 * pw - kw) // sw + 1)

    in_width = property(lambda self: self.channels * self.bits)
    in_words = property(lambda self: self.height * self.width)
    out_width = property(lambda self: self.folding.out_width)
    out_words = property(lambda self: self.out_shape[0] * self.out_shape[1])
    window_width = property(lambda self: self.kernel[0] * self.kernel[1] * self.in_width)

    @property
    def out_layout(self):
        """(OH, OW, elements, bits per element) of the output stream."""
        return (*self.out_shape, self.folding.channels, self.folding.out_bits)

    def reference(self, words, shortcut=None):
        """Output words of one image's input words (and, closing a residual block, of its
        shortcut words, one per output pixel)."""
        fmap = unpack_pixels(words, self.channels, self.bits).reshape(
            self.height, self.width, self.in_width)
        win = windows(fmap, self.kernel, self.stride, self.padding, 0)   # (OH, OW, kh, kw, Cb)
        vectors = win.reshape(-1, self.kernel[0] * self.kernel[1] * self.channels, self.bits)
        borders = self.folding.borders
        classes = None if borders is None else borders.class_map().ravel()
        out = _side_reference(self.folding, vectors, classes, shortcut)
        return _pack_engine_output(self.folding, out)

    def timing(self):
        return _queue(self) + [
            WindowTiming(height=self.height, width=self.width, kernel=self.kernel,
                         stride=self.stride, padding=self.padding),
            _engine_timing(self.folding)]


@dataclass(frozen=True, eq=False)
class DenseStage:
    """A Dense layer (with its comparators, or the scores): one engine on one vector word,
    or, with ``folding.gather``, on the pixels of a feature map (the stream's (y, x, c)
    order, as :class:`FlattenStage` would gather them) packed into its input buffer."""
    layer: int
    folding: LinearFolding

    kind = "dense"
    in_width = property(lambda self: self.folding.word_width)
    in_words = property(lambda self: self.folding.words_per_vector)
    out_width = property(lambda self: self.folding.out_width)
    out_words = 1

    @property
    def out_layout(self):
        """(1, 1, channels, bits per channel): the next layer's bases (or levels) or the
        scores (``score_width``-bit two's complement)."""
        f = self.folding
        return (1, 1, f.channels, f.score_width if f.activation is None else f.out_bits)

    def reference(self, words, shortcut=None):
        f = self.folding
        n = f.words_per_vector
        vectors = [sum(int(word) << (k * f.word_width) for k, word in enumerate(words[v:v + n]))
                   for v in range(0, len(words), n)]
        vector = unpack_pixels(vectors, f.fan_in, f.act_bases)
        return _pack_engine_output(f, _side_reference(f, vector, None, shortcut))

    def timing(self):
        f = self.folding
        if f.gather:
            return [GatherEngineTiming(words_per_fold=f.fold_width // f.gather,
                                       folds=f.synapse_folds,
                                       cycles_per_vector=f.cycles_per_vector,
                                       stages=engine_stages(f))]
        return [_engine_timing(f)]


def _pack_engine_output(folding, out):
    if folding.activation is not None:
        return pack_words(out, axes=2)
    return folding.pack_outputs(out)


@dataclass(frozen=True, eq=False)
class PoolStage:
    """A MaxPool2d layer on quantized activations: the OR of every kh x kw window (``kernel``
    and ``stride`` pairs ``(h, w)``), element by element, of ``bits``-bit elements that are
    thermometer codes or a permutation of one (sign and ABC-Net bases), which makes the OR
    the maximum.

    ``convert``: None, or the activation quantizer whose bases the pooled levels become
    (PA-Net's one-hot pieces and fixed-point bit planes are not ORed: the engine before
    emits levels, and they become bases after the pool). ``minimum``: the channels pooled
    by the AND (the minimum, :class:`~popcorn.network.layers.MaxPool2d`). ``queue`` as for
    :class:`ConvStage`.
    """
    layer: int
    height: int
    width: int
    channels: int
    bits: int
    kernel: tuple
    stride: tuple
    convert: object = None
    out_bits: int = None
    minimum: tuple = ()
    queue: int = 0

    kind = "maxpool2d"

    def __post_init__(self):
        if self.out_bits is None:
            object.__setattr__(self, "out_bits", self.bits)

    @property
    def out_shape(self):
        (kh, kw), (sh, sw) = self.kernel, self.stride
        return (self.height - kh) // sh + 1, (self.width - kw) // sw + 1

    in_width = property(lambda self: self.channels * self.bits)
    in_words = property(lambda self: self.height * self.width)
    out_width = property(lambda self: self.channels * self.out_bits)
    out_words = property(lambda self: self.out_shape[0] * self.out_shape[1])
    out_layout = property(lambda self: (*self.out_shape, self.channels, self.out_bits))

    @property
    def invert(self):
        """The ``in_width``-bit mask of the ``minimum`` channels' bits: their AND is
        NOT OR NOT."""
        ones = (1 << self.bits) - 1
        return sum(ones << (c * self.bits) for c in self.minimum)

    def reference(self, words):
        fmap = unpack_pixels(words, self.channels, self.bits).reshape(
            self.height, self.width, self.in_width)
        invert = unpack_pixels([self.invert], 1, self.in_width)[0, 0]
        pooled = (or_pool(fmap ^ invert, self.kernel, self.stride) ^ invert).reshape(
            -1, self.channels, self.bits)
        if self.convert is not None:
            pooled = thermometer_to_bases(pooled, self.convert)
        return pack_words(pooled, axes=2)

    def timing(self):
        return _queue(self) + [PoolTiming(height=self.height, width=self.width,
                                          kernel=self.kernel, stride=self.stride)]


@dataclass(frozen=True, eq=False)
class FlattenStage:
    """Gathers an H x W map into one vector word, in the stream's (y, x, c) order; the Dense
    layer after it reads its weights permuted from the golden model's C-major order."""
    layer: int
    height: int
    width: int
    channels: int
    bits: int

    kind = "flatten"
    in_width = property(lambda self: self.channels * self.bits)
    in_words = property(lambda self: self.height * self.width)
    out_width = property(lambda self: self.height * self.width * self.in_width)
    out_words = 1
    out_layout = property(lambda self: (1, 1, self.height * self.width * self.channels,
                                        self.bits))

    def reference(self, words):
        fmap = unpack_pixels(words, 1, self.in_width).reshape(self.height, self.width, -1)
        return pack_words(flatten_ref(fmap)[None, :, None], axes=2)

    def timing(self):
        return [FlattenTiming(pixels=self.height * self.width)]


@dataclass(frozen=True, eq=False)
class ArgmaxStage:
    """The scores with the class index appended (ties to the lowest class). ``mode`` (the
    mapper's choice, :func:`~popcorn.mapping.network_map.argmax_mode`): ``"serial"`` a
    :class:`~popcorn.hdl.argmax.SerialArgmax`, a word every
    ``serial_argmax_latency + 1`` cycles; ``"tournament"`` an
    :class:`~popcorn.hdl.argmax.Argmax`, every ``stages + 1``; ``"pipelined"`` the
    pipelined one, every cycle. The block, its cycle model and its estimate all follow
    it."""
    layer: int
    classes: int
    score_width: int
    mode: str = "tournament"

    pipelined = property(lambda self: self.mode == "pipelined")

    def __post_init__(self):
        argmax_latency(self.classes, self.mode)          # (refuses an unknown mode)

    kind = "argmax"
    in_width = property(lambda self: self.classes * self.score_width)
    in_words = 1
    out_width = property(lambda self: self.in_width + class_width(self.classes))
    out_words = 1
    out_layout = property(lambda self: (1, 1, 1, self.out_width))

    def reference(self, words):
        scores = unpack_scores(words, self.classes, self.score_width)
        top = self.classes * self.score_width
        return [word | (int(k) << top) for word, k in zip(words, np.argmax(scores, axis=1))]

    def timing(self):
        return [ArgmaxTiming(stages=argmax_latency(self.classes, self.mode),
                             pipelined=self.pipelined)]


@dataclass(frozen=True, eq=False)
class ShortcutStage:
    """The start of a residual block: the stream (an H x W map of
    C elements of ``bits`` bits, or a vector as a 1 x 1 map) passes on unchanged, and a
    copy waits in a queue of ``depth`` words for the engine that closes the block (the
    next stage whose folding has a ``shortcut`` or an ``addend``), one word per vector it
    takes; with ``side`` (a :class:`ConvStage` or :class:`DenseStage` whose engine emits Y:
    a downsampling block's 1 x 1 convolution) the copy goes through that stage first and the queue holds
    its Y words. ``layer``: the tensor forked; ``minimum``: a depth that cannot deadlock
    (:func:`shortcut_depth`: the fewest for an identity block); ``depth`` (at least that)
    is what the mapper chose (:func:`~popcorn.mapping.network_map.size_fork_queues`)."""
    layer: object
    height: int
    width: int
    channels: int
    bits: int
    minimum: int
    depth: int
    side: object = None

    kind = "shortcut"
    in_width = out_width = property(lambda self: self.channels * self.bits)
    in_words = out_words = property(lambda self: self.height * self.width)
    out_layout = property(lambda self: (self.height, self.width, self.channels, self.bits))

    @property
    def queue_width(self):
        """Bits of a queued word: the input's, or the side engine's Y word."""
        return self.in_width if self.side is None else self.side.out_width

    def reference(self, words):
        return list(words)

    def shortcut_words(self, words):
        """The words the queue delivers for one image's input ``words``."""
        return list(words) if self.side is None else self.side.reference(words)

    def timing(self):
        side = () if self.side is None else self.side.timing()
        return [ShortcutTiming(depth=self.depth, side=side)]


@dataclass(frozen=True, eq=False)
class ConcatStage:
    """Parallel branches of one stream joined along the channels (a Concat): the forked
    stream (an H x W map of C elements of ``bits`` bits, or a vector as a 1 x 1 map) enters
    every branch in one handshake; each branch (``branches[b]``: a chain of
    :class:`ConvStage`, :class:`PoolStage`, :class:`DenseStage` and :class:`FlattenStage`,
    or none: the stream itself) ends in a queue of ``depths[b]`` words; a word leaves when
    every queue offers one: the branches' words side by side, branch 0 in the low bits,
    so that branch b's element c is element ``c + (the elements of branches 0 .. b-1)``,
    the golden model's channel order. Every branch ends in the same rows, columns and bits
    per element. ``layer``: the Concat node; ``minima``: depths that cannot deadlock
    (:func:`branch_depths`); ``depths`` (at least those) what the mapper chose
    (:func:`~popcorn.mapping.network_map.size_fork_queues`)."""
    layer: object
    height: int
    width: int
    channels: int
    bits: int
    branches: tuple
    minima: tuple
    depths: tuple

    kind = "concat"
    in_width = property(lambda self: self.channels * self.bits)
    in_words = property(lambda self: self.height * self.width)

    @property
    def branch_layouts(self):
        """(rows, columns, elements, bits per element) of each branch's output."""
        return tuple(branch[-1].out_layout if branch else
                     (self.height, self.width, self.channels, self.bits)
                     for branch in self.branches)

    @property
    def branch_widths(self):
        """Bits of each branch's output word (of its queue)."""
        return tuple(e * b for _, _, e, b in self.branch_layouts)

    @property
    def out_layout(self):
        rows, cols, _, bits = self.branch_layouts[0]
        return (rows, cols, sum(layout[2] for layout in self.branch_layouts), bits)

    out_width = property(lambda self: sum(self.branch_widths))
    out_words = property(lambda self: self.out_layout[0] * self.out_layout[1])

    @property
    def stages(self):
        """The branches' stages in stream order (branch 0 first)."""
        return tuple(stage for branch in self.branches for stage in branch)

    def reference(self, words):
        outputs = []
        for branch in self.branches:
            out = list(words)
            for stage in branch:
                out = stage.reference(out)
            outputs.append(out)
        shifts = np.cumsum((0,) + self.branch_widths[:-1])
        return [sum(int(word) << int(shift) for word, shift in zip(column, shifts))
                for column in zip(*outputs)]

    def timing(self):
        return [ConcatTiming(branches=[[model for stage in branch for model in stage.timing()]
                                       for branch in self.branches], depths=self.depths)]


def stream_references(stages, words):
    """The output words of every stage of a plan (a list per stage) for one image's input
    ``words``: each stage's :meth:`reference` on the words before it; an engine with a
    shortcut or an addend also reads the words the queue of the last
    :class:`ShortcutStage` before it delivers."""
    outputs, forked = [], None
    for stage in stages:
        if getattr(getattr(stage, "folding", None), "side_bits", 0):
            words = stage.reference(words, forked)
        else:
            if isinstance(stage, ShortcutStage):
                forked = stage.shortcut_words(words)
            words = stage.reference(words)
        outputs.append(words)
    return outputs


def stage_summary(stage):
    """A dict describing ``stage``: its layer, kind and stream shapes (``"words x bits"``
    per image), and for an engine its folding: one row of a report's layer table, and what
    ``popcorn run`` compares with a build's report."""
    row = {"layer": stage.layer, "kind": stage.kind, "in": _shape(stage, "in"),
           "out": _shape(stage, "out")}
    if isinstance(stage, ShortcutStage):
        row["output"] = (f"queue of {stage.depth} words (deadlock-free from "
                         f"{stage.minimum})")
    if isinstance(stage, ConcatStage):
        row["output"] = (f"queues of {', '.join(map(str, stage.depths))} words "
                         f"(deadlock-free from {', '.join(map(str, stage.minima))})")
    folding = getattr(stage, "folding", None)
    if folding is not None:
        lin = folding.linear
        row.update({
            "fan_in": folding.fan_in, "channels": folding.channels,
            "weight_bases": folding.weight_bases, "act_bases": folding.act_bases,
            "encodings": f"{lin.weight_encoding} x {lin.act_encoding}",
            "output": "scores" if folding.activation is None else
                      f"{folding.out_bits} {folding.activation.quantizer.quantizer} "
                      f"{'levels' if folding.emit == 'levels' else 'bases'}",
            "pe": folding.pe, "simd": folding.simd,
            "cycles_per_vector": folding.cycles_per_vector,
            "vectors": stage.out_words, "engine_latency": folding.latency,
            "weight_rom": _weight_memories(folding)
                          + (f", block-diagonal: {lin.groups} groups, 1/{lin.groups} of it "
                             f"non-zero" if lin.groups > 1 else "")
                          + (", constants" if folding.weight_constants else
                             f", in {folding.weight_memory}"
                             if folding.weight_memory != "auto" else "")})
    return row


def _weight_memories(folding):
    """``"width x depth"`` of the weight ROM, or the count tables' (the first group's: the
    last may cover fewer elements)."""
    folds = folding.neuron_folds * folding.synapse_folds
    if folding.weight_code == "tables":
        shapes = table_shapes(folding.pe, folding.simd, folds, folding.weight_bases)
        return (f"{len(shapes)} count tables of {folding.table_group} elements, "
                f"{shapes[0][0]} x {shapes[0][1]}")
    return f"{folding.weight_rom_width} x {folds}" \
        + (", ternary-coded" if folding.weight_code == "ternary" else "")


def _shape(stage, side):
    """``"words x bits"`` of one image on a side of the stage."""
    return f"{getattr(stage, side + '_words')} x {getattr(stage, side + '_width')}"
