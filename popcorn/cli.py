"""The ``popcorn`` command line."""

from pathlib import Path

import click
from rich.console import Console

from .boards.boards import BOARDS
from .examples import EXAMPLES, load_example

_STEP_TEXT = {
    "golden": "float reference and integer golden model",
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
@click.argument("network", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--inputs", type=click.Path(exists=True, dir_okay=False),
              help="Test data (.npz with `x` and optionally labels `y`, or .npy of inputs) "
                   "for accuracy and simulation; required with NETWORK.")
@click.option("--example", type=click.Choice(sorted(EXAMPLES)), default="digits-bnn",
              show_default=True, help="Built-in example, used when no NETWORK is given.")
@click.option("--board", type=click.Choice(sorted(BOARDS)), default="icebreaker",
              show_default=True)
@click.option("--target-cycles", type=click.IntRange(min=1), default=256, show_default=True,
              help="Cycles per image each layer's folding aims at (PE x SIMD chosen per "
                   "layer).")
@click.option("--frac-bits", type=click.IntRange(0, 48), default=8, show_default=True,
              help="Fractional bits of the integer coefficients.")
@click.option("--sim-images", type=click.IntRange(min=1), default=100, show_default=True,
              help="Images simulated in RTL against the golden model.")
@click.option("--build-dir", type=click.Path(file_okay=False), default="build",
              show_default=True, help="Where simulation and tool outputs go.")
@click.option("--report-dir", type=click.Path(file_okay=False), default="reports",
              show_default=True, help="Where report.json and report.md go.")
def build(network, inputs, example, board, target_cycles, frac_bits, sim_images, build_dir,
          report_dir):
    """Map NETWORK (or the built-in example), simulate it against the golden model, build
    a bitstream for BOARD and write the report."""
    from .boards.build import BuildFailed, TimingFailed
    from .flow import build_network
    from .sim.runner import SimulationFailed
    from .tools import ToolMissing
    from .mapping.network_map import map_network
    from .network import NetworkError, load_network

    console = Console()
    try:
        if network is None:
            net, x, y, _ = load_example(example)
            name = f"{example}-{board}"
        else:
            if inputs is None:
                raise click.UsageError("--inputs is required with NETWORK (the images to "
                                       "check accuracy and simulate)")
            net = load_network(network)
            x, y = _load_inputs(inputs)
            name = f"{Path(network).stem}-{board}"
        plan = map_network(net, frac_bits=frac_bits, target_cycles=target_cycles)
    except (NetworkError, ValueError, TypeError) as error:
        raise click.ClickException(str(error)) from None

    def progress(step):
        return console.status(f"[bold]{step}[/]: {_STEP_TEXT[step]}")

    try:
        result = build_network(plan, x, y, name=name, board=board, build_dir=build_dir,
                               report_dir=report_dir, sim_images=sim_images,
                               progress=progress)
    except (BuildFailed, TimingFailed, SimulationFailed, ToolMissing) as error:
        raise click.ClickException(str(error)) from None
    for step, seconds in result.step_seconds.items():
        console.print(f"  {step:<10} {seconds:7.1f} s")
    console.print(f"bitstream: {result.bitstream}")
    console.print(f"report:    {result.report_md} ({result.report_json.name} beside it)")
    console.print(result.report_md.read_text(), markup=False, highlight=False)


def _load_inputs(path):
    """(x, y or None) from an .npz with ``x`` [and ``y``] or an .npy of inputs."""
    import numpy as np

    if str(path).endswith(".npy"):
        return np.load(path), None
    data = np.load(path)
    if "x" not in data:
        raise ValueError(f"{path} has no array `x` (the inputs); found {sorted(data.files)}")
    return data["x"], (data["y"] if "y" in data else None)


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
