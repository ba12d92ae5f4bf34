"""Shared pieces of the block benchmarks."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from popcorn.boards.boards import BOARDS


class FlatStreams(wiring.Component):
    """Presents ``core``'s stream ports with plain unsigned payloads (the UART link reads
    ``payload.shape().width``, which a ``data.StructLayout`` does not have). Wires only:
    no cells."""

    def __init__(self, core):
        self._core = core
        super().__init__({
            "i": In(stream.Signature(core.i.payload.shape().size)),
            "o": Out(stream.Signature(core.o.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        m.d.comb += [
            core.i.payload.eq(self.i.payload), core.i.valid.eq(self.i.valid),
            self.i.ready.eq(core.i.ready),
        ]
        wiring.connect(m, core.o, wiring.flipped(self.o))
        return m


class PassThrough(wiring.Component):
    """The cheapest stream core with given port widths: the low ``out_width`` input bits,
    registered. Built behind the UART link it measures what the link, the width converters
    and the board glue cost on their own (their LUT4 do not depend on how many input bits
    the core uses: the input shift register needs no LUTs)."""

    def __init__(self, in_width, out_shape):
        super().__init__({
            "i": In(stream.Signature(in_width)),
            "o": Out(stream.Signature(out_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        en = self.o.ready | ~self.o.valid
        m.d.comb += self.i.ready.eq(en)
        with m.If(en):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


# Extra options of Yosys's synth_<family> command per family (popcorn.boards.boards.Board),
# for the block-alone runs (popcorn.hdl.synth.synth_stat); board builds through
# popcorn.boards.build.build_bitstream pass the board's own.
SYNTH_OPTS = {board.family: board.synth_opts for board in BOARDS.values()}


FINN_FC = {"tfc": 64, "sfc": 256}
"""FINN's fully connected MNIST topologies (``bnn_pynq``): 784 one-bit pixels, three Dense
layers of this many neurons, Dense 10."""


def finn_fc_network(shape):
    """FINN's ``shape`` topology (a key of :data:`FINN_FC`) as a BNN of random weights
    (:func:`popcorn.golden.examples.random_network`, seed 7, one-bit pixels)."""
    from popcorn.golden.examples import random_network

    layout = ((1, 28, 28), (("flatten",),) + (("dense", FINN_FC[shape]),) * 3
              + (("dense", 10),))
    return random_network("bnn", seed=7, layout=layout, input_bits=1)


def write_markdown_and_json(out, markdown, data):
    """Write ``markdown`` to ``out`` (.md) and ``data`` beside it as .json; say where."""
    import json
    from pathlib import Path

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"written {out} and {out.with_suffix('.json').name}")


def sweep_args(argv):
    """A sweep's command line: ``--fit`` (print the fitted factors from the saved .json),
    ``--rerender`` (rewrite the tables from it), neither (run the sweep)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--rerender", action="store_true")
    return parser.parse_args(argv)


def sweep_main(argv, out, fit, render, measure):
    """A sweep's command line (:func:`sweep_args`) run: ``--fit`` prints ``fit(rows)`` of
    the rows saved beside ``out``, ``--rerender`` rewrites the tables from them, neither
    takes new rows from ``measure()``; the tables (``render(rows)``) and the rows are
    written to ``out`` and its .json."""
    import json
    from pathlib import Path

    args = sweep_args(argv)
    if args.fit or args.rerender:
        rows = json.loads(Path(out).with_suffix(".json").read_text())
        if args.fit:
            print(json.dumps(fit(rows), indent=1))
            return
    else:
        rows = measure()
    write_markdown_and_json(out, render(rows), rows)
