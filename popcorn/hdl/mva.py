"""Matrix-vector-activation engine: one Dense layer of any scheme, folded PE x SIMD."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.binary import pack_words
from ..hwmath import tree_levels
from ..mapping.linear import (COMPRESSOR_GROUP, PRODUCT_LEVELS, TERNARY_BITS, TERNARY_GROUP,
                              LinearFolding, csd_digits, table_elements, ternary_table)
from . import meminit
from .comparator import compare, levels_to_bases
from .estimates import estimate_mva
from .no_init import NO_INIT
from .popcount import build_tree, popcount_tree, tree_plan


class MatrixVectorActivation(wiring.Component):
    """A Dense layer of the integer model: M x N base pairs per channel, popcounts
    accumulated over the element folds, ``Y = sum_ij A_ij P_ij + C'`` and then comparators
    (next layer's bases) or the scores. Arithmetic, word layouts, the folding and the
    datapath options (``pipeline``, ``bases``, ``multiply``) are those of
    :class:`~popcorn.mapping.linear.LinearFolding`; the weight words come from a ROM, or
    with ``folding.weight_constants`` (NF*SF <= 2) are constants picked by the fold
    address registered where the ROM's read would be (same timing), or with
    ``folding.weight_code == "tables"`` are count tables in block RAM
    (``LinearFolding.count_tables``) read with the registered fold address and
    activations, whose counts the trees add. A threshold layer
    with one base pair compares the popcount itself (``LinearFolding.compares_counts``).
    The comparators and the levels -> bases step are :func:`popcorn.hdl.comparator.compare` and
    :func:`~popcorn.hdl.comparator.levels_to_bases`, shared with
    :class:`~popcorn.hdl.comparator.ComparatorActivation`.

    Ports
    -----
    i : ``In(stream.Signature(K*N))``: one input vector's bases per transfer.
    r : with ``folding.shortcut`` or ``folding.addend`` only,
        ``In(stream.Signature(C*folding.side_bits))``, taken in the same handshake as ``i``
        (each ``ready`` waits for the other's ``valid``), channel c at
        ``[c*b, (c+1)*b)``: its shortcut bits (lane p of channel fold nf compares with the
        table they select, ``LinearFolding.shortcut``) or the signed Y added to its own
        before the comparators (``LinearFolding.addend``).
    o : ``Out(stream.Signature(C*N'))`` (bases) or ``C*score_width`` (scores).

    Timing
    ------
    Initiation interval ``folding.cycles_per_vector`` (NF*SF; NF*SF*M*N with serial
    bases); ``o.valid`` rises ``folding.latency = cycles_per_vector + 3 + pipeline`` cycles
    after the input handshake (issue, ``pipeline`` popcount tree stages, count/accumulate,
    combine, output register), one more with ``folding.weight_stage`` (a deep weight ROM's
    word registered, or the count tables' read), one more per ``folding.product_stages`` (partial sums of ``sum A
    P`` registered before C' is added), one more with ``folding.compare_stage`` (Y
    registered between the combine and the comparators, or the output register of a
    scores layer), one more with ``folding.level_stage`` (the comparators' levels
    registered). While a finished vector waits for the output register the whole
    engine holds (one clock enable, ``advance``, for every stage, the tree's
    included; the trees' from ``folding.stall_copies`` copies of it) and ``i.ready`` is
    low. With ``cycles_per_vector > 1`` the register must be
    empty (taken in an earlier cycle), so ``i.ready`` does not depend on ``o.ready`` and the
    ready path of a chain of engines is cut at every engine; with one cycle per vector a
    word taken in the same cycle makes room (full throughput).

    ``registered_take`` (default): without gather and with ``cycles_per_vector > 1``,
    ``i.ready`` comes from a register loaded with its next value; False: the same value
    from the engine's registers in the same cycle (one LUT4 level, one flip-flop less;
    ``tests/hdl/test_formal.py`` checks the two against each other).
    """

    def __init__(self, folding, *, registered_take=True):
        if not isinstance(folding, LinearFolding):
            raise TypeError(f"folding must be a LinearFolding, not {folding!r}")
        self._folding = folding
        self._registered_take = registered_take
        ports = {"i": In(stream.Signature(folding.word_width)),
                 "o": Out(stream.Signature(folding.out_width))}
        if folding.side_bits:
            ports["r"] = In(stream.Signature(folding.channels * folding.side_bits))
        super().__init__(ports)

    @property
    def folding(self):
        return self._folding

    def resources(self, family="ice40"):
        """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` on ``family``:
        :func:`~popcorn.hdl.estimates.estimate_mva`."""
        return estimate_mva(self._folding, family)

    def elaborate(self, platform):
        f = self._folding
        lin = f.linear
        pe, simd, m_, n_ = f.pe, f.simd, f.weight_bases, f.act_bases
        nf_n, sf_n, q_n = f.neuron_folds, f.synapse_folds, f.pairs_per_fold
        serial = f.bases == "serial" and q_n > 1
        depth = f.pipeline
        width = f.score_width
        pairs = [(i, j) for i in range(m_) for j in range(n_)]
        tables = f.weight_code == "tables"
        m = Module()

        if not f.weight_constants and not tables:
            m.submodules.weights = wrom = memory.Memory(
                shape=f.weight_rom_width, depth=nf_n * sf_n, init=[],
                attrs=None if f.weight_memory == "auto" else {"rom_style": f.weight_memory})
            meminit.fill(wrom, f.weight_rom())
            wport = wrom.read_port()
        words, layout, record = f.channel_rom()
        m.submodules.channels = crom = memory.Memory(shape=pe * record, depth=len(words),
                                                     init=[])
        meminit.fill(crom, words)
        cport = crom.read_port()
        # Serial bases with per-channel A: the accumulate stage reads A from its own port.
        sport = crom.read_port() if serial and not f.uniform_scale else None

        # Stage 0, issue: walk the folds (nf, sf, q) of the vector held in `x` (or in the
        # input buffer's read bank, with gather).
        busy = Signal()
        nf = Signal(range(nf_n))
        sf = Signal(range(sf_n))
        q = Signal(range(q_n))
        addr = Signal(range(nf_n * sf_n))
        last_q = q == q_n - 1
        last_sf = last_q & (sf == sf_n - 1)

        stall = Signal()
        advance = Signal(name="advance")
        m.d.comb += advance.eq(~stall)
        # The trees' registers (and each lane's after them) take their clock enable from
        # copies of the stall register (LinearFolding.stall_copies), the same value: tree
        # n of `trees`, lane-major, from copy n * copies // trees.
        copies = [Signal(name=f"advance_t{k}") for k in range(f.stall_copies)]
        per_lane = f.popcount_trees // pe

        def tree_advance(p, n=0):
            """The clock enable of lane p's tree n (its first: the lane's stages)."""
            if not copies:
                return advance
            return copies[(p * per_lane + n) * len(copies) // f.popcount_trees]
        # The vector's last fold, a register: `i.ready` and the input register's enable
        # come from it, not from a compare of the three counters (it set the UP5K demo's
        # clock). The walk moves only on `advance & busy` and wraps after the last fold.
        positions = nf_n * sf_n * q_n
        if positions == 1:
            last_fold = next_last_fold = Const(1)
        else:
            left = Signal(range(positions), init=positions - 1, name="folds_left")
            last_fold = Signal(name="last_fold")
            # left == 1, a register too: last_fold's and take's next values without a
            # compare (take's ran stall -> 4 LUT4 on the ECP5, 7.2 ns)
            left_one = Signal(init=positions == 2, name="folds_left_one")
            with m.If(advance & busy):
                with m.If(last_fold):
                    m.d.sync += [left.eq(positions - 1), last_fold.eq(0),
                                 left_one.eq(positions == 2)]
                with m.Else():
                    m.d.sync += [left.eq(left - 1), last_fold.eq(left_one),
                                 left_one.eq(left == 2)]
            next_last_fold = Mux(advance & busy, ~last_fold & left_one, last_fold)
        if f.weight_constants or tables:
            # the fold address registered: constants picked by it (Yosys folds the pick
            # and the XNOR/AND into the popcount trees' first LUTs), or the count tables'
            # address with the fold's activations
            s1_addr = Signal.like(addr, name="s1_addr", reset_less=True)
            with m.If(advance):
                m.d.sync += s1_addr.eq(addr)
        if f.weight_constants:
            weight_word = _select([Const(w, f.weight_rom_width) for w in f.weight_rom()],
                                  s1_addr)
        elif not tables:
            m.d.comb += [wport.addr.eq(addr), wport.en.eq(advance)]
            weight_word = wport.data
        # (with gather: the buffer's read, a block RAM's, with no power-up value)
        s1_x = Signal(simd * n_, reset_less=True, attrs=NO_INIT if f.gather else None)
        registered_take = self._registered_take and positions > 1 and not f.gather
        if f.gather:
            self._gather(m, busy, advance & busy & last_q, last_sf, advance, next_last_fold,
                         s1_x)
        else:
            x = Signal(f.in_width, reset_less=True)
            # (a vector is taken at its last fold or when idle; with a registered stall
            # this is a register too, loaded below with its next value: the ready path of
            # the window and queue in front ran 7.9 ns on the ECP5 from `busy`)
            take = Signal(init=1, name="take")
            if not registered_take:
                m.d.comb += take.eq(advance & (~busy | last_fold))
            if not f.side_bits:
                m.d.comb += self.i.ready.eq(take)
            else:
                m.d.comb += [self.i.ready.eq(take & self.r.valid),
                             self.r.ready.eq(take & self.i.valid)]
            with m.If(advance):
                m.d.sync += s1_x.eq(x.word_select(sf, simd * n_))

        # Stage 1: weight ROM word valid; the flags travel with it.
        # (`done`: a valid vector's last fold)
        s1 = dict(valid=Signal(name="s1_valid"), last=Signal(name="s1_last"),
                  done=Signal(name="s1_done"), nf=Signal.like(nf, name="s1_nf"),
                  q=Signal.like(q, name="s1_q"))
        if f.side_bits:
            # the vector's `r` word; its channel fold's slice travels with the flags
            side_word = Signal(len(self.r.payload), reset_less=True)
            s1["side"] = Signal(pe * f.side_bits, name="s1_side", reset_less=True)
            with m.If(advance):
                m.d.sync += s1["side"].eq(side_word.word_select(nf, pe * f.side_bits))
        if f.borders is not None:
            cls = self._border_class(m, advance & busy & last_fold)
            s1["cls"] = Signal.like(cls, name="s1_cls")
            with m.If(advance):
                m.d.sync += s1["cls"].eq(cls)
        with m.If(advance):
            m.d.sync += [
                s1["valid"].eq(busy),
                s1["last"].eq(last_sf), s1["done"].eq(busy & last_fold), s1["nf"].eq(nf),
                s1["q"].eq(q),
            ]
            with m.If(busy):
                with m.If(last_q):
                    m.d.sync += [q.eq(0), addr.eq(addr + 1)]
                    with m.If(last_sf):
                        m.d.sync += sf.eq(0)
                        with m.If(last_fold):
                            m.d.sync += [nf.eq(0), addr.eq(0)]
                            if not f.gather:
                                m.d.sync += busy.eq(0)
                        with m.Else():
                            m.d.sync += nf.eq(nf + 1)
                    with m.Else():
                        m.d.sync += sf.eq(sf + 1)
                with m.Else():
                    m.d.sync += q.eq(q + 1)
            if not f.gather:      # a vector taken at the last fold keeps the engine busy
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += busy.eq(1)
        if not f.gather:
            # The input registers load on `take` alone, a handshake or not: with `take` high
            # the vector in `x` is done, and one loaded without a handshake is never used
            # (busy stays low). Their clock enable is then a register, not a LUT of the two
            # streams' valids and `advance` (digits-resnet-abc on the ECP5: 12.3 ns of
            # routing from the stall through one LUT to the 324 bits of `x`).
            with m.If(take):
                m.d.sync += x.eq(self.i.payload)
                if f.side_bits:
                    m.d.sync += side_word.eq(self.r.payload)

        if f.weight_code == "ternary":
            weight_word = self._decode_ternary(m, weight_word)
        nf_chain = [nf, s1["nf"]]
        if f.weight_stage:
            # A ROM deeper than one block RAM is read through a multiplexer of its rows, a
            # ternary-coded one through its decoders: the word, the fold's activations and
            # the flags are registered once more. Count tables are read in this stage.
            staged = {key: Signal.like(value, name=f"s1w_{key}") for key, value in s1.items()}
            with m.If(advance):
                m.d.sync += [staged[key].eq(value) for key, value in s1.items()]
            if tables:
                table_counts = self._read_tables(m, s1_x, s1_addr, advance)
            else:
                s1_x = self._register(m, s1_x, advance, "s1w_x")
                weight_word = self._register(m, weight_word, advance, "s1w_weights")
            s1 = staged
            nf_chain.append(s1["nf"])

        # Stages 2 .. 1+pipeline: inside the popcount trees; flags delayed alike.
        acc_flags = dict(s1)
        for d in range(depth):
            delayed = {}
            for key, value in acc_flags.items():
                reg = Signal.like(value, name=f"t{d + 1}_{key}")
                with m.If(advance):
                    m.d.sync += reg.eq(value)
                delayed[key] = reg
            if f.borders is not None and d == depth - 1:
                # the channel ROM's address, border class major, a register of its own
                # (digits-textcnn-xnor on the ECP5: 6.7 ns through its add into the ROM)
                rec = Signal(range(f.classes * nf_n), name=f"t{d + 1}_record_addr")
                with m.If(advance):
                    m.d.sync += rec.eq(acc_flags["cls"] * nf_n + acc_flags["nf"])
                delayed["record_addr"] = rec
            acc_flags = delayed
            nf_chain.append(acc_flags["nf"])
        a_valid, a_last = acc_flags["valid"], acc_flags["last"]

        def accumulate(acc, total):
            """Load an accumulator (under its clock enable): the sum so far, or 0 after a
            vector's last element fold and while no fold is in the stage (after a reset
            too), so that the first fold finds it 0: no `first` mask, a signal of every
            accumulator, in front of the adders (digits-mobilenet-pa on the ECP5: 4 LUT4
            and 3.6 ns of routing from it)."""
            m.d.sync += acc.eq(Mux(a_valid & ~a_last, total, 0))

        def count(bits, name, enable=advance):
            """The popcount of ``bits`` (a value, or a list of 1-bit values; or the count
            tables' reads, ``(count, elements)`` per table) ``depth`` register stages later,
            its registers enabled by ``enable``: a tree over ``f.tree_width`` bits has
            exactly that many, a smaller one (a selected count) as many as its levels
            allow and delay registers after them."""
            if not isinstance(bits, list):
                bits = [bits[k] for k in range(len(bits))]
            if not bits:
                return Const(0, 1)
            if tables:
                width, group = f.tree_width, f.tree_group
            elif depth == 0:
                return popcount_tree(Cat(*bits))    # the combinational adder tree
            else:
                width, group = len(bits), COMPRESSOR_GROUP
            stages = min(depth, tree_levels(width, group))
            plan = tree_plan(width, group, stages, max_width=1 << 20,
                             front=f.front_register)
            value, _ = build_tree(m, bits, plan, [enable] * stages, name=name)
            for d in range(depth - stages):
                delayed = Signal.like(value, name=f"{name}_delay{d}", reset_less=True)
                with m.If(enable):
                    m.d.sync += delayed.eq(value)
                value = delayed
            return value

        selection = f.count_selection()
        every = {}            # X_j, the popcount of activation base j, for selected counts

        def pair_count(p, i, j, weights):
            """P of lane p's pair (i, j): the XNOR/AND bits counted, or the selected form
            (``LinearFolding.count_selection``)."""
            enable = tree_advance(p, pairs.index((i, j)))
            if tables:
                return count([(data.word_select(p * m_ + i, k.bit_length()), k)
                              for data, k in table_counts[j]], f"pc{p}_{i}_{j}", enable)
            if selection is None:
                bits = self._pair_bits(m, weights[i], acts[j], f"bits{p}_{i}_{j}")
                return count(bits, f"pc{p}_{i}_{j}", enable)
            sign, positions, offset = selection[p][i]
            # (bits of the signal itself: a slice of a Cat is the whole Cat in the RTLIL)
            selected = count([acts[j][k] for k in positions], f"sel{p}_{i}_{j}", enable)
            if lin.weight_encoding != "pm1":
                return selected
            if j not in every:
                every[j] = count(acts[j], f"every{j}")
            return offset + (selected << 1) - every[j] if sign > 0 else \
                offset + every[j] - (selected << 1)

        # Activation bases of this fold, base j as `simd` contiguous bits.
        acts = []
        for j in range(n_ if not tables else 0):
            v = Signal(simd, name=f"act{j}")
            m.d.comb += v.eq(Cat(s1_x[k * n_ + j] for k in range(simd)))
            acts.append(v)

        # Channel ROM (offset, thresholds, modes; per-channel A): read for the stage after
        # the accumulation, i.e. addressed by the accumulating fold's nf (and border class).
        record_addr = nf_chain[-1] if f.borders is None else acc_flags.get(
            "record_addr", acc_flags["cls"] * nf_n + nf_chain[-1])
        m.d.comb += [cport.addr.eq(record_addr), cport.en.eq(advance)]
        fields = {name: (start, w, count_) for name, start, w, count_ in layout}

        def record_field(data, p, name, n):
            start, w, _ = fields[name]
            rec = data.word_select(p, record)
            return rec[start + n * w:start + (n + 1) * w].as_signed()

        pc_width = f.count_max.bit_length()
        s2_valid, s2_done = Signal(), Signal()
        s2_count = {}                # parallel: P per lane and pair; serial: partial Y
        for p in range(pe):
            weights = []
            for i in range(m_ if not tables else 0):
                t = Signal(simd, name=f"w{p}_{i}")
                m.d.comb += t.eq(weight_word.word_select(p * m_ + i, simd))
                weights.append(t)
            if not serial:
                for n, (i, j) in enumerate(pairs):
                    total = Signal(pc_width, name=f"total{p}_{i}_{j}")
                    acc = Signal(pc_width, name=f"acc{p}_{i}_{j}", reset_less=True)
                    s2_count[p, i, j] = Signal(pc_width, name=f"count{p}_{i}_{j}",
                                               reset_less=True)
                    base = acc if sf_n > 1 else Const(0, pc_width)
                    m.d.comb += total.eq(base + pair_count(p, i, j, weights))
                    with m.If(tree_advance(p, n)):
                        accumulate(acc, total)
                        with m.If(a_valid & a_last):
                            m.d.sync += s2_count[p, i, j].eq(total)
                continue
            # Serial: base pair q of this element fold, one tree, Y accumulated directly.
            t = Signal(simd, name=f"w{p}")
            v = Signal(simd, name=f"a{p}")
            m.d.comb += [t.eq(_select([weights[i] for i, _ in pairs], s1["q"])),
                         v.eq(_select([acts[j] for _, j in pairs], s1["q"]))]
            bits = self._pair_bits(m, t, v, f"bits{p}")
            pc = Signal(pc_width, name=f"pc{p}")
            m.d.comb += pc.eq(count(bits, f"pc{p}", tree_advance(p)))
            product = Signal(signed(width), name=f"product{p}")
            if sport is not None:
                scale = _select([record_field(sport.data, p, "scale", n)
                                 for n in range(len(pairs))], acc_flags["q"])
                m.d.comb += product.eq(pc * scale)
            elif f.multiply == "dsp":             # one multiplier, A_q picked first
                a = f.affine()[0].reshape(f.channels, -1)[0].tolist()
                scale = _select([Const(int(v), signed(f.scale_width)) for v in a],
                                acc_flags["q"])
                m.d.comb += product.eq(pc * scale)
            else:                                   # every A_q * P as shift-adds, then pick
                prods = [_sum(self._constant_product(pc, n)) for n in range(len(pairs))]
                m.d.comb += product.eq(_select(prods, acc_flags["q"]))
            total = Signal(signed(width), name=f"ytotal{p}")
            acc = Signal(signed(width), name=f"yacc{p}", reset_less=True)
            s2_count[p] = Signal(signed(width), name=f"ypart{p}", reset_less=True)
            m.d.comb += total.eq(acc + product)
            with m.If(tree_advance(p)):
                accumulate(acc, total)
                with m.If(a_valid & a_last):
                    m.d.sync += s2_count[p].eq(total)
        if sport is not None:
            m.d.comb += [sport.addr.eq(nf_chain[-2]), sport.en.eq(advance)]
        with m.If(advance):
            m.d.sync += [s2_valid.eq(a_valid & a_last), s2_done.eq(acc_flags["done"])]
        # what the last stage's `done` loads on `advance` (for the registered stall below)
        out_done_in = acc_flags["done"]
        side = None                  # the `r` slice of the fold being combined / compared
        if f.side_bits:
            side = Signal.like(acc_flags["side"], name="s2_side", reset_less=True)
            with m.If(advance):
                m.d.sync += side.eq(acc_flags["side"])
        out_valid, out_done, record_data = s2_valid, s2_done, cport.data

        def restage(name, flags_only=False, tree=0):
            """One more register stage for the flags and (unless ``flags_only``: the
            compare and level stages) the channel record and the side, lane p's slices
            enabled by the stall copy of its tree ``tree`` (a product stage's record and
            side, pe * (record + side bits) a stage, on the engine's own stall: 1 500 clock
            enables in digits-resnet-abc's last engine)."""
            nonlocal out_valid, out_done, record_data, side, out_done_in
            out_done_in = out_done
            staged = [Signal(name=f"{name}_valid"), Signal(name=f"{name}_done")]
            with m.If(advance):
                m.d.sync += [reg.eq(value) for reg, value in zip(staged, (out_valid, out_done))]
            out_valid, out_done = staged
            if flags_only:
                return
            data = [(record_data, record, "record")]
            if side is not None:
                data.append((side, f.side_bits, "side"))
            regs = []
            for value, lane_bits, what in data:
                reg = Signal.like(value, name=f"{name}_{what}", reset_less=True)
                for p in range(pe):
                    with m.If(tree_advance(p, tree)):
                        m.d.sync += reg.word_select(p, lane_bits).eq(
                            value.word_select(p, lane_bits))
                regs.append(reg)
            record_data = regs[0]
            side = regs[1] if side is not None else None

        def field(p, name, n, data=None):
            return record_field(record_data if data is None else data, p, name, n)

        # The product stages register partial sums of sum_ij A P before C' is added
        # (LinearFolding.product_partials: groups of 2**PRODUCT_LEVELS terms, then of
        # partial sums); with a compare stage, Y before the comparators
        # (LinearFolding.compare_stage). One more cycle each; the record, the flags and the
        # side travel along.
        fan = 2 ** PRODUCT_LEVELS
        partials = {}               # per lane, the terms of sum_ij A P
        for p in range(pe):
            if not f.compares_counts:
                partials[p] = [s2_count[p]] if serial else self._combine(
                    s2_count, p, lambda name, n, p=p: field(p, name, n))
        for stage, count in enumerate(f.product_partials):
            for p in range(pe):
                if stage:
                    partials[p] = [_sum(partials[p][k:k + fan])
                                   for k in range(0, len(partials[p]), fan)]
                assert len(partials[p]) == count
                regs = [Signal(signed(width), name=f"s3p{stage}_products{p}_{k}", reset_less=True)
                        for k in range(count)]
                for k, (reg, term) in enumerate(zip(regs, partials[p])):
                    with m.If(tree_advance(p, k * per_lane // count)):
                        m.d.sync += reg.eq(term)
                partials[p] = regs
            restage(f"s3p{stage}", tree=stage * per_lane // len(f.product_partials))
        offset_data, offset_side = record_data, side
        if f.compare_stage:
            # the comparators' T' and modes are registered beside Y (below), picked from
            # the shortcut tables already: the record and the side end here
            restage("s3", flags_only=True)
        if f.level_stage:
            restage("s4", flags_only=True)
        if f.cycles_per_vector > 1:
            # A result waits for an empty output register, so `i.ready` and the stall come
            # from this engine's registers only: no ready path runs through two engines.
            # No throughput is lost unless the consumer takes a word later than
            # cycles_per_vector - 1 cycles after it is offered. The stall is a register,
            # loaded with what out_done & o.valid will be (the same value a cycle ahead):
            # `advance`, the clock enable of every stage, fans out from a flip-flop
            # (through the output register's LUTs it ran 19 ns on the UP5K). Its copies
            # are loaded alike, each from its own value: Yosys keeps them apart. (From
            # valid and a `final` flag, its next value ran 4 LUT4 and 10.4 ns of routing in
            # digits-resnet-abc.)
            def next_stall(enable):
                next_o_valid = (out_done & enable) | (self.o.valid & ~self.o.ready)
                return Mux(enable, out_done_in, out_done) & next_o_valid

            stall_reg = Signal(name="stall")
            m.d.sync += stall_reg.eq(next_stall(advance))
            m.d.comb += stall.eq(stall_reg)
            if registered_take:
                # `take`'s next value: the next stall, busy and last fold
                fire = self.i.valid & self.i.ready
                next_busy = fire | (busy & ~(advance & last_fold))
                m.d.sync += take.eq(~next_stall(advance) & (~next_busy | next_last_fold))
            for k, copy in enumerate(copies):
                copy_reg = Signal(name=f"stall_t{k}")
                m.d.sync += copy_reg.eq(next_stall(copy))
                m.d.comb += copy.eq(~copy_reg)
        else:
            assert not copies
            m.d.comb += stall.eq(out_done & self.o.valid & ~self.o.ready)

        # Last stage(s): Y per lane from the channel record, then comparators or scores.
        results = []
        for p in range(pe):
            if f.compares_counts:
                y = s2_count[p, 0, 0]
            else:
                y = Signal(signed(width), name=f"y{p}")
                offset = field(p, "offset", 0, offset_data)
                terms = partials[p] + [offset]
                if f.addend is not None:
                    terms.append(offset_side.word_select(p, f.addend_width).as_signed())
                m.d.comb += y.eq(_sum(terms))
            if f.compare_stage:
                y_reg = Signal(signed(width), name=f"s3_y{p}", reset_less=True)
                with m.If(tree_advance(p)):
                    m.d.sync += y_reg.eq(y)
                y = y_reg
            if f.activation is None:
                results.append(y)
                continue
            levels = Signal(f.levels, name=f"levels{p}")
            tables = len(f.tables)
            lane_pattern = None if f.shortcut is None else \
                offset_side.word_select(p, f.shortcut_bits)
            for k in range(f.levels):
                # one chain Y >= T' (T' = T + 1 for [Y <= T]); on counts T' is unsigned,
                # as wide as P (LinearFolding.channel_fields); with a shortcut, the table
                # of the lane's pattern, picked before the compare stage's register (from
                # its register the pick and the chain ran 24 cells, 11.1 ns, on
                # digits-resnet-abc's residual engine on the ECP5)
                modes = [field(p, "mode", s * f.levels + k, offset_data).as_unsigned()
                         for s in range(tables)]
                thresholds = [field(p, "threshold", s * f.levels + k, offset_data)
                              for s in range(tables)]
                if f.compares_counts:
                    thresholds = [t.as_unsigned() for t in thresholds]
                mode, threshold = modes[0], thresholds[0]
                if lane_pattern is not None:
                    mode, threshold = (_select(modes, lane_pattern),
                                       _select(thresholds, lane_pattern))
                if f.compare_stage:
                    staged = (Signal.like(mode, name=f"s3_mode{p}_{k}", reset_less=True),
                              Signal.like(threshold, name=f"s3_threshold{p}_{k}",
                                          reset_less=True))
                    with m.If(tree_advance(p)):
                        m.d.sync += [staged[0].eq(mode), staged[1].eq(threshold)]
                    mode, threshold = staged
                m.d.comb += levels[k].eq(compare(y, threshold, mode))
            if f.level_stage:
                levels_reg = Signal(f.levels, name=f"s4_levels{p}", reset_less=True)
                with m.If(tree_advance(p)):
                    m.d.sync += levels_reg.eq(levels)
                levels = levels_reg
            if f.emit == "levels":
                results.append(levels)
                continue
            kind, perm = f.level_to_base_map()
            results.append(levels_to_bases(m, levels, kind, perm, width=f.out_bases,
                                           name=f"bases{p}"))

        lane_bits = Cat(*results)
        staging = Signal(f.out_width, reset_less=True)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(out_valid & advance):
            m.d.sync += staging.eq(Cat(staging[len(lane_bits):], lane_bits))
            with m.If(out_done):
                m.d.sync += [self.o.payload.eq(Cat(staging[len(lane_bits):], lane_bits)),
                             self.o.valid.eq(1)]
        return m

    def _decode_ternary(self, m, codes):
        """The weight word (lanes' bases, ``pe*2*simd`` bits) of a ternary-coded ROM word:
        each 5-bit code through :func:`~popcorn.mapping.linear.ternary_table`, a function
        of its 5 bits per output bit, registered (``LinearFolding.weight_stage``)."""
        f = self._folding
        simd, groups = f.simd, f.ternary_groups // f.pe
        table = ternary_table()
        lookup = Const(sum(v << (2 * TERNARY_GROUP * code) for code, v in enumerate(table)),
                       2 * TERNARY_GROUP * len(table))
        word = Signal(f.pe * 2 * simd, name="weights_decoded")
        for p in range(f.pe):
            bases = [[], []]
            for g in range(groups):
                code = codes.word_select(p * groups + g, TERNARY_BITS)
                pairs = lookup.word_select(code, 2 * TERNARY_GROUP)
                bases[0].append(pairs[:TERNARY_GROUP])
                bases[1].append(pairs[TERNARY_GROUP:])
            m.d.comb += [word.word_select(2 * p + i, simd).eq(Cat(*bases[i])[:simd])
                         for i in range(2)]
        return word

    def _border_class(self, m, step):
        """The border class (``LinearFolding.borders``) of the vector being issued: output
        row and column counters in raster order, advanced by ``step`` (its last fold
        issued), through constant tables of the row and column classes."""
        borders = self._folding.borders
        rows, cols = borders.rows.tolist(), borders.cols.tolist()
        width = (borders.classes - 1).bit_length() or 1
        oy, ox = Signal(range(max(2, len(rows))), name="border_y"), \
            Signal(range(max(2, len(cols))), name="border_x")
        with m.If(step):
            with m.If(ox == len(cols) - 1):
                m.d.sync += [ox.eq(0), oy.eq(Mux(oy == len(rows) - 1, 0, oy + 1))]
            with m.Else():
                m.d.sync += ox.eq(ox + 1)
        row_base = Const(sum(c * borders.column_classes << (n * width)
                             for n, c in enumerate(rows)), width * len(rows))
        col_class = Const(sum(c << (n * width) for n, c in enumerate(cols)), width * len(cols))
        cls = Signal(width, name="border_class")
        m.d.comb += cls.eq(row_base.word_select(oy, width) + col_class.word_select(ox, width))
        return cls

    def _gather(self, m, busy, moves, last_sf, advance, next_last_fold, s1_x):
        """The input buffer of ``gather``: words of w bits packed into element folds of
        ``simd * N`` bits, written to bank ``wb`` (SF folds each) while the issue stage
        reads bank ``rb``. Both walk the two banks in turn, so ``banks``, the number of
        full banks (a bank is full from its last write to its last fold), is the whole
        state: ``busy`` is ``banks > 0`` and ``i.ready`` is ``banks < 2``, registers (no
        path from ``o.ready``; ``i.ready`` a copy of its own). Sets ``s1_x`` (the read
        port's data: the issue stage's element fold of the read bank, a cycle after the
        issue; the read port follows ``advance``, as the stage-1 registers); the issue
        stage's fold moves on with ``moves``, back to 0 after ``last_sf``; the read and
        write addresses are registers of their own, each bank's base and fold (no add and
        multiplexer in front of the buffer: mnist-cnn-bnn-tiny on the ECP5, 7.9 ns through
        them into its LUT RAM). ``banks`` changes when ``done``
        (the read bank's last fold issued: ``advance`` and ``busy & last_fold``, a register
        of its own, loaded from ``next_last_fold``) and when a bank's last word is
        written."""
        f = self._folding
        w, sf_n = f.gather, f.synapse_folds
        per_fold = f.fold_width // w
        # The read port never reads the bank being written: `no_rw_check` spares Yosys
        # the read-first emulation of a same-address collision (34 flip-flops here; on the
        # ECP5 a multiplexer in front of s1_x, 7.7 ns). Yosys honours it where it merges a
        # register into a read port, so the port is asynchronous and `s1_x` its register.
        m.submodules.buffer = buf = memory.Memory(shape=f.fold_width, depth=2 * sf_n, init=[],
                                                  attrs={"no_rw_check": 1})
        rport, wport = buf.read_port(domain="comb"), buf.write_port()
        wb, rb = Signal(name="wb"), Signal(name="rb")
        # full banks, one-hot above 0: one full (`one_full`) or both (`both_full`); their
        # next value is a function of seven registers and `i.valid` (the bank flags and
        # their bank selects ran 5 LUT4 deep on the ECP5, 7.1 ns)
        one_full, both_full = Signal(name="one_full"), Signal(name="both_full")
        # ~both_full in a flip-flop of its own for `i.ready`, which fans out into the
        # producer (digits-mobilenet-pa: both_full placed beside the producer, 7.3 ns of
        # routing to the bank logic and back)
        ready = Signal(init=1, name="gather_ready")
        word = Signal(range(per_fold))
        wsf = Signal(range(sf_n))
        raddr = Signal(range(2 * sf_n), name="raddr")     # rb * SF + the fold
        waddr = Signal(range(2 * sf_n), name="waddr")     # wb * SF + wsf
        # registers: the fold's last word, the bank's last fold and both (compares of the
        # counters in the write enable and the banks' flags set the UP5K demo's first
        # engine)
        last_word = Signal(init=per_fold == 1, name="last_word")
        last_wsf = Signal(init=sf_n == 1, name="last_wsf")
        bank_last = Signal(init=per_fold == 1 and sf_n == 1, name="bank_last")
        # ready & bank_last, a register of its own: a transfer fills a bank when `i.valid`
        # and it (the banks' flags' enables ran four LUT4 deep from `i.valid` on the UP5K
        # demo); loaded from the next values of both
        ready_last = Signal(init=per_fold == 1 and sf_n == 1, name="ready_last")
        gathered = Signal(f.fold_width - w, reset_less=True)
        fire = self.i.valid & self.i.ready
        filled = self.i.valid & ready_last
        # busy & last_fold, a register (the banks' flags and the input's `valid` ran
        # 4 LUT4 deep from `busy` on the UP5K demo)
        ending = Signal(name="ending")
        done = advance & ending
        # The banks change when one of `filled` and `done` happens, not both: a net of its
        # own (kept), one LUT4 of `i.valid` and three registers, the clock enable of the
        # bank flags (Yosys spread it over three LUT4 levels into their enables and resets:
        # digits-mobilenet-pa's last engine on the ECP5, 7.35 ns from `stall`, 136.0 MHz,
        # 159.6 with the net; the UP5K demo's first engine, 17.5 ns in 3 of 8 placements)
        change = Signal(name="banks_change", attrs={"keep": 1})
        m.d.comb += change.eq(filled ^ done)
        next_busy = Mux(change, Mux(filled, 1, both_full), busy)
        m.d.sync += ending.eq(next_busy & next_last_fold)
        # (expressions, not conditional assignments: an always @* block stays undefined in
        # Icarus until one of its inputs changes)
        next_ready = Mux(change, Mux(filled, ~one_full, 1), ready)
        next_bank_last = Mux(fire, Mux(last_word, Mux(last_wsf, per_fold == 1 and sf_n == 1,
                                                      (per_fold == 1) & (wsf == sf_n - 2)),
                                       (word == per_fold - 2) & last_wsf), bank_last)
        m.d.sync += [ready.eq(next_ready), bank_last.eq(next_bank_last),
                     ready_last.eq(next_ready & next_bank_last)]
        m.d.comb += [
            busy.eq(one_full | both_full),
            self.i.ready.eq(ready),
            rport.addr.eq(raddr),
            wport.addr.eq(waddr),
            wport.data.eq(Cat(gathered, self.i.payload)),
            wport.en.eq(fire & last_word),
        ]
        with m.If(advance):
            m.d.sync += s1_x.eq(rport.data)
        with m.If(fire):
            if per_fold > 1:
                m.d.sync += gathered.eq(Cat(gathered[w:], self.i.payload))
            with m.If(last_word):
                m.d.sync += [word.eq(0), last_word.eq(per_fold == 1)]
                with m.If(last_wsf):
                    m.d.sync += [wsf.eq(0), last_wsf.eq(sf_n == 1), wb.eq(~wb),
                                 waddr.eq(Mux(wb, 0, sf_n))]
                with m.Else():
                    m.d.sync += [wsf.eq(wsf + 1), last_wsf.eq(wsf == sf_n - 2),
                                 waddr.eq(waddr + 1)]
            with m.Else():
                m.d.sync += [word.eq(word + 1), last_word.eq(word == per_fold - 2)]
        with m.If(done):
            m.d.sync += rb.eq(~rb)
        with m.If(moves):          # (a bank's last fold is issued with `done`)
            m.d.sync += raddr.eq(Mux(last_sf, Mux(rb ^ done, sf_n, 0), raddr + 1))
        with m.If(change):
            m.d.sync += [one_full.eq(Mux(filled, ~one_full, both_full)),
                         both_full.eq(filled & one_full)]

    @staticmethod
    def _register(m, value, enable, name):
        """``value`` in a reset-less register loaded on ``enable`` (on the ECP5 a block RAM
        read's becomes the block's output register, :mod:`popcorn.boards.ecp5_outreg`)."""
        reg = Signal.like(value, name=name, reset_less=True)
        with m.If(enable):
            m.d.sync += reg.eq(value)
        return reg

    def _read_tables(self, m, x, fold, enable):
        """The count tables' reads (``LinearFolding.count_tables``), per activation base j
        a list of ``(data, elements)`` per table: table g read through a port of its own
        per base at ``fold * 2**k`` plus the group's bits of base j in ``x`` (element-major,
        as the stream word), ``enable`` its read enable; the data one cycle later."""
        f = self._folding
        n_ = f.act_bases
        reads = [[] for _ in range(n_)]
        groups = table_elements(f.neuron_folds * f.synapse_folds, f.simd)
        for g, (elements, bits) in enumerate(zip(groups, f.count_tables())):
            mem = memory.Memory(shape=bits.shape[1], depth=len(bits), init=[],
                                attrs={"rom_style": f.table_memory})
            m.submodules[f"table{g}"] = mem
            meminit.fill(mem, pack_words(bits))
            for j in range(n_):
                port = mem.read_port()
                m.d.comb += [port.addr.eq(Cat(*(x[e * n_ + j] for e in elements), fold)),
                             port.en.eq(enable)]
                reads[j].append((port.data, len(elements)))
        return reads

    def _pair_bits(self, m, t, v, name):
        """The bits counted for one base pair (see LinearFolding's table)."""
        bits = Signal(len(t), name=name)
        m.d.comb += bits.eq(~(t ^ v) if self._folding.linear.weight_encoding == "pm1"
                            else t & v)
        return bits

    def _constant_product(self, count, n):
        """The terms of ``A_n * count`` for the uniform constant A of pair n: shifted
        counts, one per canonical signed digit (``multiply="shift-add"``; none for 0), or
        one ``*`` (``"dsp"``)."""
        f = self._folding
        scale, _ = f.affine()
        a = int(scale.reshape(f.channels, -1)[0, n])
        if f.multiply == "dsp":
            return [count * a]
        return [(count << s) if d > 0 else -(count << s) for s, d in csd_digits(a)]

    def _combine(self, counts, p, field):
        """``sum_ij A_ij P_ij`` of lane p (parallel bases) as a list of terms to add: with
        product stages what the first stage registers: a per-channel A's gated multiples
        (``LinearFolding.gate_stage``), or partial sums
        (``LinearFolding.product_partials[0]``: groups of ``2**PRODUCT_LEVELS`` terms, so
        that no path runs through a whole multiply or a long sum: the digits demo on the
        UP5K, 24.3 ns through the scores layer's ten cells; mnist-cnn-abc's first layer on
        the ECP5, 17 cells), else their sum."""
        f = self._folding
        fan = 2 ** PRODUCT_LEVELS
        pairs = [(i, j) for i in range(f.weight_bases) for j in range(f.act_bases)]
        if f.uniform_scale:
            terms = [term for n, (i, j) in enumerate(pairs)
                     for term in self._constant_product(counts[p, i, j], n)]
        else:
            counts = [counts[p, i, j] for i, j in pairs]
            scales = [field("scale", n) for n in range(len(pairs))]
            if f.multiply == "dsp":
                return [_sum([c * a for c, a in zip(counts, scales)])]
            # gated multiples of A, no `*` (synth_ecp5 would put each in a MULT18X18D),
            # count bit major
            terms = [Mux(c[b], a << b, 0) for b in range(len(counts[0]))
                     for c, a in zip(counts, scales)]
        if not f.product_partials:
            return [_sum(terms)]
        if f.gate_stage:
            return terms
        return [_sum(terms[k:k + fan]) for k in range(0, len(terms), fan)]


def _sum(terms):
    """The sum of ``terms`` (0 for none) as a balanced tree of adders: depth
    ``ceil(log2(len(terms)))``, not a chain (mnist-cnn-abc's partial sums of ten gated
    multiples ran 18 cells as a chain on the ECP5)."""
    terms = list(terms)
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


def _select(values, index):
    """``values[index]`` as a chain of ``Mux`` (continuous assignments: Icarus leaves an
    ``always @*`` case statement X until one of its inputs changes)."""
    out = values[0]
    for n, value in enumerate(values[1:], 1):
        out = Mux(index == n, value, out)
    return out
