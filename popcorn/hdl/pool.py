"""Max-pooling of thermometer codes (and ``pm1`` sign bits) as a bitwise OR."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .window import SlidingWindow, check_positive, check_window, window_resources


class MaxPool(wiring.Component):
    """k x k max-pooling of an H x W x C bit map: the bitwise OR of every window.

    For thermometer codes ``[Y >= T_1], [Y >= T_2], ...`` the maximum of the codes is
    their bitwise OR, bit by bit; for ``pm1`` sign bits (1 = +1) the maximum is OR too.
    No padding; windows that would cross the right or bottom edge are dropped
    (``OH = (H - k)//s + 1``, ``OW = (W - k)//s + 1``), as PyTorch's floor mode.

    Parameters
    ----------
    height, width, channels : int
        The input map, H x W pixels of C bits.
    kernel : int
        k.
    stride : int or None
        s, default ``kernel`` (non-overlapping windows).

    Ports
    -----
    i : ``In(stream.Signature(C))``
        Input pixels in raster order, channel c at bit c.
    o : ``Out(stream.Signature(C))``
        One word per output position in raster order, channel c at bit c.

    Timing
    ------
    A :class:`~popcorn.hdl.window.SlidingWindow` (no padding) followed by a combinational
    k*k-input OR per channel: one input pixel per cycle, :meth:`cycles_per_image`
    ``= H*W``, :meth:`latency` ``= (k-1)*(W+1) + 1`` cycles from the first pixel's
    handshake to the first output's. Backpressure as in the sliding window: while an
    output waits for ``o.ready``, ``i.ready`` is low.
    """

    def __init__(self, *, height, width, channels, kernel, stride=None):
        check_positive(kernel, "kernel size")
        stride = kernel if stride is None else stride
        check_window(height=height, width=width, channels=channels, kernel=kernel,
                     stride=stride, padding=0, pad_value=0)
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
        k, s = self._kernel, self._stride
        return (self._height - k) // s + 1, (self._width - k) // s + 1

    def cycles_per_image(self):
        """Cycles per image with no stalls: ``H*W``."""
        return self._height * self._width

    def latency(self):
        """First pixel's handshake to first output's handshake, no stalls:
        ``(k-1)*(W+1) + 1``."""
        return (self._kernel - 1) * (self._width + 1) + 1

    def output_offsets(self):
        """Cycle of every output's handshake, raster order, counted from the handshake of
        the image's first pixel, no stalls: ``(oy*s + k-1)*W + ox*s + k-1 + 1``."""
        k, s = self._kernel, self._stride
        oh, ow = self.out_shape
        return [(oy * s + k - 1) * self._width + ox * s + k - 1 + 1
                for oy in range(oh) for ox in range(ow)]

    def resources(self):
        """iCE40 estimate ``{"lut4", "ff", "ebr"}``: the sliding window's
        (:meth:`SlidingWindow.resources`) plus the OR tree, ``C * ceil((k*k - 1)/3)``
        LUT4 (each LUT4 ORs 4 inputs, so a k*k-input OR is a tree of that many)."""
        est = window_resources(height=self._height, width=self._width,
                               channels=self._channels, kernel=self._kernel,
                               stride=self._stride)
        est["lut4"] += self._channels * -(-(self._kernel ** 2 - 1) // 3)
        return est

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = window = SlidingWindow(
            height=self._height, width=self._width, channels=self._channels,
            kernel=self._kernel, stride=self._stride)
        c, k2 = self.channels, self.kernel * self.kernel
        wiring.connect(m, wiring.flipped(self.i), window.i)
        pooled = 0
        for j in range(k2):
            pooled = pooled | window.o.payload[j * c:(j + 1) * c]
        m.d.comb += [
            self.o.payload.eq(pooled),
            self.o.valid.eq(window.o.valid),
            window.o.ready.eq(self.o.ready),
        ]
        return m
