"""Comparators: the one implementation of ``[Y >= T] / [Y <= T] / constant`` and of
levels -> bases, and the comparator activation unit built on them.

:func:`compare` and :func:`levels_to_bases` are used by both
:class:`ComparatorActivation` and the layer engine
(:class:`~popcorn.hdl.mva.MatrixVectorActivation`, stage 2), with the stored encoding of
:mod:`popcorn.golden.comparators` in every ROM: a threshold T' and two mode bits
(``MODE_ZERO, MODE_ONE, MODE_GE, MODE_LT`` = 0..3, bit 1 compare, bit 0 invert), so that a
comparator is ONE ``Y >= T'`` carry chain and an XOR (``[Y <= T]`` is ``[Y < T + 1]``).
"""

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.comparators import check_thresholds, encode_comparators
from .estimates import check_family, estimate_comparator, threshold_rom_columns
from .popcount import popcount_tree

OUTPUTS = ("thermometer", "onehot")
BASE_MAPS = ("levels", "onehot", "binary")


def compare(y, threshold, mode):
    """One comparator bit of the stored encoding: ``([y >= threshold] & mode[1]) ^ mode[0]``,
    i.e. ``[y >= T']`` (MODE_GE), ``[y < T']`` (MODE_LT, which is ``[y <= T]`` stored as
    T' = T + 1), 1 (MODE_ONE) or 0 (MODE_ZERO). One comparison, so one carry chain, then
    an AND and an XOR that fit one LUT4 with the chain's carry out. ``y`` and ``threshold``
    are compared as their own shapes (signed or unsigned) say; ``mode`` is a 2-bit
    ``Value`` or a constant. Combinational. Golden counterpart:
    :func:`popcorn.golden.comparators.compare_modes`; the stored values come from
    :func:`popcorn.golden.comparators.encode_comparators`."""
    mode = Cat(Value.cast(mode), Const(0, 2))     # a constant mode may be 1 bit wide
    return (_at_least(Value.cast(y), Value.cast(threshold)) & mode[1]) ^ mode[0]


def _at_least(a, b):
    """``a >= b`` as an unsigned compare: signed operands extended to a common width with
    their top bit inverted (offset binary keeps the order), so that the result is the carry
    chain's carry out. A signed ``>=`` leaves Yosys a sign correction after the chain (ECP5:
    one more CCU2C and a LUT4 between the carry out and the mode's LUT4: 15 cells, 6.67 ns
    from Y's register in digits-resnet-abc's b4.conv_b alone); the inverted top bits enter
    the chain at its end, beside the carry."""
    if not (a.shape().signed or b.shape().signed):
        return a >= b
    width = max(len(v) + (not v.shape().signed) for v in (a, b))

    def offset(v):
        fill = v[-1] if v.shape().signed else Const(0, 1)
        return Cat(v, fill.replicate(width - len(v))) ^ Const(1 << (width - 1), width)
    return offset(a) >= offset(b)


def levels_to_bases(m, levels, kind, perm=None, *, width=None, name="bases"):
    """The output bases of one channel from its L comparator levels (a thermometer code),
    as a ``Signal`` driven combinationally in ``m``:

    * ``"levels"``: base j = level ``perm[j]`` (sign, ABC-Net; ``perm=None`` is the
      identity: the thermometer code itself);
    * ``"onehot"``: piece k = ``level_k & ~level_{k+1}``, the last piece the last level
      (PA-Net);
    * ``"binary"``: bit b of the number of levels set, ``width`` bits (fixed point).

    Golden counterparts: :func:`popcorn.golden.quantizers.thermometer_to_bases`,
    :func:`popcorn.golden.comparators.onehot_from_thermometer` /
    ``binary_from_thermometer``.
    """
    levels = Value.cast(levels)
    count = len(levels)
    if kind not in BASE_MAPS:
        raise ValueError(f"base map must be one of {BASE_MAPS}, not {kind!r}")
    if kind == "levels":
        perm = tuple(range(count)) if perm is None else tuple(perm)
        bases = Signal(len(perm), name=name)
        m.d.comb += bases.eq(Cat(levels[r] for r in perm))
    elif kind == "onehot":
        bases = Signal(count, name=name)
        m.d.comb += bases.eq(levels & ~Cat(levels[1:], Const(0, 1)))
    else:
        bases = Signal(width if width is not None else count.bit_length(), name=name)
        m.d.comb += bases.eq(popcount_tree(levels))
    return bases


def levels_to_bases_resources(*, channels, levels, kind, family="ice40"):
    """Estimate of a :class:`LevelsToBases`; see :meth:`LevelsToBases.resources`."""
    check_family(family)
    return {"lut4": 0 if kind == "levels" else channels * levels, "ff": 0, "ebr": 0, "dsp": 0}


class LevelsToBases(wiring.Component):
    """Turns a word of C channels' L comparator levels (channel c at bits ``[c*L, (c+1)*L)``)
    into their bases (channel c at ``[c*N, (c+1)*N)``) with :func:`levels_to_bases`:
    combinational, ``o.valid = i.valid``, ``i.ready = o.ready`` (no cycle of its own).
    It follows a max-pool that ORed thermometer codes whose bases (PA-Net pieces, fixed
    point planes) are not themselves ORed."""

    def __init__(self, *, channels, levels, bases, kind, perm=None):
        if kind not in BASE_MAPS:
            raise ValueError(f"base map must be one of {BASE_MAPS}, not {kind!r}")
        self._channels, self._levels, self._bases = channels, levels, bases
        self._kind, self._perm = kind, perm
        super().__init__({"i": In(stream.Signature(channels * levels)),
                          "o": Out(stream.Signature(channels * bases))})

    def resources(self, family="ice40"):
        """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` (either family), counted, not fitted:
        wiring for a permutation (``"levels"``), one LUT4 per piece (``"onehot"``), about
        one per level for the count of a ``"binary"`` map; no flip-flops."""
        return levels_to_bases_resources(channels=self._channels, levels=self._levels,
                                         kind=self._kind, family=family)

    def elaborate(self, platform):
        m = Module()
        c, n_l = self._channels, self._levels
        out = [levels_to_bases(m, self.i.payload[k * n_l:(k + 1) * n_l], self._kind,
                               self._perm, width=self._bases, name=f"bases{k}")
               for k in range(c)]
        m.d.comb += [self.o.payload.eq(Cat(*out)), self.o.valid.eq(self.i.valid),
                     self.i.ready.eq(self.o.ready)]
        return m


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

    def resources(self, family="ice40"):
        """Estimated ``{"lut4", "ff", "ebr", "dsp"}`` of this unit synthesized alone on
        ``family`` (``synth_ice40``; ``synth_ecp5 -nowidelut``), from
        :func:`~popcorn.hdl.estimates.estimate_comparator` with the bit columns of this
        unit's threshold ROM image (so the flip-flops and the ROM placement are exact)."""
        columns = threshold_rom_columns(self._rom()[0], pe=self._pe, levels=self.levels,
                                        in_width=self._in_width)
        return estimate_comparator(channels=self.channels, levels=self.levels, pe=self._pe,
                                   in_width=self._in_width, output=self._output,
                                   family=family, columns=columns)

    def _rom(self):
        """ROM words: per group, per channel p, L stored thresholds T' of ``in_width`` bits
        and then L 2-bit modes, the encoding of
        :func:`~popcorn.golden.comparators.encode_comparators` with the field of Y
        (``[-2**(in_width-1), 2**(in_width-1))``): T' = T for direction +1 (MODE_GE),
        T + 1 for -1 (MODE_LT); a level no Y can flip (T at an end of the range) is a
        constant mode. So T', like Y, fits ``in_width`` signed bits and the comparison
        is one ``in_width``-bit chain."""
        tw, levels = self._in_width, self.levels
        field = (tw + 2) * levels
        stored, modes = encode_comparators(
            self._thresholds, self._directions[:, None],
            field=(-2 ** (tw - 1), 2 ** (tw - 1) - 1))
        words = []
        for g in range(self.channels // self._pe):
            word = 0
            for p in range(self._pe):
                c = g * self._pe + p
                entry = sum((int(v) & (2 ** tw - 1)) << (k * tw)
                            for k, v in enumerate(stored[c]))
                entry |= sum(int(v) << (tw * levels + 2 * k) for k, v in enumerate(modes[c]))
                word |= entry << (p * field)
            words.append(word)
        return words, field

    def elaborate(self, platform):
        m = Module()
        pe, levels, tw = self._pe, self.levels, self._in_width
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
            level = Signal(levels, name=f"levels{p}")
            for k in range(levels):
                t = entry[k * tw:(k + 1) * tw].as_signed()
                mode = entry[tw * levels + 2 * k:tw * levels + 2 * k + 2]
                m.d.comb += level[k].eq(compare(y, t, mode))
            kind = "levels" if self._output == "thermometer" else "onehot"
            m.d.comb += bits[p * levels:(p + 1) * levels].eq(
                levels_to_bases(m, level, kind, name=f"bases{p}"))

        # A plain assignment, not inside `If`: Icarus leaves an `always @*` output X until
        # one of its inputs changes.
        m.d.comb += self.i.ready.eq((self.o.ready | ~self.o.valid) & primed)
        with m.If(self.o.ready | ~self.o.valid):
            m.d.sync += [self.o.valid.eq(self.i.valid & primed), self.o.payload.eq(bits)]
        return m
