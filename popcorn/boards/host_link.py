"""The UART host link: request frames in, a core's words through, reply frames out
(:mod:`popcorn.boards.frames`), and the folded core's weights from the board's flash."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hdl.flash import FlashLoader, FlashStream
from ..hdl.handshake import HoldRegister, RegisterSlice
from ..hdl.uart import UARTReceiver, UARTTransmitter
from ..hdl.width import BytesToWord
from ..hdl.window import memory_resources
from .frames import BAD_CRC, BAD_KIND, BAD_LENGTH, CRC, IMAGE, LINE_ERROR, LOADED, \
    MAX_PAYLOAD, NO_WEIGHTS, OK, REPLY_SYNC, REQUEST_SYNC, STATUS_BITS, TRUNCATED, WEIGHTS


VERDICT = data.StructLayout({"status": STATUS_BITS, "result": 1, "tag": 8})
"""What :class:`FrameReceiver` tells :class:`FrameTransmitter` of each request, in order:
the reply's ``status`` and ``tag``, and whether a result word of the core comes with it
(``result``: an image went into the core, whole or completed with zeros)."""


def _one_hot(fsm):
    """Have Yosys encode ``fsm``'s state one-hot (its ``fsm`` pass keeps Amaranth's binary
    code, and the state decodes ran four LUTs deep into clock enables on the UP5K demo's
    link). Yosys then ignores the state's initial value: the domain must reset at start-up,
    as :class:`~popcorn.boards.top.BoardTop`'s does."""
    fsm.state.attrs["fsm_encoding"] = "one-hot"


class FrameReceiver(wiring.Component):
    """Parses request frames (:mod:`popcorn.boards.frames`) from the UART's bytes ``i``.

    An image frame's payload (``image_bytes``) leaves on ``image`` as it arrives, a weights
    frame's (``weight_bytes``; None: the core takes no weights, the kind is refused) on
    ``weights``; a weights frame once ``loaded`` is refused (:data:`~.frames.LOADED`).
    Each request ends in one ``verdict`` (:data:`VERDICT`). ``dropped``: the UART lost a
    byte; ``idle``: the cycles of silence on ``i`` that end a truncated frame (an image's
    missing bytes then leave as zeros, so the core's words stay aligned) and, after an
    error, the discarding of bytes. Bytes enter through a
    :class:`~popcorn.hdl.handshake.HoldRegister` (one every other cycle at most) and a
    payload byte leaves through a :class:`~popcorn.hdl.handshake.RegisterSlice`: it is
    offered on ``image`` or ``weights`` two cycles after ``i`` gave it.
    """

    def __init__(self, *, image_bytes, weight_bytes=None, idle):
        for what, n in (("an image", image_bytes), ("the weight image", weight_bytes)):
            if n is not None and not 0 < n <= MAX_PAYLOAD:
                raise ValueError(f"{what} of {n} bytes does not fit a link frame (at most "
                                 f"{MAX_PAYLOAD} bytes)")
        if not isinstance(idle, int) or idle < 1:
            raise ValueError(f"idle must be a positive number of cycles, not {idle!r}")
        self._image_bytes, self._weight_bytes, self._idle = image_bytes, weight_bytes, idle
        super().__init__({
            "i": In(stream.Signature(8)), "dropped": In(1), "loaded": In(1),
            "image": Out(stream.Signature(8)), "weights": Out(stream.Signature(8)),
            "verdict": Out(stream.Signature(VERDICT)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = CRC.create()
        # Each byte from `i` enters through a register with the comparisons the parser
        # makes on it, so `i.ready` is a register and no path runs from a byte's compare
        # into the states (the UP5K demo's clock, 48 MHz before).
        image_len = self._image_bytes
        weight_len = self._weight_bytes or 0
        compares = {"sync": REQUEST_SYNC, "image": IMAGE, "weights": WEIGHTS,
                    "image_low": image_len & 0xFF, "image_high": image_len >> 8,
                    "weights_low": weight_len & 0xFF, "weights_high": weight_len >> 8}
        m.submodules.inp = inp = HoldRegister(data.StructLayout(
            {"byte": 8} | {name: 1 for name in compares}))
        m.d.comb += [inp.i.valid.eq(self.i.valid), self.i.ready.eq(inp.i.ready),
                     inp.i.payload.byte.eq(self.i.payload)]
        m.d.comb += [inp.i.payload[name].eq(self.i.payload == value)
                     for name, value in compares.items()]
        byte, seen = inp.o.payload.byte, inp.o.payload
        # A byte is taken in every state where it is valid: `ready` is 1 in all states that
        # read a byte but the payload's, which also waits on `dest_ready` (`took` is written
        # per state, not as valid & ready, so no path runs through the `ready` of every state).
        took = inp.o.valid
        m.d.comb += crc.data.eq(byte)

        silence = Signal(range(self._idle + 1))
        # `idle` cycles and this one without a byte on `i` (nor a lost one), registered: a
        # cycle after the byte that would have kept the frame alive (no path from `i`)
        long = Signal()
        quiet = long & ~inp.o.valid         # ... and none waiting to be read
        with m.If(self.i.valid | self.dropped):
            m.d.sync += [silence.eq(0), long.eq(0)]
        with m.Elif(~long):
            m.d.sync += [silence.eq(silence + 1), long.eq(silence == self._idle)]

        tag, lost = Signal(8, name="tag"), Signal(name="lost")
        # the header's checks, a byte at a time, each a register for the next state
        weights, bad_kind = Signal(name="weights"), Signal(name="bad_kind")
        low_ok = Signal(name="low_ok")
        count = Signal(range(MAX_PAYLOAD + 1))
        last = Signal()                     # count == 1, registered
        to_weights = Signal()
        status, result = Signal(STATUS_BITS, name="status"), Signal(name="result")
        then_discard = Signal(name="then_discard")
        with m.If(self.dropped):
            m.d.sync += lost.eq(1)
        # The payload's bytes leave through a register slice, each with its destination, so
        # the parser's `ready` is a register (no path from the consumers into its states).
        m.submodules.out = out = RegisterSlice(data.StructLayout({"byte": 8, "weights": 1}))
        dest_valid, dest_payload, dest_ready = out.i.valid, out.i.payload.byte, out.i.ready
        m.d.comb += [out.i.payload.weights.eq(to_weights),
                     self.image.payload.eq(out.o.payload.byte),
                     self.weights.payload.eq(out.o.payload.byte),
                     self.image.valid.eq(out.o.valid & ~out.o.payload.weights),
                     self.weights.valid.eq(out.o.valid & out.o.payload.weights),
                     out.o.ready.eq(Mux(out.o.payload.weights, self.weights.ready,
                                        self.image.ready))]

        def verdict(code, *, with_result, discard):
            """The request's verdict: ``code``, or LINE_ERROR when the UART lost one of its
            bytes (which truncates it too)."""
            m.d.sync += [status.eq(Mux(lost | self.dropped, LINE_ERROR, code)),
                         result.eq(with_result), then_discard.eq(discard)]
            m.next = "verdict"

        image = ~to_weights
        # The frame's fields but the payload are read in one state, "fields", their place
        # one-hot in `field` (a shift register), so a frame cut short by silence leaves one
        # state, not six, and each field's check is enabled by one bit. The verdict
        # registers are written from two states only: "length" judges the header's
        # registered checks, "end" a frame's end from registered flags (truncated, the CRC).
        names = ("kind", "tag", "len0", "len1", "crc0", "crc1")
        field = Signal(len(names), name="field")
        at = {name: field[k] for k, name in enumerate(names)}
        truncated, framed = Signal(name="truncated"), Signal(name="framed")
        high_ok = Signal(name="high_ok")
        weights_ok = self._weight_bytes is not None
        checks = {"kind": [weights.eq(seen.weights),
                           bad_kind.eq(~seen.image & (~seen.weights | (not weights_ok)))],
                  "tag": [tag.eq(byte)],
                  "len0": [low_ok.eq(Mux(weights, seen.weights_low, seen.image_low))],
                  "len1": [high_ok.eq(Mux(weights, seen.weights_high, seen.image_high)),
                           to_weights.eq(weights),
                           count.eq(Mux(weights, weight_len, image_len)),
                           last.eq(Mux(weights, weight_len == 1, image_len == 1))]}
        with m.FSM() as fsm:
            with m.State("hunt"):
                with m.If(took & seen.sync):
                    m.d.sync += [lost.eq(0), tag.eq(0), truncated.eq(0), framed.eq(0),
                                 field.eq(1)]
                    m.next = "fields"
            with m.State("fields"):
                with m.If(took):
                    m.d.sync += field.eq(field << 1)
                    for name, assignments in checks.items():
                        with m.If(at[name]):
                            m.d.sync += assignments
                    with m.If(at["len1"]):
                        m.next = "length"
                    with m.Elif(at["crc1"]):
                        m.next = "end"
                with m.Elif(quiet):
                    m.d.sync += truncated.eq(1)
                    m.next = "end"
            with m.State("length"):
                with m.If(bad_kind):
                    verdict(BAD_KIND, with_result=0, discard=1)
                with m.Elif(weights & self.loaded):
                    verdict(LOADED, with_result=0, discard=1)
                with m.Elif(~low_ok | ~high_ok):
                    verdict(BAD_LENGTH, with_result=0, discard=1)
                with m.Else():
                    m.d.sync += framed.eq(1)
                    m.next = "payload"
            with m.State("payload"):
                with m.If(took & dest_ready):
                    m.d.sync += [count.eq(count - 1), last.eq(count == 2)]
                    with m.If(last):
                        m.next = "fields"         # at crc0
                with m.Elif(quiet):
                    m.next = "pad"
            with m.State("pad"):                # the missing bytes: zeros
                with m.If(dest_ready):
                    m.d.sync += [count.eq(count - 1), last.eq(count == 2)]
                    with m.If(last):
                        m.d.sync += truncated.eq(1)
                        m.next = "end"
            with m.State("end"):                 # (the CRC register after the last byte)
                with m.If(truncated):
                    verdict(TRUNCATED, with_result=framed & image, discard=0)
                with m.Elif(crc.match_detected & ~lost):
                    verdict(OK, with_result=image, discard=0)
                with m.Else():
                    verdict(BAD_CRC, with_result=image, discard=1)
            with m.State("verdict"):
                with m.If(self.verdict.ready & then_discard):
                    m.next = "discard"
                with m.Elif(self.verdict.ready):
                    m.next = "hunt"
            with m.State("discard"):             # until the line falls idle
                with m.If(quiet):
                    m.next = "hunt"
        _one_hot(fsm)
        # continuous assignments of the state (an always @* block stays undefined in Icarus)
        fields, payload, pad = fsm.ongoing("fields"), fsm.ongoing("payload"), fsm.ongoing("pad")
        m.d.comb += [
            # (every state reads a byte but these four, and the payload's without room: the
            # few states of the complement make `ready` a shallow function of the state)
            inp.o.ready.eq(~(pad | fsm.ongoing("length") | fsm.ongoing("end")
                             | fsm.ongoing("verdict") | (payload & ~dest_ready))),
            crc.start.eq(fsm.ongoing("hunt")),
            crc.valid.eq(took & (fields | (payload & dest_ready))),
            dest_valid.eq((payload & took) | pad),
            dest_payload.eq(Mux(pad, 0, byte)),
            self.verdict.valid.eq(fsm.ongoing("verdict")),
            self.verdict.payload.status.eq(status), self.verdict.payload.result.eq(result),
            self.verdict.payload.tag.eq(tag)]
        return m


class FrameTransmitter(wiring.Component):
    """Sends one reply frame (:mod:`popcorn.boards.frames`) per ``verdict``
    (:data:`VERDICT`), in order. When the verdict says a result comes, it waits for the
    core's ``result`` word (``width`` bits); the reply's payload is its ``ceil(width / 8)``
    bytes, little-endian, read from the word while the core holds it (the stream rule: no
    copy of it here), when the status is :data:`~.frames.OK`, which becomes
    :data:`~.frames.NO_WEIGHTS` while ``fault`` is high (the core could not read its
    weights). The word is taken after its last byte, or at once when the status drops it;
    ``result.ready`` comes from the state alone, so no long path reaches the core's
    enables.

    Timing: the byte on ``o`` is a register (the state's byte, the payload's through its
    own two registers of ``word[index]``), so neither the index's byte select nor the
    state's multiplexer reaches the UART; ``o.valid`` waits three cycles in each byte's
    state for the registers to settle (nothing next to the UART's ``10 * divisor`` cycles
    a byte)."""

    def __init__(self, width):
        self._bytes = (width + 7) // 8
        if self._bytes > MAX_PAYLOAD:
            raise ValueError(f"a result of {self._bytes} bytes does not fit a link frame (at "
                             f"most {MAX_PAYLOAD} bytes)")
        super().__init__({"verdict": In(stream.Signature(VERDICT)),
                          "result": In(stream.Signature(width)), "fault": In(1),
                          "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = CRC.create()
        n = self._bytes
        status, tag = Signal(STATUS_BITS), Signal(8)
        carried = Signal()                    # the reply carries the result: length n, not 0
        index = Signal(range(n))
        last = Signal()                       # index == n - 1 (a register: no compare)
        sent = self.o.valid & self.o.ready
        v = self.verdict.payload
        m.d.comb += crc.data.eq(self.o.payload)
        length = Mux(carried, Const(n, 16), Const(0, 16))
        fields = (("sync", REPLY_SYNC, "status"), ("status", status, "tag"),
                  ("tag", tag, "len0"), ("len0", length[:8], "len1"),
                  ("len1", length[8:], None))
        keep = Signal()                       # the result goes into the reply
        with m.FSM() as fsm:
            with m.State("idle"):             # the verdict, registered; index at byte 0
                m.d.sync += [index.eq(0), last.eq(n == 1)]
                with m.If(self.verdict.valid):
                    m.d.sync += [status.eq(v.status), tag.eq(v.tag), carried.eq(0),
                                 keep.eq(v.status == OK)]
                    m.next = "sync"
                    with m.If(v.result):
                        m.next = "result"
            with m.State("result"):           # the core offers its word, and holds it
                with m.If(self.result.valid):
                    m.d.sync += [status.eq(Mux(keep & self.fault, NO_WEIGHTS, status)),
                                 carried.eq(keep & ~self.fault)]
                    m.next = "sync"
                    with m.If(~keep | self.fault):
                        m.next = "drop"
            with m.State("drop"):             # a result the reply does not carry
                m.next = "sync"
            for state, _, after in fields:
                with m.State(state):
                    with m.If(sent):
                        m.next = after or "payload"
                        if after is None:
                            with m.If(~carried):
                                m.next = "crc0"
            with m.State("payload"):
                with m.If(sent):
                    m.d.sync += [index.eq(index + 1), last.eq(index == n - 2)]
                    with m.If(last):
                        m.next = "release"
            with m.State("release"):          # the word, taken after its last byte
                m.next = "crc0"
            with m.State("crc0"):              # the CRC, most significant byte first
                with m.If(sent):
                    m.next = "crc1"
            with m.State("crc1"):
                with m.If(sent):
                    m.next = "idle"
        _one_hot(fsm)
        # continuous assignments of the state (an always @* block stays undefined in Icarus)
        word = Cat(self.result.payload, Const(0, 8 * n - len(self.result.payload)))
        payload_byte, byte = Signal(8), Signal(8)
        choice = Const(0, 8)
        for state, value in (*((f[0], f[1]) for f in fields), ("payload", payload_byte),
                             ("crc0", crc.crc[8:]), ("crc1", crc.crc[:8])):
            choice = Mux(fsm.ongoing(state), value, choice)
        counted = Cat(*(fsm.ongoing(state) for state in ("status", "tag", "len0", "len1",
                                                          "payload"))).any()
        sending = Cat(*(fsm.ongoing(state) for state, *_ in fields)).any() \
            | fsm.ongoing("payload") | fsm.ongoing("crc0") | fsm.ongoing("crc1")
        # word[index] in two registered steps, a byte of each four, then of the groups (one
        # multiplexer from the index to the byte ran 19 ns on the UP5K)
        groups = -(-n // 4)
        rows = Signal(8 * groups)
        wide = Cat(word, Const(0, 8 * (4 * groups - n)))
        m.d.sync += [rows.word_select(g, 8).eq(wide[32 * g:32 * g + 32].word_select(
            index[:2], 8)) for g in range(groups)]
        m.d.sync += payload_byte.eq(rows.word_select(index[2:], 8) if groups > 1 else rows)
        # settled[2]: three cycles in this byte's state without a send: `byte` is its value
        settled = Signal(3)
        m.d.sync += settled.eq(Mux(sending & ~sent, Cat(1, settled[:2]), 0))
        with m.If(~self.o.valid | self.o.ready):        # an offered byte holds
            m.d.sync += byte.eq(choice)
        m.d.comb += [
            self.verdict.ready.eq(fsm.ongoing("idle")),
            self.result.ready.eq(fsm.ongoing("drop") | fsm.ongoing("release")),
            # (settled[2] implies a sending state: it is set there only, and cleared by
            # every send, the only way out of one; result.valid is high in every payload
            # cycle: the word is taken only in `release`)
            self.o.valid.eq(settled[2]),
            self.o.payload.eq(byte),
            crc.start.eq(fsm.ongoing("status")), crc.valid.eq(sent & counted)]
        return m


VERDICTS = 8
"""Requests whose replies the link keeps waiting (more than a host's window of images in
flight plus the refused frames between them), in a buffered FIFO: ``VERDICTS`` words read
synchronously, which Yosys puts in one iCE40 EBR or ECP5 distributed RAM
(:func:`verdict_memory`), and its output register. (In logic, an unbuffered FIFO and a
register slice after it took 122 LUT4 and 132 flip-flops on the iCE40, 83 and 92 more:
the UP5K demo's fmax over 8 nextpnr seeds at 60 MHz, median 59.23 -> 60.35 MHz, 3 -> 6
of 8 met.)"""


def verdict_memory(family):
    """``{"lut4", "ff", "ebr"}`` of the verdict FIFO's storage as Yosys maps it
    (:func:`~popcorn.hdl.window.memory_resources`): one EBR on the iCE40, distributed RAM
    on the ECP5 (its LUT4 counted in :data:`~.fit.LINK_FACTORS` with the rest)."""
    return memory_resources(VERDICT.size, VERDICTS, family)


class UARTLink(wiring.Component):
    """A stream core (``i``/``o`` stream ports) behind an 8N1 UART, speaking the frames of
    :mod:`popcorn.boards.frames`: image requests carry the ``in_words`` input words of an
    image (``core.plan.in_words``; one without a plan), ``ceil(K/8)`` little-endian bytes
    per ``K``-bit word of ``core.i``, and are answered with the ``ceil(N/8)`` bytes of the
    ``N``-bit result word of ``core.o``. A core with a ``load`` port and ``loaded``
    (:class:`~popcorn.hdl.folded.FoldedAccelerator`) takes its weight image in a weights
    request, ``ceil(W/8)`` bytes per ``W``-bit word, once after reset (the development path;
    the board's flash is the other); a core with an ``error`` output
    (:class:`WeightsFromFlash`) answers :data:`~.frames.NO_WEIGHTS` while it is high.

    ``divisor``: clock cycles per bit; ``idle``: cycles of a silent line that end a
    truncated frame or the discarding after an error (:class:`FrameReceiver`). ``error`` is
    sticky: a receive overrun or a framing error (the LED; the frame it hit is answered
    with :data:`~.frames.LINE_ERROR`). The ``sync`` domain must reset at start-up (its
    frame states are one-hot in the bitstream, without initial values: :func:`_one_hot`).
    """

    rx: In(1)
    tx: Out(1, init=1)
    error: Out(1)

    def __init__(self, core, *, divisor, idle):
        self._core = core
        self._divisor = divisor
        members = core.signature.members
        self._load = core.load.payload.shape().width if "load" in members else None
        self._fault = "error" in members
        plan = getattr(core, "plan", None)
        in_bytes = (core.i.payload.shape().width + 7) // 8
        self._receiver = FrameReceiver(
            image_bytes=in_bytes * (plan.in_words if plan is not None else 1),
            weight_bytes=None if self._load is None else
            plan.weight_words * ((self._load + 7) // 8), idle=idle)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        core = self._core
        m.submodules.core = core
        m.submodules.uart_rx = rx = UARTReceiver(divisor=self._divisor)
        m.submodules.uart_tx = tx = UARTTransmitter(divisor=self._divisor)
        m.submodules.receiver = receiver = self._receiver
        m.submodules.transmitter = transmitter = FrameTransmitter(
            core.o.payload.shape().width)
        m.submodules.verdicts = verdicts = fifo.SyncFIFOBuffered(width=VERDICT.size,
                                                                  depth=VERDICTS + 1)
        m.submodules.unpack = unpack = BytesToWord(core.i.payload.shape().width)
        wiring.connect(m, rx.o, receiver.i)
        wiring.connect(m, receiver.image, unpack.i)
        wiring.connect(m, unpack.o, core.i)
        if self._load is not None:
            m.submodules.weights = weights = BytesToWord(self._load)
            wiring.connect(m, receiver.weights, weights.i)
            wiring.connect(m, weights.o, core.load)
            m.d.comb += receiver.loaded.eq(core.loaded)
        if self._fault:
            m.d.comb += transmitter.fault.eq(core.error)
        # (the parser's verdict state waits on a register, not on the FIFO's level)
        m.submodules.verdict_slice = verdict_slice = RegisterSlice(VERDICT)
        wiring.connect(m, receiver.verdict, verdict_slice.i)
        m.d.comb += [verdicts.w_data.eq(verdict_slice.o.payload),
                     verdicts.w_en.eq(verdict_slice.o.valid),
                     verdict_slice.o.ready.eq(verdicts.w_rdy),
                     # (the transmitter reads the FIFO's output register)
                     transmitter.verdict.payload.eq(verdicts.r_data),
                     transmitter.verdict.valid.eq(verdicts.r_rdy),
                     verdicts.r_en.eq(transmitter.verdict.ready)]
        wiring.connect(m, core.o, transmitter.result)
        # (the reply's bytes through a register: the UART's `ready` reaches no state)
        m.submodules.tx_hold = tx_hold = HoldRegister(8)
        wiring.connect(m, transmitter.o, tx_hold.i)
        wiring.connect(m, tx_hold.o, tx.i)
        m.d.comb += [receiver.dropped.eq(rx.dropped), rx.rx.eq(self.rx), self.tx.eq(tx.tx),
                     self.error.eq(rx.overrun | rx.frame_error)]
        return m


def flash_error_word(width):
    """The reply :class:`WeightsFromFlash` gives to every image when its weights could not
    be read: all ``width`` bits set. No result is ever all ones: that would be every score
    -1, whose argmax is class 0, not the top class index."""
    return (1 << width) - 1


class WeightsFromFlash(wiring.Component):
    """A core with a ``load`` port (:class:`~popcorn.hdl.folded.FoldedAccelerator`) whose
    weights come from the board's SPI flash at power-up
    (:class:`~popcorn.hdl.flash.FlashLoader` of ``image`` at ``offset``): ``i`` and ``o``
    are the core's, ``i`` closed until the image has been read and checked; ``error``: the
    image is missing, of another network or damaged: the core then takes no image, and
    every image sent (its ``core.plan.in_words`` words) is answered with
    :func:`flash_error_word` instead (which :class:`UARTLink` answers
    :data:`~.frames.NO_WEIGHTS`, as ``error`` is high); the SPI pins (``copi`` driven
    while ``copi_oe``, ``io0`` its input): the loader's, then, when the core streams
    layers (its ``stream`` port), a :class:`~popcorn.hdl.flash.FlashStream`'s of the
    image's stream pass (dual output; ``ready`` once its FIFO is full)."""

    def __init__(self, core, image, *, offset):
        self._core = core
        self._loader = FlashLoader(image, offset=offset)
        plan = core.plan
        self._stream = FlashStream(words=plan.stream_words, depth=plan.stream_depth,
                                   offset=offset + plan.stream_offset) \
            if plan.stream_words else None
        super().__init__({
            "i": In(stream.Signature(core.i.payload.shape().width)),
            "o": Out(stream.Signature(core.o.payload.shape().width)),
            "error": Out(1), "ready": Out(1),
            "sck": Out(1), "cs": Out(1), "copi": Out(1), "copi_oe": Out(1), "io0": In(1),
            "cipo": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        core, loader, streamer = self._core, self._loader, self._stream
        m.submodules.core = core
        m.submodules.loader = loader
        m.submodules.weights = weights = BytesToWord(core.load.payload.shape().width)
        wiring.connect(m, loader.o, weights.i)
        wiring.connect(m, weights.o, core.load)
        ok = loader.done & core.loaded
        pins = Cat(loader.sck, loader.cs, loader.copi, Const(1, 1))   # copi driven
        if streamer is not None:
            m.submodules.stream = streamer
            wiring.connect(m, streamer.o, core.stream)
            m.d.comb += [core.stream_pushed.eq(streamer.pushed),
                         streamer.enable.eq(ok), streamer.cipo.eq(self.cipo),
                         streamer.io0.eq(self.io0)]
            ok = ok & streamer.primed
            pins = Mux(loader.done, Cat(streamer.sck, streamer.cs, streamer.copi,
                                        streamer.copi_oe), pins)
        m.d.comb += [core.i.payload.eq(self.i.payload), core.i.valid.eq(self.i.valid & ok),
                     self.ready.eq(ok), self.error.eq(loader.error),
                     Cat(self.sck, self.cs, self.copi, self.copi_oe).eq(pins),
                     loader.cipo.eq(self.cipo)]
        # while the loader reports an error: an image's words drained, then the error word
        words = core.plan.in_words
        count = Signal(range(words), name="error_count")
        pending = Signal(name="error_pending")
        # (continuous assignments: an always @* block would stay undefined in Icarus)
        bad = loader.error
        m.d.comb += [self.i.ready.eq(Mux(bad, ~pending, core.i.ready & ok)),
                     self.o.valid.eq(Mux(bad, pending, core.o.valid)),
                     self.o.payload.eq(Mux(bad, flash_error_word(len(self.o.payload)),
                                           core.o.payload)),
                     core.o.ready.eq(self.o.ready & ~bad)]
        with m.If(bad & self.i.valid & self.i.ready):
            m.d.sync += count.eq(Mux(count == words - 1, 0, count + 1))
            with m.If(count == words - 1):
                m.d.sync += pending.eq(1)
        with m.If(bad & self.o.valid & self.o.ready):
            m.d.sync += pending.eq(0)
        return m
