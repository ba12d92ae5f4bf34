"""Comparator activation unit: per-channel thresholds -> thermometer code or one-hot pieces."""

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.comparators import check_thresholds

OUTPUTS = ("thermometer", "onehot")


class ComparatorActivation(wiring.Component):
    """Turns integer pre-activations into activation bases (see
    :mod:`popcorn.golden.comparators` for the semantics and the schemes it serves).

    Parameters
    ----------
    thresholds : (C, L) integers, monotonic per channel in the direction's order, each in
        ``[-2**(in_width-1), 2**(in_width-1)]`` (the ends make a level constant).
    directions : (C,) of +1 / -1 (-1: ``[Y <= T]``, batch-norm gamma < 0).
    pe : channels per input word; divides C.
    in_width : bits of the signed pre-activation Y.
    output : ``"thermometer"`` (sign, ABC bases) or ``"onehot"`` (PA pieces).

    Ports
    -----
    i : stream of ``data.ArrayLayout(signed(in_width), pe)``: word j holds channels
        ``g*pe .. g*pe + pe - 1`` with ``g = j mod (C/pe)`` (channel groups in turn).
    o : stream of ``unsigned(pe * L)``: channel p of the group at bits ``[p*L, (p+1)*L)``,
        level (or piece) k at bit ``p*L + k``.

    Timing: one word per cycle; the output register is loaded the cycle after the
    handshake (latency 1), and holds while ``o.ready`` is low, which stalls the input.
    ``i.ready`` is low in the first cycle after reset while the threshold ROM primes.
    """

    def __init__(self, *, thresholds, directions, pe, in_width, output="thermometer"):
        t, d = check_thresholds(thresholds, directions)
        channels, levels = t.shape
        if not isinstance(pe, int) or isinstance(pe, bool) or pe <= 0:
            raise TypeError(f"pe must be a positive integer, not {pe!r}")
        if channels % pe:
            raise ValueError(f"pe = {pe} does not divide the {channels} channels")
        if not isinstance(in_width, int) or isinstance(in_width, bool) or in_width < 2:
            raise TypeError(f"in_width must be an integer >= 2, not {in_width!r}")
        lo, hi = -2 ** (in_width - 1), 2 ** (in_width - 1)
        if t.min() < lo or t.max() > hi:
            c, k = np.argwhere((t < lo) | (t > hi))[0]
            raise ValueError(f"threshold [{c}, {k}] = {t[c, k]} does not fit a {in_width}-bit "
                             f"pre-activation: must lie in [{lo}, {hi}]")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")
        self._thresholds, self._directions = t, d
        self._pe, self._in_width, self._output = pe, in_width, output
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(in_width), pe))),
            "o": Out(stream.Signature(pe * levels)),
        })

    @property
    def channels(self):
        return self._thresholds.shape[0]

    @property
    def levels(self):
        return self._thresholds.shape[1]

    @property
    def latency(self):
        return 1

    def _rom(self):
        """ROM words: per group, per channel p, L thresholds of in_width+1 bits and the
        direction bit (1 = -1)."""
        tw, field = self._in_width + 1, (self._in_width + 1) * self.levels + 1
        words = []
        for g in range(self.channels // self._pe):
            word = 0
            for p in range(self._pe):
                c = g * self._pe + p
                entry = sum((int(v) & (2 ** tw - 1)) << (k * tw)
                            for k, v in enumerate(self._thresholds[c]))
                entry |= int(self._directions[c] < 0) << (tw * self.levels)
                word |= entry << (p * field)
            words.append(word)
        return words, field

    def elaborate(self, platform):
        m = Module()
        pe, levels, tw = self._pe, self.levels, self._in_width + 1
        groups = self.channels // pe
        words, field = self._rom()
        m.submodules.thresholds = rom = memory.Memory(shape=pe * field, depth=groups,
                                                      init=words)
        port = rom.read_port()

        group = Signal(range(groups))
        primed = Signal()
        take = self.i.valid & self.i.ready
        next_group = Signal.like(group)
        with m.If(take):
            m.d.comb += next_group.eq(Mux(group == groups - 1, 0, group + 1))
        with m.Else():
            m.d.comb += next_group.eq(group)
        m.d.comb += port.addr.eq(next_group)
        m.d.sync += [group.eq(next_group), primed.eq(1)]

        bits = Signal(pe * levels)
        for p in range(pe):
            entry = Signal(field, name=f"entry{p}")
            m.d.comb += entry.eq(port.data.word_select(p, field))
            y = self.i.payload[p]
            negative = entry[tw * levels]
            level = []
            for k in range(levels):
                t = entry[k * tw:(k + 1) * tw].as_signed()
                level.append(Signal(name=f"level{p}_{k}"))
                m.d.comb += level[k].eq(((y >= t) & ~negative) | ((y <= t) & negative))
            for k in range(levels):
                piece = level[k] if self._output == "thermometer" or k == levels - 1 \
                    else level[k] & ~level[k + 1]
                m.d.comb += bits[p * levels + k].eq(piece)

        # A plain assignment, not inside `If`: Icarus leaves an `always @*` output X until
        # one of its inputs changes.
        m.d.comb += self.i.ready.eq((self.o.ready | ~self.o.valid) & primed)
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += [self.o.valid.eq(self.i.valid & primed), self.o.payload.eq(bits)]
        return m
