"""UART host link: bytes in, a core's words through, bytes out."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hdl.flash import FlashLoader
from ..hdl.uart import UARTReceiver, UARTTransmitter
from ..hdl.width import BytesToWord, WordToBytes


class UARTLink(wiring.Component):
    """Wraps a stream core (``i``/``o`` stream ports) behind an 8N1 UART.

    The host sends each input word as ``ceil(K/8)`` bytes, little-endian (word bit 0 is
    bit 0 of the first byte), and reads back ``ceil(N/8)`` bytes per output word.
    ``error`` is sticky: a receive overrun or a framing error.
    """

    rx: In(1)
    tx: Out(1, init=1)
    error: Out(1)

    def __init__(self, core, *, divisor):
        self._core = core
        self._divisor = divisor
        self._in_width = core.i.payload.shape().width
        self._out_width = core.o.payload.shape().width
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = UARTReceiver(divisor=self._divisor)
        m.submodules.uart_tx = tx = UARTTransmitter(divisor=self._divisor)
        m.submodules.unpack = unpack = BytesToWord(self._in_width)
        m.submodules.pack = pack = WordToBytes(self._out_width)
        m.submodules.core = core = self._core
        wiring.connect(m, rx.o, unpack.i)
        wiring.connect(m, unpack.o, core.i)
        wiring.connect(m, core.o, pack.i)
        wiring.connect(m, pack.o, tx.i)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx),
                     self.error.eq(rx.overrun | rx.frame_error)]
        return m


class WeightsThenImages(wiring.Component):
    """A byte-stream face for a core with a ``load`` port (the folded accelerator,
    :class:`~popcorn.hdl.folded.FoldedAccelerator`): the first bytes after reset are its
    weight image, ``ceil(W/8)`` little-endian bytes per ``W``-bit ``load`` word, until the
    core raises ``loaded``; every byte after that is image data, ``ceil(K/8)`` bytes per
    ``K``-bit input word, as :class:`UARTLink` sends them. ``o`` is the core's. The
    development path for SPRAM weights (the board's flash is the other).

    Image bytes pass through a FIFO of ``buffer`` bytes (``SyncFIFOBuffered``), so that a
    host streaming at the link's rate is not lost while the core computes (it takes no
    input then): one image's bytes let the next image arrive during the computation.
    """

    def __init__(self, core, *, buffer):
        self._core = core
        self._buffer = buffer
        super().__init__({"i": In(stream.Signature(8)),
                          "o": Out(stream.Signature(core.o.payload.shape().width))})

    def elaborate(self, platform):
        m = Module()
        core = self._core
        m.submodules.core = core
        m.submodules.weights = weights = BytesToWord(core.load.payload.shape().width)
        m.submodules.image = image = BytesToWord(core.i.payload.shape().width)
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=8, depth=self._buffer)
        wiring.connect(m, weights.o, core.load)
        wiring.connect(m, image.o, core.i)
        m.d.comb += [image.i.valid.eq(queue.r_rdy), image.i.payload.eq(queue.r_data),
                     queue.r_en.eq(image.i.ready)]
        wiring.connect(m, core.o, wiring.flipped(self.o))
        m.d.comb += [weights.i.payload.eq(self.i.payload), queue.w_data.eq(self.i.payload),
                     weights.i.valid.eq(self.i.valid & ~core.loaded),
                     queue.w_en.eq(self.i.valid & core.loaded),
                     self.i.ready.eq(Mux(core.loaded, queue.w_rdy, weights.i.ready))]
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
    :func:`flash_error_word` instead; ``spi``: the loader's pins."""

    def __init__(self, core, image, *, offset):
        self._core = core
        self._loader = FlashLoader(image, offset=offset)
        super().__init__({
            "i": In(stream.Signature(core.i.payload.shape().width)),
            "o": Out(stream.Signature(core.o.payload.shape().width)),
            "error": Out(1), "ready": Out(1),
            "sck": Out(1), "cs": Out(1), "copi": Out(1), "cipo": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        core, loader = self._core, self._loader
        m.submodules.core = core
        m.submodules.loader = loader
        m.submodules.weights = weights = BytesToWord(core.load.payload.shape().width)
        wiring.connect(m, loader.o, weights.i)
        wiring.connect(m, weights.o, core.load)
        ok = loader.done & core.loaded
        m.d.comb += [core.i.payload.eq(self.i.payload), core.i.valid.eq(self.i.valid & ok),
                     self.ready.eq(ok), self.error.eq(loader.error),
                     self.sck.eq(loader.sck), self.cs.eq(loader.cs), self.copi.eq(loader.copi),
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
