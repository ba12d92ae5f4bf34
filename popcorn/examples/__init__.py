"""Built-in example networks, shipped as popcorn network files with their test data.

``digits-bnn``: a BNN MLP 64-64-32-10 (seed 001's BNN, sign activations, 5-bit pixel input
as zo bit planes) trained on scikit-learn's 8x8 digits with ``popcorn train --scheme bnn
--data digits --hidden 64,32 --epochs 20 --seed 0``; its training record
(``digits_bnn_mlp.train.json``) gives the float test accuracy. ``digits_test.npz`` holds
the 360 test images (``x``: uint8 pixel codes 0..16, (360, 1, 8, 8)) and labels (``y``).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..network import load_network

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Example:
    name: str
    network_file: str
    data_file: str
    record_file: str
    description: str


EXAMPLES = {
    "digits-bnn": Example("digits-bnn", "digits_bnn_mlp.npz", "digits_test.npz",
                          "digits_bnn_mlp.train.json",
                          "BNN MLP 64-64-32-10 trained on the 8x8 digits"),
}


def example_path(name):
    """Path of the example's network file."""
    return _HERE / _get(name).network_file


def load_example(name):
    """(network, test inputs, test labels, training record dict) of example ``name``."""
    example = _get(name)
    data = np.load(_HERE / example.data_file)
    record = json.loads((_HERE / example.record_file).read_text())
    return load_network(_HERE / example.network_file), data["x"], data["y"], record


def _get(name):
    try:
        return EXAMPLES[name]
    except KeyError:
        raise ValueError(f"unknown example {name!r}; known examples: "
                         f"{', '.join(EXAMPLES)}") from None
