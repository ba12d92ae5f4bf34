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


@main.command()
@click.argument("network", type=click.Path(exists=True, dir_okay=False))
@click.argument("inputs", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output .npz with scores, argmax (and frac_bits).")
@click.option("--float", "use_float", is_flag=True,
              help="Run the float reference instead of the integer golden model.")
@click.option("--frac-bits", default=8, show_default=True, type=int,
              help="Fractional bits of the integer coefficients.")
def predict(network, inputs, output, use_float, frac_bits):
    """Classify INPUTS (.npy, batch x input shape) with NETWORK (.npz) into scores and argmax.

    Float inputs are quantized by the network's input quantizer; integer inputs to a
    fixed-point input are its codes (e.g. 0..255 pixels).
    """
    from popcorn.golden.predict import predict_files
    from popcorn.network import NetworkError

    try:
        result = predict_files(network, inputs, output, use_float=use_float, frac_bits=frac_bits)
    except (NetworkError, ValueError, TypeError) as error:
        raise click.ClickException(str(error)) from None
    model = "float reference" if use_float else f"integer model, {frac_bits} fractional bits"
    click.echo(f"{len(result.argmax)} inputs, {model}: scores and argmax written to {output}")


@main.command("import")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output network file (.npz).")
@click.option("--keep-scales", is_flag=True,
              help="Keep binary weight scales as XNOR-Net alpha instead of folding them into "
                   "the following batch norm.")
def import_model(model, output, keep_scales):
    """Import MODEL, a QONNX graph exported by Brevitas, as a popcorn network (.npz).

    Needs the qonnx extra: pip install 'popcorn[qonnx]'.
    """
    from popcorn.frontends import MissingExtra, QonnxImportError, network_summary
    from popcorn.network import save_network

    try:
        from popcorn.frontends.qonnx import import_qonnx
    except MissingExtra as error:
        raise click.ClickException(str(error)) from None
    try:
        network = import_qonnx(model, fold_scales=not keep_scales)
    except QonnxImportError as error:
        message = str(error)
        raise click.ClickException(message if message.startswith(model) else
                                   f"{model}: {message}") from None
    save_network(network, output)
    for line in network_summary(network):
        click.echo(f"  {line}")
    click.echo(f"{len(network.layers)} layers, {network.classes} classes: written to {output}")
