"""Whole dense networks: every image's scores and class, and the cycle counts."""

import numpy as np
import pytest

from popcorn.golden.examples import random_network
from popcorn.golden.binary import pack_words
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.network import NetworkError
from popcorn.sim.runner import run_testbench


def bits(words, width):
    return np.array([[(w >> b) & 1 for b in range(width)] for w in words], dtype=np.uint8)


def run_network(plan, inputs, tmp_path, seed=0):
    scores, argmax = plan.reference(inputs)
    expected = plan.pack_outputs(scores, argmax)
    case = dict(inputs=plan.input_bases(inputs).reshape(len(inputs), -1),
                expected=bits(expected, plan.out_width), interval=plan.cycles_per_image,
                latency=plan.latency, burst=8, seed=seed, idle=0.3, stall=0.3)
    measured = run_testbench(DataflowAccelerator(plan),
                             test_module="popcorn.sim.testbenches.stream_tb",
                             build_dir=tmp_path, case=case)
    rtl_scores, rtl_argmax = plan.unpack_outputs([int(w, 16) for w in measured.pop("outputs")])
    assert (rtl_scores == scores).all() and (rtl_argmax == argmax).all()
    return measured


@pytest.mark.parametrize("scheme", ["bnn", "xnor", "binaryconnect", "abc", "pa"])
def test_dense_network_scores_and_cycles(scheme, tmp_path):
    network = random_network(scheme, seed=1, layout="dense")
    plan = map_network(network, target_cycles=6)
    rng = np.random.default_rng(2)
    inputs = rng.normal(0, 1, (80,) + network.input_shape)
    if network.input_quantizer.quantizer == "fixedpoint":
        inputs = rng.integers(0, 2 ** network.input_quantizer.bits, (80,) + network.input_shape)
    measured = run_network(plan, inputs, tmp_path)
    assert measured == {"words": 80, "interval": plan.cycles_per_image, "latency": plan.latency}
    assert plan.cycles_per_image <= 6 or any(
        f.pe == f.channels and f.simd == f.fan_in for f in plan.foldings)


def test_unpack_outputs_inverts_pack():
    plan = map_network(random_network("abc", seed=3, layout="dense"))
    rng = np.random.default_rng(0)
    scores = rng.integers(-2 ** (plan.score_width - 1), 2 ** (plan.score_width - 1),
                          (5, plan.classes))
    argmax = rng.integers(0, plan.classes, 5)
    got = plan.unpack_outputs(plan.pack_outputs(scores, argmax))
    assert (got[0] == scores).all() and (got[1] == argmax).all()


def test_convolutions_are_refused_with_the_layer_named():
    with pytest.raises(NetworkError, match=r"layer 0 \(conv2d\): the dataflow mapper places "
                                           r"dense networks only so far"):
        map_network(random_network("bnn", seed=0, layout="conv"))
