"""Resource estimates of the popcount and PE blocks, before any synthesis.

Each estimate walks the same tree shape the hardware builds (:func:`~popcorn.hdl.popcount.
tree_plan`) and charges every node a cost per target family:

* a compressor group of ``g > 1`` bits: one LUT4 per bit of its count
  (``g.bit_length()``), with the PE's XNOR/AND folded in (``g`` tree bits have at most 4
  distinct inputs);
* an adder whose sum is ``w`` bits wide: ``w`` LUT4 (a sum bit each, the top one being the
  carry out) when registered on both sides (Yosys maps it to a carry chain); an adder that
  sits in a purely combinational region is cheaper, because ABC merges neighbouring levels:
  ``COMB_ADDER_FACTOR * w``;
* a flip-flop per registered node bit, one per valid bit.

ECP5 counts LUT4 the same way (a ``CCU2C`` is two LUT4 for two sum bits), so the same walk
serves both families with different factors. The factors are fitted to the sweep in
``reports/blocks/`` (see ``benchmarks/sweep_blocks.py``), which reports the error.
"""

from math import ceil

from .pe import pe_output_width
from .popcount import tree_plan

# Fitted factors, per family (see the module docstring).
FACTORS = {
    "ice40": {"comb_adder": 0.80, "reg_adder": 1.0, "compressor": 1.0, "control": 4},
    "ecp5": {"comb_adder": 0.80, "reg_adder": 1.0, "compressor": 1.0, "control": 4},
}


def _tree_cost(width, group, pipeline, family):
    """(lut4, ff) of a popcount tree, walking its nodes level by level."""
    plan = tree_plan(width, group, pipeline, max_width=1 << 16)
    f = FACTORS[family]
    lut = ff = 0.0
    nodes = []
    for n in range(0, width, group):
        g = min(group, width - n)
        nodes.append(g)
        if g > 1:
            lut += f["compressor"] * g.bit_length()
    # A level is "registered-bounded" if a register precedes it (or it is the input).
    registered_before = True
    if 1 in plan.registered:
        ff += sum(max(v.bit_length(), 1) for v in nodes)
        registered_before = True
    else:
        registered_before = False
    level = 1
    while len(nodes) > 1:
        level += 1
        reg_after = level in plan.registered
        factor = f["reg_adder"] if (registered_before and reg_after) else f["comb_adder"]
        paired = []
        for n in range(0, len(nodes) - 1, 2):
            total = nodes[n] + nodes[n + 1]
            lut += factor * total.bit_length()
            paired.append(total)
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
        if reg_after:
            ff += sum(v.bit_length() for v in nodes)
        registered_before = reg_after
    ff += pipeline  # valid bits
    return lut, ff, plan


def estimate_popcount(*, width, pipeline=0, group=3, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of :class:`~popcorn.hdl.popcount.Popcount`.

    EBR and DSP are always 0: the tree is logic only.
    """
    lut, ff, _ = _tree_cost(width, group, pipeline, family)
    lut += pipeline  # stage enables
    return {"lut4": round(lut), "ff": round(ff), "ebr": 0, "dsp": 0}


def estimate_pe(*, simd, folds=1, weight_encoding="pm1", act_encoding="pm1", pipeline=0,
                group=None, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of :class:`~popcorn.hdl.pe.BinaryPE`.

    The tree over ``simd`` (same-kind encodings) or ``2*simd`` (mixed) bits, plus the
    accumulator (``acc_width`` LUT4 + FF), the affine output step and output register
    (``out_width`` LUT4 + FF, none for zo x zo's plain copy), the fold counter and control.
    """
    mixed = weight_encoding != act_encoding
    if group is None:
        group = 4 if mixed else 3
    bits = simd * (2 if mixed else 1)
    lut, ff, plan = _tree_cost(bits, group, pipeline, family)
    if group == 1 and not mixed:
        lut += simd * (0 if pipeline and 1 in plan.registered else 0)
    k = simd * folds
    acc_w = (k * (2 if mixed else 1)).bit_length()
    out_w = pe_output_width(k)
    fold_w = (folds - 1).bit_length()
    f = FACTORS[family]
    lut += acc_w * (1 if folds > 1 else 0.5)          # adder (or load) into the accumulator
    lut += 0 if (weight_encoding == act_encoding == "zo") else out_w   # affine step
    lut += 2 * fold_w + f["control"] + pipeline
    ff += acc_w + out_w + fold_w + 3 + pipeline       # acc, output, counter, flags, tags
    return {"lut4": round(lut), "ff": round(ff), "ebr": 0, "dsp": 0}


def lut4_per_bit(estimate, simd):
    """LUT4 per input element of a PE estimate (the ``<= 3`` budget of the speed target)."""
    return estimate["lut4"] / simd


__all__ = ["estimate_popcount", "estimate_pe", "lut4_per_bit", "FACTORS", "ceil"]
