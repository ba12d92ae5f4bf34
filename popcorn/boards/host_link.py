"""UART host link: bytes in, a core's words through, bytes out."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

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
