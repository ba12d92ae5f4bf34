"""The ``popcorn`` command line."""

import click
from rich.console import Console

from .boards.boards import BOARDS
from .examples import EXAMPLES, bnn_dense_example

_STEP_TEXT = {
    "simulate": "RTL simulation against the golden model (cocotb + Icarus)",
    "bitstream": "synthesis, place and route (Yosys + nextpnr; the first run compiles "
                 "the WebAssembly tools, about a minute)",
    "report": "writing the report",
}


@click.group()
@click.version_option(package_name="popcorn")
def main():
    """popcorn: binary neural networks to bit-exact FPGA accelerators."""


@main.command()
@click.option("--example", type=click.Choice(EXAMPLES), default="bnn-dense", show_default=True,
              help="Built-in example design.")
@click.option("--board", type=click.Choice(sorted(BOARDS)), default="icebreaker",
              show_default=True)
@click.option("--build-dir", type=click.Path(file_okay=False), default="build",
              show_default=True, help="Where simulation and tool outputs go.")
@click.option("--report-dir", type=click.Path(file_okay=False), default="reports",
              show_default=True, help="Where report.json and report.md go.")
@click.option("--vectors", type=click.IntRange(min=8), default=1000, show_default=True,
              help="Random input vectors simulated against the golden model.")
def build(example, board, build_dir, report_dir, vectors):
    """Simulate, build a bitstream for and report on a design."""
    from .flow import build_layer

    console = Console()
    folding = bnn_dense_example()

    def progress(step):
        return console.status(f"[bold]{step}[/]: {_STEP_TEXT[step]}")

    result = build_layer(folding, name=f"{example}-{board}", board=board, build_dir=build_dir,
                         report_dir=report_dir, vectors=vectors, progress=progress)
    for step, seconds in result.step_seconds.items():
        console.print(f"  {step:<10} {seconds:7.1f} s")
    console.print(f"bitstream: {result.bitstream}")
    console.print(f"report:    {result.report_md} ({result.report_json.name} beside it)")
    console.print(result.report_md.read_text(), markup=False, highlight=False)
