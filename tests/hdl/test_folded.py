"""The folded accelerator in RTL (Icarus, Yosys's SPRAM model): every image's scores and
class against the golden model under random stalls, every handshake of a free-running
burst against the plan's cycle model."""

import numpy as np
import pytest

from popcorn.golden.examples import sign_mlp
from popcorn.mapping.folded import map_folded
from popcorn.sim.network import simulate_network


@pytest.mark.parametrize("sizes, pe, simd, scheme", [
    ((23, 12, 9, 5), 2, 8, "bnn"),        # padded inputs and channels, 2 lanes
    ((40, 16, 10), 1, 64, "xnor"),        # one fold per vector: K <= simd
    ((30, 7, 3), 4, 4, "bnn"),            # simd = pe: a word per neuron fold
])
def test_folded_bit_exact_with_exact_cycles(tmp_path, sizes, pe, simd, scheme):
    plan = map_folded(sign_mlp(sizes, scheme=scheme, seed=simd), pe=pe, simd=simd)
    x = np.random.default_rng(2).normal(size=(6, sizes[0]))
    run = simulate_network(plan, x, build_dir=tmp_path, simulator="icarus", burst=3)
    scores, argmax = plan.reference(x)
    assert np.array_equal(run.scores, scores) and np.array_equal(run.argmax, argmax)
    assert run.measured["interval"] == plan.cycles_per_image
    assert run.measured["latency"] == plan.latency
