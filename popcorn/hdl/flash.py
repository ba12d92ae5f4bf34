"""Reading the folded accelerator's weight image from the board's SPI flash: all of it at
power-up (:class:`FlashLoader`), the weight stream again for every image (:class:`FlashStream`)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..mapping.folded import STREAM_RESTART, STREAM_WORD_CYCLES

WAKE, READ, DUAL_READ = 0xAB, 0x03, 0x3B
"""SPI flash commands: release from deep power-down, read (24-bit address), fast read
dual output (24-bit address, :data:`DUMMY` clocks, then two bits a clock)."""

DUMMY = 8
"""Dummy clocks of the dual-output read before its data."""

WAKE_CYCLES = 256
"""Cycles between the wake command and the read: the flash's tRES1 (3 us) at up to 85 MHz."""

MAX_CLOCK_HZ = 85e6
"""The fastest clock the flash readers run at: :data:`WAKE_CYCLES` long enough, and
``sck`` (half the clock) within the plain read's 50 MHz."""


class FlashLoader(wiring.Component):
    """Reads ``image`` (the bytes :func:`~popcorn.mapping.folded.flash_image` wrote) from an
    SPI flash at byte ``offset`` and streams its payload out, checking it on the way.

    The image is a 16-byte header, the payload and a 4-byte trailer. The header must equal
    ``image``'s byte for byte (magic, format, payload length and the network's digest: an
    image of another network, or none, is refused at its first byte); the trailer must equal
    the sum of the payload bytes modulo 2**32 (a truncated or damaged image). ``done``
    rises after the trailer; ``error`` instead, at the first byte that differs, and the
    flash is released. The payload bytes leave through ``o`` as they arrive, so the
    consumer must not use them before ``done``.

    SPI mode 0 at half the clock: ``sck``, ``cs`` (active high: the board inverts it),
    ``copi`` registered, ``cipo`` sampled at the end of each high half of ``sck``. The
    clock pauses (low) while ``o`` waits. Sequence: ``0xAB`` (wake), :data:`WAKE_CYCLES`
    cycles, then ``0x03``, the 24-bit offset, and the image's bytes in one read.
    """

    def __init__(self, image, *, offset):
        image = bytes(image)
        if len(image) < 21:
            raise ValueError("the image needs a 16-byte header, a payload and a 4-byte trailer")
        if not 0 <= offset < 1 << 24:
            raise ValueError(f"offset must fit the 24-bit address, not {offset!r}")
        self._header = image[:16]
        self._payload = len(image) - 20
        self._offset = offset
        super().__init__({
            "o": Out(stream.Signature(8)),
            "done": Out(1), "error": Out(1),
            "sck": Out(1), "cs": Out(1), "copi": Out(1), "cipo": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        total = 16 + self._payload + 4

        # one byte out on copi and one in from cipo, in 16 cycles
        active, phase = Signal(), Signal()
        bit = Signal(range(8))
        tx, rx = Signal(8), Signal(8)
        got = Signal()                       # a byte has just completed
        m.d.comb += [self.sck.eq(active & phase), self.copi.eq(tx[7])]
        m.d.sync += got.eq(0)
        with m.If(active):
            m.d.sync += phase.eq(~phase)
            with m.If(phase):
                m.d.sync += [rx.eq((rx << 1) | self.cipo), tx.eq(tx << 1), bit.eq(bit + 1)]
                with m.If(bit == 7):
                    m.d.sync += [active.eq(0), got.eq(1)]

        def send(byte):
            m.d.sync += [tx.eq(byte), active.eq(1), phase.eq(0), bit.eq(0)]

        index = Signal(range(total + 1))
        checksum = Signal(32)
        wait = Signal(range(WAKE_CYCLES + 1))
        command = [READ, (self._offset >> 16) & 0xFF, (self._offset >> 8) & 0xFF,
                   self._offset & 0xFF]
        sent = Signal(range(len(command) + 1))
        header = Const(int.from_bytes(self._header, "little"), 128)
        trailer_byte = checksum.word_select((index - 16 - self._payload)[:2], 8)
        with m.FSM():
            with m.State("wake"):
                m.d.sync += self.cs.eq(1)
                send(WAKE)
                m.next = "waking"
            with m.State("waking"):
                with m.If(got):
                    m.d.sync += [self.cs.eq(0), wait.eq(WAKE_CYCLES)]
                    m.next = "rest"
            with m.State("rest"):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += self.cs.eq(1)
                    send(command[0])
                    m.d.sync += sent.eq(1)
                    m.next = "command"
            with m.State("command"):
                with m.If(got):
                    with m.If(sent == len(command)):
                        send(0)
                        m.next = "read"
                    with m.Else():
                        for n, byte in enumerate(command[1:], start=1):
                            with m.If(sent == n):
                                send(byte)
                        m.d.sync += sent.eq(sent + 1)
            with m.State("read"):
                with m.If(got):
                    with m.If(index < 16):
                        with m.If(rx != header.word_select(index[:4], 8)):
                            m.next = "error"
                        with m.Else():
                            m.d.sync += index.eq(index + 1)
                            send(0)
                    with m.Elif(index < 16 + self._payload):
                        m.d.sync += [self.o.payload.eq(rx), self.o.valid.eq(1),
                                     checksum.eq(checksum + rx)]
                        m.next = "hand"
                    with m.Else():
                        with m.If(rx != trailer_byte):
                            m.next = "error"
                        with m.Elif(index == total - 1):
                            m.next = "done"
                        with m.Else():
                            m.d.sync += index.eq(index + 1)
                            send(0)
            with m.State("hand"):
                with m.If(self.o.ready):
                    m.d.sync += [self.o.valid.eq(0), index.eq(index + 1)]
                    send(0)
                    m.next = "read"
            with m.State("done"):
                m.d.sync += [self.cs.eq(0), self.done.eq(1)]
            with m.State("error"):
                m.d.sync += [self.cs.eq(0), self.error.eq(1)]
        return m


class FlashStream(wiring.Component):
    """Reads ``words`` words of ``width`` bits (8 little-endian bytes each) from an SPI
    flash at byte ``offset``, again and again, into a FIFO of ``depth`` words
    (``amaranth.lib.fifo.SyncFIFOBuffered``: block RAM) that ``o`` empties: the folded
    accelerator's weight stream (:class:`~popcorn.mapping.folded.StreamTiming` is its
    timing, cycle for cycle).

    SPI mode 0 at half the clock, dual output (two data lines): from ``enable``, the
    command :data:`DUAL_READ` on ``copi`` with the 24-bit offset, 8 dummy clocks with
    ``copi`` released (``copi_oe`` low), then two bits a clock, ``cipo`` (IO1) the higher
    and ``io0`` the lower of each pair (:data:`~popcorn.mapping.folded.STREAM_WORD_CYCLES`
    a word), each word written into the FIFO the cycle after its last bits; a word starts
    only when the FIFO has room for it (else ``sck`` rests low, ``primed`` rises and
    stays); after a pass's last word ``cs`` falls for one cycle and the command starts
    again (:data:`~popcorn.mapping.folded.STREAM_RESTART`). ``pushed``: a word enters the
    FIFO this cycle (it always has room)."""

    def __init__(self, *, words, offset, depth, width=64):
        if words < 1 or depth < 2 or width % 8:
            raise ValueError("a stream needs words >= 1, depth >= 2 and whole bytes a word")
        if not 0 <= offset < 1 << 24:
            raise ValueError(f"offset must fit the 24-bit address, not {offset!r}")
        assert STREAM_WORD_CYCLES == width and STREAM_RESTART == 1 + 2 * (32 + DUMMY)
        self._words, self._offset, self._depth, self._width = words, offset, depth, width
        super().__init__({
            "o": Out(stream.Signature(width)), "pushed": Out(1),
            "enable": In(1), "primed": Out(1),
            "sck": Out(1), "cs": Out(1), "copi": Out(1), "copi_oe": Out(1), "io0": In(1),
            "cipo": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        width, depth = self._width, self._depth
        m.submodules.fifo = queue = fifo.SyncFIFOBuffered(width=width, depth=depth)
        m.d.comb += [self.o.valid.eq(queue.r_rdy), self.o.payload.eq(queue.r_data),
                     queue.r_en.eq(self.o.ready)]

        phase = Signal()
        pair = Signal(range(max(width // 2, 32 + DUMMY)))
        tx = Signal(32)
        rx = Signal(width)
        word = Signal(range(self._words))
        push = Signal()
        command = Const((DUAL_READ << 24) | self._offset, 32)
        # the bytes arrive most significant bits first, the word's bytes little-endian
        m.d.comb += [queue.w_en.eq(push), self.pushed.eq(push),
                     queue.w_data.eq(Cat(*(rx.word_select(width // 8 - 1 - n, 8)
                                           for n in range(width // 8)))),
                     self.sck.eq(phase), self.copi.eq(tx[31])]
        m.d.sync += push.eq(0)
        room = (queue.level + push) < depth

        def start_command():
            m.d.sync += [self.cs.eq(1), self.copi_oe.eq(1), tx.eq(command), pair.eq(0),
                         phase.eq(0)]

        with m.FSM():
            with m.State("off"):
                with m.If(self.enable):
                    start_command()
                    m.next = "command"
            with m.State("command"):                 # 32 bits out, then 8 dummy clocks
                m.d.sync += phase.eq(~phase)
                with m.If(phase):
                    m.d.sync += [tx.eq(tx << 1), pair.eq(pair + 1)]
                    with m.If(pair == 31):
                        m.d.sync += self.copi_oe.eq(0)
                    with m.If(pair == 32 + DUMMY - 1):
                        m.d.sync += pair.eq(0)
                        m.next = "data"
            with m.State("data"):
                starting = (pair == 0) & ~phase
                with m.If(starting & ~room):
                    m.d.sync += self.primed.eq(1)
                with m.Else():
                    m.d.sync += phase.eq(~phase)
                    with m.If(phase):
                        m.d.sync += [rx.eq(Cat(self.io0, self.cipo, rx[:-2])),
                                     pair.eq(pair + 1)]
                        with m.If(pair == width // 2 - 1):
                            m.d.sync += [pair.eq(0), push.eq(1),
                                         word.eq(Mux(word == self._words - 1, 0, word + 1))]
                            with m.If(word == self._words - 1):
                                m.d.sync += self.cs.eq(0)
                                m.next = "again"
            with m.State("again"):
                start_command()
                m.next = "command"
        return m
