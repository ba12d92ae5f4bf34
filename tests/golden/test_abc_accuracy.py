"""Issue 9 item 7: the integer model of a trained ABC-Net CNN stays within 0.3 percentage
points of its float model.

With one fixed F = 8 for every layer the coefficients phi = alpha_i beta_j of such a network
(|phi| < 0.07) kept 3-4 significant bits and the integer accuracy fell far below the float
one; :func:`~popcorn.golden.integer_model.to_integer` now gives each layer the fractional
bits that keep F significant bits of its largest coefficient.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from popcorn.golden.integer_model import to_integer  # noqa: E402
from popcorn.golden.predict import predict  # noqa: E402
from popcorn.golden.widths import layer_widths  # noqa: E402
from popcorn.train import data as datasets  # noqa: E402
from popcorn.train.export import to_network  # noqa: E402
from popcorn.train.loop import fit  # noqa: E402

TOLERANCE = 0.003


def accuracies(dataset, m, n, epochs):
    model, result = fit("abc", dataset, arch="cnn", epochs=epochs, seed=0, progress=False,
                        m=m, n=n)
    network = to_network(model)
    x, y = dataset.x_test[:, None], dataset.y_test
    return network, {
        "torch": result.test_accuracy,
        "float": float((predict(network, x, use_float=True).argmax == y).mean()),
        "integer": float((predict(network, x).argmax == y).mean()),
        "fixed F": float((predict(network, x, per_layer=False).argmax == y).mean()),
    }


def check(network, acc):
    assert abs(acc["float"] - acc["torch"]) <= 0.002, acc     # export is faithful
    assert abs(acc["integer"] - acc["float"]) <= TOLERANCE, acc
    integer = to_integer(network)
    linear = [s for s in integer.stages if s.kind in ("dense", "conv2d")]
    for stage in linear:                                     # F significant bits kept
        assert np.abs(stage.coefficients).max() >= 2 ** (integer.frac_bits - 1)
    # the widths follow the wider coefficients: every Y fits the derived accumulator
    for width in layer_widths(integer):
        assert -2 ** (width.accumulator_bits - 1) <= width.y_min <= width.y_max < \
            2 ** (width.accumulator_bits - 1)


def test_abc_cnn_digits_integer_matches_float():
    network, acc = accuracies(datasets.load("digits"), 5, 5, epochs=8)
    check(network, acc)


@pytest.mark.slow
def test_abc_cnn_mnist_integer_matches_float():
    """The case of the issue: MNIST subset, M = N = 5, 10 epochs (about a minute)."""
    network, acc = accuracies(datasets.load("mnist"), 5, 5, epochs=10)
    check(network, acc)
    assert acc["fixed F"] < acc["float"] - 0.05, acc        # what it was: 0.768 vs 0.978
