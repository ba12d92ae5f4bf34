"""Synthesis sweep of the host link (:class:`~popcorn.boards.host_link.UARTLink`: UART,
frame receiver and transmitter with their CRCs, width converters), alone and with the
folded build's flash loader (:class:`~popcorn.boards.host_link.WeightsFromFlash`), beside
:func:`popcorn.boards.fit.estimate_link`.

Each point is the link around a stub core (:class:`LinkStub`: registered pass-through of the
given port widths, and for the flash a ``load`` port, the flash pins wired out as on the
board: :class:`FlashPins`) synthesized alone with the YoWASP Yosys, less the stub
synthesized alone: the link's own LUT4 and flip-flops.

    PYTHONPATH=. python benchmarks/sweep_link.py             # synthesize, write the tables
    PYTHONPATH=. python benchmarks/sweep_link.py --fit       # LINK_FACTORS from the .json
    PYTHONPATH=. python benchmarks/sweep_link.py --rerender  # the tables from the .json

The flash loader's factors are fitted on the difference between each point with flash words
and the same widths without.

Writes ``reports/blocks/link_estimates.md`` and ``.json``.
"""

import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from _common import SYNTH_OPTS, sweep_main
from popcorn.boards.fit import estimate_link, link_features
from popcorn.boards.host_link import UARTLink, WeightsFromFlash
from popcorn.hdl.synth import synth_stat

FAMILIES = ("ice40", "ecp5")
POINTS = [dict(in_width=i, out_width=o, in_words=w, flash_words=f)
          for i, o, w in ((1, 25, 64), (8, 100, 64), (8, 190, 784), (24, 60, 1024),
                          (64, 200, 16))
          for f in (0, 1000, 24000)]
HELD_OUT = [dict(in_width=16, out_width=90, in_words=400, flash_words=0),
            dict(in_width=8, out_width=194, in_words=3072, flash_words=9000)]


class LinkStub(wiring.Component):
    """A stream core of the given widths (its inputs shifted into a result register, so
    that every result bit is live), with a ``load`` port of ``flash_words`` 64-bit words
    when that is not 0 (their parity in the results, so that every load bit is live, as
    in the folded accelerator), and the ``plan`` attributes the link reads."""

    def __init__(self, in_width, out_width, in_words, flash_words):
        self.plan = SimpleNamespace(in_words=in_words, weight_words=flash_words, stream_words=0)
        members = {"i": In(stream.Signature(in_width)), "o": Out(stream.Signature(out_width))}
        if flash_words:
            members |= {"load": In(stream.Signature(64)), "loaded": Out(1)}
        self._flash_words = flash_words
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        en = self.o.ready | ~self.o.valid
        m.d.comb += self.i.ready.eq(en & (self.loaded if self._flash_words else 1))
        parity = Signal()                # of the words loaded: every load bit live
        with m.If(en):
            m.d.sync += [self.o.valid.eq(self.i.valid),        # every result bit live
                         self.o.payload.eq(Cat(self.i.payload ^ parity, self.o.payload))]
        if self._flash_words:
            count = Signal(range(self._flash_words + 1))
            m.d.comb += self.load.ready.eq(~self.loaded)
            with m.If(self.load.valid & ~self.loaded):
                m.d.sync += [count.eq(count + 1), parity.eq(parity ^ self.load.payload.xor())]
                with m.If(count == self._flash_words - 1):
                    m.d.sync += self.loaded.eq(1)
        return m


class FlashPins(wiring.Component):
    """``link`` with its :class:`~popcorn.boards.host_link.WeightsFromFlash` core's SPI
    pins and ``ready`` as ports, as :class:`~popcorn.boards.top.BoardTop` wires them to the
    board (left open, Yosys removes the loader's SPI side: 48 of its 93 flip-flops)."""

    def __init__(self, link, core):
        self._link, self._core = link, core
        super().__init__({"rx": In(1), "tx": Out(1), "error": Out(1), "ready": Out(1),
                          "sck": Out(1), "cs": Out(1), "copi": Out(1), "copi_oe": Out(1),
                          "io0": In(1), "cipo": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = self._link
        core = self._core
        m.d.comb += [link.rx.eq(self.rx), self.tx.eq(link.tx), self.error.eq(link.error),
                     self.ready.eq(core.ready), core.io0.eq(self.io0),
                     core.cipo.eq(self.cipo)]
        m.d.comb += [getattr(self, pin).eq(getattr(core, pin))
                     for pin in ("sck", "cs", "copi", "copi_oe")]
        return m


def measure(point, family, build_dir):
    """The link's own ``{"lut4", "ff"}`` at ``point`` on ``family``."""
    def stub():
        return LinkStub(**point)

    alone = synth_stat(stub(), family=family, build_dir=build_dir / "stub",
                       synth_opts=SYNTH_OPTS[family])
    core = stub()
    if point["flash_words"]:
        image = bytes(16 + 8 * point["flash_words"] + 4)
        core = WeightsFromFlash(core, image, offset=0x100000)
    link = UARTLink(core, divisor=104, idle=24000)
    whole = synth_stat(FlashPins(link, core) if point["flash_words"] else link,
                       family=family, build_dir=build_dir / "link",
                       synth_opts=SYNTH_OPTS[family])
    return {"lut4": whole.lut4 - alone.lut4, "ff": whole.ff - alone.ff}


OUT = Path("reports/blocks/link_estimates.md")


def fit(rows):
    """Least-squares :data:`~popcorn.boards.fit.LINK_FACTORS` of the fitted rows."""
    factors = {}
    for family in FAMILIES:
        mine = [r for r in rows if r["family"] == family and not r["held_out"]]
        plain = {(r["in_width"], r["out_width"], r["in_words"]): r["measured"]
                 for r in mine if not r["flash_words"]}
        factors[family] = {}
        for kind in ("plain", "flash"):
            part = [r for r in mine if bool(r["flash_words"]) == (kind == "flash")]
            feats = [link_features(**{k: r[k] for k in POINTS[0]})[kind] for r in part]
            keys = sorted(feats[0])
            a = np.array([[f[k] for k in keys] for f in feats], dtype=float)
            factors[family][kind] = {}
            for res in ("lut4", "ff"):
                y = np.array([r["measured"][res] - (plain[(r["in_width"], r["out_width"],
                                                          r["in_words"])][res]
                                                    if kind == "flash" else 0) for r in part])
                coef = np.linalg.lstsq(a, y, rcond=None)[0]
                factors[family][kind][res] = {k: round(float(c), 2) for k, c in zip(keys, coef)}
    return factors


def render(rows):
    lines = ["# Host link: Yosys alone beside the estimate", "",
             "Written by `benchmarks/sweep_link.py`: the UART link (frames, CRCs, width "
             "converters) around a stub core, with the folded build's flash loader when "
             "flash words are given, synthesized alone (`synth_ice40`; `synth_ecp5 "
             "-nowidelut`) less the stub alone, beside `popcorn.boards.fit.estimate_link`. "
             "Held-out points (not fitted) are marked *.", "",
             "| family | in width | out width | image words | flash words | LUT4 | estimate | "
             "error | FF | estimate | error |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    errors = []
    for r in rows:
        m = r["measured"]
        e = estimate_link(family=r["family"], **{k: r[k] for k in POINTS[0]})
        err = {k: (e[k] - m[k]) / m[k] for k in ("lut4", "ff")}
        errors += list(map(abs, err.values()))
        lines.append(f"| {r['family']}{' *' if r['held_out'] else ''} | {r['in_width']} | "
                     f"{r['out_width']} | {r['in_words']} | {r['flash_words']} | {m['lut4']} | "
                     f"{e['lut4']} | {100 * err['lut4']:+.1f} % | {m['ff']} | {e['ff']} | "
                     f"{100 * err['ff']:+.1f} % |")
    lines += ["", f"Mean error {100 * np.mean(errors):.1f} %, max {100 * max(errors):.1f} %."]
    return "\n".join(lines) + "\n"


def measure_all():
    """The rows of every point, synthesized."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in FAMILIES:
            for n, point in enumerate(POINTS + HELD_OUT):
                got = measure(point, family, Path(tmp) / f"{family}{n}")
                rows.append(dict(point, family=family, held_out=point in HELD_OUT,
                                 measured=got))
                print(family, point, got, flush=True)
    return rows


if __name__ == "__main__":
    sweep_main(sys.argv[1:], OUT, fit, render, measure_all)
