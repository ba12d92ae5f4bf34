"""FINN's own test networks through popcorn: train, export, import, compare with qonnx.

For each ``bnn_pynq`` network (:mod:`popcorn.frontends.bnn_pynq`: the Brevitas classes as
installed, no pretrained weights): train it briefly (seeded) on the offline MNIST subset,
export it with ``export_qonnx(..., dynamo=False)``, import it with ``popcorn import``, run
``popcorn predict`` (integer golden model) and ``popcorn predict --float`` on the test images,
and compare both with qonnx's ``execute_onnx`` on the same images:

* float reference: argmax equal on how many images, the rest exact ties (top two qonnx
  scores within 1e-4 of the largest score: equal in exact arithmetic, float32 rounding picks
  either); largest score difference relative to the largest score;
* integer model (``frac_bits`` fractional bits): argmax equal on how many, the rest ties or
  near ties (qonnx's top-two margin within twice the last layer's rounding bound
  ``0.5 * 2**-F * (M * N * K + 1)``, or a hidden activation flipped by coefficient
  rounding); largest ``|score / 2**F - qonnx score|`` beside that bound;
* accuracy of qonnx and of popcorn's integer model against the labels.

Writes the ``.onnx``, ``.npz`` and prediction files under ``--build-dir`` and the table to
``reports/finn/import.md`` and ``.json``. Every number in them comes from this run.

    PYTHONPATH=. python benchmarks/finn_networks.py [--networks tfc_1w1a cnv_2w2a ...]
        [--fc-steps 300] [--cnv-steps 60] [--fc-images 1000] [--cnv-images 200]
    PYTHONPATH=. python benchmarks/finn_networks.py --rerender   # import.md from import.json

About 15 minutes on 2 cores (much longer when they are shared), most of it CNV training and
the integer model on the CNV images (about 1 s an image; ``popcorn predict`` runs them 10 at
a time to bound memory).
"""

import argparse
import collections
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from popcorn.frontends import bnn_pynq

DEFAULT = ("tfc_1w1a", "tfc_2w2a", "sfc_1w1a", "sfc_2w2a", "cnv_1w1a", "cnv_2w2a")
RTOL = 1e-4
CHUNK = 100   # the export's batch size at most: qonnx runs the graph on batches of exactly it
PREDICT_CHUNK = {"FC": 1000, "CNV": 10}   # images per `popcorn predict` call (memory)


def _cli(*args):
    from popcorn.cli import main

    try:
        main.main(list(map(str, args)), standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            raise RuntimeError(f"popcorn {' '.join(map(str, args))} exited with {stop.code}")


def _predict(net_path, x, folder, name, chunk, *options):
    """``popcorn predict`` on ``x`` in files of ``chunk`` images; concatenated results."""
    scores, argmax = [], []
    for start in range(0, len(x), chunk):
        part = folder / f"test_x_{start}.npy"
        np.save(part, x[start:start + chunk])
        out = folder / f"{name}_{start}.npz"
        _cli("predict", net_path, part, "-o", out, *options)
        with np.load(out) as f:       # integer scores in units of 2**-frac_bits (last layer's)
            unit = 2.0 ** -int(f["frac_bits"]) if "frac_bits" in f else 1.0
            scores.append(f["scores"] * unit)
            argmax.append(f["argmax"])
    return np.concatenate(scores), np.concatenate(argmax)


def _qonnx(path, x, batch):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    wrapper = ModelWrapper(str(path)).transform(InferShapes())
    name, out = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    scores = [execute_onnx(wrapper, {name: x[i:i + batch]})[out] for i in range(0, len(x), batch)]
    return np.concatenate(scores).astype(np.float64)


def _layers(network):
    from popcorn.frontends import network_summary

    counts = collections.Counter()
    quantizer = network.input_quantizer
    counts[f"input ({quantizer.quantizer}" + (f" {quantizer.bits} bits" if quantizer.quantizer
                                              == "fixedpoint" else "") + ")"] = 1
    for layer in network.layers:
        if layer.kind in ("dense", "conv2d"):
            counts[f"{layer.kind} ({layer.quantizer.scheme})"] += 1
        elif layer.kind == "activation":
            counts[f"activation ({layer.quantizer.quantizer})"] += 1
        else:
            counts[layer.kind] += 1
    return dict(counts), network_summary(network)


def _score_bound(network, frac_bits):
    from popcorn.golden.integer_model import to_integer

    last = [s for s in to_integer(network, frac_bits).stages if s.kind in ("dense", "conv2d")][-1]
    m, n = last.coefficients.shape[1:]
    return 0.5 * 2.0 ** -last.frac_bits * (m * n * last.fan_in + 1)


def _hidden_flips(network, x, frac_bits, chunk):
    """Images where some hidden activation of the integer model differs from the float
    reference (a pre-activation within coefficient rounding of a threshold)."""
    from popcorn.golden.float_ref import float_forward
    from popcorn.golden.integer_model import run_integer, to_integer
    from popcorn.golden.predict import input_thermometer
    from popcorn.golden.quantizers import bases_to_values, thermometer_to_bases

    integer = to_integer(network, frac_bits)
    flips = np.zeros(len(x), dtype=bool)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        result = run_integer(integer, input_thermometer(network, part))
        trace = float_forward(network, part).trace
        for stage, codes in zip(integer.stages, result.trace):
            if stage.kind == "threshold":
                values = bases_to_values(thermometer_to_bases(codes, stage.quantizer),
                                         stage.quantizer)
                flips[start:start + len(part)] |= \
                    (values != trace[stage.layer]).reshape(len(part), -1).any(axis=1)
    return flips


def run_network(name, data, build_dir, steps, images, frac_bits, log):
    from popcorn.network import load_network

    folder = build_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    model = bnn_pynq.build(name, seed=0)
    x_train = bnn_pynq.mnist_inputs(data.x_train, name)
    bnn_pynq.train(model, x_train, data.y_train, steps, batch=64 if steps > 100 else 32, seed=0,
                   progress=lambda step, loss: log(f"  {name}: step {step}, loss {loss:.3f}"))
    trained = time.time()
    batch = min(CHUNK, images)
    images = images // batch * batch
    x = bnn_pynq.mnist_inputs(data.x_test[:images], name)
    labels = data.y_test[:images]
    onnx_path = bnn_pynq.export(model, x[:batch], folder / f"{name}.onnx")
    reference = _qonnx(onnx_path, x, batch)
    ran_qonnx = time.time()
    log(f"  {name}: trained in {trained - started:.0f} s, qonnx in {ran_qonnx - trained:.0f} s")

    net_path = folder / f"{name}.npz"
    chunk = PREDICT_CHUNK[bnn_pynq.NETWORKS[name]]
    _cli("import", onnx_path, "-o", net_path)
    float_scores, float_argmax = _predict(net_path, x, folder, "predict_float", chunk, "--float")
    int_scores, int_argmax = _predict(net_path, x, folder, "predict_integer", chunk,
                                      "--frac-bits", frac_bits)
    popcorn_done = time.time()
    log(f"  {name}: popcorn import + predict in {popcorn_done - ran_qonnx:.0f} s")
    network = load_network(net_path)

    import onnx
    ops = collections.Counter(n.op_type for n in onnx.load(str(onnx_path)).graph.node)
    theirs = reference.argmax(axis=1)
    largest = np.abs(reference).max()
    top2 = np.sort(reference, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    tie = margin <= RTOL * largest
    float_differ = float_argmax != theirs
    bound = _score_bound(network, frac_bits)
    int_differ = int_argmax != theirs
    flips = _hidden_flips(network, x, frac_bits, chunk) if int_differ.any() else \
        np.zeros(len(x), bool)
    near = flips | (margin <= 2 * bound)
    layers, summary = _layers(network)
    return {
        "network": name, "images": int(len(x)), "train_steps": steps,
        "onnx_nodes": dict(sorted(ops.items())), "onnx_node_count": int(sum(ops.values())),
        "popcorn_layers": layers, "popcorn_summary": summary,
        "float": {
            "argmax_equal": int((~float_differ).sum()),
            "argmax_differ": int(float_differ.sum()),
            "argmax_differ_not_tie": int((float_differ & ~tie).sum()),
            "exact_ties": int(tie.sum()),
            "max_score_error_rel": float(np.abs(float_scores - reference).max() / largest),
        },
        "integer": {
            "frac_bits": frac_bits,
            "argmax_equal": int((~int_differ).sum()),
            "argmax_differ": int(int_differ.sum()),
            "argmax_differ_exact_tie": int((int_differ & tie).sum()),
            "argmax_differ_not_near_tie": int((int_differ & ~near).sum()),
            "near_ties": int(near.sum()),
            "hidden_flips": int(flips.sum()),
            "max_score_error": float(np.abs(int_scores - reference).max()),
            "score_bound_last_layer": bound,
        },
        "accuracy": {"qonnx": float((theirs == labels).mean()),
                     "popcorn_integer": float((int_argmax == labels).mean()),
                     "popcorn_float": float((float_argmax == labels).mean())},
        "seconds": {"train": round(trained - started, 1), "qonnx": round(ran_qonnx - trained, 1),
                    "popcorn": round(popcorn_done - ran_qonnx, 1)},
    }


def _markdown(rows, command):
    lines = [
        "# FINN's test networks: QONNX import",
        "",
        "Generated by `benchmarks/finn_networks.py`; every number below comes from that run:",
        "",
        f"    {command}",
        "",
        "Each `bnn_pynq` network (Brevitas's own classes, no pretrained weights) was trained "
        "briefly on the offline 5 000-image MNIST subset (4 000 training images; CNV takes "
        "them padded to 32x32 and replicated to 3 channels), exported with "
        "`export_qonnx(..., dynamo=False)`, imported unmodified with `popcorn import` and run "
        "with `popcorn predict` (integer golden model) and `popcorn predict --float` on the "
        "first N test images; qonnx's `execute_onnx` on the same images is the reference. "
        "Accuracies are after the few training steps in the table (batches of 64 for more "
        "than 100 steps, else 32; a CNV step takes seconds on the 2 shared cores): they show "
        "the weights are trained, not what the architectures reach.",
        "",
        "| network | N | steps | QONNX nodes | popcorn layers | float: argmax = qonnx | "
        "float: max score error | integer: argmax = qonnx | integer: max score error "
        "(bound) | accuracy qonnx / popcorn int |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        f, i, a = r["float"], r["integer"], r["accuracy"]
        nodes = ", ".join(f"{op} {n}" for op, n in r["onnx_nodes"].items())
        layers = ", ".join(f"{k} {n}" for k, n in r["popcorn_layers"].items())
        float_cell = f"{f['argmax_equal']}/{r['images']}"
        if f["argmax_differ"]:
            float_cell += (f" ({f['argmax_differ']} differ: exact ties"
                           + (f", {f['argmax_differ_not_tie']} NOT ties" if
                              f["argmax_differ_not_tie"] else "") + ")")
        int_cell = f"{i['argmax_equal']}/{r['images']}"
        if i["argmax_differ"]:
            bad = i["argmax_differ_not_near_tie"]
            int_cell += (f" ({i['argmax_differ']} differ: {i['argmax_differ_exact_tie']} exact "
                         f"ties, " + (f"{bad} NOT near ties" if bad else "all near ties") + ")")
        lines.append(
            f"| {r['network']} | {r['images']} | {r['train_steps']} | {nodes} | {layers} | "
            f"{float_cell} | {f['max_score_error_rel']:.1e} of the largest | {int_cell} | "
            f"{i['max_score_error']:.3g} ({i['score_bound_last_layer']:.3g}) | "
            f"{a['qonnx']:.3f} / {a['popcorn_integer']:.3f} |")
    lines += [
        "",
        "- *float: argmax = qonnx*: images where popcorn's float reference picks qonnx's "
        "class; the others are exact ties (qonnx's top two scores within 1e-4 of the largest "
        "score: binary networks produce many equal scores, and float32 rounding in qonnx "
        "picks either class).",
        "- *integer*: `frac_bits` = 8 fractional bits for coefficients, biases and the folded "
        "BatchNorm/TensorNorm; an image where the argmax differs is a near tie when qonnx's "
        "top-two margin is within twice the last layer's rounding bound, or when a hidden "
        "activation flipped under coefficient rounding. *max score error* is "
        "max |integer score / 2^F - qonnx score| (F the last layer's fractional bits) over all images and classes; the bound in "
        "brackets counts the last layer's rounding only (hidden flips can exceed it).",
        "- Layer counts are popcorn's imported layers; `batchnorm` includes the final "
        "TensorNorm (a per-class affine folded into the last layer's coefficients).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(DEFAULT),
                        choices=sorted(bnn_pynq.NETWORKS))
    parser.add_argument("--fc-steps", type=int, default=300)
    parser.add_argument("--cnv-steps", type=int, default=60)
    parser.add_argument("--fc-images", type=int, default=1000)
    parser.add_argument("--cnv-images", type=int, default=200)
    parser.add_argument("--frac-bits", type=int, default=8)
    parser.add_argument("--build-dir", type=Path, default=Path("build/finn"))
    parser.add_argument("--report-dir", type=Path, default=Path("reports/finn"))
    parser.add_argument("--rerender", action="store_true",
                        help="rewrite import.md from import.json without running anything")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.rerender:
        saved = json.loads((args.report_dir / "import.json").read_text())
        (args.report_dir / "import.md").write_text(_markdown(saved["networks"],
                                                             saved["command"]))
        print(f"written to {args.report_dir / 'import.md'}")
        return

    from popcorn.train.data import load_mnist_subset

    data = load_mnist_subset()
    rows = []
    for name in args.networks:
        cnv = bnn_pynq.NETWORKS[name] == "CNV"
        print(f"{name}: training, exporting, comparing", flush=True)
        rows.append(run_network(name, data, args.build_dir,
                                args.cnv_steps if cnv else args.fc_steps,
                                args.cnv_images if cnv else args.fc_images, args.frac_bits,
                                lambda text: print(text, flush=True)))
    command = "PYTHONPATH=. python benchmarks/finn_networks.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "import.json").write_text(json.dumps(
        {"command": command.strip(), "networks": rows}, indent=1) + "\n")
    (args.report_dir / "import.md").write_text(_markdown(rows, command.strip()))
    print(f"written to {args.report_dir / 'import.md'} and import.json")


if __name__ == "__main__":
    main()
