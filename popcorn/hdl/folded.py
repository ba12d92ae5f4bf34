"""The folded (time-multiplexed) accelerator: one PE x SIMD engine runs every layer in turn,
weights in SPRAM (:mod:`popcorn.mapping.folded`)."""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.folded import DRAIN, MODE_WIDTH, SPRAM_WIDTH, FoldedPlan
from .argmax import Argmax
from .comparator import compare
from .estimates import estimate_argmax, estimate_pe, rom_resources
from .popcount import popcount_tree
from .spram import SPRAM_BITS, Spram
from .window import memory_resources


def estimate_folded(plan, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp", "spram"}`` of a :class:`FoldedAccelerator`,
    composed from its blocks' estimates, not fitted to the whole: per lane a binary-base PE
    of ``simd`` bits (:func:`~popcorn.hdl.estimates.estimate_pe`: XNOR popcount tree,
    accumulator) with its comparator and score multiply-add (about ``count_width`` and
    ``scale_width * count_width`` LUT4), the record ROM, the two input banks and the two
    activation banks as Yosys maps them, the argmax, the counters, and ``64 / 16`` SPRAM."""
    lanes = estimate_pe(simd=plan.simd, folds=plan.buffer_words, family=family)
    cw, a_w, sw = plan.count_width, plan.scale_width, plan.score_width
    per_lane = {"lut4": lanes["lut4"] + cw + a_w * cw // 2 + sw,
                "ff": lanes["ff"] + 1 + sw}
    records = rom_resources(plan.pe * plan.record_width, plan.record_words, family=family,
                            words=plan.record_image())
    acts = memory_resources(plan.simd, 2 * plan.buffer_words, family)
    inbuf = memory_resources(plan.simd, 2 * plan.layers[0].sf, family)
    argmax = estimate_argmax(classes=plan.classes, width=plan.score_width, family=family)
    counters = sum(n.bit_length() for n in (plan.weight_words, plan.record_words,
                                            plan.in_words, plan.buffer_words, len(plan.layers)))
    total = {"lut4": plan.pe * per_lane["lut4"] + records["lut4"] + acts["lut4"] + inbuf["lut4"]
             + argmax["lut4"] + 3 * counters + 2 * plan.simd + plan.classes * sw // 4,
             "ff": plan.pe * per_lane["ff"] + records["ff"] + acts["ff"] + inbuf["ff"]
             + argmax["ff"]
             + counters + 3 * plan.simd + plan.pe * plan.record_width * 2
             + plan.classes * sw,
             "ebr": records["ebr"] + acts["ebr"] + inbuf["ebr"], "dsp": 0,
             "spram": SPRAM_WIDTH // SPRAM_BITS}
    return total


class FoldedAccelerator(wiring.Component):
    """The accelerator of a :class:`~popcorn.mapping.folded.FoldedPlan` (word layouts and
    memories in :mod:`popcorn.mapping.folded`).

    Ports
    -----
    load : ``In(stream.Signature(64))``: the weight image
        (:meth:`~popcorn.mapping.folded.FoldedPlan.weight_image`), word 0 first, once after
        reset; ``loaded`` rises after its last word, and no image is taken before.
    i : ``In(stream.Signature(plan.in_width))``: the image's ``in_words`` input words, as
        the dataflow accelerator's (:meth:`~popcorn.mapping.network_map.NetworkPlan.input_words`).
    o : ``Out(stream.Signature(plan.out_width))``: the scores and the class, as the dataflow
        accelerator's.

    Timing
    ------
    Images go into two input banks in turn while the engine computes: ``i.ready`` is high
    unless the bank to fill holds an image, which it does from its last word until the
    first layer has issued its last read of it. The engine starts when an image waits and
    the previous scores have been handed to the argmax; it issues one weight word per cycle, ``NF * SF`` per layer, and waits
    :data:`~popcorn.mapping.folded.DRAIN` cycles after each layer's last (the read, the
    words registered, the popcounts of 16-bit parts, the accumulator, the comparator or
    score register, then the write that the next layer reads); ``DRAIN + 1`` cycles after
    its last issue it hands the scores to the argmax. :meth:`~popcorn.mapping.folded.FoldedPlan.cycle_model` follows this, cycle for
    cycle.
    """

    def __init__(self, plan):
        if not isinstance(plan, FoldedPlan):
            raise TypeError(f"plan must be a FoldedPlan, not {plan!r}")
        self._plan = plan
        super().__init__({
            "load": In(stream.Signature(SPRAM_WIDTH)),
            "loaded": Out(1),
            "i": In(stream.Signature(plan.in_width)),
            "o": Out(stream.Signature(plan.out_width)),
        })

    @property
    def plan(self):
        return self._plan


    def elaborate(self, platform):
        plan = self._plan
        pe, simd, r, cw = plan.pe, plan.simd, plan.record_width, plan.count_width
        layers, words = plan.layers, plan.buffer_words
        classes, sw = plan.classes, plan.score_width
        m = Module()

        m.submodules.weights = weights = Spram(SPRAM_WIDTH)
        m.submodules.records = records = memory.Memory(
            shape=pe * r, depth=plan.record_words, init=plan.record_image())
        sf0 = plan.layers[0].sf
        m.submodules.inbuf = inbuf = memory.Memory(shape=simd, depth=2 * sf0, init=[])
        m.submodules.acts = acts = memory.Memory(shape=simd, depth=2 * words, init=[])
        rec_rd, act_rd, act_wr = records.read_port(), acts.read_port(), acts.write_port()
        in_rd, in_wr = inbuf.read_port(), inbuf.write_port()
        m.submodules.argmax = argmax = Argmax(classes=classes, width=sw)
        wiring.connect(m, argmax.o, wiring.flipped(self.o))

        # -- the weight image -------------------------------------------------------------
        load_addr = Signal(range(plan.weight_words + 1))
        m.d.comb += [self.load.ready.eq(~self.loaded), weights.wdata.eq(self.load.payload)]
        with m.If(self.load.valid & ~self.loaded):
            m.d.comb += [weights.we.eq(1), weights.addr.eq(load_addr)]
            m.d.sync += load_addr.eq(load_addr + 1)
            with m.If(load_addr == plan.weight_words - 1):
                m.d.sync += self.loaded.eq(1)

        # -- images into the two input banks, while the engine computes ---------------------
        # full[b]: an image waits in input bank b, until the first layer's last read of it;
        # the input fills bank wbank, the engine reads bank rbank;
        # running: from the engine's start to the scores' hand-over to the argmax
        full = Signal(2, name="full")
        wbank, rbank = Signal(name="wbank"), Signal(name="rbank")
        running, emitting = Signal(name="running"), Signal(name="emitting")
        finishing = Signal(name="finishing")     # the last word issued, the scores to come
        per_word = simd // plan.in_width
        slot = Signal(range(per_word))
        in_word = Signal(range(plan.in_words))
        in_addr = Signal(range(sf0))
        gather, filled = Signal(simd, name="gather"), Signal(simd, name="filled")
        take = Signal()
        m.d.comb += [self.i.ready.eq(self.loaded & ~full.bit_select(wbank, 1)),
                     take.eq(self.i.valid & self.i.ready),
                     filled.eq(Mux(slot == 0, 0, gather)
                               | (self.i.payload << (slot * plan.in_width)))]
        with m.If(take):
            last_in = in_word == plan.in_words - 1
            m.d.sync += [gather.eq(filled), slot.eq(slot + 1), in_word.eq(in_word + 1)]
            with m.If((slot == per_word - 1) | last_in):
                m.d.comb += [in_wr.en.eq(1), in_wr.addr.eq(wbank * sf0 + in_addr),
                             in_wr.data.eq(filled)]
                m.d.sync += [slot.eq(0), in_addr.eq(in_addr + 1)]
        # (continuous assignments: an always @* block would stay undefined in Icarus until
        # one of its inputs changes, and these feed a register)
        freed = Signal(2, name="freed")          # the first layer's last read, this cycle
        filling = Signal(2, name="filling")      # an image's last word, this cycle
        last_word = take & (in_word == plan.in_words - 1)
        with m.If(last_word):
            m.d.sync += [in_word.eq(0), in_addr.eq(0), wbank.eq(~wbank)]
        m.d.comb += filling.eq(Mux(last_word, Mux(wbank, 0b10, 0b01), 0))
        m.d.sync += full.eq((full | filling) & ~freed)
        with m.If(full.bit_select(rbank, 1) & ~running):
            m.d.sync += running.eq(1)

        # -- issue: one weight word per cycle, layer after layer ------------------------------
        n_layers = len(layers)
        nf_last = _table([layer.nf - 1 for layer in layers])
        sf_last = _table([layer.sf - 1 for layer in layers])
        layer = Signal(range(n_layers), name="layer")
        nf = Signal(range(max(l.nf for l in layers)), name="nf")
        sf = Signal(range(max(l.sf for l in layers)), name="sf")
        waddr = Signal(range(plan.weight_words + 1))
        raddr = Signal(range(plan.record_words + 1))
        hold = Signal(range(DRAIN + 1))
        issue = Signal()
        m.d.comb += issue.eq(running & ~finishing & (hold == 0))
        with m.If(hold != 0):
            m.d.sync += hold.eq(hold - 1)
        first_done = issue & (layer == 0) & (nf == nf_last[layer]) & (sf == sf_last[layer])
        m.d.comb += freed.eq(Mux(first_done, Mux(rbank, 0b10, 0b01), 0))
        with m.If(issue):
            # layer 0 reads the input buffer, layer l > 0 bank (l - 1) % 2 of acts
            m.d.comb += [weights.addr.eq(waddr), in_rd.addr.eq(rbank * sf0 + sf),
                         act_rd.addr.eq((~layer[0]) * words + sf), rec_rd.addr.eq(raddr)]
            m.d.sync += [waddr.eq(waddr + 1), sf.eq(sf + 1)]
            with m.If(sf == sf_last[layer]):
                m.d.sync += [sf.eq(0), nf.eq(nf + 1), raddr.eq(raddr + 1)]
                with m.If(nf == nf_last[layer]):
                    m.d.sync += [nf.eq(0), layer.eq(layer + 1), hold.eq(DRAIN)]
                    with m.If(layer == 0):              # the bank takes another image
                        m.d.sync += rbank.eq(~rbank)
                    with m.If(layer == n_layers - 1):
                        m.d.sync += [layer.eq(0), waddr.eq(0), raddr.eq(0), finishing.eq(1),
                                     hold.eq(0)]

        # -- the pipeline: tags travel with each issued word --------------------------------------
        def tag(name):
            return {"valid": Signal(name=f"{name}_valid"), "first": Signal(name=f"{name}_first"),
                    "last": Signal(name=f"{name}_last"),
                    "layer": Signal(range(n_layers), name=f"{name}_layer"),
                    "nf": Signal(range(max(l.nf for l in layers)), name=f"{name}_nf")}
        t1, t2, t3, t4 = tag("t1"), tag("t2"), tag("t3"), tag("t4")
        m.d.sync += [t1["valid"].eq(issue), t1["first"].eq(sf == 0),
                     t1["last"].eq(sf == sf_last[layer]), t1["layer"].eq(layer),
                     t1["nf"].eq(nf)]
        for before, after in ((t1, t2), (t2, t3), (t3, t4)):
            m.d.sync += [after[k].eq(before[k]) for k in before]

        # stage 1: the words read, registered (the input or a bank, and the weights)
        x, w, record2 = Signal(simd, name="x"), Signal(pe * simd, name="w"), Signal(pe * r)
        m.d.sync += [x.eq(Mux(t1["layer"] == 0, in_rd.data, act_rd.data)),
                     w.eq(weights.rdata[:pe * simd]), record2.eq(rec_rd.data)]
        # stage 2: XNOR and popcounts of every lane, in parts of at most 16 bits
        parts = [(n, min(n + 16, simd)) for n in range(0, simd, 16)]
        counts = [[Signal(range(hi - lo + 1), name=f"count{p}_{lo}") for lo, hi in parts]
                  for p in range(pe)]
        record3 = Signal(pe * r)
        m.d.sync += record3.eq(record2)
        for p in range(pe):
            same = ~(w[p * simd:(p + 1) * simd] ^ x)
            m.d.sync += [c.eq(popcount_tree(same[lo:hi])) for c, (lo, hi) in zip(counts[p], parts)]
        # stage 3: accumulate over the synapse folds
        accs = [Signal(cw, name=f"acc{p}") for p in range(pe)]
        record4 = Signal(pe * r)
        m.d.sync += record4.eq(record3)
        with m.If(t3["valid"]):
            for p in range(pe):
                m.d.sync += accs[p].eq(Mux(t3["first"], 0, accs[p]) + sum(counts[p]))
        # stage 4: comparators or scores, once per neuron fold
        live = _table([layer.folding.channels - (layer.nf - 1) * pe for layer in layers])
        bits = Signal(pe)
        ys = [Signal(signed(sw), name=f"y{p}") for p in range(pe)]
        a_w = plan.scale_width
        done = Signal()
        for p in range(pe):
            field = record4[p * r:(p + 1) * r]
            lane_live = (t4["nf"] != nf_last[t4["layer"]]) | (p < live[t4["layer"]])
            m.d.sync += [bits[p].eq(compare(accs[p], field[:cw], field[cw:cw + MODE_WIDTH])
                                    & lane_live),
                         ys[p].eq(field[:a_w].as_signed() * accs[p]
                                  + field[a_w:a_w + sw].as_signed())]
        m.d.sync += done.eq(t4["valid"] & t4["last"])
        t5 = {k: Signal.like(v, name=f"t5_{k}") for k, v in t4.items()}
        m.d.sync += [t5[k].eq(t4[k]) for k in t4]

        # stage 5: the neuron fold's outputs into the next bank, or the scores
        scores = Signal(classes * sw)
        per_fold = simd // pe
        collect, stored = Signal(simd, name="collect"), Signal(simd, name="stored")
        out_slot = Signal(range(per_fold), name="out_slot")
        out_word = Signal(range(words), name="out_word")
        slot_now = Signal.like(out_slot, name="slot_now")
        word_now = Signal.like(out_word, name="word_now")
        first_fold = t5["nf"] == 0           # a layer's first outputs: word 0, slot 0
        m.d.comb += [slot_now.eq(Mux(first_fold, 0, out_slot)),
                     word_now.eq(Mux(first_fold, 0, out_word)),
                     stored.eq(Mux(slot_now == 0, 0, collect) | (bits << (slot_now * pe)))]
        last_layer = t5["layer"] == n_layers - 1
        with m.If(done & ~last_layer):
            m.d.sync += [collect.eq(stored), out_slot.eq(slot_now + 1), out_word.eq(word_now)]
            with m.If((slot_now == per_fold - 1) | (t5["nf"] == nf_last[t5["layer"]])):
                m.d.comb += [act_wr.en.eq(1), act_wr.data.eq(stored),
                             act_wr.addr.eq(t5["layer"][0] * words + word_now)]
                m.d.sync += [out_slot.eq(0), out_word.eq(word_now + 1)]
        with m.If(done & last_layer):
            for p in range(pe):
                channel = t5["nf"] * pe + p
                with m.If(channel < classes):
                    m.d.sync += scores.word_select(channel, sw).eq(ys[p])
            with m.If(t5["nf"] == nf_last[t5["layer"]]):
                m.d.sync += emitting.eq(1)
        m.d.comb += [argmax.i.valid.eq(emitting), argmax.i.payload.eq(scores)]
        with m.If(argmax.i.valid & argmax.i.ready):
            m.d.sync += [emitting.eq(0), finishing.eq(0), running.eq(0)]
        return m


class _table:
    """A per-layer constant, ``table[index]``: a chain of multiplexers (continuous
    assignments; an ``Array`` of constants becomes an ``always @*`` case that Icarus leaves
    undefined while its index keeps its initial value)."""

    def __init__(self, values):
        self._values = [Const(v, range(max(values) + 1)) for v in values]

    def __getitem__(self, index):
        value = self._values[-1]
        for n in reversed(range(len(self._values) - 1)):
            value = Mux(index == n, self._values[n], value)
        return value
