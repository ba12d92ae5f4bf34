"""8N1 UART receiver and transmitter with byte streams: the host link of the board tops.

Written here because no maintained Amaranth 0.5 UART is on PyPI (the ``amaranth-stdio``
name on PyPI is an empty placeholder).
"""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


class _UARTComponent(wiring.Component):
    """A UART half: ``divisor`` clock cycles per bit, at least 4."""

    def __init__(self, *, divisor):
        if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
            raise ValueError(f"UART divisor (clock cycles per bit) must be an integer >= 4, "
                             f"not {divisor!r}")
        self._divisor = divisor
        super().__init__()

    @property
    def divisor(self):
        return self._divisor

    def _timer(self):
        """A down-counter for up to 1.5 bit times that has run out when its sign bit is set:
        loaded with ``n - 1`` it runs out ``n`` cycles after the load, the same cycle a
        counter loaded with ``n`` reaches 0, but with no compare on its carry chain (which
        split the chain into pieces on the iCE40 and set the link's clock)."""
        timer = Signal(signed((self._divisor * 3 // 2).bit_length() + 1))
        return timer, timer[-1]


class UARTReceiver(_UARTComponent):
    """Receives 8N1 frames on ``rx`` (idle high) and emits each byte on ``o``.

    ``divisor`` is clock cycles per bit. ``rx`` passes a two-flop synchronizer; each bit
    is sampled at its middle. A byte is offered on ``o`` one cycle after its stop bit is
    sampled and held until taken; a frame that completes while the previous byte was not
    yet taken sets the sticky ``overrun`` flag (the new byte is dropped), and a frame
    whose stop bit reads 0 sets the sticky ``frame_error`` flag and is dropped; ``dropped``
    is high for one cycle at each byte lost either way.
    """

    rx: In(1)
    o: Out(stream.Signature(8))
    overrun: Out(1)
    frame_error: Out(1)
    dropped: Out(1)

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)

        timer, out = self._timer()
        bit = Signal(range(10))
        shreg = Signal(8)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += self.dropped.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # First sample in the middle of data bit 0: 1.5 bit times away.
                    m.d.sync += [timer.eq(self._divisor * 3 // 2 - 2), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(out):
                    m.d.sync += [timer.eq(self._divisor - 2), shreg.eq(Cat(shreg[1:], rx)),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(out):
                    with m.If(~rx):
                        m.d.sync += [self.frame_error.eq(1), self.dropped.eq(1)]
                    with m.Elif(self.o.valid & ~self.o.ready):
                        m.d.sync += [self.overrun.eq(1), self.dropped.eq(1)]
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UARTTransmitter(_UARTComponent):
    """Sends each byte taken from ``i`` as an 8N1 frame on ``tx`` (idle high).

    ``divisor`` is clock cycles per bit; a byte occupies ``10 * divisor`` cycles and the
    next one is taken in the cycle its stop bit ends. ``i.ready`` is a flip-flop (``left ==
    0`` a cycle ahead: the compare in front of the counters' enables set the UP5K demo's
    clock at 60 MHz).
    """

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def elaborate(self, platform):
        m = Module()
        timer, out = self._timer()
        frame = Signal(10, init=0x3FF)  # stop bit, data LSB first, start bit; shifted out
        left = Signal(range(11))
        idle = Signal(init=1)           # left == 0
        m.d.comb += self.tx.eq(frame[0])
        m.d.comb += self.i.ready.eq(idle)
        with m.If(self.i.valid & idle):
            m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)), left.eq(10),
                         timer.eq(self._divisor - 2), idle.eq(0)]
        with m.Elif(~idle):
            with m.If(out):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), left.eq(left - 1),
                             timer.eq(self._divisor - 2), idle.eq(left == 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
