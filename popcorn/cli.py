"""The ``popcorn`` command line."""

import click


@click.group()
@click.version_option(package_name="popcorn")
def main():
    """popcorn: binary neural networks to bit-exact FPGA accelerators."""
