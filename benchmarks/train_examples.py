"""Re-create the built-in MNIST CNN examples and their accuracy table.

Every example of :data:`popcorn.examples.EXAMPLES` names the ``popcorn train`` arguments
that wrote it (``Example.train_args``, listed in the ``popcorn.examples`` docstring). This
script runs exactly those commands (``python -m popcorn.cli train ARGS -o DIR/STEM``),
writes the shared test data ``mnist_test.npz`` (the MNIST subset's whole test split,
``popcorn.train.data``) and then the table: each network through ``popcorn predict`` on
that ``x``, integer golden model (8 fractional bits) and ``--float`` reference, beside the
numbers of its run record. Training is seeded and single-threaded: on the same machine and
torch version the network files come out byte for byte the same (the records differ in
their timings only); ``--check`` trains into a temporary folder and compares.

    PYTHONPATH=. python benchmarks/train_examples.py                 # all MNIST CNNs, then the table
    PYTHONPATH=. python benchmarks/train_examples.py mnist-cnn-bnn   # one example (digits-bnn too)
    PYTHONPATH=. python benchmarks/train_examples.py --check mnist-cnn-bnn-tiny
    PYTHONPATH=. python benchmarks/train_examples.py --report        # the table only, no training

Writes into ``popcorn/examples/`` (``--out-dir`` elsewhere) and ``reports/examples/
cnn_examples.md`` and ``.json``. About 3 min for the six CNNs and 1.5 min for the table
on a shared 2-core machine.
"""

import argparse
import datetime
import filecmp
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from popcorn.examples import EXAMPLES, EXAMPLES_DIR
from popcorn.network import load_network

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "examples" / "cnn_examples"
MNIST_TEST = "mnist_test.npz"
#: The examples made by default: the MNIST CNNs of issue 9.
CNN_EXAMPLES = tuple(name for name in EXAMPLES if name.startswith("mnist-cnn"))
FRAC_BITS = 8


def _popcorn(*args):
    """Run the ``popcorn`` command line of this checkout; return its standard output."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "popcorn.cli", *args], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"popcorn {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def command(name, out_dir="."):
    """The ``popcorn train`` command of example ``name`` as an argument list."""
    example = EXAMPLES[name]
    stem = Path(out_dir) / Path(example.network_file).stem
    return ["train", *example.train_args, "-o", str(stem)]


def write_mnist_test(out_dir):
    """``mnist_test.npz``: ``x`` uint8 pixel codes (1000, 1, 28, 28), ``y`` int64 labels, the
    test split ``popcorn train --data mnist`` evaluates on."""
    from popcorn.train import data

    dataset = data.load("mnist")
    path = Path(out_dir) / MNIST_TEST
    np.savez_compressed(path, x=dataset.x_test[:, None].astype(np.uint8),
                        y=dataset.y_test.astype(np.int64))
    return path


def train(names, out_dir):
    """Train ``names`` into ``out_dir`` with their commands, one after the other."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        args = command(name, out_dir)
        print(f"popcorn {' '.join(args)}", flush=True)
        start = time.perf_counter()
        output = _popcorn(*args)
        accuracy = [line for line in output.splitlines() if "test accuracy" in line]
        print(f"  {accuracy[-1] if accuracy else ''} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    if any(EXAMPLES[name].data_file == MNIST_TEST for name in names):
        write_mnist_test(out_dir)


def check(names):
    """Train ``names`` into a temporary folder and compare with the shipped files; return
    the names whose network file (or test data) differs."""
    differ = []
    with tempfile.TemporaryDirectory() as tmp:
        train(names, tmp)
        for name in names:
            example = EXAMPLES[name]
            files = [example.network_file] + ([MNIST_TEST] if example.data_file == MNIST_TEST
                                              else [])
            for file in files:
                same = filecmp.cmp(Path(tmp) / file, EXAMPLES_DIR / file, shallow=False)
                print(f"{file}: {'identical' if same else 'DIFFERS'}")
                if not same:
                    differ.append(name)
            ours = json.loads((Path(tmp) / example.record_file).read_text())
            shipped = json.loads((EXAMPLES_DIR / example.record_file).read_text())
            for key in ("float_test_accuracy", "integer_test_accuracy"):
                print(f"  {key}: {ours.get(key)} (shipped {shipped.get(key)})")
    return differ


def weight_counts(network):
    """Weights of every dense and convolution layer (one real number each)."""
    return [int(np.asarray(layer.weight).size) for layer in network.layers
            if layer.kind in ("dense", "conv2d")]


def measure(name):
    """One table row: ``popcorn predict`` (integer and ``--float``) on the example's data."""
    example = EXAMPLES[name]
    record = json.loads((EXAMPLES_DIR / example.record_file).read_text())
    network = load_network(EXAMPLES_DIR / example.network_file)
    data = np.load(EXAMPLES_DIR / example.data_file)
    config = record["config"]
    accuracy = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", data["x"])
        for model, flags in (("integer", ["--frac-bits", str(FRAC_BITS)]), ("float", ["--float"])):
            out = Path(tmp) / f"{model}.npz"
            _popcorn("predict", str(EXAMPLES_DIR / example.network_file),
                     str(Path(tmp) / "x.npy"), "-o", str(out), *flags)
            accuracy[model] = float(np.mean(np.load(out)["argmax"] == data["y"]))
    weights = weight_counts(network)
    m = config["m"]
    return {
        "example": name, "scheme": record["scheme"], "m": m, "n": config["n"],
        "activation": (f"{config['act_bits']}-bit fixed point"
                       if record["scheme"] == "binaryconnect" else None),
        "channels": config["channels"], "parameters": sum(weights),
        "weights_per_layer": weights, "weight_bits": m * sum(weights),
        "images": int(len(data["y"])), "float_accuracy": accuracy["float"],
        "integer_accuracy": accuracy["integer"], "frac_bits": FRAC_BITS,
        "record_float_accuracy": record["float_test_accuracy"],
        "record_integer_accuracy": record.get("integer_test_accuracy"),
        "epochs": record["epochs"], "seed": record["seed"],
        "command": "popcorn " + " ".join(command(name)),
    }


def markdown(rows, meta):
    lines = [
        "# Built-in MNIST CNN examples",
        "",
        f"Generated by `python benchmarks/train_examples.py --report` on {meta['date']}, "
        f"{meta['machine']}, in {meta['seconds']:.0f} s. Do not edit by hand.",
        "",
        f"Each example network (`popcorn/examples/`) through `popcorn predict` on the "
        f"{rows[0]['images'] if rows else 0} shipped test images (`mnist_test.npz`, the "
        "whole test split of the MNIST subset the training used): integer golden model with "
        f"{FRAC_BITS} fractional bits, and `--float` reference. *Record*: the accuracies "
        "`popcorn train` wrote in the run record (`.train.json`) on the same images -- the "
        "float one is the PyTorch model's. Parameters: weights of the convolutions and the "
        "dense layer; weight bits: M x parameters (the binary weight bases). BinaryConnect's "
        "N is its activation bit width (fixed point, 2 fractional bits).",
        "",
        "| example | scheme | M | N | channels | parameters | weight bits | float accuracy "
        "| integer accuracy | record float / integer | epochs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        n = f"{r['n']}b" if r["activation"] else r["n"]
        record_int = ("—" if r["record_integer_accuracy"] is None
                      else f"{r['record_integer_accuracy']:.3f}")
        lines.append(
            f"| {r['example']} | {r['scheme']} | {r['m']} | {n} | "
            f"{', '.join(map(str, r['channels']))} | {r['parameters']:,} | "
            f"{r['weight_bits']:,} | {r['float_accuracy']:.3f} | {r['integer_accuracy']:.3f} "
            f"| {r['record_float_accuracy']:.3f} / {record_int} | {r['epochs']} |")
    lines += ["", "Commands (seed 0, one torch thread):", ""]
    lines += [f"- `{r['example']}`: `{r['command']}`" for r in rows]
    return "\n".join(lines) + "\n"


def report(names):
    start = time.perf_counter()
    rows = []
    for name in names:
        print(f"predict {name}", flush=True)
        rows.append(measure(name))
    meta = {"date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, Python {platform.python_version()}",
            "seconds": time.perf_counter() - start}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                      indent=1) + "\n")
    REPORT.with_suffix(".md").write_text(markdown(rows, meta))
    print(REPORT.with_suffix(".md").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"examples (default: {', '.join(CNN_EXAMPLES)})")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="train into a temporary folder and compare with the shipped files")
    mode.add_argument("--report", action="store_true", help="the accuracy table only")
    ap.add_argument("--out-dir", type=Path, default=EXAMPLES_DIR,
                    help="where the examples go (default: popcorn/examples)")
    args = ap.parse_args(argv)
    names = args.names or list(CNN_EXAMPLES)
    unknown = sorted(set(names) - set(EXAMPLES))
    if unknown:
        ap.error(f"unknown example(s) {', '.join(unknown)}; known: {', '.join(EXAMPLES)}")
    if args.check:
        differ = check(names)
        print("all identical" if not differ else f"differ: {', '.join(differ)}")
        return 1 if differ else 0
    if not args.report:
        train(names, args.out_dir)
    if args.report or Path(args.out_dir).resolve() == EXAMPLES_DIR.resolve():
        report(list(CNN_EXAMPLES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
