"""Train a network for one scheme and write it to a file (what ``popcorn train`` does)."""

import platform
import time

import torch

from . import data as datasets
from .export import export_layers, save_network
from .loop import fit

__all__ = ["train_network"]


def train_network(scheme, data="digits", output="network", arch="mlp", epochs=10, seed=0,
                  lr=1e-2, batch_size=64, progress=True, console=None, **model_options):
    """Load ``data``, train ``scheme`` with ``seed``, export to ``output`` (.npz + .json).

    Returns ``(model, result, (npz_path, json_path))``. The JSON records the run: scheme,
    data set, architecture, seed, options, float test accuracy and per-epoch statistics.
    """
    dataset = datasets.load(data)
    start = time.perf_counter()
    model, result = fit(scheme, dataset, arch=arch, epochs=epochs, seed=seed, lr=lr,
                        batch_size=batch_size, progress=progress, console=console,
                        **model_options)
    seconds = time.perf_counter() - start
    meta = {
        "scheme": scheme, "data": dataset.name, "arch": arch, "seed": seed, "epochs": epochs,
        "lr": lr, "batch_size": batch_size, "config": model.config,
        "float_test_accuracy": result.test_accuracy,
        "test_samples": int(len(dataset.y_test)),
        "history": [vars(e) for e in result.epochs],
        "train_seconds": seconds,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    paths = save_network(output, export_layers(model), meta)
    return model, result, paths
