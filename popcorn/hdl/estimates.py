"""Resource estimates of the popcount and PE blocks, before any synthesis.

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

from math import ceil

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


def tree_features(width, group, pipeline, *, raw_per_bit=1.0):
    """Structural counts of a popcount tree: ``compressor``, ``reg_adder``,
    ``comb_adder`` (LUT4 units before the family factors) and ``ff`` (exact).

    ``raw_per_bit`` is how many distinct raw inputs one tree bit depends on (1 for a plain
    popcount, 2 for the PE's XNOR/AND of a weight and an activation bit, 1 for the mixed
    PE whose two tree bits per element share the element's two inputs).
    """
    plan = tree_plan(width, group, pipeline, max_width=1 << 16)
    feats = {"compressor": 0.0, "reg_adder": 0.0, "comb_adder": 0.0, "ff": 0}
    nodes = []
    for n in range(0, width, group):
        g = min(group, width - n)
        nodes.append(g)
        if g > 1 or raw_per_bit > 1:
            raw = ceil(g * raw_per_bit)
            feats["compressor"] += g.bit_length() * _lut4_tree(raw)
    registered_before = 1 in plan.registered
    if registered_before:
        feats["ff"] += sum(v.bit_length() for v in nodes)
    level = 1
    while len(nodes) > 1:
        level += 1
        reg_after = level in plan.registered
        kind = "reg_adder" if (registered_before and reg_after) else "comb_adder"
        paired = []
        for n in range(0, len(nodes) - 1, 2):
            total = nodes[n] + nodes[n + 1]
            feats[kind] += total.bit_length() - 1
            paired.append(total)
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
        if reg_after:
            feats["ff"] += sum(v.bit_length() for v in nodes)
        registered_before = reg_after
    feats["ff"] += pipeline  # valid bits
    return feats


def _lut(feats, family, extra=0.0):
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(map(repr, FAMILIES))}, "
                         f"not {family!r}")
    f = FACTORS[family]
    return round(f["compressor"] * feats["compressor"] + f["reg_adder"] * feats["reg_adder"]
                 + f["comb_adder"] * feats["comb_adder"] + f["fixed"] + extra)


def estimate_popcount(*, width, pipeline=0, group=3, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of :class:`~popcorn.hdl.popcount.Popcount`
    (LUT4 of the logic; FF exact: the registered tree nodes and one valid bit per stage)."""
    feats = tree_features(width, group, pipeline)
    return {"lut4": _lut(feats, family), "ff": feats["ff"], "ebr": 0, "dsp": 0}


def pe_features(*, simd, folds=1, weight_encoding="pm1", act_encoding="pm1", pipeline=0,
                group=None):
    """Structural counts of a :class:`~popcorn.hdl.pe.BinaryPE` (see :func:`tree_features`),
    plus ``extra`` LUT4 (accumulator, affine output step, fold counter) and its FFs."""
    mixed = weight_encoding != act_encoding
    if group is None:
        group = 4 if mixed else 3
    feats = tree_features(simd * (2 if mixed else 1), group, pipeline,
                          raw_per_bit=1.0 if mixed else 2.0)
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
                group=None, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of :class:`~popcorn.hdl.pe.BinaryPE`."""
    feats = pe_features(simd=simd, folds=folds, weight_encoding=weight_encoding,
                        act_encoding=act_encoding, pipeline=pipeline, group=group)
    return {"lut4": _lut(feats, family, feats["extra"]), "ff": feats["ff"], "ebr": 0, "dsp": 0}
