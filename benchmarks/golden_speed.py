"""Speed and memory of the integer golden model on a CNV-sized network.

The network is FINN's CNV shape with random weights: input 3x32x32 8-bit fixed point
(scale 1/255), six 3x3 convolutions 64-64-128-128-256-256 without padding, 2x2 max-pools
after the 2nd and 4th, Flatten, Dense 256 -> 512 -> 512 -> 10, BNN weights and sign
activations, a BatchNorm before every activation (and before the scores). Batch norms are
set from the layer's fan-in (mean 0 +- noise, var = K / 3 for the pixel layer, K after)
so that activations are mixed, not constant.

For each batch size and worker count, ``popcorn.golden.predict.predict`` (integer model,
chunks of ``CHUNK`` images, no trace) is timed on random 8-bit codes, best of
``--repeats``, wall clock and CPU time; its peak
memory is measured separately with ``tracemalloc`` (NumPy reports its buffers to it), over
what the inputs already take. The first-written model (``integer_reference``, every base
pair through ``binary_dot``) runs on ``--reference-images`` images, for the "before" figures
and to check that both give equal scores. Writes ``reports/golden/golden_speed.md`` and
``.json``.

    PYTHONPATH=. python benchmarks/golden_speed.py [--batches 1 16 64 256 1024] [--workers 1 2]
"""

import argparse
import datetime
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from popcorn.golden.integer_model import CHUNK, run_integer, to_integer
from popcorn.golden.integer_reference import reference_run_integer
from popcorn.golden.predict import input_thermometer, predict
from popcorn.network import (Activation, BatchNorm, BnnWeights, Conv2d, Dense,
                             FixedPointActivation, Flatten, MaxPool2d, Network, Scores,
                             SignActivation)

from _common import write_markdown_and_json

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20


def cnv_network(seed=0):
    """A random network of FINN's CNV shape (see the module docstring)."""
    rng = np.random.default_rng(seed)
    layers = []
    channels, first = 3, True

    def norm(out, k):
        var = np.full(out, k / 3.0 if first else float(k))
        return BatchNorm(rng.uniform(0.5, 1.5, out), rng.normal(0, 0.2, out),
                         rng.normal(0, 0.1, out) * np.sqrt(var), var)

    for index, out in enumerate((64, 64, 128, 128, 256, 256)):
        k = channels * 9
        layers += [Conv2d(rng.normal(size=(out, channels, 3, 3)), BnnWeights()),
                   norm(out, k), Activation(SignActivation())]
        if index in (1, 3):
            layers.append(MaxPool2d(2))
        channels, first = out, False
    layers.append(Flatten())
    features = channels
    for out in (512, 512):
        layers += [Dense(rng.normal(size=(out, features)), BnnWeights()), norm(out, features),
                   Activation(SignActivation())]
        features = out
    layers += [Dense(rng.normal(size=(10, features)), BnnWeights()), norm(10, features),
               Scores()]
    return Network((3, 32, 32), FixedPointActivation(8, 1 / 255), tuple(layers))


def timed(function, repeats):
    """(best wall seconds, CPU seconds of that run, result) over ``repeats`` runs."""
    best, cpu = float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        seconds = time.perf_counter() - start
        if seconds < best:
            best, cpu = seconds, time.process_time() - start_cpu
    return best, cpu, result


def traced_peak(function):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(batches, workers, repeats, reference_images, seed=0):
    net = cnv_network(seed)
    integer = to_integer(net, 8)
    rng = np.random.default_rng(seed + 1)
    rows = []
    for batch in batches:
        codes = rng.integers(0, 256, (batch,) + net.input_shape, dtype=np.uint8)
        predict(net, codes[:1])                                      # warm up
        for count in workers:
            seconds, cpu, result = timed(lambda: predict(net, codes, workers=count), repeats)
            peak = traced_peak(lambda: predict(net, codes, workers=count))
            rows.append({"batch": batch, "workers": count, "seconds": seconds,
                         "cpu_seconds": cpu, "images_per_s": batch / seconds,
                         "images_per_cpu_s": batch / cpu, "peak_mb": peak / MB,
                         "peak_mb_per_image": peak / MB / batch,
                         "load_average_1min": os.getloadavg()[0],
                         "argmax_classes_seen": int(len(np.unique(result.argmax)))})
            print(f"batch {batch:5}, {count} worker(s): {batch / seconds:7.1f} images/s "
                  f"({batch / cpu:7.1f} per CPU second), peak {peak / MB:7.1f} MB, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    codes = rng.integers(0, 256, (reference_images,) + net.input_shape, dtype=np.uint8)
    thermo = input_thermometer(net, codes)
    seconds, cpu, reference = timed(lambda: reference_run_integer(integer, thermo), 1)
    peak = traced_peak(lambda: reference_run_integer(integer, thermo))
    fast = run_integer(integer, thermo)
    equal = bool(np.array_equal(fast.scores, reference.scores) and all(
        np.array_equal(a, b) for a, b in zip(fast.trace, reference.trace)))
    before = {"images": reference_images, "seconds": seconds, "cpu_seconds": cpu,
              "images_per_s": reference_images / seconds, "peak_mb": peak / MB,
              "peak_mb_per_image": peak / MB / reference_images,
              "equal_scores_and_trace": equal}
    print(f"reference ({reference_images} images): {reference_images / seconds:.2f} images/s, "
          f"peak {peak / MB:.1f} MB; packed model equal: {equal}", flush=True)
    if not equal:
        raise SystemExit("the packed integer model differs from the reference")
    stages = [s for s in integer.stages if s.kind in ("dense", "conv2d")]
    return {"rows": rows, "reference": before, "chunk": CHUNK,
            "linear_layers": [{"kind": s.kind, "out": int(s.coefficients.shape[0]),
                               "fan_in": int(s.fan_in)} for s in stages]}


def markdown(data):
    ref = data["reference"]
    lines = [
        "# Integer golden model: speed and memory on a CNV-sized network", "",
        f"Generated by `python benchmarks/golden_speed.py` on {data['date']}, "
        f"{data['machine']}, {data['cpus']} CPU(s), NumPy {data['numpy']}, "
        f"{data['seconds']:.0f} s in all. Do not edit by hand.", "",
        "Network: FINN's CNV shape with random BNN weights (3x32x32 8-bit input, conv 3x3 "
        "64-64-pool-128-128-pool-256-256, dense 256-512-512-10, sign activations, batch norms). "
        f"`popcorn.golden.predict.predict` runs the integer model {data['chunk']} images per "
        "chunk without a trace (NumPy ufuncs: XOR/AND of 64-bit words, `bitwise_count`), "
        "`workers` chunks at once in threads. Time: best of "
        f"{data['repeats']} runs on random 8-bit codes, wall clock and the process's CPU "
        "time (the machine is shared: the 1-minute load average at the end of each "
        "measurement is beside it; images per CPU second is what one free core would "
        "give). Peak memory: `tracemalloc` (NumPy buffers included) during one run, "
        "beyond the inputs themselves.", "",
        "| batch | workers | images/s (wall) | images per CPU s | peak MB | peak MB per image "
        "| load |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in data["rows"]:
        lines.append(f"| {row['batch']} | {row['workers']} | {row['images_per_s']:.1f} | "
                     f"{row['images_per_cpu_s']:.1f} | {row['peak_mb']:.1f} | "
                     f"{row['peak_mb_per_image']:.2f} | {row['load_average_1min']:.1f} |")
    lines += ["", f"Before (the first-written model, `popcorn.golden.integer_reference`, "
              f"every base pair through `binary_dot`, with its trace) on {ref['images']} "
              f"images: {ref['images_per_s']:.2f} images/s, peak {ref['peak_mb']:.0f} MB "
              f"({ref['peak_mb_per_image']:.0f} MB per image). Scores and every stage of "
              f"the trace equal to the packed model's: {ref['equal_scores_and_trace']}.",
              "", f"Process max RSS at the end: {data['max_rss_mb']:.0f} MB."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256, 1024])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reference-images", type=int, default=2)
    parser.add_argument("-o", "--output", default=str(ROOT / "reports/golden/golden_speed.md"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = measure(args.batches, args.workers, args.repeats, args.reference_images)
    data.update({
        "date": datetime.date.today().isoformat(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "numpy": np.__version__, "python": sys.version.split()[0],
        "repeats": args.repeats, "seconds": time.perf_counter() - start,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    write_markdown_and_json(args.output, markdown(data), data)


if __name__ == "__main__":
    main()
