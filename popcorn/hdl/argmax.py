"""Argmax of a word of signed scores, as a pipelined tournament."""


from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..hwmath import argmax_stages, class_width, serial_argmax_latency
from .estimates import estimate_argmax, estimate_serial_argmax


class _ArgmaxPorts(wiring.Component):
    """The ports of an argmax of ``classes`` signed scores of ``width`` bits: ``i`` the
    scores (class 0 lowest), ``o`` the same scores with the class index
    (``class_width(classes)`` bits) at the top."""

    def __init__(self, *, classes, width):
        if not isinstance(classes, int) or classes < 1:
            raise ValueError(f"classes must be a positive integer, not {classes!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"score width must be a positive integer, not {width!r}")
        self._classes, self._width = classes, width
        super().__init__({
            "i": In(stream.Signature(classes * width)),
            "o": Out(stream.Signature(classes * width + class_width(classes))),
        })


class Argmax(_ArgmaxPorts):
    """Appends the index of the largest score (the lowest index on ties) to the scores.

    Parameters: ``classes`` signed fields of ``width`` bits each, class 0 lowest;
    ``pipelined`` (default False) the throughput mode below.

    Ports: ``i`` stream of ``classes*width`` bits; ``o`` stream of the same scores followed
    by the class index (``class_width(classes)`` bits at the top).

    Timing: a tournament of ``ceil(log2(classes))`` compare-and-select levels
    (:func:`argmax_stages` register stages; latency = that many cycles), every register
    advancing on one enable ``o.ready | ~o.valid``.

    * One word at a time (default): two stages per level, the compares' results registered
      with the candidates, then the selects. The scores are held in one register from the
      input handshake to the output handshake (``i.ready`` is "not busy", no path from
      ``o.ready``), so a word is taken every ``latency + 1`` cycles at most -- far more
      often than a folded or slow network delivers scores, for ``stages - 1`` fewer
      copies of the scores.
    * ``pipelined``: one stage per level; the scores travel down the pipeline beside the
      candidates (a copy per stage) and ``i.ready`` is the enable: a word every cycle at
      full throughput.

    Cycle model: :class:`~popcorn.mapping.timing.ArgmaxTiming` (``pipelined`` alike).
    """

    def __init__(self, *, classes, width, pipelined=False):
        self._pipelined = bool(pipelined)
        super().__init__(classes=classes, width=width)

    @property
    def latency(self):
        return argmax_stages(self._classes, self._pipelined)

    def resources(self, family="ice40"):
        """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of this block synthesized alone on
        ``family`` (``synth_ice40``; ``synth_ecp5 -nowidelut``): see
        :func:`~popcorn.hdl.estimates.estimate_argmax`."""
        return estimate_argmax(classes=self._classes, width=self._width,
                               pipelined=self._pipelined, family=family)

    def elaborate(self, platform):
        m = Module()
        n, w, cw = self._classes, self._width, class_width(self._classes)
        levels = (n - 1).bit_length()
        en, valid = Signal(), Signal()           # valid: the input handshake
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), valid.eq(self.i.valid & self.i.ready)]
        if self._pipelined:
            m.d.comb += self.i.ready.eq(en)
            scores = self.i.payload              # copied into every stage below
        else:
            busy, scores = Signal(), Signal(n * w)
            # (~o.valid is implied by ~busy in every reachable state; it makes "the word is
            # held until taken" hold in every state, so k-induction proves it)
            m.d.comb += self.i.ready.eq(~busy & ~self.o.valid)
            with m.If(valid):
                m.d.sync += [scores.eq(self.i.payload), busy.eq(1)]
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += busy.eq(0)

        stage = 0

        def register(cands, keeps=()):
            """The next register stage: valid, the compares' results and the candidates
            ``(score, index, classes)``; of an index only the bits that vary over the
            classes it may hold are flip-flops, the others constants."""
            nonlocal stage, valid, scores
            stage += 1
            v = Signal(name=f"valid{stage}")
            kept = [Signal(name=f"keep{stage}_{k}") for k in range(len(keeps))]
            regs = []
            with m.If(en):
                m.d.sync += v.eq(valid)
                m.d.sync += [r.eq(k) for r, k in zip(kept, keeps)]
                for k, (score, index, classes) in enumerate(cands):
                    best = Signal(signed(w), name=f"best{stage}_{k}")
                    bits = []
                    for b in range(cw):
                        if len({c >> b & 1 for c in classes}) == 1:
                            bits.append(Const(next(iter(classes)) >> b & 1, 1))
                        else:
                            bit = Signal(name=f"index{stage}_{k}_{b}")
                            m.d.sync += bit.eq(index[b])
                            bits.append(bit)
                    m.d.sync += best.eq(score)
                    regs.append((best, Cat(*bits), classes))
                if self._pipelined:
                    copy = Signal(n * w, name=f"scores{stage}")
                    m.d.sync += copy.eq(scores)
                    scores = copy
            valid = v
            return regs, kept

        def inputs(word):
            return [(word[c * w:(c + 1) * w].as_signed(), Const(c, cw), {c}) for c in range(n)]

        cands = inputs(self.i.payload)
        if levels == 0:
            cands, _ = register(cands)
        for level in range(levels):
            pairs = [(cands[a], cands[a + 1]) for a in range(0, len(cands) - 1, 2)]
            keeps = [_at_least(sa, sb) for (sa, _, _), (sb, _, _) in pairs]   # ties: lower index
            if not self._pipelined:               # the compares, registered
                if level == 0:                    # beside the held scores, taken the same edge
                    _, keeps = register([], keeps)
                    cands = inputs(scores)
                else:
                    cands, keeps = register(cands, keeps)
                pairs = [(cands[a], cands[a + 1]) for a in range(0, len(cands) - 1, 2)]
            nxt = [(Mux(keep, sa, sb), Mux(keep, ia, ib), ca | cb)
                   for keep, ((sa, ia, ca), (sb, ib, cb)) in zip(keeps, pairs)]
            cands, _ = register(nxt + ([cands[-1]] if len(cands) % 2 else []))
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.eq(Cat(scores, cands[0][1]))]
        return m


class SerialArgmax(_ArgmaxPorts):
    """:class:`Argmax`'s ports and result (the lowest index on ties), one class every two
    cycles: for an accelerator that delivers scores rarely (a folded engine, or a dataflow
    chain slower than :func:`~popcorn.hwmath.serial_argmax_latency` + 1 cycles an image),
    a fraction of the tournament's logic.

    Timing: the scores are held from the input handshake to the output handshake in one
    register (``i.ready`` is idle and not valid, two flip-flops: no path from ``o.ready``)
    that turns a class down at the load and after each class's compare, so the class
    compared is always its low field (no multiplexer; ``classes`` turns in all, the scores leave in their
    order). Class c = 1 .. is compared with the best so far in two cycles: the compares of
    the high and low halves (offset binary, :func:`_halves_greater`) registered, then the
    strictly greater one replaces the best; ``o.valid`` rises with the last: latency
    :func:`~popcorn.hwmath.serial_argmax_latency`, the next word taken the cycle after the
    output handshake at the earliest."""

    @property
    def latency(self):
        return serial_argmax_latency(self._classes)

    def resources(self, family="ice40"):
        """Estimated ``{"lut4", "ff", "ebr", "dsp"}``:
        :func:`~popcorn.hdl.estimates.estimate_serial_argmax`."""
        return estimate_serial_argmax(classes=self._classes, width=self._width, family=family)

    def elaborate(self, platform):
        m = Module()
        n, w = self._classes, self._width
        scores = Signal(n * w)
        best, index = Signal(w), Signal(class_width(n))
        c = Signal(range(n + 1))
        last = Signal(init=n == 2)                     # c == n - 1, registered
        # the phase, one-hot: each branch below is a register's (with `i.valid` to load)
        idle, comparing, selecting = Signal(init=1), Signal(), Signal()
        halves = Signal(3)

        def turn(word):
            return Cat(word[w:], word[:w])

        # (~o.valid is implied by every phase but the last in every reachable state; it
        # makes "the word is held until taken" hold in every state, so k-induction proves it)
        m.d.comb += [self.i.ready.eq(idle & ~self.o.valid),
                     self.o.payload.eq(Cat(scores, index))]
        with m.If(~self.o.valid):
            with m.If(selecting):
                m.d.sync += [scores.eq(turn(scores)), c.eq(c + 1), last.eq(c == n - 2),
                             selecting.eq(0), comparing.eq(~last), self.o.valid.eq(last)]
                with m.If(halves[0] | (halves[1] & halves[2])):
                    m.d.sync += [best.eq(scores[:w]), index.eq(c)]
            with m.Elif(comparing):
                m.d.sync += [halves.eq(_halves_greater(scores[:w], best)), comparing.eq(0),
                             selecting.eq(1)]
            with m.Elif(idle & self.i.valid):
                m.d.sync += [scores.eq(turn(self.i.payload)), c.eq(1), last.eq(n == 2),
                             best.eq(self.i.payload[:w]), index.eq(0), idle.eq(0),
                             comparing.eq(n > 1), self.o.valid.eq(n == 1)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [self.o.valid.eq(0), idle.eq(1)]
        return m


def _halves_greater(a, b):
    """``a > b`` of two signed values of one width in three parts, ``Cat(high greater,
    high equal, low greater)`` of their high and low halves (the high's as offset binary
    codes, see :func:`_at_least`; the low's unsigned): ``a > b`` is ``p[0] | p[1] & p[2]``.
    Each half's compare is a carry chain half as long as the whole's."""
    n = len(a)
    h = n // 2
    top = Const(1 << (n - h - 1), n - h)
    ah, bh = a.as_unsigned()[h:] ^ top, b.as_unsigned()[h:] ^ top
    low = a.as_unsigned()[:h] > b.as_unsigned()[:h] if h else Const(0, 1)
    return Cat(ah > bh, ah == bh, low)


def _at_least(a, b):
    """``a >= b`` of two signed values of one width as an unsigned compare of their offset
    binary codes (sign bits inverted: the order is kept): one carry chain and its carry
    out. The signed compare's sign and overflow terms added a second chain and two LUT4
    behind it on the ECP5 (digits-mobilenet-pa's argmax, 7.6 ns)."""
    top = Const(1 << (len(a) - 1), len(a))
    return (a.as_unsigned() ^ top) >= (b.as_unsigned() ^ top)
