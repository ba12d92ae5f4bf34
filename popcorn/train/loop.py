"""Training loop: seeded, with rich progress bars and per-epoch timing.

Reproducibility: :func:`seed_everything` seeds Python's, NumPy's and torch's generators, and
the shuffling order and BinaryConnect's stochastic binarization draw from one
``torch.Generator`` seeded from ``seed``; on the same machine and thread count, the same
seed gives the same weights bit for bit.
"""

import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .models import build_model
from .quantizers import ShiftAdaMax

__all__ = ["EpochStats", "TrainResult", "seed_everything", "evaluate", "train", "fit"]


@dataclass
class EpochStats:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float


@dataclass
class TrainResult:
    """The history of a run; ``test_accuracy`` is the float accuracy after the last epoch."""

    epochs: list = field(default_factory=list)

    @property
    def test_accuracy(self):
        return self.epochs[-1].test_accuracy if self.epochs else float("nan")

    @property
    def seconds_per_epoch(self):
        return sum(e.seconds for e in self.epochs) / max(len(self.epochs), 1)


def seed_everything(seed):
    """Seed ``random``, NumPy and torch; return a ``torch.Generator`` seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def evaluate(model, x, y, batch_size=500):
    """Float accuracy of ``model`` (evaluation mode) on uint8 images ``x`` and labels ``y``."""
    model.eval()
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / max(len(x), 1)


def _optimizer(name, params, lr):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "shift-adamax":
        return ShiftAdaMax(params, lr=lr)
    raise ValueError(f"optimizer must be 'adam' or 'shift-adamax', not {name!r}")


def train(model, dataset, epochs=10, batch_size=64, lr=1e-2, optimizer="adam",
          generator=None, progress=True, console=None):
    """Train ``model`` on ``dataset`` (:class:`~.data.Dataset`) with cross-entropy.

    The learning rate decays linearly to 1/10 over the run. After each update
    ``model.constrain()`` clips real weights / orders endpoints. ``progress``: show a rich
    progress bar (on ``console``). Returns a :class:`TrainResult`.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeElapsedColumn

    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, not {epochs!r}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    x = torch.as_tensor(dataset.x_train)
    y = torch.as_tensor(dataset.y_train)
    opt = _optimizer(optimizer, model.parameters(), lr)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - 0.9 * s / steps)
    loss_fn = nn.CrossEntropyLoss()
    result = TrainResult()
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                   console=console, disable=not progress, transient=False)
    with bar:
        task = bar.add_task(f"{model.scheme} on {dataset.name}", total=epochs, status="")
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(len(x), generator=generator)
            total, correct, seen = 0.0, 0, 0
            for i in range(0, len(x), batch_size):
                idx = order[i:i + batch_size]
                if len(idx) < 2:
                    continue  # batch norm needs two samples
                out = model(x[idx])
                loss = loss_fn(out, y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                model.constrain()
                total += loss.item() * len(idx)
                correct += (out.argmax(1) == y[idx]).sum().item()
                seen += len(idx)
            seconds = time.perf_counter() - start
            test_acc = evaluate(model, dataset.x_test, dataset.y_test)
            stats = EpochStats(epoch, total / seen, correct / seen, test_acc, seconds)
            result.epochs.append(stats)
            bar.update(task, advance=1, status=f"loss {stats.loss:.3f}  train "
                       f"{stats.train_accuracy:.3f}  test {test_acc:.3f}  {seconds:.2f} s/epoch")
    return result


def fit(scheme, dataset, arch="mlp", epochs=10, seed=0, batch_size=64, lr=1e-2,
        optimizer=None, progress=True, console=None, threads=1, **model_options):
    """Seed, build a model for ``scheme`` on ``dataset`` and train it.

    ``threads``: torch intra-op threads (``torch.set_num_threads``; ``None`` leaves it).
    One thread is the default: these networks are small, a shared machine's cores are
    better left to others (two threads on two busy cores ran 10-40x slower here), and the
    reduction order, hence the exact weights, depends on the thread count.

    ``optimizer`` defaults to ``"shift-adamax"`` for a BNN with ``shift_bn=True`` (seed 001's
    shift-based training), else ``"adam"``. Returns ``(model, TrainResult)``.
    """
    if threads is not None:
        torch.set_num_threads(int(threads))
    generator = seed_everything(seed)
    model = build_model(scheme, arch=arch, input_shape=dataset.input_shape,
                        classes=dataset.classes, input_max=dataset.input_max,
                        generator=generator, **model_options)
    if optimizer is None:
        optimizer = "shift-adamax" if model_options.get("shift_bn") else "adam"
    result = train(model, dataset, epochs=epochs, batch_size=batch_size, lr=lr,
                   optimizer=optimizer, generator=generator, progress=progress,
                   console=console)
    return model, result
