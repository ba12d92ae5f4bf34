"""Offline data sets: shapes, ranges, deterministic splits, the Fashion-MNIST hint."""

import gzip

import numpy as np
import pytest

from . import require

require("sklearn")

from popcorn.train import data  # noqa: E402


def test_digits_split_is_deterministic_and_stratified():
    a, b = data.load("digits"), data.load("digits")
    assert a.x_train.shape == (1437, 8, 8) and a.x_test.shape == (360, 8, 8)
    assert a.x_train.dtype == np.uint8 and a.x_train.max() == 16 and a.input_max == 16
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_train, b.y_train)
    assert np.bincount(a.y_test).min() >= 35


def test_mnist_subset():
    d = data.load("mnist")
    assert d.x_train.shape == (4000, 28, 28) and d.x_test.shape == (1000, 28, 28)
    assert d.x_train.dtype == np.uint8 and d.x_train.max() == 255
    assert np.bincount(d.y_test).tolist() == [100] * 10


def test_fashion_mnist_missing_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(tmp_path)


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6)
    for split in ("train", "t10k"):
        _idx(tmp_path / f"{split}-images-idx3-ubyte.gz", x)
        _idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", y)
    d = data.load_fashion_mnist(tmp_path)
    assert np.array_equal(d.x_train, x) and np.array_equal(d.y_test, y)


def test_unknown_data_set():
    with pytest.raises(ValueError, match="data set must be one of"):
        data.load("cifar10")
