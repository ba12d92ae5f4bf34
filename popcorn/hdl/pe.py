"""Binary-base processing element: the exact dot product of a weight base and an
activation base, in any of the four encoding pairs of ARCHITECTURE.md."""

from amaranth.hdl import Cat, Const, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.binary import ENCODINGS
from .popcount import StageControl, _check_int, build_tree, tree_plan

MAX_SIMD = 4096


def pe_output_width(k):
    """Bits of the PE's signed result for a K-long dot product: ``K.bit_length() + 1``.

    Every encoding pair gives a value in ``[-K, K]``, and ``signed(K.bit_length() + 1)``
    holds ``[-2**b, 2**b - 1]`` with ``2**b > K``.
    """
    return k.bit_length() + 1


def _minus_const(x, k):
    """``x - k`` (signed) for unsigned ``x`` and a positive constant ``k``: the ``t``
    trailing zero bits of ``k`` leave the low ``t`` bits of ``x`` unchanged, so only the
    bits above them go through a subtractor (K = SIMD * folds is often a power of two)."""
    t = (k & -k).bit_length() - 1
    if t >= len(x):
        return x - k
    # Modular arithmetic: the caller truncates to a width that holds the true result.
    return Cat(x[:t], x[t:] - (k >> t))


class BinaryPE(wiring.Component):
    """Dot product of a K-long weight base ``t`` and activation base ``v``, K = simd*folds.

    Each of the four encoding pairs is computed from one popcount per fold, accumulated
    over the folds, then one affine step (the identities of ARCHITECTURE.md)::

        weights  acts   per-element bit b_k                  popcount P = sum over K
        pm1      pm1    XNOR(t_k, v_k)                       result = 2*P - K
        pm1      zo     t_k & v_k  and  t_k | ~v_k  (2 bits) result = P - K
        zo       pm1    t_k & v_k  and  v_k | ~t_k  (2 bits) result = P - K
        zo       zo     t_k & v_k                            result = P

    The mixed pairs count two bits per element because ``2*pc(AND) - pc(v) =
    pc(t & v) + pc(t | ~v) - K`` (and symmetrically), which keeps one tree; both bits of an
    element sit in the same compressor group, so the gate logic folds into its LUTs.
    The dataflow engines count one bit (XNOR) and subtract the number z of -1 weights,
    known there from the constant weights; here the weights stream in, so z is a second
    popcount of K bits and the tree counts 2K bits either way. Measured (Yosys, pm1 x zo,
    SIMD 256, pipeline 4 / 8): two bits in 4-bit groups 1041 / 891 LUT4 on iCE40 and
    1146 / 1123 on ECP5, XNOR and weight bits in 3-bit groups 1224 / 1024 and 1298 / 1222.

    Parameters
    ----------
    simd : int
        Elements per cycle (bits of each base consumed per transfer), 1 to 4096.
    folds : int
        Transfers per dot product (K = simd * folds), at least 1.
    weight_encoding, act_encoding : ``"pm1"`` or ``"zo"``
        ``pm1``: bit 1 is +1, bit 0 is -1; ``zo``: bit 1 is 1, bit 0 is 0.
    pipeline : int
        Register stages inside the popcount tree, 0 .. ``tree_levels``, placed as in
        :class:`~popcorn.hdl.popcount.Popcount` (``ceil(j*L/d)``).
    group : int
        Compressor group in *tree bits*, 1 to 4. Default 3 for same-kind pairs (a full
        adder over three XNOR/AND bits: the fewest LUT4 of groups 1-4 in the popcount
        sweep of ``reports/blocks/sweep.md``, and 598 against 652 LUT4 for group 2 in the
        N=256 PE on iCE40), 4 for mixed pairs (two elements of two bits each).
    carry_in : bool
        Whether each tree adder also adds one element's bit as its carry-in
        (:func:`~popcorn.hdl.popcount.tree_plan`): 3-bit groups, then 3 + 3 + 1 = 7,
        7 + 7 + 1 = 15, ..., so every sum fills its width and a quarter of the elements
        skip the compressors. Same-kind pairs send those elements down the tree as their
        raw ``(t_k, v_k)`` pair so that the XNOR/AND folds into the adder (mixed pairs
        send their tree bits). SIMD 256,
        pm1 x pm1, pipeline 8 (Yosys): 632 against 718 LUT4 on ECP5, 518 against 598 on
        iCE40; placed alone (``benchmarks/pe_speed.py``) ECP5 keeps its speed (254 against
        267 MHz) but on iCE40 every carry-in enters an ``SB_CARRY`` chain through a LUT and
        a routed hop (70 against 86 MHz), hence off by default.

    Ports
    -----
    i : ``In(stream.Signature(data.StructLayout({"weights": simd, "acts": simd})))``
        One fold per transfer: element k of the fold at bit k of ``weights`` / ``acts``.
        Folds of a vector come in order; the PE counts them (no ``last`` flag).
    o : ``Out(stream.Signature(signed(out_width)))``
        The dot product, ``out_width = K.bit_length() + 1``.

    Timing
    ------
    ``latency = pipeline + 2``: the result of a vector whose last fold is accepted in cycle
    c is offered in cycle c + pipeline + 2 (one cycle in the accumulator, one in the
    output register). With ``i.valid`` and ``o.ready`` high, one fold is accepted every
    cycle and one result leaves every ``folds`` cycles. Backpressure: tree stages,
    accumulator and output register advance together (``i.ready = o.ready | ~o.valid``),
    so the whole PE stalls while a result waits for ``o.ready``; bubbles are not squeezed
    out. ``o.ready`` reaches ``i.ready`` and every clock enable through one gate.
    """

    def __init__(self, *, simd, folds=1, weight_encoding="pm1", act_encoding="pm1",
                 pipeline=0, group=None, carry_in=False):
        _check_int(simd, "SIMD width", minimum=1, maximum=MAX_SIMD)
        _check_int(folds, "fold count", minimum=1)
        for name, enc in (("weight encoding", weight_encoding),
                          ("act encoding", act_encoding)):
            if enc not in ENCODINGS:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, ENCODINGS))}, "
                                 f"not {enc!r}")
        self._simd = simd
        self._folds = folds
        self._encodings = (weight_encoding, act_encoding)
        self._mixed = weight_encoding != act_encoding
        if group is None:
            group = 4 if self._mixed else 3
        self._plan = tree_plan(simd * (2 if self._mixed else 1), group, pipeline,
                               max_width=2 * MAX_SIMD, carry_in=carry_in)
        self._k = simd * folds
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"weights": simd, "acts": simd}))),
            "o": Out(stream.Signature(signed(pe_output_width(self._k)))),
        })

    simd = property(lambda self: self._simd)
    folds = property(lambda self: self._folds)
    weight_encoding = property(lambda self: self._encodings[0])
    act_encoding = property(lambda self: self._encodings[1])
    pipeline = property(lambda self: self._plan.pipeline)
    group = property(lambda self: self._plan.group)
    carry_in = property(lambda self: self._plan.carry_in)
    plan = property(lambda self: self._plan)

    @property
    def k(self):
        """Length of the dot product: ``simd * folds``."""
        return self._k

    @property
    def out_width(self):
        """Bits of the signed result: ``K.bit_length() + 1``."""
        return pe_output_width(self._k)

    @property
    def latency(self):
        """Cycles from the last fold's transfer to the result's offer: ``pipeline + 2``."""
        return self._plan.pipeline + 2

    @property
    def cycles_per_vector(self):
        """Transfers (cycles, without stalls) per dot product: ``folds``."""
        return self._folds

    @property
    def count_max(self):
        """Largest value of the accumulated popcount P."""
        return self._k * (2 if self._mixed else 1)

    def elaborate(self, platform):
        m = Module()
        simd, folds, plan = self._simd, self._folds, self._plan
        wenc, aenc = self._encodings

        # Fold counter at the input: tags each fold with "last of its vector".
        fold = Signal(range(folds), name="fold")
        last = Signal()
        m.d.comb += last.eq(fold == folds - 1)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += fold.eq(fold + 1)
            with m.If(last):
                m.d.sync += fold.eq(0)

        # Per-element bits, as signals so that slicing does not copy operators.
        t = Signal(simd, name="t")
        v = Signal(simd, name="v")
        m.d.comb += [t.eq(self.i.payload.weights), v.eq(self.i.payload.acts)]
        if not self._mixed:
            elem = Signal(simd, name="elem")
            m.d.comb += elem.eq(~(t ^ v) if wenc == "pm1" else t & v)
            # Carry-in bits go down the tree as their raw (t_k, v_k) pair.
            cut = plan.group * plan.leaves
            bits = ([elem[k] for k in range(min(cut, simd))]
                    + [Cat(t[k], v[k]) for k in range(cut, simd)])
            carry_fn = (lambda r: ~(r[0] ^ r[1])) if wenc == "pm1" else (lambda r: r[0] & r[1])
        else:
            both = Signal(simd, name="both")
            other = Signal(simd, name="other")
            # pm1 x zo: t | ~v; zo x pm1: v | ~t.
            m.d.comb += [both.eq(t & v), other.eq(t | ~v if wenc == "pm1" else v | ~t)]
            bits = [b for k in range(simd) for b in (both[k], other[k])]
            carry_fn = None

        # One enable for the whole chain: tree stages, accumulator, output register.
        en = Signal()
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(en)]
        ctl = StageControl(m, plan.pipeline, i_valid=self.i.valid, en=en, name="tree")
        count, _ = build_tree(m, bits, plan, ctl.en, carry_fn=carry_fn)
        t_last = ctl.tag(last, name="last")

        # Accumulator stage: `done` marks a finished vector in `acc`.
        acc = Signal(self.count_max.bit_length(), name="acc", reset_less=True)
        done = Signal()
        fresh = Signal(init=1)   # the next fold starts a vector
        base = Signal.like(acc, name="acc_base")
        m.d.comb += base.eq(0 if folds == 1 else acc & ~fresh.replicate(len(acc)))
        with m.If(en):
            m.d.sync += done.eq(ctl.o_valid & t_last)
            with m.If(ctl.o_valid):
                m.d.sync += [acc.eq(base + count), fresh.eq(t_last)]

        result = Signal(signed(self.out_width), name="result")
        if wenc == aenc == "pm1":
            m.d.comb += result.eq(_minus_const(Cat(Const(0, 1), acc), self._k))
        elif self._mixed:
            m.d.comb += result.eq(_minus_const(acc, self._k))
        else:
            m.d.comb += result.eq(acc)
        out = Signal(signed(self.out_width), name="out", reset_less=True)
        m.d.comb += self.o.payload.eq(out)
        with m.If(en):
            m.d.sync += [out.eq(result), self.o.valid.eq(done)]
        return m
