"""Max-pooling of thermometer codes (and ``pm1`` sign bits) as a bitwise OR; min-pooling of
chosen bits as a bitwise AND."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hwmath import pool_uses_window
from ..network.validate import check_pair
from .estimates import check_family
from .window import (SlidingWindow, _clog2, check_window, ecp5_chain, memory_resources,
                     window_resources)


def pool_resources(*, height, width, channels, kernel, stride, family="ice40"):
    """Estimate of a :class:`MaxPool`; see :meth:`MaxPool.resources`. ``kernel``,
    ``stride``: integers (square) or pairs ``(h, w)``."""
    check_family(family)
    h, w, c = height, width, channels
    (kh, kw), (sh, sw) = check_pair(kernel, "kernel size"), check_pair(stride, "stride")
    if pool_uses_window((kh, kw), (sh, sw)):
        est = window_resources(height=h, width=w, channels=c, kernel=(kh, kw),
                               stride=(sh, sw), family=family)
        est["lut4"] += c * -(-(kh * kw - 1) // 3)
        return est
    ow = (w - kw) // sw + 1
    counters = (_clog2(w), _clog2(h), _clog2(-(-w // sw)), _clog2(-(-h // sh)))
    counter_bits = sum(counters) + _clog2(sh) + _clog2(sw)
    partial = memory_resources(c if kh > 1 else 0, ow, family)
    ff = (c if kw > 1 else 0) + c + 1 + counter_bits + partial["ff"]
    lut = (2 * c if kh * kw > 1 else 0) + counter_bits + 12 + partial["lut4"]
    if family == "ecp5":
        lut += sum(ecp5_chain(bits) for bits in counters)
    return {"lut4": lut, "ff": ff, "ebr": partial["ebr"], "dsp": 0}


class MaxPool(wiring.Component):
    """kh x kw max-pooling of an H x W x C bit map: the bitwise OR of every window.

    For thermometer codes ``[Y >= T_1], [Y >= T_2], ...`` the maximum of the codes is
    their bitwise OR, bit by bit; for ``pm1`` sign bits (1 = +1) the maximum is OR too.
    No padding; windows that would cross the right or bottom edge are dropped
    (``OH = (H - kh)//sh + 1``, ``OW = (W - kw)//sw + 1``), as PyTorch's floor mode.

    Parameters
    ----------
    height, width, channels : int
        The input map, H x W pixels of C bits.
    kernel : int or (int, int)
        ``(kh, kw)``; an integer k means ``(k, k)``. ``(1, W)`` on a 1 x W map is a global
        max over the row.
    stride : int, (int, int) or None
        ``(sh, sw)``, default ``kernel`` (non-overlapping windows).
    invert : int
        A C-bit mask (default 0) of the bits pooled by AND (their minimum) instead: they
        are inverted as they enter and as they leave (AND is NOT OR NOT). Constant
        inversions merge into the LUT4s that read and write the bits; the estimate ignores
        them.

    The properties ``kernel`` and ``stride`` are the pairs.

    Ports
    -----
    i : ``In(stream.Signature(C))``
        Input pixels in raster order, channel c at bit c.
    o : ``Out(stream.Signature(C))``
        One word per output position in raster order, channel c at bit c.

    Timing
    ------
    One input pixel per cycle: :meth:`cycles_per_image` ``= H*W``. Output ``(oy, ox)`` is
    offered the cycle after its last pixel ``(oy*sh + kh-1, ox*sw + kw-1)`` is taken, so
    with no stalls its handshake follows the first pixel's by
    ``(oy*sh + kh-1)*W + ox*sw + kw-1 + 1`` cycles (:meth:`output_offsets`), the first one
    by :meth:`latency` ``= (kh-1)*W + kw-1 + 1``. Backpressure: while an output waits for
    ``o.ready``, ``i.ready`` is low; nothing is dropped.

    Structure
    ---------
    Non-overlapping windows (``sh >= kh`` and ``sw >= kw``, the usual case) use a row of
    partial ORs: a C-bit register ORs the kw pixels of a window row, a memory of OW words
    of C bits ORs the kh rows (written for rows 0..kh-2 of the window, read at every row
    but the first; none when ``kh == 1``) and a C-bit output register. Otherwise
    (:attr:`uses_window`: overlapping windows, or a one-column window ``kw == 1 < kh``,
    whose partial OR would have to be read before the pixel that completes its row) a
    :class:`~popcorn.hdl.window.SlidingWindow` (no padding, (kh-1)*W*C bits of line
    buffer, a kh*kw*C-bit window register) followed by a combinational kh*kw-input OR per
    channel. Both have the same timing.
    """

    def __init__(self, *, height, width, channels, kernel, stride=None, invert=0):
        kernel, stride, _ = check_window(
            height=height, width=width, channels=channels, kernel=kernel,
            stride=kernel if stride is None else stride, padding=0, pad_value=0)
        if not 0 <= invert < 1 << channels:
            raise ValueError(f"invert must be a mask of the {channels} channel bits, not "
                             f"{invert:#x}")
        self._invert = invert
        self._height, self._width, self._channels = height, width, channels
        self._kernel, self._stride = kernel, stride
        super().__init__({
            "i": In(stream.Signature(channels)),
            "o": Out(stream.Signature(channels)),
        })

    height = property(lambda self: self._height)
    width = property(lambda self: self._width)
    channels = property(lambda self: self._channels)
    kernel = property(lambda self: self._kernel)
    stride = property(lambda self: self._stride)

    @property
    def out_shape(self):
        """``(OH, OW)``, the output positions."""
        (kh, kw), (sh, sw) = self._kernel, self._stride
        return (self._height - kh) // sh + 1, (self._width - kw) // sw + 1

    def cycles_per_image(self):
        """Cycles per image with no stalls: ``H*W``."""
        return self._height * self._width

    def latency(self):
        """First pixel's handshake to first output's handshake, no stalls:
        ``(kh-1)*W + kw-1 + 1``."""
        return self.output_offsets()[0]

    def output_offsets(self):
        """Cycle of every output's handshake, raster order, counted from the handshake of
        the image's first pixel, no stalls: ``(oy*sh + kh-1)*W + ox*sw + kw-1 + 1``."""
        (kh, kw), (sh, sw) = self._kernel, self._stride
        oh, ow = self.out_shape
        return [(oy * sh + kh - 1) * self._width + ox * sw + kw - 1 + 1
                for oy in range(oh) for ox in range(ow)]

    @property
    def uses_window(self):
        """Whether the block is built on a sliding window
        (:func:`~popcorn.hwmath.pool_uses_window`)."""
        return pool_uses_window(self._kernel, self._stride)

    def resources(self, family="ice40"):
        """Estimate ``{"lut4", "ff", "ebr", "dsp"}`` for ``family`` (``"ice40"`` or
        ``"ecp5"``; anything else raises ``ValueError``), counted from the RTL.

        On a sliding window (:attr:`uses_window`): the window's
        (:meth:`SlidingWindow.resources`) plus the OR tree, ``C * ceil((kh*kw - 1)/3)``
        LUT4 (a LUT4 ORs 4 inputs).

        Row of partial ORs: FF ``2*C + 1`` (row register, kw > 1; output register;
        ``o.valid``) plus the counters (x, y: ``clog2 W + clog2 H``; phases
        ``clog2 sh + clog2 sw``; window column and row ``clog2 OWc + clog2 OHc`` with
        ``OWc = ceil(W/sw)``); the partial-OR memory, OW words of C bits (kh > 1), as
        :func:`~popcorn.hdl.window.memory_resources` maps it (iCE40: EBR or, when small,
        logic; ECP5: mostly distributed RAM, whose read register adds C FF); LUT4 about
        ``2*C`` (row OR, column OR and its multiplexer; none for a 1 x 1 window) plus the
        counters, about 12 for the tests and handshake and, on ECP5, the counters' CCU2C
        chains (:func:`~popcorn.hdl.window.ecp5_chain`).

        Error against Yosys 0.70 (``benchmarks/sweep_dataflow.py``; fitted / held-out):
        EBR exact on both; FF up to 2 above Yosys (it merges equivalent flip-flops);
        LUT4 iCE40 mean 3.5 % / 3.4 %, max 8 / 5 LUT4; ECP5 mean 3.6 % / 4.0 %, max 6 / 5.
        Square windows were fitted; rectangular ones are checked in
        ``tests/hdl/test_window.py``.
        """
        return pool_resources(height=self._height, width=self._width,
                              channels=self._channels, kernel=self._kernel,
                              stride=self._stride, family=family)

    def elaborate(self, platform):
        if self.uses_window:
            return self._elaborate_overlapping()
        return self._elaborate_rows()

    def _elaborate_overlapping(self):
        m = Module()
        m.submodules.window = window = SlidingWindow(
            height=self._height, width=self._width, channels=self._channels,
            kernel=self._kernel, stride=self._stride)
        c, taps = self.channels, self._kernel[0] * self._kernel[1]
        m.d.comb += [
            window.i.payload.eq(self.i.payload ^ self._invert),
            window.i.valid.eq(self.i.valid),
            self.i.ready.eq(window.i.ready),
        ]
        pooled = 0
        for j in range(taps):
            pooled = pooled | window.o.payload[j * c:(j + 1) * c]
        m.d.comb += [
            self.o.payload.eq(pooled ^ self._invert),
            self.o.valid.eq(window.o.valid),
            window.o.ready.eq(self.o.ready),
        ]
        return m

    def _elaborate_rows(self):
        h, w, c = self._height, self._width, self._channels
        (kh, kw), (sh, sw) = self._kernel, self._stride
        oh, ow = self.out_shape
        m = Module()

        # Position (y, x) of the next pixel as window row/column (oy, ox) and phases (ry, rx).
        x, rx, ox = Signal(range(w)), Signal(range(sw)), Signal(range(-(-w // sw)))
        y, ry, oy = Signal(range(h)), Signal(range(sh)), Signal(range(-(-h // sh)))
        last_rx, last_ry = rx == kw - 1, ry == kh - 1
        inside = (ox < ow) & (oy < oh)

        out_free = self.o.ready | ~self.o.valid
        step = Signal()
        m.d.comb += [self.i.ready.eq(out_free), step.eq(self.i.valid & out_free)]
        pixel = Signal(c)
        m.d.comb += pixel.eq(self.i.payload ^ self._invert)

        # Window row: OR of the pixels rx = 0..kw-1.
        segment = Signal(c)
        if kw > 1:
            row_or = Signal(c)
            m.d.comb += segment.eq(row_or | pixel)
            with m.If(step):
                m.d.sync += row_or.eq(Mux(rx == 0, pixel, row_or | pixel))
        else:
            m.d.comb += segment.eq(pixel)

        # Window: OR of the rows ry = 0..kh-1, partial results kept per window column.
        part = Signal(c)
        if kh > 1:
            m.submodules.partial = partial = memory.Memory(shape=c, depth=ow, init=[])
            # The step rx = kw-2 reads the word that the step rx = kw-1 (the only one that
            # writes) ORs into. Reading never in a writing step lets Yosys see that a read
            # and a write never collide: otherwise it adds bypass flip-flops on the EBR.
            # (kw >= 2 here: a one-column window uses the sliding window.)
            rd = partial.read_port()
            wr = partial.write_port()
            m.d.comb += [
                rd.addr.eq(ox), rd.en.eq(step & ~last_rx),
                part.eq(Mux(ry == 0, segment, rd.data | segment)),
                wr.addr.eq(ox), wr.data.eq(part),
                wr.en.eq(step & last_rx & inside & ~last_ry),
            ]
        else:
            m.d.comb += part.eq(segment)

        emit = last_rx & last_ry & inside
        with m.If(out_free):
            m.d.sync += self.o.valid.eq(step & emit)
        with m.If(step & emit):
            m.d.sync += self.o.payload.eq(part ^ self._invert)

        with m.If(step):
            m.d.sync += [x.eq(x + 1), rx.eq(rx + 1)]
            with m.If(rx == sw - 1):
                m.d.sync += [rx.eq(0), ox.eq(ox + 1)]
            with m.If(x == w - 1):
                m.d.sync += [x.eq(0), rx.eq(0), ox.eq(0), y.eq(y + 1), ry.eq(ry + 1)]
                with m.If(ry == sh - 1):
                    m.d.sync += [ry.eq(0), oy.eq(oy + 1)]
                with m.If(y == h - 1):
                    m.d.sync += [y.eq(0), ry.eq(0), oy.eq(0)]
        return m
