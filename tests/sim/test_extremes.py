"""Widths at the network's extremes, in RTL: every weight of one sign and the inputs at
their lowest and highest codes drive the first layer's counts to the ends of their range
(every XNOR or AND bit of a base pair set, or none), and the layers after it wherever their
activations take them; every score must equal the golden model's in both architectures.
The widths are derived from these extremes (``LinearFolding.y_range``,
``FoldedLayer.s_range``), so nothing may wrap."""

import dataclasses

import numpy as np
import pytest

from popcorn.golden.examples import SCHEMES, random_network
from popcorn.mapping.folded import map_folded
from popcorn.mapping.network_map import map_network
from popcorn.network import Network
from popcorn.sim.network import simulate_network


def one_sign(net, sign):
    """``net`` with every weight of Dense and Conv2d layers ``sign * |w|``."""
    layers = tuple(dataclasses.replace(layer, weight=sign * np.abs(layer.weight))
                   if hasattr(layer, "weight") else layer for layer in net.layers)
    return Network(net.input_shape, net.input_quantizer, layers)


# one binary scheme on the dataflow engine and one of several bases on the folded engine in
# the default run; every other scheme and architecture with -m slow
@pytest.mark.parametrize("scheme, arch", [
    (scheme, arch) if (scheme, arch) in (("bnn", "dataflow"), ("abc", "folded"))
    else pytest.param(scheme, arch, marks=pytest.mark.slow)
    for arch in ("dataflow", "folded") for scheme in SCHEMES])
def test_extreme_weights_and_inputs_bit_exact(scheme, arch, tmp_path):
    for sign in (1, -1):
        net = one_sign(random_network(scheme, layout="dense", seed=7), sign)
        plan = map_folded(net, pe=2, simd=8) if arch == "folded" else \
            map_network(net, target_cycles=4)
        x = np.stack([np.zeros(net.input_shape), np.ones(net.input_shape),
                      np.random.default_rng(sign + 3).random(net.input_shape)])
        run = simulate_network(plan, x, build_dir=tmp_path / str(sign), simulator="icarus",
                               burst=2)
        scores, argmax = plan.reference(x)
        assert np.array_equal(run.scores, scores) and np.array_equal(run.argmax, argmax)
