"""The clock each engine of a built-in example reaches on its own: every
``MatrixVectorActivation`` of the dataflow plan ``popcorn build --example NAME --board
BOARD`` builds (default options), placed alone behind the UART link at F MHz.

Issue 12 asks for every engine of the examples at 150 MHz or more on the ECP5;
``benchmarks/clock_speed.py`` times the whole example. An engine with an ``r`` port (a
residual block's shortcut bits or addend) takes it from the high bits of its input word
(:class:`SideFromInput`: wires, no cells), so the link feeds both streams. fmax, LUT4 and
the critical path are nextpnr's (``popcorn.boards.build.build_bitstream``, the PLL at F,
the board's own nextpnr options; one placement, nextpnr's default seed).

    PYTHONPATH=.:benchmarks python benchmarks/engine_clock.py --example digits-resnet-abc
        [--board ulx3s-85f] [--clock-mhz 150] [--only 2 6]   # engines by index
    # reports/perf/engine_clock.{md,json}; rows kept per (code, example, board, engine)
"""

import argparse
import json
import sys
from pathlib import Path

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sweep_blocks import example_plan
from verilog_speed import add_label_option, label_of, saved_rows

from popcorn.boards.boards import get_board
from popcorn.boards.build import TimingFailed, build_bitstream
from popcorn.boards.top import BoardTop
from popcorn.hdl.mva import MatrixVectorActivation
from popcorn.reports import nextpnr

ROOT = Path(__file__).resolve().parent.parent


class SideFromInput(wiring.Component):
    """An engine whose ``i`` and ``r`` streams are one: input bits ``[0, word_width)`` its
    ``i`` payload, the bits above its ``r`` payload, both taken in the engine's handshake
    (its ``i.ready`` waits for ``r.valid``, here the same ``valid``)."""

    def __init__(self, engine):
        self._engine = engine
        f = engine.folding
        super().__init__({
            "i": In(stream.Signature(f.word_width + len(engine.r.payload))),
            "o": Out(stream.Signature(f.out_width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = e = self._engine
        width = e.folding.word_width
        m.d.comb += [e.i.payload.eq(self.i.payload[:width]),
                     e.r.payload.eq(self.i.payload[width:]),
                     e.i.valid.eq(self.i.valid), e.r.valid.eq(self.i.valid),
                     self.i.ready.eq(e.i.ready)]
        wiring.connect(m, e.o, wiring.flipped(self.o))
        return m


def measure(example, board, index, folding, mhz, build_root):
    folder = build_root / f"{example}-{board}-{mhz}" / f"engine{index}"
    engine = MatrixVectorActivation(folding)
    top = BoardTop(SideFromInput(engine) if folding.side_bits else engine,
                   clock_hz=mhz * 1e6)
    spec = get_board(board)
    try:
        _, impl = build_bitstream(top, board=board, build_dir=folder,
                                  estimated_lut4=engine.resources(spec.family)["lut4"])
    except TimingFailed:       # the row comes from the report the build left
        impl = nextpnr.load(spec.family, board, spec.platform().device, folder)
    path = impl.critical_path or {}
    return {"example": example, "board": board, "engine": index,
            "layer": str(folding.linear.layer), "pe": folding.pe, "simd": folding.simd,
            "bases": f"{folding.weight_bases}x{folding.act_bases}",
            "asked_mhz": mhz, "clock_mhz": impl.clock_mhz, "fmax_mhz": impl.fmax_mhz,
            "met": impl.fmax_mhz >= impl.clock_mhz, "lut4": impl.lut4,
            "path": f"{path.get('delay_ns')} ns ({path.get('routing_ns')} routing), "
                    f"{path.get('cells')} cells: `{path.get('start')}` -> `{path.get('end')}`"}


def write(out, rows):
    lines = [
        "# Every engine of an example, alone at the board's clock",
        "",
        "Written by `python benchmarks/engine_clock.py` (see its docstring): each "
        "`MatrixVectorActivation` of the example's dataflow plan behind the UART link, the "
        "PLL at the asked clock; fmax, LUT4 (the engine and the link) and the critical path: "
        "nextpnr's, one placement. "
        "Code: the popcorn measured (`git describe`). The whole example's clock: "
        "`clock_speed.md`.",
        "",
        "| example | board | code | engine | layer | PE x SIMD | M x N | asked (MHz) | "
        "fmax (MHz) | met | LUT4 | critical path |",
        "| --- | --- | --- | ---: | --- | --- | --- | ---: | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['example']} | {r['board']} | {r['code']} | {r['engine']} | {r['layer']} | "
            f"{r['pe']}x{r['simd']} | {r['bases']} | {r['asked_mhz']} | {r['fmax_mhz']} | "
            f"{'yes' if r['met'] else 'no'} | {r['lut4']} | {r['path']} |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine_clock.md").write_text("\n".join(lines) + "\n")
    (out / "engine_clock.json").write_text(json.dumps(rows, indent=1) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--example", required=True)
    ap.add_argument("--board", default="ulx3s-85f")
    ap.add_argument("--clock-mhz", type=float, default=150.0)
    ap.add_argument("--only", nargs="+", type=int, help="engine indices (stream order)")
    ap.add_argument("--build-dir", default=str(ROOT / "build" / "engine_clock"))
    ap.add_argument("--out", default=str(ROOT / "reports" / "perf"))
    add_label_option(ap)
    args = ap.parse_args(argv)
    out, code = Path(args.out), label_of(args)
    foldings = example_plan(args.example, args.board).foldings
    new = []
    for index, folding in enumerate(foldings):
        if args.only and index not in args.only:
            continue
        row = {"code": code, **measure(args.example, args.board, index, folding,
                                       args.clock_mhz, Path(args.build_dir))}
        print(json.dumps(row), flush=True)
        new.append(row)
    keys = {(r["code"], r["example"], r["board"], r["engine"], r["asked_mhz"]) for r in new}
    kept = [r for r in saved_rows(out, "engine_clock")
            if (r["code"], r["example"], r["board"], r["engine"], r["asked_mhz"]) not in keys]
    rows = sorted(kept + new, key=lambda r: (r["example"], r["board"], r["engine"], r["code"]))
    write(out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
