"""Matrix-vector-activation engine: one Dense layer of any scheme, folded PE x SIMD."""

from amaranth.hdl import Cat, Const, Module, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.linear import MODE_GE, MODE_LE, MODE_ONE, LinearFolding
from .popcount import popcount_tree


class MatrixVectorActivation(wiring.Component):
    """A Dense layer of the integer model: M x N base pairs per channel, popcounts
    accumulated over the element folds, ``Y = sum_ij A_ij P_ij + C'`` and then comparators
    (next layer's bases) or the scores. Arithmetic, word layouts and the folding are those of
    :class:`~popcorn.mapping.linear.LinearFolding`. A threshold layer with one base pair
    compares the popcount itself (``LinearFolding.compares_counts``).

    Ports
    -----
    i : ``In(stream.Signature(K*N))``: one input vector's bases per transfer.
    o : ``Out(stream.Signature(C*N'))`` (bases) or ``C*score_width`` (scores).

    Timing
    ------
    Initiation interval NF*SF cycles; ``o.valid`` rises NF*SF + 3 cycles after the input
    handshake (issue, count, combine, output register). While a finished vector waits for
    ``o.ready`` the whole engine holds and ``i.ready`` is low.
    """

    def __init__(self, folding):
        if not isinstance(folding, LinearFolding):
            raise TypeError(f"folding must be a LinearFolding, not {folding!r}")
        self._folding = folding
        super().__init__({
            "i": In(stream.Signature(folding.in_width)),
            "o": Out(stream.Signature(folding.out_width)),
        })

    @property
    def folding(self):
        return self._folding

    def elaborate(self, platform):
        f = self._folding
        lin = f.linear
        pe, simd, m_, n_ = f.pe, f.simd, f.weight_bases, f.act_bases
        nf_n, sf_n = f.neuron_folds, f.synapse_folds
        wenc, aenc = lin.weight_encoding, lin.act_encoding
        width = f.score_width
        m = Module()

        m.submodules.weights = wrom = memory.Memory(
            shape=pe * m_ * simd, depth=f.cycles_per_vector, init=f.weight_rom())
        words, layout, record = f.channel_rom()
        m.submodules.channels = crom = memory.Memory(shape=pe * record, depth=nf_n, init=words)
        wport, cport = wrom.read_port(), crom.read_port()

        # Stage 0, issue: walk the folds (nf, sf) of the vector held in `x`.
        busy = Signal()
        x = Signal(f.in_width)
        nf = Signal(range(nf_n))
        sf = Signal(range(sf_n))
        addr = Signal(range(f.cycles_per_vector))
        last_sf = sf == sf_n - 1
        last_fold = last_sf & (nf == nf_n - 1)

        # Stage 1, count: weight ROM word valid; popcounts accumulate per lane and pair.
        s1_valid, s1_first, s1_last, s1_final = Signal(), Signal(), Signal(), Signal()
        s1_x = Signal(simd * n_)
        # Stage 2, combine: channel ROM word valid; Y, comparators, staging.
        s2_valid, s2_final = Signal(), Signal()
        pc_width = f.count_max.bit_length()
        s2_count = {(p, i, j): Signal(pc_width, name=f"count{p}_{i}_{j}")
                    for p in range(pe) for i in range(m_) for j in range(n_)}

        stall = s2_valid & s2_final & self.o.valid & ~self.o.ready
        advance = ~stall
        m.d.comb += [
            wport.addr.eq(addr), wport.en.eq(advance),
            self.i.ready.eq(advance & (~busy | last_fold)),
        ]
        s1_nf = Signal.like(nf)
        m.d.comb += [cport.addr.eq(s1_nf), cport.en.eq(advance)]

        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(busy), s1_first.eq(sf == 0), s1_last.eq(last_sf),
                s1_final.eq(last_fold), s1_x.eq(x.word_select(sf, simd * n_)), s1_nf.eq(nf),
            ]
            with m.If(busy):
                m.d.sync += addr.eq(addr + 1)
                with m.If(last_sf):
                    m.d.sync += sf.eq(0)
                    with m.If(last_fold):
                        m.d.sync += [nf.eq(0), addr.eq(0), busy.eq(0)]
                    with m.Else():
                        m.d.sync += nf.eq(nf + 1)
                with m.Else():
                    m.d.sync += sf.eq(sf + 1)
            with m.If(self.i.valid & self.i.ready):
                m.d.sync += [x.eq(self.i.payload), busy.eq(1)]

        # Activation bases of this fold, base j as `simd` contiguous bits.
        acts = []
        for j in range(n_):
            v = Signal(simd, name=f"act{j}")
            m.d.comb += v.eq(Cat(s1_x[k * n_ + j] for k in range(simd)))
            acts.append(v)
        for p in range(pe):
            for i in range(m_):
                t = Signal(simd, name=f"w{p}_{i}")
                m.d.comb += t.eq(wport.data.word_select(p * m_ + i, simd))
                for j in range(n_):
                    v = acts[j]
                    bits = Signal(simd * f.bits_per_element, name=f"bits{p}_{i}_{j}")
                    if (wenc, aenc) == ("pm1", "pm1"):
                        m.d.comb += bits.eq(~(t ^ v))
                    elif (wenc, aenc) == ("zo", "zo"):
                        m.d.comb += bits.eq(t & v)
                    else:
                        other = t | ~v if wenc == "pm1" else v | ~t
                        m.d.comb += bits.eq(Cat(t & v, other))
                    acc = Signal(pc_width, name=f"acc{p}_{i}_{j}")
                    total = Signal(pc_width, name=f"total{p}_{i}_{j}")
                    base = acc if sf_n > 1 else Const(0, pc_width)
                    m.d.comb += total.eq(_cleared(base, s1_first) + popcount_tree(bits))
                    with m.If(s1_valid & advance):
                        m.d.sync += acc.eq(total)
                        with m.If(s1_last):
                            m.d.sync += s2_count[p, i, j].eq(total)
        with m.If(advance):
            m.d.sync += [s2_valid.eq(s1_valid & s1_last), s2_final.eq(s1_final)]

        # Stage 2: Y per lane from the channel record, then comparators or scores.
        fields = {name: (start, w, count) for name, start, w, count in layout}
        results = []
        for p in range(pe):
            rec = Signal(record, name=f"record{p}")
            m.d.comb += rec.eq(cport.data.word_select(p, record))

            def field(name, n, rec=rec):
                start, w, _ = fields[name]
                return rec[start + n * w:start + (n + 1) * w].as_signed()

            if f.compares_counts:
                y = s2_count[p, 0, 0]
            else:
                y = Signal(signed(width), name=f"y{p}")
                m.d.comb += y.eq(self._combine(s2_count, p, field))
            if f.activation is None:
                results.append(y)
                continue
            levels = Signal(f.levels, name=f"levels{p}")
            for k in range(f.levels):
                start, w, _ = fields["mode"]
                mode = rec[start + k * 2:start + k * 2 + 2]
                thr = field("threshold", k)
                m.d.comb += levels[k].eq(
                    ((mode == MODE_GE) & (y >= thr)) | ((mode == MODE_LE) & (y <= thr)) |
                    (mode == MODE_ONE))
            results.append(self._bases(m, levels, p))

        lane_bits = Cat(*results)
        staging = Signal(f.out_width)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(s2_valid & advance):
            m.d.sync += staging.eq(Cat(staging[len(lane_bits):], lane_bits))
            with m.If(s2_final):
                m.d.sync += [self.o.payload.eq(Cat(staging[len(lane_bits):], lane_bits)),
                             self.o.valid.eq(1)]
        return m

    def _combine(self, counts, p, field):
        """``Y = sum_ij A_ij P_ij + C'`` of lane p: A constant or from the channel record."""
        f = self._folding
        scale, _ = f.affine()
        pairs = [(i, j) for i in range(f.weight_bases) for j in range(f.act_bases)]
        terms = [counts[p, i, j] * (int(scale[0, i, j]) if f.uniform_scale
                                    else field("scale", n)) for n, (i, j) in enumerate(pairs)]
        return sum(terms[1:], terms[0]) + field("offset", 0)

    def _bases(self, m, levels, p):
        """The output bases of one channel from its comparator levels."""
        f = self._folding
        kind, perm = f.level_to_base_map()
        bases = Signal(f.out_bases, name=f"bases{p}")
        if kind == "levels":
            m.d.comb += bases.eq(Cat(levels[r] for r in perm))
        elif kind == "onehot":
            above = Cat(levels[1:], Const(0, 1))
            m.d.comb += bases.eq(levels & ~above)
        else:
            m.d.comb += bases.eq(popcount_tree(levels))
        return bases


def _cleared(value, clear):
    """``0 if clear else value``, as a mask."""
    return value & ~clear.replicate(len(value))
