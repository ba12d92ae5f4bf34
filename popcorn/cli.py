"""The ``popcorn`` command line."""

import click


@click.group()
@click.version_option(package_name="popcorn")
def main():
    """popcorn: binary neural networks to bit-exact FPGA accelerators."""


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
