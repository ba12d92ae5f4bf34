"""The folded (time-multiplexed) accelerator: one PE x SIMD engine runs every layer in turn,
weights in SPRAM (:mod:`popcorn.mapping.folded`)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.folded import DRAIN, MODE_WIDTH, SPRAM_WIDTH, FoldedPlan
from .argmax import SerialArgmax
from .comparator import compare, levels_to_bases
from .estimates import estimate_pe, estimate_serial_argmax, rom_resources
from .popcount import popcount_tree
from .spram import SPRAM_BITS, Spram
from .window import memory_resources


FOLDED_FACTORS = {
    "lut4": {"lanes": 0.978, "wide": 0.825, "roms": 0.221, "memories": 1.127,
             "control": 0.186, "one": 358.405, "argmax": 1.0},
    "ff": {"lanes": 0.822, "wide": 0.865, "memories": 0.999, "control": 1.418,
           "one": -156.017, "roms": 1.0, "argmax": 1.0}}
"""Weights of :func:`folded_parts`' LUT4 and flip-flops (``"one"``: a constant) in the
estimate of the whole engine, fitted by ``benchmarks/sweep_folded.py --fit`` on Yosys's
counts of the shipped examples' plans at 1 to 8 lanes (``reports/blocks/folded_estimates.md``,
where random networks are held out); the argmax and the ROMs' flip-flops keep weight 1.
The lanes, the RAMs and the registers come out near 1; the ROMs kept in logic at 0.2 (Yosys
shares far more of their columns than :func:`~popcorn.hdl.estimates.rom_resources`
counts); the control's LUT4 at 0.2 (its per-layer tables and address multipliers are
mostly constant-folded), its flip-flops at 1.4 with a negative constant."""


def estimate_folded(plan, family="ice40"):
    """Estimated ``{"lut4", "ff", "ebr", "dsp", "spram"}`` of a :class:`FoldedAccelerator`:
    the LUT4 and flip-flops of :func:`folded_parts` weighted by :data:`FOLDED_FACTORS`,
    block RAM, SPRAM and DSP as the parts add up."""
    parts = folded_parts(plan, family)
    total = {key: round(sum(weight * (1 if part == "one" else parts[key][part])
                            for part, weight in FOLDED_FACTORS[key].items()))
             for key in ("lut4", "ff")}
    return total | {key: parts[key] for key in ("ebr", "dsp", "spram")}


def folded_parts(plan, family="ice40"):
    """The LUT4 and flip-flops of a :class:`FoldedAccelerator` by part, each counted from the
    plan's widths (the weights of :data:`FOLDED_FACTORS` scale them to Yosys's counts):

    * ``lanes``: per lane the popcount tree of ``simd`` bits
      (:func:`~popcorn.hdl.estimates.estimate_pe`), the coefficient multiply (about
      ``coef_width * log2(simd)`` LUT4 unless the coefficient is one constant), the
      accumulator, ``levels`` comparators and the scores' adder (``count_width`` LUT4
      each); its registers: the weight word, the popcounts and their sum, the product,
      the accumulator, the levels (and their pool), the score and the coefficient's
      three stages;
    * ``wide``: the engine's shared registers as wide as a word and their logic: the
      image writer's gathered input bank word (each transfer decoded into its slot and
      merged, 2 LUT4 a bit) and the first layer's input word read from it (a bit of each
      of its ``rows`` rows: 1 LUT4 a bit and row), the output word collected over the
      ``simd / pe`` groups and the activation word read from a bank (3 LUT4 a bit), the
      input word ``x`` (``simd`` FF) and the scores (``classes * score_width``);
    * ``roms``: the record and coefficient ROMs (or the coefficients' table: about
      ``coef_width`` LUT4 per three values) as :func:`~popcorn.hdl.estimates.rom_resources`
      counts them (block RAM packed as Yosys packs it);
    * ``memories``: the input banks and the activation banks as Yosys maps them
      (:func:`~popcorn.hdl.window.memory_resources`, packed; a bank in block RAM reads
      first by a bypass, its write data and read data registered: 2 FF and 1 LUT4 a bit),
      the weight stream (:func:`stream_resources`);
    * ``control``: LUT4, the per-layer tables (a multiplexer of ``len(layers)`` constants
      for each bit of the loop counters' lasts and the weight and record addresses, of
      ``len(segments)`` for the segments' first addresses and rows), the address
      arithmetic (a multiplier of the pixel span for each table of strides, pools and
      widths not the same power of two in every layer, the adders of the pixel and the
      addresses) and the counters' increments and compares; FF, the loop counters, the
      weight, record and pair addresses with their pipeline copies (6, 8 and 3), the
      input pixel and activation address, the tags of the 9 pipeline stages, the image
      writer's and the output's counters;
    * ``argmax``: :func:`~popcorn.hdl.estimates.estimate_serial_argmax`.

    ``ebr``, ``dsp`` and ``spram`` (``64 / 16``) are totals."""
    layers, first = plan.layers, plan.layers[0]
    pe, simd, cw, aw, sw = plan.pe, plan.simd, plan.count_width, plan.coef_width, plan.score_width
    levels, sum_w = max(plan.levels, 1), _bits(simd)
    bank_words, bank_bits = plan.input_bank
    rom_coefs = plan.uniform_coefficient is None and plan.pair_coefficients is None

    tree = estimate_pe(simd=simd, family=family)["lut4"]
    multiply = 0 if plan.uniform_coefficient is not None else aw * sum_w
    counts = sum(_bits(min(16, simd - lo)) for lo in range(0, simd, 16))
    lanes = {"lut4": pe * (tree + multiply + (levels + 1) * cw + sw),
             "ff": pe * (simd + counts + sum_w + 2 * cw + (2 + plan.outer_pools) * levels
                         + sw + 3 * aw * rom_coefs)}

    outputs = plan.planes * simd
    wide = {"lut4": (2 + first.rows) * bank_bits + 3 * outputs + plan.classes * sw,
            "ff": bank_bits + simd + outputs + plan.classes * sw}

    records = rom_resources(pe * plan.record_width, plan.record_words, family=family,
                            words=plan.record_image())
    if plan.uniform_coefficient is not None:
        coefs = {"lut4": 0, "ff": 0, "ebr": 0}
    elif plan.pair_coefficients is not None:       # a multiplexer of the table's values
        coefs = {"lut4": aw * (len(layers) * plan.pairs) // 3, "ff": 4 * aw, "ebr": 0}
    else:
        coefs = rom_resources(pe * aw, plan.record_words * plan.pairs, family=family,
                              words=plan.coefficient_image())
    acts = memory_resources(outputs, sum(plan.bank_words), family, packed=True)
    inbuf = memory_resources(bank_bits, plan.input_banks * bank_words, family, packed=True)
    bypass = outputs * bool(acts["ebr"]) + first.rows * bank_bits * bool(inbuf["ebr"])
    inbuf = {k: v * first.rows for k, v in inbuf.items()}
    banks = (acts, inbuf, stream_resources(plan, family))
    roms = {k: records[k] + coefs[k] for k in ("lut4", "ff")}
    memories = {"lut4": sum(b["lut4"] for b in banks) + bypass,
                "ff": sum(b["ff"] for b in banks) + 2 * bypass}

    argmax = estimate_serial_argmax(classes=plan.classes, width=sw, family=family)
    control = _control_parts(plan)
    parts = {key: {"lanes": lanes[key], "wide": wide[key], "roms": roms[key],
                   "memories": memories[key], "control": control[key], "argmax": argmax[key]}
             for key in ("lut4", "ff")}
    return parts | {"ebr": sum(b["ebr"] for b in (records, coefs, *banks)), "dsp": 0,
                    "spram": SPRAM_WIDTH // SPRAM_BITS}


def stream_resources(plan, family="ice40"):
    """The weight stream's FIFO (block RAM as Yosys maps it, and its output register), the
    SPI reader (about 100 LUT4: counters, the word's shift register, the FSM, the pins'
    multiplexer; 64 + 32 shift flip-flops and 40 of counters) and, in the engine, the
    word's multiplexer and the in-flight count against the FIFO's level (10 LUT4);
    nothing when no layer streams. Not fitted on Yosys's counts (no plan of the
    :data:`FOLDED_FACTORS` sweep streams a layer)."""
    if not plan.stream_words:
        return {"lut4": 0, "ff": 0, "ebr": 0}
    queue = memory_resources(SPRAM_WIDTH, plan.stream_depth - 1, family, packed=True)
    word = plan.pe * plan.simd
    return {"lut4": queue["lut4"] + 100 + word + 10, "ebr": queue["ebr"],
            "ff": queue["ff"] + 2 * SPRAM_WIDTH + 32 + 40}


class FoldedAccelerator(wiring.Component):
    """The accelerator of a :class:`~popcorn.mapping.folded.FoldedPlan` (word layouts and
    memories in :mod:`popcorn.mapping.folded`).

    Ports
    -----
    load : ``In(stream.Signature(64))``: the weight image
        (:meth:`~popcorn.mapping.folded.FoldedPlan.weight_image`, then the weight stream's
        pass, :meth:`~popcorn.mapping.folded.FoldedPlan.stream_image`, which is not
        stored: the flash image's payload), word 0 first, once after reset; ``loaded``
        rises after its last word, and no image is taken before.
    stream : ``In(stream.Signature(64))``, when the plan streams layers: the weight
        stream's words, one per issue of a streamed layer, taken
        :data:`~popcorn.mapping.folded.POP_AFTER_ISSUE` cycles after the issue without
        looking at ``valid``; ``stream_pushed``: a word entered the stream's FIFO (an
        issue waits until more words have entered than streamed issues were made:
        :class:`~popcorn.hdl.flash.FlashStream`).
    i : ``In(stream.Signature(plan.in_width))``: the image's ``in_words`` input words, as
        the dataflow accelerator's (:meth:`~popcorn.mapping.network_map.NetworkPlan.input_words`).
    o : ``Out(stream.Signature(plan.out_width))``: the scores and the class, as the dataflow
        accelerator's.

    Timing
    ------
    Images go into the input banks (two in turn, or one:
    :attr:`~popcorn.mapping.folded.FoldedPlan.input_banks`) while the engine computes:
    ``i.ready`` is high unless the bank to fill holds an image, which it does from its
    last word until the cycle after the last read of its last reader (the first layer, or
    a Concat's last branch of the input). The engine starts when an image waits and the
    previous scores have been handed to the argmax; it issues one weight word per cycle,
    segment after segment (:attr:`~popcorn.mapping.folded.FoldedPlan.segments`: a layer's
    output rows, the loops of :mod:`popcorn.mapping.folded`), and waits
    :data:`~popcorn.mapping.folded.DRAIN` cycles after each segment's last issue. A layer
    that writes a ring of rows wraps its writes at the ring's end; its reader reads row
    ``y % in_ring``. An issue's reads come
    :data:`~popcorn.mapping.folded.READ_AFTER_ISSUE` cycles after it (counters, then
    addresses registered), its group is written
    :data:`~popcorn.mapping.folded.WRITE_AFTER_ISSUE` cycles after it (words registered,
    popcounts, their sum, the coefficient product, the accumulator, comparators or scores,
    then the pool and the write); the scores go to the argmax the cycle after.
    :meth:`~popcorn.mapping.folded.FoldedPlan.cycle_model` follows this, cycle for cycle.
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
            **({"stream": In(stream.Signature(SPRAM_WIDTH)),
                "stream_pushed": In(1)}
               if plan.stream_words else {}),
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

        bank_words, bank_bits = plan.input_bank
        first = layers[0]
        ew = min(simd, first.elements)                 # elements of an input bank word
        m.submodules.weights = weights = Spram(SPRAM_WIDTH)
        m.submodules.records = records = memory.Memory(
            shape=pe * r, depth=plan.record_words, init=plan.record_image())
        rows = first.rows
        inbufs = [memory.Memory(shape=bank_bits, depth=plan.input_banks * bank_words, init=[])
                  for _ in range(rows)]
        for n, inbuf in enumerate(inbufs):
            m.submodules[f"inbuf{n}"] = inbuf
        m.submodules.acts = acts = memory.Memory(shape=plan.planes * simd,
                                                 depth=sum(plan.bank_words), init=[])
        rec_rd, act_rd, act_wr = records.read_port(), acts.read_port(), acts.write_port()
        uniform, table = plan.uniform_coefficient, plan.pair_coefficients
        if uniform is None and table is None:
            m.submodules.coefs = coefs = memory.Memory(
                shape=pe * plan.coef_width, depth=plan.record_words * plan.pairs,
                init=plan.coefficient_image())
            coef_rd = coefs.read_port()
        in_rds = [inbuf.read_port() for inbuf in inbufs]
        in_wrs = [inbuf.write_port() for inbuf in inbufs]
        m.submodules.argmax = argmax = SerialArgmax(classes=classes, width=sw)
        wiring.connect(m, argmax.o, wiring.flipped(self.o))

        # -- the weight image (the SPRAM's words, then the stream's pass, not stored) ------
        image_words = plan.weight_words + plan.stream_words
        load_addr = Signal(range(image_words + 1))
        m.d.comb += [self.load.ready.eq(~self.loaded), weights.wdata.eq(self.load.payload)]
        with m.If(self.load.valid & ~self.loaded):
            m.d.comb += [weights.we.eq(load_addr < plan.weight_words),
                         weights.addr.eq(load_addr)]
            m.d.sync += load_addr.eq(load_addr + 1)
            with m.If(load_addr == image_words - 1):
                m.d.sync += self.loaded.eq(1)

        # -- images into the two input banks, while the engine computes ---------------------
        # full[b]: an image waits in input bank b, until its readers' last read of it;
        # the input fills bank wbank, the engine reads bank rbank;
        # running: from the engine's start to the scores' hand-over to the argmax
        full = Signal(2, name="full")
        wbank, rbank = Signal(name="wbank"), Signal(name="rbank")
        running, emitting = Signal(name="running"), Signal(name="emitting")
        finishing = Signal(name="finishing")     # the last word issued, the scores to come
        take = Signal()
        m.d.comb += [self.i.ready.eq(self.loaded & ~full.bit_select(wbank, 1)),
                     take.eq(self.i.valid & self.i.ready)]
        last_word = _image_writer(m, plan, self.i.payload, take, wbank, in_wrs)
        # (continuous assignments: an always @* block would stay undefined in Icarus until
        # one of its inputs changes, and these feed a register)
        freed = Signal(2, name="freed")          # the readers' last read, last cycle
        filling = Signal(2, name="filling")      # an image's last word, this cycle
        if plan.input_banks == 2:
            with m.If(last_word):
                m.d.sync += wbank.eq(~wbank)
        m.d.comb += filling.eq(Mux(last_word, Mux(wbank, 0b10, 0b01), 0))
        m.d.sync += full.eq((full | filling) & ~freed)
        with m.If(full.bit_select(rbank, 1) & ~running):
            m.d.sync += running.eq(1)

        # -- issue: one weight word per cycle, the loops of the module docstring, segment
        # after segment (plan.segments: a layer's output rows oy) --------------------------
        n_layers, segments = len(layers), plan.segments
        layer = Signal(range(max(n_layers, 2)), name="layer")
        segment = Signal(range(max(len(segments), 2)), name="segment")
        hold = Signal(range(DRAIN + 1))
        issue = Signal()
        streamed = _table([int(l.streamed) for l in layers])
        waiting = Signal()                 # a streamed layer's word not in the FIFO yet
        m.d.comb += issue.eq(running & ~finishing & (hold == 0) & ~waiting)
        with m.If(hold != 0):
            m.d.sync += hold.eq(hold - 1)

        def counter(name, lasts):
            return Signal(range(max(lasts) + 1), name=name), _table(lasts)[layer]
        per = _loop_lasts(layers)
        loops = {name: counter(name, lasts) for name, lasts in per.items()}
        loops["oy"] = (loops["oy"][0], _table([last for _, _, last in segments])[segment])
        ends = _nested_counters(m, issue, list(loops.values()))
        end = dict(zip(loops, ends))              # end[k]: k and every loop inside it at last
        c = {name: sig for name, (sig, _) in loops.items()}
        segment_end = end["oy"]
        last_read = max(n for n, (index, _, _) in enumerate(segments)
                        if index < len(plan.readers))   # the input bank's last reader
        after = segments[1:] + segments[:1]
        with m.If(issue & segment_end):
            m.d.sync += [segment.eq(segment + 1), hold.eq(DRAIN),
                         layer.eq(_table([index for index, _, _ in after])[segment]),
                         c["oy"].eq(_table([first for _, first, _ in after])[segment])]
            if plan.input_banks == 2:
                with m.If(segment == last_read):         # the bank takes another image
                    m.d.sync += rbank.eq(~rbank)
            with m.If(segment == len(segments) - 1):
                m.d.sync += [segment.eq(0), finishing.eq(1), hold.eq(0)]
        # the bank is free the cycle after its last reader's last read, two after its issue
        first_done, first_read = Signal(), Signal(2)
        m.d.comb += first_done.eq(issue & (segment == last_read) & segment_end)
        m.d.sync += [first_read.eq(Mux(first_done, Mux(rbank, 0b10, 0b01), 0)),
                     freed.eq(first_read)]

        waddr, rbase, pair = _weight_addresses(m, plan, issue, end, segment)

        # the activation address: the input pixel from the loop counters at the issue,
        # registered, then the word and the padding flags
        act_addr, pad = _activation_address(m, plan, c, layer, rbank)

        # -- the pipeline: tags travel with each issued word --------------------------------
        tag_shapes = {"valid": 1, "first": 1, "last": 1, "wfirst": 1, "wlast": 1, "vfirst": 1,
                      "vlast": 1, "lfirst": 1,
                      "pad": rows, "layer": range(max(n_layers, 2)), "nf": c["nf"].shape(),
                      "j": c["j"].shape()}
        stages = [{k: Signal(v, name=f"t{n}_{k}") for k, v in tag_shapes.items()}
                  for n in range(9)]    # tq: addresses, ta: reads, t1: words read, ...
        tq, ta = stages[0], stages[1]
        group_first = (c["cw"] == 0) & (c["kx"] == 0) & (c["ky"] == 0) & (c["j"] == 0) \
            & (c["i"] == 0)
        m.d.sync += [tq["valid"].eq(issue), tq["first"].eq(group_first),
                     tq["last"].eq(end["i"]), tq["wfirst"].eq((c["dx"] == 0) & (c["dy"] == 0)),
                     tq["wlast"].eq(end["dy"]),
                     tq["vfirst"].eq((c["ex"] == 0) & (c["ey"] == 0)),
                     tq["vlast"].eq(end["ey"]),
                     tq["lfirst"].eq((c["nf"] == 0) & (c["ox"] == 0) & (c["oy"] == 0)),
                     tq["layer"].eq(layer), tq["nf"].eq(c["nf"]), tq["j"].eq(c["j"])]
        for before, after in zip(stages, stages[1:]):
            m.d.sync += [after[k].eq(before[k]) for k in before]
        m.d.sync += ta["pad"].eq(pad)                  # computed in the address cycle
        t1, t2, t3, t4, t5, t6, t7 = stages[2:]
        ra, rr = Signal.like(act_addr, name="read_addr"), Signal.like(rbase, name="read_rec")
        rw, rp = Signal.like(waddr, name="read_w"), Signal.like(pair, name="read_pair")
        wq, rq = Signal.like(waddr, name="waddr_q"), Signal.like(rbase, name="rec_q")
        pq = Signal.like(pair, name="pair_q")
        m.d.sync += [wq.eq(waddr), rq.eq(rbase + c["nf"]), pq.eq(pair),
                     ra.eq(act_addr), rw.eq(wq), rr.eq(rq), rp.eq(pq)]
        # t0: the reads
        with m.If(ta["valid"]):
            m.d.comb += [weights.addr.eq(rw), act_rd.addr.eq(ra), *(in_rd.addr.eq(ra)
                                                                   for in_rd in in_rds)]
            if uniform is None and table is None:
                m.d.comb += coef_rd.addr.eq(Cat(rp, rr))

        # t1: the words read, registered (the input base or a bank's, and the weights)
        x, w = Signal(simd, name="x"), Signal(pe * simd, name="w")
        aw = plan.coef_width
        coef_lanes = pe if table is None else 1        # the table's value serves every lane
        coef2 = Signal(coef_lanes * aw, name="coef2")
        coef3 = Signal(coef_lanes * aw, name="coef3")
        # the input: base j of each row read, rows below the map or beside it zero
        in_plane = Signal(rows * ew, name="in_plane")
        act_plane = Signal(simd, name="act_plane")
        m.d.comb += [in_plane.eq(Cat(*(Mux(t1["pad"][r], 0, in_rd.data.word_select(t1["j"], ew))
                                       for r, in_rd in enumerate(in_rds)))),
                     act_plane.eq(Mux(t1["pad"][0], 0,
                                      act_rd.data.word_select(t1["j"], simd)))]
        reads_input = _table([int(l.phase == 0) for l in layers])
        word = weights.rdata[:pe * simd]
        if plan.stream_words:
            # a streamed issue waits for a word in the FIFO that no issue has claimed
            # (credit: words pushed minus streamed issues, the FIFO's level minus the
            # issues in flight), and takes it in t1, where the SPRAM's word would arrive
            credit = Signal(range(plan.stream_depth + 1), name="stream_credit")
            drained = Signal(init=1, name="stream_drained")       # credit == 0
            after = credit + self.stream_pushed - (issue & streamed[layer])
            m.d.sync += [credit.eq(after), drained.eq(after == 0)]
            m.d.comb += [waiting.eq(streamed[layer] & drained),
                         self.stream.ready.eq(t1["valid"] & streamed[t1["layer"]])]
            word = Mux(streamed[t1["layer"]], self.stream.payload[:pe * simd], word)
        m.d.sync += [x.eq(Mux(reads_input[t1["layer"]], in_plane, act_plane)),
                     w.eq(word), coef3.eq(coef2)]
        if uniform is None and table is None:
            m.d.sync += coef2.eq(coef_rd.data)
        elif uniform is None:           # the table's value of the layer and pair, read as
            coef1 = Signal(aw, name="coef1")                    # the ROM would be
            value = _by_layer(ta["layer"], [
                _by_layer(rp, [Const(v, signed(aw)) for v in row]) for row in table])
            m.d.sync += [coef1.eq(value.as_unsigned()), coef2.eq(coef1)]
        # t2: XNOR (pm1 weights) or AND ({0, 1} weights) and popcounts of every lane, in
        # parts of at most 16 bits
        parts = [(n, min(n + 16, simd)) for n in range(0, simd, 16)]
        counts = [[Signal(range(hi - lo + 1), name=f"count{p}_{lo}") for lo, hi in parts]
                  for p in range(pe)]
        counts_and = _table([int(l.counts_and) for l in layers])[t2["layer"]]
        for p in range(pe):
            wp = w[p * simd:(p + 1) * simd]
            same = Mux(counts_and, wp & x, ~(wp ^ x))
            m.d.sync += [n.eq(popcount_tree(same[lo:hi])) for n, (lo, hi) in zip(counts[p], parts)]
        # t3: the count of each lane (the sum of its parts)
        sums = [Signal(range(simd + 1), name=f"sum{p}") for p in range(pe)]
        coef4 = Signal(coef_lanes * aw, name="coef4")
        m.d.sync += [*(sums[p].eq(sum(counts[p])) for p in range(pe)), coef4.eq(coef3)]
        # t4: the count times its pair's coefficient A[c, i, j]
        terms = [Signal(signed(cw), name=f"term{p}") for p in range(pe)]
        for p in range(pe):
            a = Const(uniform, signed(aw)) if uniform is not None else \
                coef4.word_select(p % coef_lanes, aw).as_signed()
            m.d.sync += terms[p].eq(a * sums[p])
        # t5: accumulate S over the group
        accs = [Signal(signed(cw), name=f"acc{p}") for p in range(pe)]
        with m.If(t5["valid"]):
            m.d.sync += [accs[p].eq(Mux(t5["first"], 0, accs[p]) + terms[p]) for p in range(pe)]
        # t6: the comparators or the scores, once per group
        nf_last = _table(per["nf"])
        live = _table([layer.folding.channels - layer.nf * pe + pe for layer in layers])
        n_levels, field_w = max(plan.levels, 1), cw + MODE_WIDTH
        # the record ROM read in t5 for t6 (its address delayed, not its wide word); the
        # pool's AND flags (1 + outer_pools a lane) kept for t7
        rec_at = rr
        for n in range(1, 6):
            rec_at, before = Signal.like(rr, name=f"read_rec{n}"), rec_at
            m.d.sync += rec_at.eq(before)
        m.d.comb += rec_rd.addr.eq(rec_at)
        record6 = rec_rd.data
        flag, per_lane = plan.levels * field_w, 1 + plan.outer_pools
        flags = Signal(per_lane * pe, name="flags7")     # lane p's at bits per_lane * p
        m.d.sync += flags.eq(Cat(*(record6[p * r + flag:p * r + flag + per_lane]
                                   for p in range(pe))))
        levels = [Signal(n_levels, name=f"levels{p}") for p in range(pe)]
        ys = [Signal(signed(sw), name=f"y{p}") for p in range(pe)]
        done = Signal()
        for p in range(pe):
            rec = record6[p * r:(p + 1) * r]
            lane_live = (t6["nf"] != nf_last[t6["layer"]]) | (p < live[t6["layer"]])
            m.d.sync += [levels[p].eq(Cat(*(
                             compare(accs[p], rec[k * field_w:k * field_w + cw].as_signed(),
                                     rec[k * field_w + cw:(k + 1) * field_w])
                             for k in range(n_levels))) & lane_live.replicate(n_levels)),
                         ys[p].eq(accs[p] + rec[:sw].as_signed())]
        m.d.sync += done.eq(t6["valid"] & t6["last"])

        # t7: the pool over the window (of the comparator levels), then over the second
        # window (each window's last group), the bases of the pooled levels into the next
        # bank, or the scores
        pooled = [Signal(n_levels, name=f"pooled{p}") for p in range(pe)]
        planes = plan.planes
        bases = [Signal(planes, name=f"bases{p}") for p in range(pe)]
        for p in range(pe):
            invert = flags[per_lane * p].replicate(n_levels) if plan.levels else 0
            pooling = Signal(n_levels, name=f"pooling{p}")
            m.d.comb += pooling.eq(Mux(t7["wfirst"], 0, pooled[p]) | (levels[p] ^ invert))
            with m.If(done):
                m.d.sync += pooled[p].eq(pooling)
            out = Signal(n_levels, name=f"out_levels{p}")
            m.d.comb += out.eq(pooling ^ invert)
            if plan.outer_pools:
                invert2 = flags[per_lane * p + 1].replicate(n_levels)
                outer = Signal(n_levels, name=f"outer{p}")
                outering = Signal(n_levels, name=f"outering{p}")
                m.d.comb += outering.eq(Mux(t7["vfirst"], 0, outer) | (out ^ invert2))
                with m.If(done & t7["wlast"]):
                    m.d.sync += outer.eq(outering)
                out = outering ^ invert2
            m.d.comb += bases[p].eq(_by_layer(t7["layer"], [
                0 if layer.scores else levels_to_bases(
                    m, out[:layer.levels], *layer.folding.level_to_base_map(),
                    width=layer.out_planes, name=f"bases{p}_{n}")
                for n, layer in enumerate(layers)]))
        scores = Signal(classes * sw)
        per_fold = simd // pe
        collect = [Signal(simd, name=f"collect{j}") for j in range(planes)]
        stored = [Signal(simd, name=f"stored{j}") for j in range(planes)]
        out_slot = Signal(range(per_fold), name="out_slot")
        # the next word each bank is written at (a layer of a band resumes its own)
        out_words = [Signal(range(words + 1), name=f"out_word{b}") for b in (0, 1)]
        slot_now = Signal.like(out_slot, name="slot_now")
        word_now = Signal(range(words + 1), name="word_now")
        target = _table([l.phase % 2 for l in layers])[t7["layer"]]
        # a layer's channels start at word out_offset of each pixel of out_words words
        out_offset = _table([l.out_offset for l in layers])[t7["layer"]]
        skip = _table([l.out_words - -(-l.folding.channels // simd) for l in layers])
        # a ring's end (its rows' words), where the next word wraps to 0; 0: no ring
        ring_end = _table([l.out_ring * l.out_shape[1] * l.out_words for l in layers])
        m.d.comb += [slot_now.eq(Mux(t7["nf"] == 0, 0, out_slot)),   # a pixel's first fold
                     word_now.eq(Mux(t7["lfirst"], out_offset,
                                     Mux(target, out_words[1], out_words[0])))]
        for j in range(planes):
            m.d.comb += stored[j].eq(Mux(slot_now == 0, 0, collect[j])
                                     | (Cat(*(b[j] for b in bases)) << (slot_now * pe)))
        last_layer = t7["layer"] == n_layers - 1
        next_word = Signal(range(words + 2), name="next_word")
        m.d.comb += next_word.eq(word_now + 1 + Mux(t7["nf"] == nf_last[t7["layer"]],
                                                    skip[t7["layer"]], 0))
        with m.If(done & t7["vlast"] & ~last_layer):
            m.d.sync += [*(collect[j].eq(stored[j]) for j in range(planes)),
                         out_slot.eq(slot_now + 1)]
            whole = (slot_now == per_fold - 1) | (t7["nf"] == nf_last[t7["layer"]])
            written = Mux(whole, Mux(next_word == ring_end[t7["layer"]], 0, next_word),
                          word_now)
            for b, out_word in enumerate(out_words):
                with m.If(target == b):
                    m.d.sync += out_word.eq(written)
            with m.If(whole):
                m.d.comb += [act_wr.en.eq(1), act_wr.data.eq(Cat(*stored)),
                             act_wr.addr.eq(target * plan.bank_words[0] + word_now)]
                m.d.sync += out_slot.eq(0)
        with m.If(done & last_layer):
            for p in range(pe):
                channel = t7["nf"] * pe + p
                with m.If(channel < classes):
                    m.d.sync += scores.word_select(channel, sw).eq(ys[p])
            with m.If(t7["nf"] == nf_last[t7["layer"]]):
                m.d.sync += emitting.eq(1)
        m.d.comb += [argmax.i.valid.eq(emitting), argmax.i.payload.eq(scores)]
        with m.If(argmax.i.valid & argmax.i.ready):
            m.d.sync += [emitting.eq(0), finishing.eq(0), running.eq(0)]
        return m

def _image_writer(m, plan, payload, take, wbank, in_wrs):
    """Writes the input transfers taken (``take``, ``payload``) into input bank ``wbank``
    (the layout of :mod:`popcorn.mapping.folded`: a pixel's transfers gathered into words
    of ``N * ew`` bits, base j of element e at bit ``j * ew + e``; memory r of the first
    layer's ``rows`` holds pixel (y, x) at row ``y + input_pad - r``); returns the strobe of an
    image's last transfer."""
    first = plan.layers[0]
    bank_words, bank_bits = plan.input_bank
    ew = min(plan.simd, first.elements)
    planes = first.planes
    per_transfer = plan.in_width // planes
    per_word = ew // per_transfer
    per_pixel = first.elements // per_transfer
    slot = Signal(range(per_word))
    in_pixel = Signal(range(per_pixel))      # the transfer within its pixel
    in_word = Signal(range(plan.in_words))
    in_addr = Signal(range(bank_words))
    gather, filled = Signal(bank_bits, name="gather"), Signal(bank_bits, name="filled")
    spread = Signal(bank_bits, name="spread")  # base j of element e at bit j * ew + e
    m.d.comb += [spread.eq(Cat(*(Cat(*(payload[e * planes + j] for e in range(per_transfer)),
                                     Const(0, ew - per_transfer))
                                 for j in range(planes)))),
                 filled.eq(Mux(slot == 0, 0, gather) | (spread << (slot * per_transfer)))]
    with m.If(take):
        m.d.sync += [gather.eq(filled), slot.eq(slot + 1), in_word.eq(in_word + 1),
                     in_pixel.eq(Mux(in_pixel == per_pixel - 1, 0, in_pixel + 1))]
        with m.If((slot == per_word - 1) | (in_pixel == per_pixel - 1)):
            for n, in_wr in enumerate(in_wrs):
                shift = (plan.input_pad - n) * first.map[1] * first.words
                m.d.comb += [in_wr.en.eq(in_addr + shift >= 0),
                             in_wr.addr.eq(wbank * bank_words + in_addr + shift),
                             in_wr.data.eq(filled)]
            m.d.sync += [slot.eq(0), in_addr.eq(in_addr + 1)]
    last_word = Signal(name="last_word")
    m.d.comb += last_word.eq(take & (in_word == plan.in_words - 1))
    with m.If(last_word):
        m.d.sync += [in_word.eq(0), in_addr.eq(0)]
    return last_word

def _weight_addresses(m, plan, issue, end, segment):
    """``(waddr, rbase, pair)``: the weight word of each issue (a base's words in order,
    again for every activation base; a neuron fold's bases in order, again for every
    position of both pool windows; the neuron folds again for every output pixel; the
    segments one after another, each from its layer's ``weight_base``: a streamed
    layer's addresses are not read), the layer's first record and the base pair
    ``i * N + j``; ``end``: the loops' "this loop and every loop inside it at its last"
    flags (``oy``'s last the segment's)."""
    layers, segments = plan.layers, plan.segments
    after = [layers[index] for index, _, _ in segments[1:]] or layers[:1]
    waddr = Signal(range(plan.weight_words + 1), name="waddr")
    wi, wnf = Signal.like(waddr, name="wi"), Signal.like(waddr, name="wnf")
    wbase = Signal.like(waddr, name="wbase")
    rbase = Signal(range(plan.record_words + 1), name="rbase")
    pair = Signal(range(plan.pairs), name="pair")
    with m.If(issue & end["ky"]):
        m.d.sync += pair.eq(Mux(end["i"], 0, pair + 1))
    with m.If(issue):
        with m.If(~end["ky"]):
            m.d.sync += waddr.eq(waddr + 1)
        with m.Elif(~end["j"]):
            m.d.sync += waddr.eq(wi)
        with m.Elif(~end["i"]):
            m.d.sync += [waddr.eq(waddr + 1), wi.eq(waddr + 1)]
        with m.Elif(~end["ey"]):
            m.d.sync += [waddr.eq(wnf), wi.eq(wnf)]
        with m.Elif(~end["nf"]):
            m.d.sync += [waddr.eq(waddr + 1), wi.eq(waddr + 1), wnf.eq(waddr + 1)]
        with m.Elif(~end["oy"]):
            m.d.sync += [waddr.eq(wbase), wi.eq(wbase), wnf.eq(wbase)]
        with m.Elif(segment == len(segments) - 1):
            m.d.sync += [waddr.eq(0), wi.eq(0), wnf.eq(0), wbase.eq(0), rbase.eq(0)]
        with m.Else():                           # the next segment's layer's first word
            base = _table([l.weight_base for l in after])[segment]
            m.d.sync += [waddr.eq(base), wi.eq(base), wnf.eq(base), wbase.eq(base),
                         rbase.eq(_table([l.record_base for l in after])[segment])]
    return waddr, rbase, pair

def _activation_address(m, plan, c, layer, rbank):
    """``(address, pad)``, combinational from registers set the cycle after the issue: the
    activation word of tap (ky, kx) of conv output pixel ``(qy PSy + dy, qx PSx + dx)``,
    ``(qy, qx) = (oy OSy + ey, ox OSx + ex)``, from the loop counters ``c`` and ``layer``
    at the issue (the input pixel ``(iy, ix)`` is computed in the issue's cycle and
    registered; phase 0's map in input bank ``rbank``, which keeps ``input_pad`` rows above
    the map; a later phase's in the bank the phase before wrote), and per row read at once
    whether it is padding."""
    layers, first = plan.layers, plan.layers[0]
    bank_words, bank0 = plan.input_bank[0], plan.bank_words[0]
    g = {k: _table([f(l) for l in layers])[layer] for k, f in (
        ("Sy", lambda l: l.stride[0]), ("Sx", lambda l: l.stride[1]),
        ("PSy", lambda l: l.pool[1][0]), ("PSx", lambda l: l.pool[1][1]),
        ("OSy", lambda l: l.outer[1][0]), ("OSx", lambda l: l.outer[1][1]),
        ("Py", lambda l: l.padding[0]), ("Px", lambda l: l.padding[1]))}
    span = max(max(l.map) + max(l.padding) for l in layers).bit_length() + 1
    iy, ix = Signal(signed(span), name="iy"), Signal(signed(span), name="ix")
    qy = c["oy"] * g["OSy"] + c["ey"]
    qx = c["ox"] * g["OSx"] + c["ex"]
    word, layer_q = Signal.like(c["cw"], name="cw_q"), Signal.like(layer, name="layer_q")
    rbank_q = Signal.like(rbank, name="rbank_q")
    m.d.sync += [iy.eq((qy * g["PSy"] + c["dy"]) * g["Sy"] + c["ky"] - g["Py"]),
                 ix.eq((qx * g["PSx"] + c["dx"]) * g["Sx"] + c["kx"] - g["Px"]),
                 word.eq(c["cw"]), layer_q.eq(layer), rbank_q.eq(rbank)]
    layer = layer_q
    g = {k: _table([f(l) for l in layers])[layer] for k, f in (
        ("H", lambda l: l.map[0]), ("W", lambda l: l.map[1]), ("CW", lambda l: l.words))}
    pad = Cat(*((iy + r < 0) | (ix < 0) | (iy + r >= g["H"]) | (ix >= g["W"])
                for r in range(first.rows)))
    reads_input = _table([int(l.phase == 0) for l in layers])[layer]
    source = _table([(l.phase - 1) % 2 for l in layers])[layer]
    bank = Mux(reads_input, rbank_q * bank_words, source * bank0)
    row = Signal(signed(span + 1), name="row")
    m.d.comb += row.eq(iy + Mux(reads_input, plan.input_pad, 0))
    # a ring's row y % in_ring (in_ring a power of two); padding rows read but masked
    mask = _table([l.in_ring - 1 if l.in_ring else (1 << (span + 1)) - 1 for l in layers])
    address = Signal(range(max(plan.input_banks * bank_words, sum(plan.bank_words))),
                     name="act_addr")
    m.d.comb += address.eq(bank + ((row.as_unsigned() & mask[layer]) * g["W"]
                                   + ix.as_unsigned()) * g["CW"] + word)
    return address, pad

def _by_layer(layer, values):
    """``values[layer]`` as a chain of multiplexers (continuous assignments, see
    :class:`_table`)."""
    value = values[-1]
    for n in reversed(range(len(values) - 1)):
        value = Mux(layer == n, values[n], value)
    return value

def _nested_counters(m, enable, loops):
    """Counters ``[(signal, last), ...]`` (innermost first) that step on ``enable``, each
    wrapping from its ``last`` to 0 into the next; returns, per counter, whether it and
    every counter inside it are at their last."""
    ends, at = [], Const(1)
    for sig, last in loops:
        at = at & (sig == last)
        ends.append(at)
    carry = enable
    for (sig, last), inner in zip(loops, ends):
        with m.If(carry):
            m.d.sync += sig.eq(Mux(sig == last, 0, sig + 1))
        carry = enable & inner
    return ends

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


def _control_parts(plan):
    """``{"lut4", "ff"}`` of the control, counted as :func:`folded_parts` says."""
    layers, first = plan.layers, plan.layers[0]
    lasts = _loop_lasts(layers)
    counters = sum(_bits(max(v)) if max(v) else 0 for v in lasts.values())
    waddr, raddr, pair = (_bits(plan.weight_words), _bits(plan.record_words),
                          _bits(plan.pairs - 1))
    layer, nf, j = _bits(len(layers) - 1), _bits(max(lasts["nf"])), _bits(max(lasts["j"]))
    span = max(max(l.map) + max(l.padding) for l in layers).bit_length() + 1
    bank_words = plan.input_bank[0]
    act = _bits(max(plan.input_banks * bank_words, sum(plan.bank_words)) - 1)
    multipliers = sum(_multiplier(span, [f(l) for l in layers]) for f in (
        lambda l: l.outer[1][0], lambda l: l.outer[1][1], lambda l: l.pool[1][0],
        lambda l: l.pool[1][1], lambda l: l.stride[0], lambda l: l.stride[1],
        lambda l: l.map[1], lambda l: l.words))
    tables = (len(layers) * (counters + waddr + raddr)
              + len(plan.segments) * (waddr + raddr + 2 * _bits(max(lasts["oy"]))))
    lut4 = multipliers + 2 * span + 2 * act + 4 * waddr + tables + 2 * counters
    per_transfer = plan.in_width // first.planes
    writer = (_bits(min(plan.simd, first.elements) // per_transfer - 1)
              + _bits(first.elements // per_transfer - 1) + _bits(plan.in_words - 1)
              + _bits(bank_words - 1))
    ff = (counters + 2 * layer + _bits(len(plan.segments) - 1) + 6 * waddr + 8 * raddr
          + 3 * pair + 2 * span + j + act + 9 * (8 + first.rows + layer + nf + j) + writer
          + _bits(plan.weight_words + plan.stream_words) + _bits(plan.simd // plan.pe - 1)
          + 2 * _bits(plan.buffer_words) + plan.pe * (1 + plan.outer_pools))
    return {"lut4": lut4, "ff": ff}


def _loop_lasts(layers):
    """Each loop counter's last value in each layer (innermost first), as the engine's."""
    return {
        "cw": [l.words - 1 for l in layers], "kx": [l.kernel[1] - 1 for l in layers],
        "ky": [l.kernel[0] // l.rows - 1 for l in layers],
        "j": [l.planes - 1 for l in layers], "i": [l.wbases - 1 for l in layers],
        "dx": [l.pool[0][1] - 1 for l in layers], "dy": [l.pool[0][0] - 1 for l in layers],
        "ex": [l.outer[0][1] - 1 for l in layers], "ey": [l.outer[0][0] - 1 for l in layers],
        "nf": [l.nf - 1 for l in layers], "ox": [l.out_shape[1] - 1 for l in layers],
        "oy": [l.out_shape[0] - 1 for l in layers]}


def _bits(n):
    """Bits of ``range(n + 1)`` (at least 1)."""
    return max(int(n), 1).bit_length()


def _multiplier(bits, values):
    """LUT4 of ``x * table[layer]`` for an x of ``bits`` bits: nothing for one power of
    two, an adder per further digit of one constant, else a multiplier of ``bits`` by the
    largest value's bits."""
    if len(set(values)) == 1:
        return bits * max(bin(values[0]).count("1") - 1, 0)
    return bits * _bits(max(values))
