"""Train a network for one scheme and write it to a file (what ``popcorn train`` does)."""

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from . import data as datasets
from popcorn.golden.predict import predict
from popcorn.network import save_network

from .export import check_mappable, network_inputs, to_network
from .loop import fit
from .models import build_model

__all__ = ["train_network", "output_base", "INTEGER_FRAC_BITS"]

#: Fractional bits of the integer golden model whose test accuracy the run record gives.
INTEGER_FRAC_BITS = 8


def output_base(output):
    """``output`` without a ``.npz``/``.json`` suffix."""
    path = Path(output)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def train_network(scheme, data="digits", output="network", arch="mlp", epochs=10, seed=0,
                  lr=1e-2, batch_size=64, progress=True, console=None, **model_options):
    """Load ``data``, train ``scheme`` with ``seed``, write the network; return
    ``(model, result, files)``.

    ``files`` are ``BASE.npz`` (the popcorn network file, :func:`~.export.to_network`),
    ``BASE.train.json`` (the run record: scheme, data set, architecture, seed, options,
    float test accuracy, per-epoch statistics, and ``integer_test_accuracy``: the network
    file through the integer golden model with :data:`INTEGER_FRAC_BITS` fractional bits on
    the same test images, what ``popcorn predict`` gives) and ``BASE.test.npz`` (the
    held-out test split: ``x``, uint8 pixel codes (B, 1, H, W), or (B, C, T) for the
    text CNN (:func:`~.export.network_inputs`), as the network takes them,
    what ``popcorn build --inputs`` and ``popcorn predict`` read, and ``y``, int64
    labels); the model is checked for a binary form before training.
    """
    dataset = datasets.load(data)
    check_mappable(build_model(scheme, arch=arch, input_shape=dataset.input_shape,
                               classes=dataset.classes, input_max=dataset.input_max,
                               **model_options).config)
    base = output_base(output)
    base.parent.mkdir(parents=True, exist_ok=True)     # before the training, not after
    start = time.perf_counter()
    model, result = fit(scheme, dataset, arch=arch, epochs=epochs, seed=seed, lr=lr,
                        batch_size=batch_size, progress=progress, console=console,
                        **model_options)
    seconds = time.perf_counter() - start
    network = to_network(model)
    x_test = network_inputs(model.config, dataset.x_test)
    integer = predict(network, x_test, frac_bits=INTEGER_FRAC_BITS)
    record = {
        "scheme": scheme, "data": dataset.name, "arch": arch, "seed": seed, "epochs": epochs,
        "lr": lr, "batch_size": batch_size, "config": model.config,
        "float_test_accuracy": result.test_accuracy,
        "integer_test_accuracy": float(np.mean(integer.argmax == dataset.y_test)),
        "integer_frac_bits": INTEGER_FRAC_BITS,
        "test_samples": int(len(dataset.y_test)),
        "history": [vars(e) for e in result.epochs],
        "train_seconds": seconds,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    npz = base.with_name(base.name + ".npz")
    save_network(network, npz)
    record_path = base.with_name(base.name + ".train.json")
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    test_path = base.with_name(base.name + ".test.npz")
    np.savez(test_path, x=x_test, y=dataset.y_test)
    return model, result, (npz, record_path, test_path)
