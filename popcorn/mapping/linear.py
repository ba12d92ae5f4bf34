"""Folding of one Dense layer of the integer model onto a matrix-vector-activation engine.

The engine (:class:`~popcorn.hdl.mva.MatrixVectorActivation`) computes, for each output
channel c, the integer model's pre-activation (:mod:`popcorn.golden.integer_model`)::

    Y[c] = sum_ij Phi[c,i,j] * dot(T_i[c], V_j) + B[c]

from popcounts only. Per base pair the engine counts one bit per element over the K
elements, ``XNOR(t, v)`` for ``pm1`` weights and ``t&v`` for ``zo`` ones, so that
``dot = a*P - z_i[c]``, with ``z_i[c]`` a count of the weight row ``T_i[c]``:

=========  =========  ===============  =====  ==================================
weights    acts       bits counted     a      z_i[c]
=========  =========  ===============  =====  ==================================
pm1        pm1        XNOR(t, v)       2      K
pm1        zo         XNOR(t, v)       1      its -1 weights (element-wise
                                              ``[t == v] = (2t - 1) v + 1 - t``)
zo         pm1        t&v              2      its 1 weights (``t (2v - 1)``)
zo         zo         t&v              1      0
=========  =========  ===============  =====  ==================================

and ``Y = sum_ij A[c,i,j] P_ij + C[c]`` with ``A = a*Phi`` and ``C[c] = B[c] - sum_ij
Phi[c,i,j] z_i[c]``, both computed here once (:meth:`LinearFolding.affine`, shared with the
folded engine). Mixed encodings count one bit per element too: the weights a row counts
are a constant of the channel, so the correction is free in C. ``A`` is a constant of the
hardware when it is the same for every channel (BNN, ABC-Net and PA-Net hidden layers),
otherwise a per-channel ROM entry.

Then either comparators (an :class:`~popcorn.golden.integer_model.IntThreshold`) turn Y into
the next layer's activation bases, or Y leaves as the class scores.

Folding: ``pe`` channels in parallel, ``simd`` elements per cycle; NF = C/pe channel
folds, SF = K/simd element folds; a vector takes NF*SF cycles (the initiation interval) and
its result leaves NF*SF + 3 cycles after its input is accepted.

These keyword options shape the datapath without changing a single output bit:

* ``pipeline`` (default 0): register stages inside each lane's popcount tree
  (:func:`~popcorn.hdl.popcount.tree_plan` over the ``simd`` bits of a pair, 3-bit
  compressor groups), at most the tree's logic levels; every stage adds one cycle of
  latency, none to the interval: ``latency = cycles_per_vector + 3 + pipeline``.
  0 keeps the combinational adder tree.
* ``bases`` (default ``"parallel"``): ``"parallel"`` has M*N popcount trees per lane, one
  per base pair, and keeps M*N accumulators of P; ``"serial"`` has one tree per lane that
  walks the M*N base pairs one per cycle within each element fold (pair index
  ``q = i*N + j`` innermost) and accumulates ``A_ij * P`` straight into Y:
  ``cycles_per_vector = NF * SF * M * N``, about M*N times fewer popcount LUTs.
* ``multiply`` (default ``"shift-add"``): how ``A_ij * P`` is written. ``"shift-add"``:
  a constant A (uniform over channels) becomes an explicit sum of shifted P over its
  canonical signed digits (:func:`csd_digits`); a per-channel A read from the channel ROM
  becomes gated multiples of A, ``P[b] ? A << b : 0``, summed in registered stages of
  partial sums (:attr:`LinearFolding.product_partials`), logic on both families; with
  serial bases it stays an Amaranth ``*``, which ``synth_ice40`` (no ``-dsp``) maps to a
  LUT/carry-chain array multiplier (``synth_ecp5`` infers a ``MULT18X18D`` for it by default). ``"dsp"``:
  ``*`` everywhere (with serial bases one multiplier per lane, A picked first), and
  :attr:`LinearFolding.needs_dsp` tells the board build to pass ``synth_opts="-dsp"`` on
  iCE40 so Yosys maps them to ``SB_MAC16`` (a constant 0 or +-2**k stays a shift).
  Measured in ``reports/blocks/multiply.md``; the UP5K has 8 ``SB_MAC16``.
* ``weight_memory`` (default ``"auto"``): where the weight ROM goes. ``"auto"`` leaves it to
  Yosys, which keeps a wide and shallow ROM in logic (about 3 LUT4 per bit column of a
  64-word ROM on ECP5); ``"block"`` marks it ``rom_style = "block"`` so that it lands in
  block RAM whatever its shape, ``"logic"`` marks it ``rom_style = "logic"``
  (:func:`popcorn.boards.fit.place_weight_roms` chooses: block RAM where the board has
  some to spare, logic where it has too little). With at most :data:`CONSTANT_ROM` words
  (NF*SF <= 2) and not ``"block"`` there is no ROM at all
  (:attr:`LinearFolding.weight_constants`): the words are constants picked by the
  registered fold address, so that XNOR/AND with a weight bit is a function of the
  activation bit and the fold bit, inside the popcount trees' compressor LUTs (ECP5, a
  BNN layer of 4 x 256 elements at two folds: 1 941 LUT4 against 2 138 from a ROM in
  logic and 2 595 plus 15 DP16KD from block RAM; Yosys alone, ``benchmarks/
  sweep_blocks.py --engine``).

* ``weight_code="tables"`` (``popcorn build --counts tables``): no XNOR/AND and no
  compressor level in logic; per group of :attr:`LinearFolding.table_group` elements a
  block RAM table, addressed by the fold and the group's activation bits, holds every
  lane's count (:meth:`LinearFolding.count_tables`) and the trees only add the counts.
  Its cost per element is the adders' (SFC-w1a1's first engine at 64 cycles per image,
  16 trees of 66 two-bit counts: about 1.4 LUT4 an element on the ECP5, against 2.9 with
  the XNOR and compressors in logic), its block RAM ``NF*SF * 2**k * k.bit_length() / k``
  bits per lane and element (k = 3 at 64 folds: 341).

Stream words are element-major: element k's N bases at bits ``[k*N, (k+1)*N)``, base j at
bit ``k*N + j`` (for 8-bit fixed-point inputs this is simply the pixel codes, least
significant byte first); the output of a threshold layer is the same for its C channels
and N' bases; scores are C signed fields of ``score_width`` bits, channel 0 lowest.
"""

from dataclasses import dataclass, field

import numpy as np

from ..golden.binary import binary_dot, check_bits, pack_words
from ..golden.borders import BorderCorrection
from ..golden.comparators import MODE_GE, MODE_LT, MODE_ONE, MODE_ZERO, encode_comparators
from ..golden.integer_model import IntLinear, IntThreshold, apply_thresholds
from ..golden.quantizers import base_coefficients, comparators, thermometer_to_bases
from ..golden.widths import signed_width
from ..hwmath import tree_levels

# The factor a of the module docstring's table, per (weight, activation) encoding.
_SCALE = {("pm1", "pm1"): 2, ("pm1", "zo"): 1, ("zo", "pm1"): 2, ("zo", "zo"): 1}

# Comparator modes stored in the activation ROM: popcorn.golden.comparators's encoding
# (one [Y >= T'] chain, [Y <= T] stored as T' = T + 1), shared with ComparatorActivation
# (re-exported here).
__all__ = ["LinearFolding", "csd_digits", "MODE_ZERO", "MODE_ONE", "MODE_GE", "MODE_LT",
           "BASES", "MULTIPLY", "EMIT", "level_to_base_map", "pack_scores",
           "unpack_scores"]

BASES = ("parallel", "serial")
EMIT = ("bases", "levels")
MULTIPLY = ("shift-add", "dsp")
WEIGHT_MEMORY = ("auto", "block", "logic")
WEIGHT_CODES = ("plain", "ternary", "tables")
TERNARY_GROUP = 3
"""Elements per code of a ``weight_code="ternary"`` ROM: their 3**3 = 27 weight pairs in
:data:`TERNARY_BITS` bits."""
TERNARY_BITS = 5
DEEP_ROM = 512
"""Words of the deepest weight ROM read without an extra register: one DP16KD is 512 deep
at its widest (36 bits), one iCE40 EBR 256 to 2048 (16 to 2 bits)."""
STALL_BITS = 256
"""Lane input bits (SIMD per tree, summed over the trees; and product stage register bits)
whose registers take their clock enable from one copy of an engine's registered stall: one
flip-flop drove 2 058 clock enables in digits-mobilenet-pa's second engine on the ECP5,
9.6 ns of routing."""
FEW_TREE_BITS = 256
"""Tree input bits (SIMD per tree, summed over the engine's trees) up to which
``pipeline="auto"`` spends a register stage more on three-level trees
(:attr:`LinearFolding.auto_pipeline`)."""
COMPRESSOR_GROUP = 3
PRODUCT_LEVELS = 1
"""Adder levels of ``sum_ij A P`` between two of its registers
(:attr:`LinearFolding.product_partials`): each product stage adds groups of
``2**PRODUCT_LEVELS`` terms (after the gating of A's multiples); the sum of the last
stage's partial sums, C' and an addend is no deeper. mnist-cnn-abc's first layer on the
ECP5: 17 cells, 73 MHz through a gate and four levels; groups of four terms (two levels)
became two or three carry chains with LUT4 between them on the ECP5, 7.6-7.9 ns
(mnist-cnn-pa 131 MHz, mnist-cnn-abc 126 MHz); one level is a chain, about 4 ns."""
CONSTANT_ROM = 2
"""Most weight words (NF*SF) an engine holds as constants picked by its fold address."""
TABLE_WORDS = 512
"""Words of one count table (``weight_code="tables"``) at most: one DP16KD at its widest
(512 x 36), two iCE40 EBR (256 x 16)."""
MAX_TABLE_GROUP = 7
"""Most elements a count table covers (their count in 3 bits)."""
MAX_SHORTCUT_BITS = 4
"""Most shortcut bits per channel of a residual engine (``LinearFolding.shortcut``): its
records hold ``2**b`` comparator tables per channel."""
"""Bits per compressor group of the engine's pipelined popcount trees."""


def csd_digits(value):
    """Canonical signed digits of an integer: ``[(shift, +1 | -1), ...]`` with
    ``value == sum(sign << shift)`` and no two neighbouring non-zero digits (the fewest
    additions of any signed binary form)."""
    value, shift, digits = int(value), 0, []
    while value:
        if value & 1:
            digit = 2 - (value & 3)          # +1 if value = 1 mod 4, -1 if 3 mod 4
            digits.append((shift, digit))
            value -= digit
        value >>= 1
        shift += 1
    return digits


def pack_scores(scores, width):
    """Words of signed scores (B, C): class c as a ``width``-bit two's complement field at
    bit ``c * width``, class 0 lowest (the engine's and the argmax's layout)."""
    mask = (1 << width) - 1
    return [sum((int(v) & mask) << (c * width) for c, v in enumerate(row)) for row in scores]


def unpack_scores(words, classes, width):
    """Inverse of :func:`pack_scores` (bits above the scores ignored): ``int64`` (B, C)."""
    mask = (1 << width) - 1
    fields = [[(word >> (c * width)) & mask for c in range(classes)] for word in words]
    return np.array([[v - (1 << width) if v >> (width - 1) else v for v in row]
                     for row in fields], dtype=np.int64).reshape(len(words), classes)


def level_to_base_map(quantizer):
    """How the comparator levels of an activation ``quantizer`` become its bases, for the
    hardware: ``("levels", perm)`` base j = level perm[j] (sign, ABC-Net: a permutation, so
    an OR of levels is an OR of bases), ``("onehot", None)`` (PA-Net), or ``("binary",
    None)`` base b = bit b of the number of levels set (fixed point)."""
    name = quantizer.quantizer
    if name == "sign":
        return "levels", (0,)
    if name == "abc":
        return "levels", tuple(int(r) for r in comparators(quantizer).rank)
    if name == "pa":
        return "onehot", None
    return "binary", None


def _positive_int(value, name):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class LinearFolding:
    """A Dense layer of the integer model, folded; validated on construction.

    Parameters
    ----------
    linear : :class:`IntLinear` of kind ``"dense"``.
    activation : the :class:`IntThreshold` that follows it, or None for the scores layer.
    next_quantizer : with ``activation``, the quantizer whose bases the next layer reads
        (it decides how comparator bits become bases: sign and ABC-Net pick levels, PA-Net
        takes one-hot pieces, fixed point the binary code of the level).
    pe, simd : folding; ``pe`` divides the channels, ``simd`` the fan-in K.
    pipeline : keyword, register stages in each popcount tree (default 0), at most
        :attr:`tree_levels`.
    bases : keyword, ``"parallel"`` (default) or ``"serial"`` (one popcount tree per lane,
        base pairs in turn).
    multiply : keyword, ``"shift-add"`` (default) or ``"dsp"``.
    emit : keyword, for threshold layers: ``"bases"`` (default, the next layer's bases) or
        ``"levels"`` (the comparator levels, a thermometer code per channel: what a
        max-pool ORs before the bases are derived, :class:`~popcorn.mapping.stages.PoolStage`).
    weight_memory : keyword, ``"auto"`` (default: Yosys places the weight ROM),
        ``"block"`` (in block RAM) or ``"logic"``.
    weight_code : keyword, ``"plain"`` (default: the weight ROM holds the bases' bits,
        :meth:`weight_rom_bits`) or ``"ternary"``: for two weight bases never both 1 at an
        element (a ternary weight {-1, 0, +1} as two {0, 1} bases: FINN's w2 networks), the
        ROM holds each lane's element pairs three at a time as one 5-bit base-3 code
        (:func:`ternary_codes`), 5/6 of the bits, and the engine decodes them after the
        read (:func:`ternary_table`); or ``"tables"`` (parallel base pairs, NF*SF <=
        TABLE_WORDS/4): no XNOR/AND in logic, the weights become *count tables*
        (:meth:`count_tables`), one per group of :attr:`table_group` elements of a fold,
        addressed by the fold and the group's activation bits of a base and holding every
        lane's and weight base's count of the group: a block RAM does the XNOR/AND and the
        compressor level of the popcount trees, whose adders then sum the groups' counts.
    borders : keyword, None (default) or the
        :class:`~popcorn.golden.borders.BorderCorrection` of a convolution padded with the
        value 0 (``padding_fill="zero"`` on ``pm1`` activations): Y gains a correction that
        depends on the output position's class, so the channel ROM holds a record per class
        and channel fold (word ``cls * NF + nf``, :meth:`channel_rom`) and the engine counts
        the vectors of an image (raster order) to know each one's class.
    shortcut : keyword, None (default) or, for the layer that closes a residual block with
        an identity shortcut (:class:`~popcorn.golden.integer_graph.IntResidualThreshold`),
        the comparators per *shortcut pattern*: a tuple of ``2**b`` :class:`IntThreshold`
        (``activation`` is entry 0's shape and quantizer), b the shortcut's bits per
        channel (:attr:`shortcut_bits`); channel c compares with table s where s is c's b
        shortcut bits read as a number (bit j = base j). The engine takes one shortcut word
        (C channels of b bits, the stream's element layout) with each input vector (port
        ``r``) and its lanes pick their thresholds by their pattern.
    addend : keyword, None (default) or, for the layer that closes a residual block whose
        shortcut is another linear layer (:class:`~popcorn.golden.integer_graph.IntAdd`: a
        1 x 1 downsampling convolution), the range (lo, hi) of that layer's Y, which the
        engine takes with each input vector (port ``r``: C signed fields of
        :attr:`addend_width` bits) and adds to its own Y, in the same units, before the
        comparators (on Y: never :attr:`compares_counts`).
    gather : keyword, 0 (default: the input vector arrives as one word of
        :attr:`in_width` bits) or the width w of the words it arrives in, in order
        (:attr:`words_per_vector` of them: a feature map's pixels, flattened in the
        stream's order); w must divide the ``simd * N`` bits of an element fold. The
        engine packs them into an input buffer of two banks of SF folds each and computes
        on one bank while the other fills.

    See the module docstring for what each option builds.
    """
    linear: IntLinear
    activation: IntThreshold
    pe: int
    simd: int
    pipeline: int = field(default=0, kw_only=True)
    bases: str = field(default="parallel", kw_only=True)
    multiply: str = field(default="shift-add", kw_only=True)
    emit: str = field(default="bases", kw_only=True)
    weight_memory: str = field(default="auto", kw_only=True)
    weight_code: str = field(default="plain", kw_only=True)
    gather: int = field(default=0, kw_only=True)
    borders: BorderCorrection = field(default=None, kw_only=True)
    shortcut: tuple = field(default=None, kw_only=True)
    addend: tuple = field(default=None, kw_only=True)

    def __post_init__(self):
        lin = self.linear
        if not isinstance(lin, IntLinear) or lin.kind != "dense":
            raise TypeError(f"linear must be an IntLinear of a dense layer, not {lin!r}")
        if self.activation is not None and not isinstance(self.activation, IntThreshold):
            raise TypeError(f"activation must be an IntThreshold or None, not {self.activation!r}")
        for name, value, total, what in (("pe", self.pe, self.channels, "output channels"),
                                         ("simd", self.simd, self.fan_in, "inputs")):
            value = _positive_int(value, name)
            if total % value:
                raise ValueError(f"layer {lin.layer}: {name} = {value} does not divide the "
                                 f"{total} {what}; choose a divisor of {total}")
        if self.bases not in BASES:
            raise ValueError(f"bases must be one of {BASES}, not {self.bases!r}")
        if self.emit not in EMIT:
            raise ValueError(f"emit must be one of {EMIT}, not {self.emit!r}")
        if self.emit == "levels" and self.activation is None:
            raise ValueError(f"layer {lin.layer}: a scores layer emits Y, not levels")
        if self.multiply not in MULTIPLY:
            raise ValueError(f"multiply must be one of {MULTIPLY}, not {self.multiply!r}")
        if not isinstance(self.gather, (int, np.integer)) or isinstance(self.gather, bool) \
                or self.gather < 0 or (self.gather and self.fold_width % self.gather):
            raise ValueError(f"layer {lin.layer}: gather = {self.gather!r} must be 0 or a "
                             f"divisor of the {self.fold_width} bits of an element fold")
        if self.borders is not None and (
                not isinstance(self.borders, BorderCorrection) or
                self.borders.dots.shape[0::2] != (self.weight_bases, self.channels)):
            raise ValueError(f"layer {lin.layer}: borders must be the BorderCorrection of this "
                             f"layer's {self.weight_bases} weight bases and {self.channels} "
                             f"channels, not {self.borders!r}")
        if self.shortcut is not None:
            self._check_shortcut()
        if self.addend is not None and (
                self.activation is None or self.shortcut is not None or self.gather or
                not isinstance(self.addend, tuple) or len(self.addend) != 2 or
                not all(isinstance(v, int) for v in self.addend) or
                self.addend[0] > self.addend[1]):
            raise ValueError(f"layer {lin.layer}: addend must be the (lo, hi) range of the Y "
                             f"a threshold layer adds (taking its vector as one word, no "
                             f"shortcut tables), not {self.addend!r}")
        if self.weight_memory not in WEIGHT_MEMORY:
            raise ValueError(f"weight_memory must be one of {WEIGHT_MEMORY}, not "
                             f"{self.weight_memory!r}")
        if self.weight_code not in WEIGHT_CODES:
            raise ValueError(f"weight_code must be one of {WEIGHT_CODES}, not "
                             f"{self.weight_code!r}")
        if self.weight_code == "ternary" and not self.ternary_weights:
            raise ValueError(f"layer {lin.layer}: weight_code = 'ternary' needs two weight "
                             f"bases never both 1 at an element (a ternary weight); this "
                             f"layer has {self.weight_bases} base(s)"
                             + ("" if self.weight_bases != 2 else " set together"))
        if self.weight_code == "tables":
            self._check_tables()
        if not isinstance(self.pipeline, (int, np.integer)) or isinstance(self.pipeline, bool) \
                or self.pipeline < 0:
            raise TypeError(f"pipeline must be a non-negative integer, not {self.pipeline!r}")
        if self.pipeline > self.tree_levels:
            raise ValueError(f"layer {lin.layer}: pipeline = {self.pipeline} exceeds the "
                             f"{self.tree_levels} logic levels of the popcount tree over "
                             f"{self.simd} bits; choose at most "
                             f"{self.tree_levels} or a larger simd")
        if self.activation is not None and self.activation.thresholds.shape[0] != self.channels:
            raise ValueError(f"layer {lin.layer}: the activation has "
                             f"{self.activation.thresholds.shape[0]} channels, the layer "
                             f"{self.channels}")
        if self.activation is not None and not self.compares_counts:
            # Thresholds live in Y's ROM fields: one that does not fit would be truncated.
            lo, hi = -(1 << (self.score_width - 1)), (1 << (self.score_width - 1)) - 1
            for act in self.tables:
                t = act.thresholds
                bad = np.argwhere((act.direction != 0) & ((t < lo) | (t > hi)))
                if bad.size:
                    c, k = (int(v) for v in bad[0])
                    raise ValueError(f"layer {lin.layer}: threshold [{c}, {k}] = "
                                     f"{int(t[c, k])} does not fit the {self.score_width}-bit "
                                     f"pre-activation [{lo}, {hi}]; a comparator no Y can "
                                     f"reach should be a constant (direction 0)")

    def _check_tables(self):
        lin, folds = self.linear, self.neuron_folds * self.synapse_folds
        if self.pairs_per_fold > 1:
            raise ValueError(f"layer {lin.layer}: count tables (weight_code = 'tables') "
                             f"need parallel bases; this engine walks its "
                             f"{self.pairs_per_fold} base pairs in turn")
        if self.table_group < 2:
            raise ValueError(f"layer {lin.layer}: count tables (weight_code = 'tables') "
                             f"need at most {TABLE_WORDS // 4} weight words (NF*SF) to "
                             f"count 2 elements a table; this folding has {folds}; "
                             f"choose more lanes or a wider SIMD")

    def _check_shortcut(self):
        lin, tables = self.linear, self.shortcut
        if self.activation is None or not isinstance(tables, tuple) or not tables or \
                len(tables) & (len(tables) - 1) or len(tables) > 1 << MAX_SHORTCUT_BITS:
            raise ValueError(f"layer {lin.layer}: shortcut must be a tuple of 2**b "
                             f"IntThreshold (b <= {MAX_SHORTCUT_BITS} bits per channel) of a "
                             f"threshold layer, not {tables!r}")
        for table in tables:
            if not isinstance(table, IntThreshold) or \
                    table.thresholds.shape != self.activation.thresholds.shape or \
                    table.quantizer != self.activation.quantizer:
                raise ValueError(f"layer {lin.layer}: every shortcut table must be an "
                                 f"IntThreshold of the activation's shape and quantizer, "
                                 f"not {table!r}")
        if self.gather:
            raise ValueError(f"layer {lin.layer}: a residual engine takes its input vector "
                             f"as one word (gather = 0)")

    # -- shape and folding -------------------------------------------------------------
    @property
    def channels(self):
        return self.linear.weight_bits.shape[1]

    @property
    def fan_in(self):
        return self.linear.weight_bits.shape[2]

    @property
    def weight_bases(self):
        return self.linear.weight_bits.shape[0]

    @property
    def act_bases(self):
        return self.linear.coefficients.shape[2]

    @property
    def out_bases(self):
        """Bases per channel of the next layer (threshold layers)."""
        return len(base_coefficients(self.activation.quantizer))

    @property
    def out_bits(self):
        """Output bits per channel (threshold layers): :attr:`out_bases`, or :attr:`levels`
        with ``emit="levels"``."""
        return self.levels if self.emit == "levels" else self.out_bases

    @property
    def levels(self):
        """Comparators per channel (threshold layers)."""
        return self.activation.thresholds.shape[1]

    @property
    def neuron_folds(self):
        return self.channels // self.pe

    @property
    def synapse_folds(self):
        return self.fan_in // self.simd

    @property
    def pairs_per_fold(self):
        """Cycles per element fold: M*N with ``bases="serial"``, else 1."""
        return self.weight_bases * self.act_bases if self.bases == "serial" else 1

    @property
    def cycles_per_vector(self):
        """Initiation interval: ``NF * SF`` (``NF * SF * M * N`` with serial bases)."""
        return self.neuron_folds * self.synapse_folds * self.pairs_per_fold

    @property
    def stall_copies(self):
        """Copies of the registered stall (``cycles_per_vector > 1``) beside the engine's own,
        each the clock enable of the registers of a run of trees (their tree, accumulator
        and count; a lane's product stage registers spread over its trees' copies, its
        compare stages from its first tree's): one per :data:`STALL_BITS` of ``trees *
        simd`` plus the product stages' register bits (``pe * sum(product_partials) *
        score_width``, at most: digits-resnet-abc's last engine, 126 partial sums a lane
        from one copy, ran 10.7 ns of routing on the ECP5), at most one per tree; 0 when
        one would do (the engine's own stall then drives them)."""
        if self.cycles_per_vector == 1:
            return 0
        trees = self.popcount_trees
        load = trees * self.simd + self.pe * sum(self.product_partials) * self.score_width
        copies = min(trees, -(-load // STALL_BITS))
        return copies if copies > 1 else 0

    @property
    def compare_stage(self):
        """True when the engine registers Y after the combine (``Y = sum A P + C'``): a
        layer with both the combine and comparators, whose path through both would
        otherwise set the clock (``compares_counts`` layers have the comparators only);
        and a scores layer with :attr:`product_partials`, whose sum of the partial
        products and C' ran into the output register through 10 cells on the UP5K demo's
        scores layer."""
        if self.activation is None:
            return bool(self.product_stages)
        return not self.compares_counts

    @property
    def level_stage(self):
        """True when the engine registers its comparators' levels before the levels ->
        bases step and the staging register: every layer with a compare stage and
        comparators. Y's register -> a compare chain as wide as Y -> the base mapping's
        LUT4 -> the staging multiplexer set the ECP5 clock of three examples (mnist-cnn-pa
        6.87 ns, digits-mobilenet-pa 8.41, digits-bnn 6.72 of the 6.67 that 150 MHz
        allows); one flip-flop per level and lane."""
        return self.compare_stage and self.activation is not None

    @property
    def product_partials(self):
        """Registers per lane of each product stage, in order (empty without one): the
        partial sums of ``sum_ij A P`` that C' is added to, with parallel bases, when A is
        per channel (read from the channel record and multiplied in logic, or a DSP: its
        path from the record through the multiply and the add set the digits demo's
        clock on the UP5K) or a uniform A's products are more than two terms (shifted
        counts, one per canonical signed digit; one product each with
        ``multiply="dsp"``). A per-channel A's gated multiples (:attr:`product_terms`) are
        registered as they are first (:attr:`gate_stage`: the gate and a sum behind it ran
        10.8 ns on the ECP5 in digits-mobilenet-pa, 4.6 of them the count's route to
        the gates); then the terms (one DSP sum of products for a per-channel A with
        ``multiply="dsp"``) are added in groups of ``2**PRODUCT_LEVELS``
        (:data:`PRODUCT_LEVELS`), registered, and again until the last stage's partial
        sums, C' and an addend are at most ``2**PRODUCT_LEVELS`` terms, or one partial
        sum is left."""
        if self.compares_counts or (self.bases == "serial" and self.pairs_per_fold > 1):
            return ()
        if self.uniform_scale and self.constant_terms <= 2:
            return ()
        if not self.uniform_scale and self.multiply == "dsp":
            return (1,)
        fan, extra = 2 ** PRODUCT_LEVELS, 1 + (self.addend is not None)
        counts = [] if self.uniform_scale else [self.product_terms]
        if counts and counts[-1] + extra <= fan:
            return tuple(counts)
        counts.append(-(-self.product_terms // fan))
        while counts[-1] > 1 and counts[-1] + extra > fan:
            counts.append(-(-counts[-1] // fan))
        return tuple(counts)

    @property
    def gate_stage(self):
        """True when the first product stage registers a per-channel A's gated multiples
        as they are (:attr:`product_partials`)."""
        return bool(self.product_partials) and not self.uniform_scale \
            and self.multiply != "dsp"

    @property
    def product_stages(self):
        """Register stages of ``sum_ij A P``: one per :attr:`product_partials` entry."""
        return len(self.product_partials)

    @property
    def product_terms(self):
        """Terms of ``sum_ij A P`` per lane with parallel bases: :attr:`constant_terms`
        with a uniform A, else (A per channel in logic) the gated multiples of A, one per
        base pair and bit of P."""
        if self.uniform_scale:
            return self.constant_terms
        return self.weight_bases * self.act_bases * self.count_max.bit_length()

    @property
    def constant_terms(self):
        """Terms of ``sum_ij A P`` with a uniform A: a shifted count per canonical signed
        digit of each A_ij, or one product per pair with ``multiply="dsp"``."""
        scale, _ = self.affine()
        row = scale.reshape(self.channels, -1)[0]
        if self.multiply == "dsp":
            return len(row)
        return sum(len(csd_digits(int(a))) for a in row)

    @property
    def weight_constants(self):
        """True when the engine holds its weight words as constants instead of a ROM: at
        most :data:`CONSTANT_ROM` words (NF*SF) and ``weight_memory`` not ``"block"``
        (see the module docstring's ``weight_memory``)."""
        return self.neuron_folds * self.synapse_folds <= CONSTANT_ROM \
            and self.weight_memory != "block" and self.weight_code != "tables"

    def count_selection(self):
        """How a one-fold engine (NF*SF = 1, constant weights, parallel base pairs) counts
        P: None when it counts every element's XNOR/AND bit like any engine, else
        ``(sign, positions, offset)`` per lane p and weight base i (``[p][i]``), the
        constant weight row's selected form: ``S`` the popcount of the activation bits at
        ``positions`` and ``P = offset + sign * S`` (``zo`` weights: the 1 weights, sign 1,
        offset 0); with ``pm1`` weights ``P = offset + sign * 2S - sign * X``, X the
        popcount of all the activation bits of the pair (one tree per activation base,
        shared by every lane): from ``[t == v] = 2tv - v + 1 - t``, ``P = 2 pc(v & t) - X +
        n0`` (n0 the -1 weights), or with the -1 weights selected ``P = X - 2 pc(v & ~t) +
        n0``, whichever selects fewer. Chosen when it counts fewer bits in all than the
        XNOR form (``pe * M * simd``) and the trees are pipelined: a lane's tree then covers
        at most half the elements (issue 12: a popcount of the selected inputs needs no
        XNOR). ECP5, Yosys alone, a BNN layer of 16 x 256 at pipeline 4: 5 083 LUT4
        against 6 481 (4 x 256: 1 738 against 1 968); unpipelined, where Yosys merges the
        XNOR form's trees into one carry-save network, 1 664 against 1 559 (4 x 256)."""
        if not self.weight_constants or self.neuron_folds * self.synapse_folds != 1 \
                or (self.bases == "serial" and self.pairs_per_fold > 1) or not self.pipeline:
            return None
        words = self.weight_words()[0].reshape(self.pe, self.weight_bases, self.simd)
        pm1 = self.linear.weight_encoding == "pm1"
        rows, counted = [], 0
        for lane in words:
            rows.append([])
            for w in lane:
                ones, zeros = np.flatnonzero(w), np.flatnonzero(w == 0)
                if not pm1:
                    rows[-1].append((1, tuple(ones.tolist()), 0))
                elif len(ones) <= len(zeros):
                    rows[-1].append((1, tuple(ones.tolist()), len(zeros)))
                else:
                    rows[-1].append((-1, tuple(zeros.tolist()), len(zeros)))
                counted += len(rows[-1][-1][1])
        if pm1:
            counted += self.simd * self.act_bases           # the shared X trees
        if counted >= self.pe * self.weight_bases * self.simd:
            return None
        return rows

    @property
    def weight_stage(self):
        """1 when the engine registers the weight ROM's word before the popcount trees:
        when the ROM is deeper than :data:`DEEP_ROM` words (it spans block RAMs in depth
        and its read goes through a multiplexer of their outputs: CNV-w1a1's last
        convolution, 24 576 x 24 bits in 36 DP16KD, had its critical path there, 19.1 ns)
        or placed in block RAM (``weight_memory="block"``: a DP16KD's clock-to-output
        took 13.3 ns with the tree after it in the digits demo on the ECP5), or
        ternary-coded (``weight_code="ternary"``: the decoders' LUT level sits before the
        register, not in the path through the trees); with count tables
        (``weight_code="tables"``) always: the tables are read with the registered fold
        and activations, their counts one cycle later. Else 0."""
        return int(self.neuron_folds * self.synapse_folds > DEEP_ROM
                   or self.weight_memory == "block" or self.weight_code != "plain")

    @property
    def latency(self):
        """Cycles from the input handshake to the output ``valid``:
        ``cycles_per_vector + 3 + pipeline``, plus 1 with each of :attr:`weight_stage`,
        :attr:`compare_stage` and :attr:`level_stage`, plus :attr:`product_stages`."""
        return self.cycles_per_vector + 3 + self.pipeline + self.weight_stage \
            + self.product_stages + self.compare_stage + self.level_stage

    @property
    def auto_pipeline(self):
        """The register stages ``pipeline="auto"`` gives the popcount tree: one per two of
        its :attr:`tree_levels`, rounded up (no segment of three levels: the UP5K demo's
        engine 1 ran act -> 3 LUT4 + carry, 18.7 ns; digits-mobilenet-pa's 36-bit trees
        a block RAM read -> 3 levels, 7.8 ns on the ECP5) but for three-level trees of
        more than :data:`FEW_TREE_BITS` bits in all: a register inside a 9-bit tree keeps
        Yosys from merging its levels (LeNet-PA's first engine, 128 trees of 9 bits, grew
        by 1 200 LUT4 on the ECP5). With count tables, every adder level: the trees' first
        level is the tables' block RAM read, and registered adders of their counts are
        carry chains that take fewer LUT4 than merged levels (SFC-w1a1's first engine at
        64 cycles per image, 16 trees of 66 counts: 5 407 LUT4 against 5 843 with four
        stages, Yosys alone on the ECP5). One more where the trees' first level is
        registered (:attr:`front_register`: a gathering engine, a weight word read from
        block RAM, trees that share their inputs)."""
        levels = self.tree_levels
        if self.weight_code == "tables":
            return max(0, levels - 1)
        if levels >= 5 or (levels == 3 and self.popcount_trees * self.simd <= FEW_TREE_BITS):
            stages = (levels + 1) // 2
        else:
            stages = levels // 2
        return min(levels, stages + 1) if self.front_register and stages else stages

    @property
    def front_register(self):
        """Whether the popcount trees' first register follows their first level
        (:func:`~popcorn.hdl.popcount.tree_plan`'s ``front``): a gathering engine's, whose
        activation bits are its input buffer's read, a block RAM's clock-to-output and a
        route away (two levels after it: 16.8 ns on the UP5K demo's first engine, 6.9 ns on
        mnist-cnn-abc's scores engine on the ECP5); an engine whose weight word is one
        block RAM row's read (``weight_memory="block"``, plain, at most :data:`DEEP_ROM`
        words: on the ECP5 the weight stage's register is the DP16KD's own output register,
        :mod:`popcorn.boards.ecp5_outreg`, and the trees reach into the block RAM rows:
        digits-resnet-abc's b5.conv_b alone on the ECP5, DP16KD -> 2.05 ns of routing -> 4
        LUT4, 147.5 MHz; 164.7 with the register, one stage more); and an engine of more
        than one base pair counted in parallel (:attr:`shares_tree_inputs`). With count
        tables the read addresses the tables."""
        if self.weight_code == "tables":
            return False
        return bool(self.gather) or self.word_from_block_row or self.shares_tree_inputs

    @property
    def shares_tree_inputs(self):
        """Whether the popcount trees share their inputs both ways: parallel bases and
        ``M * N > 1``, so each weight bit feeds N trees and each activation bit M x PE,
        and the input registers sit far from most of the trees they feed; trees of more
        than three levels only (a register inside a smaller one keeps Yosys from merging
        its levels, :attr:`auto_pipeline`). With their first level registered
        (:attr:`front_register`) the routes end one level after the registers:
        digits-resnet-abc's b4.conv_b (2 x 72, 3 x 3, weights in LUT ROM) alone
        on the ECP5 ran its weight register -> 5.22 ns of routing -> 3 LUT4, 149.6 MHz;
        with the register 176.1 MHz and 373 LUT4 fewer (b4.conv_a: 158.3 -> 180.0, 378
        fewer: Yosys no longer merges the XNOR level into the next)."""
        return self.weight_bases * self.act_bases > 1 and self.pairs_per_fold == 1 \
            and self.tree_levels > 3

    @property
    def word_from_block_row(self):
        """Whether the weight word is one block RAM row's read, registered straight from the
        block (``weight_memory="block"``, plain, at most :data:`DEEP_ROM` words): on the
        ECP5 that register is the DP16KD's own output register
        (:mod:`popcorn.boards.ecp5_outreg`)."""
        return self.weight_memory == "block" and self.weight_code == "plain" \
            and self.neuron_folds * self.synapse_folds <= DEEP_ROM

    @property
    def tree_width(self):
        """Bits of one popcount tree: ``simd`` (one bit per element)."""
        return self.simd

    @property
    def tree_group(self):
        """Bits per group of the popcount trees' first level: :attr:`table_group` with count
        tables (the level is the tables' read), else :data:`COMPRESSOR_GROUP`."""
        return self.table_group if self.weight_code == "tables" else COMPRESSOR_GROUP

    @property
    def tree_levels(self):
        """Logic levels of one popcount tree in :attr:`tree_group` groups (the most
        ``pipeline``)."""
        return tree_levels(self.tree_width, self.tree_group)

    @property
    def popcount_trees(self):
        """Popcount trees of the engine: ``pe * M * N`` (parallel) or ``pe`` (serial)."""
        return self.pe * self.weight_bases * self.act_bases // self.pairs_per_fold

    @property
    def needs_dsp(self):
        """True when the board build must let Yosys map multiplies to DSP blocks (iCE40:
        ``synth_opts="-dsp"``): ``multiply="dsp"`` and the engine multiplies at all."""
        return self.multiply == "dsp" and not self.compares_counts

    @property
    def in_width(self):
        """Bits of the input vector: K elements of N bases."""
        return self.fan_in * self.act_bases

    @property
    def fold_width(self):
        """Input bits of one element fold: ``simd * N``."""
        return self.simd * self.act_bases

    @property
    def word_width(self):
        """Bits of one input transfer: :attr:`gather`, or the whole vector."""
        return self.gather or self.in_width

    @property
    def words_per_vector(self):
        """Input transfers per vector (1 unless :attr:`gather`)."""
        return self.in_width // self.word_width

    @property
    def out_width(self):
        if self.activation is None:
            return self.channels * self.score_width
        return self.channels * self.out_bits

    # -- arithmetic ----------------------------------------------------------------------
    @property
    def count_max(self):
        """Largest P of one base pair: K."""
        return self.fan_in

    def affine(self):
        """(A ``object`` (C, M, N), C' ``object`` (C,)) with ``Y = sum_ij A P_ij + C'`` for
        the engines' counts P_ij: ``A = a*Phi``, ``C'[c] = B[c] - sum_ij Phi[c,i,j]
        z_i[c]`` (the module docstring's table)."""
        lin = self.linear
        phi = lin.coefficients.astype(object)                           # (C, M, N)
        ones = lin.weight_bits.astype(np.int64).sum(axis=2).T.astype(object)      # (C, M)
        k, pair = self.fan_in, (lin.weight_encoding, lin.act_encoding)
        z = {("pm1", "pm1"): k, ("pm1", "zo"): k - ones, ("zo", "pm1"): ones,
             ("zo", "zo"): 0}[pair]
        return _SCALE[pair] * phi, lin.bias.astype(object) - (phi.sum(axis=2) * z).sum(axis=1)

    @property
    def classes(self):
        """Border classes (:attr:`borders`): channel records per channel fold."""
        return 1 if self.borders is None else self.borders.classes

    def class_offsets(self):
        """C' of each border class, ``object`` (classes, C): :meth:`affine`'s offset plus
        the class's correction (one row without ``borders``)."""
        _, offset = self.affine()
        if self.borders is None:
            return offset[None]
        return offset[None] + self.borders.correction(self.linear.coefficients.astype(object))

    @property
    def tables(self):
        """The comparator tables: :attr:`shortcut`, or the activation alone."""
        return (self.activation,) if self.shortcut is None else self.shortcut

    @property
    def shortcut_bits(self):
        """Shortcut bits per channel (0 without :attr:`shortcut`)."""
        return len(self.tables).bit_length() - 1

    @property
    def addend_width(self):
        """Signed bits per channel of the :attr:`addend` (0 without one)."""
        return 0 if self.addend is None else signed_width(*self.addend)

    @property
    def side_bits(self):
        """Bits per channel of the word port ``r`` takes with each vector: the shortcut's
        pattern, the addend, or 0 (no port)."""
        return self.shortcut_bits or self.addend_width

    @property
    def uniform_scale(self):
        """True when A is the same for every channel (then a constant of the hardware)."""
        scale, _ = self.affine()
        return bool((scale == scale[:1]).all())

    def y_range(self):
        """(lo, hi) over channels of Y and of every partial sum of ``sum A*P + C'``."""
        scale, _ = self.affine()
        offsets = self.class_offsets()                               # (classes, C)
        terms = scale.reshape(self.channels, -1) * self.count_max   # Python ints
        low = np.where(terms < 0, terms, 0).sum(axis=1)
        high = np.where(terms > 0, terms, 0).sum(axis=1)
        lo = int(min(0, *low.tolist(), *(offsets.min(axis=0) + low).tolist()))
        hi = int(max(0, *high.tolist(), *(offsets.max(axis=0) + high).tolist()))
        if self.addend is not None:                  # Y + the addend's Y
            lo, hi = min(lo, lo + self.addend[0]), max(hi, hi + self.addend[1])
        return lo, hi

    @property
    def score_width(self):
        """Signed bits of Y: every partial sum fits, so nothing can overflow."""
        return signed_width(*self.y_range())

    @property
    def scale_width(self):
        scale, _ = self.affine()
        return signed_width(min(0, int(scale.min())), max(0, int(scale.max())))

    # -- ROM images ---------------------------------------------------------------------
    def weight_rom(self):
        """The weight ROM's NF*SF words (Python ints): :meth:`weight_rom_bits` packed."""
        return pack_words(self.weight_rom_bits())

    def weight_words(self):
        """The weight word the popcount trees read at each fold, ``uint8`` bits (NF*SF,
        pe*M*simd): word ``nf*SF + sf`` holds, for lane p and weight base i, the ``simd``
        bits of channel ``nf*pe + p`` at elements ``sf*simd ..``, at bits
        ``(p*M + i)*simd``."""
        w = self.linear.weight_bits  # (M, C, K)
        m, nf, sf = self.weight_bases, self.neuron_folds, self.synapse_folds
        w = w.reshape(m, nf, self.pe, sf, self.simd).transpose(1, 3, 2, 0, 4)
        return w.reshape(nf * sf, self.pe * m * self.simd)

    def weight_rom_bits(self):
        """The weight ROM's image as bits, ``uint8`` (NF*SF, :attr:`weight_rom_width`),
        bit b of word n at ``[n, b]``: :meth:`weight_words`, or with
        ``weight_code="ternary"`` their :func:`ternary_codes`."""
        words = self.weight_words()
        if self.weight_code == "ternary":
            return ternary_codes(words.reshape(len(words), self.pe, 2, self.simd)).reshape(
                len(words), self.weight_rom_width)
        return words

    @property
    def weight_rom_width(self):
        """Bits of a weight ROM word (:func:`weight_rom_width`)."""
        return weight_rom_width(self.pe, self.simd, self.weight_bases, self.weight_code)

    @property
    def table_group(self):
        """Elements a count table covers (``weight_code="tables"``): the most, up to
        :data:`MAX_TABLE_GROUP` and ``simd``, whose patterns times the NF*SF folds fit
        :data:`TABLE_WORDS` words."""
        return table_group(self.neuron_folds * self.synapse_folds, self.simd)

    @property
    def table_memory(self):
        """Where the count tables go: ``"logic"`` with ``weight_memory="logic"``, else
        ``"block"`` (Yosys would keep a table of a few lanes in logic, some 60 LUT4 a
        column of 512 words, more than the trees it saves)."""
        return "logic" if self.weight_memory == "logic" else "block"

    def count_tables(self):
        """The count tables (``weight_code="tables"``), one per group of
        :attr:`table_group` elements of a fold (the last may be smaller), each ``uint8``
        bits (NF*SF * 2**k, pe*M*b) for a group of k elements: word ``fold * 2**k + v``
        (v: the group's activation bits of one base, element e at bit e) holds, for lane p
        and weight base i, the count of the group's XNOR/AND bits (as the trees count
        them: LinearFolding's table) at bits ``[(p*M + i)*b, +b)``, ``b = k.bit_length()``.
        The same table serves every activation base (a read port each)."""
        words = self.weight_words()                    # (NF*SF, pe*M*simd)
        folds, lanes = len(words), self.pe * self.weight_bases
        w = words.reshape(folds, lanes, self.simd).astype(np.int64)
        pm1 = self.linear.weight_encoding == "pm1"
        tables = []
        for elements in table_elements(folds, self.simd):
            start, k = elements.start, len(elements)
            v = (np.arange(1 << k)[:, None] >> np.arange(k)) & 1               # (2**k, k)
            g = w[:, None, :, start:start + k]                       # (folds, 1, lanes, k)
            act = v[None, :, None, :]
            counts = ((g == act) if pm1 else (g & act)).sum(axis=-1)  # (folds, 2**k, lanes)
            bits = (counts[..., None] >> np.arange(k.bit_length())) & 1
            tables.append(bits.reshape(folds << k, -1).astype(np.uint8))
        return tables

    @property
    def ternary_groups(self):
        """Codes in a weight ROM word with ``weight_code="ternary"`` (``pe*ceil(simd/3)``,
        one decoder each), else 0."""
        return self.weight_rom_width // TERNARY_BITS if self.weight_code == "ternary" else 0

    @property
    def ternary_weights(self):
        """True when the layer has two weight bases never both 1 at an element: what
        ``weight_code="ternary"`` needs."""
        w = self.linear.weight_bits
        return w.shape[0] == 2 and not (w[0] & w[1]).any()

    @property
    def compares_counts(self):
        """True for a threshold layer with one base pair (BNN, XNOR-Net): its comparators
        are moved onto the popcount P itself (:meth:`count_thresholds`), so the engine
        needs neither Y nor its adders, as FINN's MVTU."""
        return self.activation is not None and self.weight_bases * self.act_bases == 1 \
            and self.addend is None

    def count_thresholds(self, affine=None, count_max=None, activation=None):
        """(thresholds T', modes) ``object`` (C, L) on P, the stored encoding
        (:func:`~popcorn.golden.comparators.encode_comparators`) of comparators equivalent
        to the activation's on Y: with ``Y = A*P + C'``, ``[Y >= T]`` is
        ``[P >= ceil((T - C')/A)]`` for A > 0 and ``[P <= floor((T - C')/A)]`` for A < 0
        (and ``<=`` alike), the latter stored as ``T' = floor(..) + 1`` with MODE_LT; a
        comparator no P in 0 .. count_max can flip becomes a constant. So every T' lies in
        1 .. count_max: an unsigned field as wide as P. ``affine``: (A, C') of another count
        of the same layer (default :meth:`affine`'s), ``count_max`` its largest value
        (default :attr:`count_max`), ``activation`` one of :attr:`tables` (default the
        activation)."""
        scale, offset = self.affine() if affine is None else affine
        act = self.activation if activation is None else activation
        bounds = np.zeros(act.thresholds.shape, dtype=np.int64)
        directions = np.zeros(act.thresholds.shape, dtype=np.int64)
        constant = np.zeros(act.thresholds.shape, dtype=np.int64)
        for c in range(self.channels):
            a, off = int(scale[c, 0, 0]), int(offset[c])
            for k in range(self.levels):
                d, t = int(act.direction[c, k]), int(act.thresholds[c, k])
                if d == 0 or a == 0:
                    constant[c, k] = int(act.constant[c, k]) if d == 0 else \
                        int(off >= t if d > 0 else off <= t)
                    continue
                ge = (d > 0) == (a > 0)        # dividing by a < 0 flips the comparison
                directions[c, k] = 1 if ge else -1
                bounds[c, k] = -((off - t) // a) if ge else (t - off) // a   # ceil / floor
        stored, modes = encode_comparators(bounds, directions, constant,
                                           field=(0, count_max or self.count_max))
        return stored.astype(object), modes.astype(object)

    def channel_fields(self, cls=0):
        """Per channel, the ROM fields (name, width, values (C, n)) the engine reads once per
        channel fold, of border class ``cls`` (its C', :meth:`class_offsets`). A
        ``threshold`` field holds the stored T' of
        :func:`~popcorn.golden.comparators.encode_comparators` (T + 1 for ``[Y <= T]``),
        which never leaves the range of the value compared, so it is as wide as that value:
        ``count_max.bit_length()`` unsigned bits on counts, ``score_width`` signed on Y.
        With :attr:`shortcut`, the thresholds and modes of every table, level k of table s
        at index ``s * levels + k``."""
        scale, _ = self.affine()
        offset = self.class_offsets()[cls]
        if self.compares_counts:
            stored = [self.count_thresholds(affine=(scale, offset), activation=act)
                      for act in self.tables]
            return [("threshold", self.count_max.bit_length(),
                     np.concatenate([t for t, _ in stored], axis=1)),
                    ("mode", 2, np.concatenate([mode for _, mode in stored], axis=1))]
        fields = [("offset", self.score_width, np.array(offset.tolist(), dtype=object)[:, None])]
        if not self.uniform_scale:
            fields.append(("scale", self.scale_width,
                           np.array(scale.reshape(self.channels, -1).tolist(), dtype=object)))
        if self.activation is not None:
            w = self.score_width
            # Y and T' both in the score_width field: [Y <= T] with T = the field's top
            # (T' would overflow) is stored as the constant 1 it is for every such Y.
            stored = [encode_comparators(act.thresholds, act.direction, act.constant,
                                         field=(-(1 << (w - 1)), (1 << (w - 1)) - 1))
                      for act in self.tables]
            fields.append(("threshold", w,
                           np.concatenate([t for t, _ in stored], axis=1).astype(object)))
            fields.append(("mode", 2,
                           np.concatenate([mode for _, mode in stored], axis=1).astype(object)))
        return fields

    def channel_rom(self):
        """(words, layout, record width): depth ``classes * NF``, word ``cls * NF + nf``
        holds the ``pe`` channel records of fold nf and border class cls, each the
        concatenation of :meth:`channel_fields` (two's complement), lane p at
        ``p * record_width``."""
        layout, pos = [], 0
        for name, width, values in self.channel_fields():
            layout.append((name, pos, width, values.shape[1]))
            pos += width * values.shape[1]
        record = pos
        words = []
        for cls in range(self.classes):
            fields = self.channel_fields(cls)
            for nf in range(self.neuron_folds):
                word = 0
                for p in range(self.pe):
                    c = nf * self.pe + p
                    for (name, start, width, count), (_, _, values) in zip(layout, fields):
                        for n in range(count):
                            value = int(values[c, n])
                            if not -(1 << (width - 1)) <= value < (1 << width):
                                raise ValueError(f"layer {self.linear.layer}: {name} [{c}, "
                                                 f"{n}] = {value} does not fit its "
                                                 f"{width}-bit field")
                            word |= (value & ((1 << width) - 1)) << (p * record + start +
                                                                     n * width)
                words.append(word)
        return words, layout, record

    # -- golden model ---------------------------------------------------------------------
    def reference(self, bases, classes=None, shortcut=None, addend=None):
        """What the engine outputs for input bases ``uint8`` (B, K, N): Y ``int64`` (B, C)
        for the scores layer, else the next layer's bases ``uint8`` (B, C, N') (with
        ``emit="levels"`` the comparator levels (B, C, L)). With :attr:`borders`,
        ``classes`` gives each vector's border class (B,); with :attr:`shortcut`,
        ``shortcut`` each vector's shortcut bits ``uint8`` (B, C, b); with :attr:`addend`,
        ``addend`` the Y added, ``int64`` (B, C)."""
        bases = check_bits(bases, "bases")
        if (classes is None) != (self.borders is None):
            raise ValueError("classes must be given exactly when the folding has borders")
        if (shortcut is None) != (self.shortcut is None):
            raise ValueError("shortcut must be given exactly when the folding has one")
        if (addend is None) != (self.addend is None):
            raise ValueError("addend must be given exactly when the folding has one")
        lin = self.linear
        dots = np.stack([np.stack([
            binary_dot(lin.weight_bits[i], bases[..., j], lin.weight_encoding,
                       lin.act_encoding) for j in range(self.act_bases)])
            for i in range(self.weight_bases)])                 # (M, N, B, C)
        y = np.einsum("ijbc,cij->bc", dots, lin.coefficients) + lin.bias
        if self.borders is not None:
            y = y + self.borders.correction(lin.coefficients)[np.asarray(classes)]
        if addend is not None:
            y = y + np.asarray(addend, dtype=np.int64)
        if self.activation is None:
            return y
        if self.shortcut is None:
            levels = apply_thresholds(self.activation, y)     # (B, C, L)
        else:
            bits = check_bits(shortcut, "shortcut")
            pattern = (bits.astype(np.int64) << np.arange(self.shortcut_bits)).sum(axis=-1)
            every = np.stack([apply_thresholds(act, y) for act in self.shortcut])
            levels = np.take_along_axis(every, pattern[None, ..., None], axis=0)[0]
        if self.emit == "levels":
            return levels
        return thermometer_to_bases(levels, self.activation.quantizer)

    def level_to_base_map(self):
        """How comparator levels become output bases: :func:`level_to_base_map` of the
        activation's quantizer."""
        return level_to_base_map(self.activation.quantizer)

    def pack_inputs(self, bases):
        """Stream words of input bases (B, K, N), element-major."""
        return pack_words(check_bits(bases, "bases"), axes=2)

    def pack_outputs(self, out):
        """Stream words of :meth:`reference` outputs."""
        if self.activation is not None:
            return pack_words(out, axes=2)
        return pack_scores(out, self.score_width)


def weight_rom_width(pe, simd, weight_bases, weight_code="plain"):
    """Bits of a weight ROM word of ``pe`` lanes of ``simd`` elements: ``pe*M*simd``, or
    ``pe*ceil(simd/3)*5`` with ``weight_code="ternary"`` (:func:`ternary_codes`)."""
    if weight_code == "ternary":
        return pe * -(-simd // TERNARY_GROUP) * TERNARY_BITS
    return pe * weight_bases * simd


def table_group(folds, simd):
    """Elements per count table of an engine of ``folds`` weight words (NF*SF) and
    ``simd`` elements (:attr:`LinearFolding.table_group`); below 2 it cannot have tables."""
    return min(MAX_TABLE_GROUP, simd, (TABLE_WORDS // folds).bit_length() - 1)


def takes_tables(folds, simd, pairs_per_fold=1):
    """Whether an engine of ``folds`` weight words (NF*SF) and ``simd`` elements counts from
    tables when asked to (``map_network(counts="tables")``): base pairs in parallel, more
    words than :data:`CONSTANT_ROM` (fewer are constants of the logic) and tables of 2
    elements or more."""
    return pairs_per_fold == 1 and CONSTANT_ROM < folds and table_group(folds, simd) >= 2


def table_elements(folds, simd):
    """The elements of a fold each count table covers (ranges of element indices): groups
    of :func:`table_group` elements, the last the rest."""
    k = table_group(folds, simd)
    return [range(start, min(simd, start + k)) for start in range(0, simd, k)]


def table_shapes(pe, simd, folds, weight_bases):
    """``(width, depth)`` of each count table of an engine of ``pe`` lanes, ``simd``
    elements, ``folds`` weight words (NF*SF) and M weight bases
    (:meth:`LinearFolding.count_tables`)."""
    return [(pe * weight_bases * len(g).bit_length(), folds << len(g))
            for g in table_elements(folds, simd)]


def ternary_codes(pairs):
    """Base-3 codes of weight pairs: ``pairs`` ``uint8`` (..., 2, K) holds the two bases of
    K elements (never both 1); returns ``uint8`` bits (..., ceil(K/3)*5): the elements in
    groups of :data:`TERNARY_GROUP` (the last padded with zero weights), each group's
    ``t0 + 3*t1 + 9*t2`` (``t = base0 + 2*base1``, element 3g+k as t_k) in
    :data:`TERNARY_BITS` bits, least significant first, group g at bits ``5g``."""
    k = pairs.shape[-1]
    groups = -(-k // TERNARY_GROUP)
    trits = pairs[..., 0, :].astype(np.int64) + 2 * pairs[..., 1, :]
    padded = np.zeros(trits.shape[:-1] + (groups * TERNARY_GROUP,), dtype=np.int64)
    padded[..., :k] = trits
    codes = (padded.reshape(*trits.shape[:-1], groups, TERNARY_GROUP)
             * 3 ** np.arange(TERNARY_GROUP)).sum(axis=-1)
    bits = (codes[..., None] >> np.arange(TERNARY_BITS)) & 1
    return bits.reshape(*trits.shape[:-1], groups * TERNARY_BITS).astype(np.uint8)


def ternary_table():
    """The decoder of :func:`ternary_codes`: for each 5-bit code, the group's pairs as
    6 bits, base 0 of elements 0..2 at bits 0..2 and base 1 at bits 3..5 (codes 27..31,
    never stored, decode to zero weights)."""
    table = []
    for code in range(1 << TERNARY_BITS):
        trits = [code // 3 ** k % 3 for k in range(TERNARY_GROUP)] if code < 27 else [0] * 3
        table.append(sum((t == 1) << k | (t == 2) << (TERNARY_GROUP + k)
                         for k, t in enumerate(trits)))
    return table
