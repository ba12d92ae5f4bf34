"""Randomized whole-network campaigns: random networks of every scheme, random shapes and
foldings, both architectures, simulated under random stalls against the golden model.

Case ``seed`` is fully determined by the seed: the scheme (``SCHEMES[seed % 5]``), the
base counts (M, N in 1..3 for ABC-Net and PA-Net), the layout
(:func:`~popcorn.golden.examples.random_layout`), the architecture (folded for odd seeds,
dataflow for even ones) and its folding (folded: ``pe`` of 1, 2, 4, 8 and a ``simd`` that
is a multiple of it; dataflow: ``target_cycles`` of 1 .. 256). A case passes when every
image's scores and class equal the golden model's, under random stalls, and every
handshake of a free-running burst equals the cycle model's
(:func:`~popcorn.sim.network.simulate_network`).
"""

import time
import traceback

import numpy as np

from ..golden.examples import SCHEMES, random_layout, random_network
from ..mapping.folded import SPRAM_WIDTH, map_folded
from ..mapping.network_map import map_network

__all__ = ["campaign_case", "run_case"]


def campaign_case(seed):
    """(description dict, plan) of case ``seed`` (module docstring)."""
    rng = np.random.default_rng([seed, 1])
    scheme = SCHEMES[seed % len(SCHEMES)]
    bases = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) \
        if scheme in ("abc", "pa") else (3, 3)
    layout = random_layout(seed)
    net = random_network(scheme, seed=seed, layout=layout, bases=bases)
    case = {"seed": seed, "scheme": scheme, "layout": repr(layout), "bases": list(bases)}
    if seed % 2:
        pe = int(rng.choice([1, 2, 4, 8]))
        # a pixel's channels (one input transfer) must fit a word: simd >= C
        least = -(-net.input_shape[0] // pe) if len(net.input_shape) == 3 else 1
        simd = pe * int(rng.integers(least, SPRAM_WIDTH // pe // pe + 1))
        case.update(arch="folded", pe=pe, simd=simd)
        return case, map_folded(net, pe=pe, simd=simd)
    target = int(rng.choice([1, 2, 4, 16, 64, 256]))
    case.update(arch="dataflow", target_cycles=target)
    return case, map_network(net, target_cycles=target)


def run_case(seed, build_dir, *, images=3, simulator="auto"):
    """Simulate case ``seed`` on ``images`` random inputs; its description with
    ``"result"`` (``"pass"``, or the exception's type and first line), ``"seconds"`` and,
    on a failure, ``"traceback"``."""
    from .network import simulate_network

    start = time.perf_counter()
    try:
        case, plan = campaign_case(seed)
    except Exception as error:                     # a mapping that refuses is a failure too
        return {"seed": seed, "scheme": SCHEMES[seed % len(SCHEMES)], "arch": "?",
                "result": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}",
                "traceback": traceback.format_exc()[-3000:],
                "seconds": round(time.perf_counter() - start, 2)}
    x = np.random.default_rng([seed, 2]).random((images,) + tuple(plan.network.input_shape))
    try:
        simulate_network(plan, x, build_dir=build_dir, simulator=simulator, seed=seed,
                         burst=min(images, 3))
        case["result"] = "pass"
    except Exception as error:                     # a campaign records every failure
        case["result"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        case["traceback"] = traceback.format_exc()[-3000:]
    case["seconds"] = round(time.perf_counter() - start, 2)
    return case
