"""Matrix-vector-threshold unit: a BNN dense layer on PE x SIMD folding (FINN's MVTU)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.dense_folding import DenseFolding
from .popcount import popcount_tree


class MatrixVectorThreshold(wiring.Component):
    """BNN dense layer: ``o[n] = [2*pc(XNOR(w[n], i)) - K >= T[n]]`` for every neuron n.

    Parameters
    ----------
    folding : :class:`~popcorn.mapping.dense_folding.DenseFolding`
        Weights, thresholds, ``pe`` and ``simd``; its ROM images initialise the
        weight ROM (depth NF*SF, ``pe*simd`` bits) and the threshold ROM (depth NF).

    Ports
    -----
    i : ``In(stream.Signature(K))``
        One input vector per transfer, ``pm1`` bits (1 = +1), element k at bit k.
    o : ``Out(stream.Signature(N))``
        One output vector per transfer, ``pm1`` bits, neuron n at bit n.

    Timing
    ------
    A vector takes ``NF*SF`` datapath cycles (NF = N/pe, SF = K/simd). With ``i.valid``
    and ``o.ready`` held high, a new vector is accepted every ``NF*SF`` cycles and
    ``o.valid`` rises ``NF*SF + 2`` cycles after the cycle in which its input was
    accepted. Backpressure: while a finished vector waits for ``o.ready``, the
    datapath stalls with its last fold pending and ``i.ready`` stays low.
    """

    def __init__(self, folding):
        if not isinstance(folding, DenseFolding):
            raise TypeError(f"folding must be a DenseFolding, not {folding!r}")
        self._folding = folding
        super().__init__({
            "i": In(stream.Signature(folding.in_bits)),
            "o": Out(stream.Signature(folding.neurons)),
        })

    @property
    def folding(self):
        return self._folding

    def elaborate(self, platform):
        f = self._folding
        pe, simd, nf_n, sf_n = f.pe, f.simd, f.neuron_folds, f.synapse_folds
        m = Module()

        m.submodules.weights = wrom = memory.Memory(
            shape=pe * simd, depth=f.cycles_per_vector, init=f.weight_rom())
        m.submodules.thresholds = trom = memory.Memory(
            shape=pe * f.threshold_width, depth=nf_n, init=f.threshold_rom())
        wport = wrom.read_port()
        tport = trom.read_port()

        # Issue stage: walks the folds (nf, sf) of the current vector `x`.
        busy = Signal()
        x = Signal(f.in_bits)
        nf = Signal(range(nf_n))
        sf = Signal(range(sf_n))
        addr = Signal(range(f.cycles_per_vector))
        last_sf = sf == sf_n - 1
        last_fold = last_sf & (nf == nf_n - 1)

        # Accumulate stage: the fold issued one cycle earlier, ROM words now valid.
        s1_valid = Signal()
        s1_first = Signal()   # first synapse fold of a neuron fold
        s1_last = Signal()    # last synapse fold of a neuron fold
        s1_final = Signal()   # last fold of the vector
        s1_x = Signal(simd)
        acc = [Signal(f.popcount_width, name=f"acc{p}") for p in range(pe)]
        staging = Signal(f.neurons)   # finished neuron folds, shifted in from the top

        stall = s1_valid & s1_final & self.o.valid & ~self.o.ready
        advance = ~stall
        m.d.comb += [
            wport.addr.eq(addr), wport.en.eq(advance),
            tport.addr.eq(nf), tport.en.eq(advance),
            self.i.ready.eq(advance & (~busy | last_fold)),
        ]

        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(busy),
                s1_first.eq(sf == 0),
                s1_last.eq(last_sf),
                s1_final.eq(last_fold),
                s1_x.eq(x.word_select(sf, simd)),
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

        # Accumulate and compare, one PE per neuron of the current neuron fold.
        xnor = Signal(pe * simd)
        m.d.comb += xnor.eq(~(wport.data ^ s1_x.replicate(pe)))
        bits = Signal(pe)
        for p in range(pe):
            total = Signal(f.popcount_width, name=f"total{p}")
            base = Signal(f.popcount_width, name=f"base{p}")
            m.d.comb += [
                base.eq(0 if sf_n == 1 else acc[p] & ~s1_first.replicate(f.popcount_width)),
                total.eq(base + popcount_tree(xnor[p * simd:(p + 1) * simd])),
                bits[p].eq(total >= tport.data.word_select(p, f.threshold_width)),
            ]
            with m.If(s1_valid & advance):
                m.d.sync += acc[p].eq(total)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(s1_valid & advance & s1_last):
            m.d.sync += staging.eq(Cat(staging[pe:], bits))
            with m.If(s1_final):
                m.d.sync += [self.o.payload.eq(Cat(staging[pe:], bits)), self.o.valid.eq(1)]
        return m
