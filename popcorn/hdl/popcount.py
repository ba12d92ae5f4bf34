"""Popcount: a combinational adder tree and a pipelined, streaming popcount component.

The pipelined tree has two kinds of level:

1. a *compressor* level: the input bits are cut into groups of ``group`` bits and each
   group is counted with plain Boolean logic (half/full adders, no ``+``), so that on a
   LUT4 FPGA every bit of a group's count is one LUT whose inputs are the group's bits;
2. *adder* levels: a balanced binary tree of carry-chain adders (``SB_CARRY`` on iCE40,
   ``CCU2C`` on ECP5), each sum only as wide as its largest possible value; optionally
   (``tree_plan(..., carry_in=True)``) each adder also takes one input bit as carry-in.

Measured (``reports/blocks/sweep.md``): Yosys turns a purely combinational region of
adders into one carry-save tree, while registered levels become carry chains; on iCE40
the fully pipelined 256-bit tree takes 423 LUT4 against 536 combinational (3-bit groups),
and 3-bit groups beat 1, 2 and 4 on both families.

:func:`tree_plan` fixes the shape (level count, where the registers go) and
:func:`build_tree` emits the logic; :class:`Popcount` wraps them with stream ports, and
:class:`~popcorn.hdl.pe.BinaryPE` reuses them with its XNOR/AND logic folded into the
compressor level.
"""

from dataclasses import dataclass
from math import ceil

from amaranth.hdl import Cat, Const, Module, Signal, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..hwmath import tree_levels

MAX_WIDTH = 4096
"""The widest :class:`Popcount` (bits) that parameter checks accept."""


def popcount_tree(bits):
    """Number of ones of ``bits`` (a ``Value``), as a balanced tree of adders.

    Width of the result: ``len(bits).bit_length()`` (Amaranth widens each addition by one
    bit, so nothing can overflow). Purely combinational: zero cycles of latency.
    """
    bits = Value.cast(bits)
    if len(bits) == 0:
        return Const(0, 1)
    level = [bits[i] for i in range(len(bits))]
    while len(level) > 1:
        pairs = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def _check_int(value, name, *, minimum, maximum=None):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        kind = {0: "non-negative integer", 1: "positive integer"}.get(
            minimum, f"integer of at least {minimum}")
        raise TypeError(f"{name} must be a {kind}, not {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, not {value!r}")
    return value


@dataclass(frozen=True)
class TreePlan:
    """Shape of a pipelined popcount tree over ``width`` bits.

    Attributes
    ----------
    width : int
        Number of input bits.
    group : int
        Bits per compressor group (level 1).
    pipeline : int
        Number of register stages; also the latency in cycles.
    levels : int
        Logic levels: 1 compressor level plus ``ceil(log2(leaves))`` adder levels.
    registered : tuple of int
        The levels (1-based) followed by a register: ``ceil(j * levels / pipeline)`` for
        ``j = 1 .. pipeline``, or with ``front`` level 1 and then the same over the other
        levels; the last one is ``levels``, so the output is registered whenever
        ``pipeline > 0``.
    carry_in : bool
        Whether each adder also adds one input bit (its carry-in), see :func:`tree_plan`.
    """
    width: int
    group: int
    pipeline: int
    levels: int
    registered: tuple
    carry_in: bool = False

    @property
    def leaves(self):
        """Compressor groups: ``ceil(width / group)``, with carry-in
        ``ceil((width + 1) / (group + 1))``."""
        if self.carry_in:
            return ceil((self.width + 1) / (self.group + 1))
        return ceil(self.width / self.group)

    @property
    def latency(self):
        """Cycles from an input transfer to its count on the output: ``pipeline``."""
        return self.pipeline

    @property
    def count_width(self):
        """Width of the count: ``width.bit_length()`` (unsigned)."""
        return self.width.bit_length()


def tree_plan(width, group, pipeline, *, max_width=MAX_WIDTH, carry_in=False, front=False):
    """Check the parameters and return the :class:`TreePlan`.

    ``front``: with two stages or more, the first register right after the first level
    (a tree whose bits come from a block RAM's read: its clock-to-output and route leave
    room for one level; the UP5K demo's first engine ran RDATA -> two levels, 16.8 ns).

    ``carry_in``: the first ``group * leaves`` bits go to the compressors and each of the
    rest is a carry-in of one adder (lowest level first), ``a + b + c``. With 3-bit groups
    and ``leaves = ceil((width + 1) / 4)`` every sum's range fills its width (3 + 3 + 1 =
    7, 7 + 7 + 1 = 15, ...), where a plain tree's 3 + 3 = 6 wastes a code in every adder.
    """
    _check_int(width, "popcount width", minimum=1, maximum=max_width)
    _check_int(group, "compressor group", minimum=1, maximum=8)
    _check_int(pipeline, "pipeline depth", minimum=0)
    if carry_in:
        levels = 1 + (ceil((width + 1) / (group + 1)) - 1).bit_length()
    else:
        levels = tree_levels(width, group)
    if pipeline > levels:
        raise ValueError(f"pipeline depth must be at most {levels} (the logic levels of the "
                         f"popcount tree of {width} bits in {group}-bit groups), "
                         f"not {pipeline!r}")
    if front and pipeline >= 2:
        rest = pipeline - 1
        registered = (1,) + tuple(1 + ceil(j * (levels - 1) / rest) for j in range(1, rest + 1))
    else:
        registered = tuple(ceil(j * levels / pipeline) for j in range(1, pipeline + 1))
    return TreePlan(width=width, group=group, pipeline=pipeline, levels=levels,
                    registered=registered, carry_in=carry_in)


def _count_bits(bits):
    """Count the 1-bit values ``bits`` with half/full adders only (Boolean logic, no ``+``).

    Returns the count as a list of bits, LSB first, each a Boolean function of ``bits``;
    for up to 4 bits every one of them fits a single LUT4.
    """
    columns = [list(bits)]        # columns[k]: bits of weight 2**k still to be added
    out = []
    k = 0
    while k < len(columns):
        col = columns[k]
        while len(col) > 1:
            if len(col) >= 3:
                a, b, c = col.pop(), col.pop(), col.pop()
                col.insert(0, a ^ b ^ c)
                carry = (a & b) | (a & c) | (b & c)
            else:
                a, b = col.pop(), col.pop()
                col.insert(0, a ^ b)
                carry = a & b
            if k + 1 == len(columns):
                columns.append([])
            columns[k + 1].append(carry)
        out.append(col[0] if col else Const(0, 1))
        k += 1
    return out


def build_tree(m, bits, plan, enables, *, name="pc", carry_fn=None):
    """Emit the popcount tree of ``bits`` into module ``m``.

    ``bits`` is a list of 1-bit ``Value`` (any logic in front of them, e.g. an XNOR, ends
    up inside the compressor LUTs), or the compressor level's outputs given: a list of
    ``(count, maxval)``, one per group of ``plan.group`` bits (the last group may be
    smaller), e.g. the counts read from a table (no carry-ins then).
    ``enables[s]`` is the clock enable of register stage ``s`` (``len == plan.pipeline``).
    With ``plan.carry_in`` the entries of ``bits`` left over by the compressors
    (``bits[plan.group * plan.leaves:]``) are the adders' carry-ins: each is registered as
    given alongside the tree until its adder, which adds ``carry_fn(entry)`` (default: the
    entry, a 1-bit value). An entry may be raw inputs (e.g. ``Cat(t_k, v_k)``) with
    ``carry_fn`` their 1-bit function (XNOR): the function then folds into the adder's
    LUTs instead of taking a LUT of its own (2 flip-flops a register stage instead of 1;
    SIMD 256 pm1 x pm1 PE, every level registered: 608 against 672 LUT4 on ECP5). An adder
    with a carry-in ``c`` is written ``(Cat(c, a) + Cat(c, b))[1:]``, one two-operand add
    that Yosys maps to a carry chain (ECP5 ``CCU2C``, 254 MHz placed), where ``a + b + c``
    becomes LUT logic three levels deep (233 MHz).
    Returns ``(count, maxval)``: ``count`` an unsigned ``Signal`` exactly as wide as
    ``maxval`` needs.
    """
    assert len(enables) == plan.pipeline
    stage = 0

    def register(nodes, level, kind="l"):
        if level not in plan.registered:
            return nodes
        out = []
        for n, (value, maxval) in enumerate(nodes):
            reg = Signal(len(value) if kind == "s" else maxval.bit_length() or 1,
                         name=f"{name}_{kind}{level}_{n}", reset_less=True)
            with m.If(enables[stage]):
                m.d.sync += reg.eq(value)
            out.append((reg, maxval))
        return out

    def register_all(nodes, spare, level):
        nonlocal stage
        nodes, spare = register(nodes, level), register(spare, level, "s")
        stage += level in plan.registered
        return nodes, spare

    # Level 1: compressors.
    if bits and isinstance(bits[0], tuple):
        assert len(bits) == plan.leaves and not plan.carry_in
        nodes, spare = list(bits), []
    else:
        cut = plan.group * plan.leaves
        spare = [(bit, 1) for bit in bits[cut:]]
        nodes = []
        for n in range(0, min(cut, len(bits)), plan.group):
            grp = bits[n:n + plan.group]
            count = Signal(len(grp).bit_length(), name=f"{name}_c{n // plan.group}")
            m.d.comb += count.eq(Cat(*_count_bits(grp)))
            nodes.append((count, len(grp)))
    level = 1
    nodes, spare = register_all(nodes, spare, level)
    # Adder levels: pair neighbours (plus a carry-in while spare bits last); an odd one
    # out moves up unchanged.
    while len(nodes) > 1:
        level += 1
        paired = []
        for n in range(0, len(nodes) - 1, 2):
            (a, amax), (b, bmax) = nodes[n], nodes[n + 1]
            total, value = amax + bmax, a + b
            if spare:
                carry, _ = spare.pop(0)
                carry = carry_fn(carry) if carry_fn else carry
                total, value = total + 1, (Cat(carry, a) + Cat(carry, b))[1:]
            s = Signal(total.bit_length(), name=f"{name}_a{level}_{n // 2}")
            m.d.comb += s.eq(value)
            paired.append((s, total))
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes, spare = register_all(paired, spare, level)
    assert level == plan.levels and stage == plan.pipeline and not spare, (level, stage, plan)
    return nodes[0]


class StageControl:
    """Valid bits and per-word tags of a chain of register stages that all advance together.

    Every stage loads when ``en`` is high (one enable for the whole chain: the caller
    derives it from the output handshake, e.g. ``en = o.ready | ~o.valid``, so the chain
    stalls as a whole and ``o.ready`` reaches ``i.ready`` through one gate). Bubbles are
    not squeezed out. With zero stages ``o_valid = i_valid``.
    """

    def __init__(self, m, stages, *, i_valid, en, name="stage"):
        self._m = m
        self._en = en
        self.en = [en] * stages
        self.valid = [Signal(name=f"{name}{s}_valid") for s in range(stages)]
        for s in range(stages):
            with m.If(en):
                m.d.sync += self.valid[s].eq(self.valid[s - 1] if s else i_valid)
        self.o_valid = self.valid[-1] if stages else i_valid

    def tag(self, value, *, name="tag"):
        """``value`` delayed through every stage, in step with the word it came with."""
        for s in range(len(self.valid)):
            reg = Signal.like(value, name=f"{name}{s}", reset_less=True)
            with self._m.If(self._en):
                self._m.d.sync += reg.eq(value)
            value = reg
        return value


class Popcount(wiring.Component):
    """Streaming, pipelined popcount: the number of ones of each input word.

    Parameters
    ----------
    width : int
        Input bits N, 1 to 4096.
    pipeline : int
        Register stages d, 0 (combinational) up to ``levels``. With ``L`` logic levels
        (1 compressor level + ``ceil(log2(ceil(N / group)))`` adder levels) a register
        follows levels ``ceil(j*L/d)``, ``j = 1..d``; the last register is the output.
    group : int
        Bits per compressor group, 1 to 8 (default 3: a full adder, two LUT3s per three
        bits). Each group's count is Boolean logic of the group's bits, up to 4 bits one
        LUT4 per count bit (groups up to 8 bits are for table counts,
        ``LinearFolding.weight_code="tables"``).

    Ports
    -----
    i : ``In(stream.Signature(width))``
        One word of bits per transfer (any encoding: bit value 1 is counted).
    o : ``Out(stream.Signature(unsigned(width.bit_length())))``
        Its count, ``0 .. N``.

    Timing
    ------
    ``latency = pipeline`` cycles: a word accepted in cycle c is offered on ``o`` in
    cycle c + d (d = 0: in the same cycle, combinationally). One word per cycle while
    ``o.ready`` is high. Backpressure: the whole pipeline stalls while the output holds a
    word that is not taken (``i.ready = o.ready | ~o.valid``; d = 0: ``i.ready =
    o.ready``); bubbles are not squeezed out. ``o.ready`` reaches ``i.ready`` and the
    stages' clock enables through one gate (no skid buffer); ``valid`` travels with the
    data through the same registers.
    """

    def __init__(self, *, width, pipeline=0, group=3):
        self._plan = tree_plan(width, group, pipeline)
        super().__init__({
            "i": In(stream.Signature(width)),
            "o": Out(stream.Signature(unsigned(self._plan.count_width))),
        })

    @property
    def width(self):
        return self._plan.width

    @property
    def pipeline(self):
        return self._plan.pipeline

    @property
    def group(self):
        return self._plan.group

    @property
    def levels(self):
        """Logic levels of the tree (compressor level included)."""
        return self._plan.levels

    @property
    def latency(self):
        """Cycles from input transfer to output offer: ``pipeline``."""
        return self._plan.latency

    @property
    def plan(self):
        return self._plan

    def elaborate(self, platform):
        m = Module()
        plan = self._plan
        en = Signal()
        m.d.comb += en.eq(self.o.ready | ~self.o.valid if plan.pipeline else self.o.ready)
        ctl = StageControl(m, plan.pipeline, i_valid=self.i.valid, en=en)
        data = Signal(plan.width)
        m.d.comb += data.eq(self.i.payload)
        count, _ = build_tree(m, [data[k] for k in range(plan.width)], plan, ctl.en)
        m.d.comb += [
            self.i.ready.eq(en),
            self.o.valid.eq(ctl.o_valid),
            self.o.payload.eq(count),
        ]
        return m
