"""The cycle models of single blocks against the blocks' own closed forms (which the block
tests check against the RTL), and of chains against what a chain must do."""

import itertools

import pytest

from popcorn.golden.examples import random_network
from popcorn.hdl.flatten import Flatten
from popcorn.hdl.pool import MaxPool
from popcorn.hdl.window import SlidingWindow
from popcorn.mapping.network_map import map_network
from popcorn.mapping.stages import engine_stages
from popcorn.mapping.timing import (ArgmaxTiming, EngineTiming, FlattenTiming, PoolTiming,
                                    WindowTiming, chain_cycles)


def run_one(model, words, outputs):
    return chain_cycles([model], input_words=words, output_words=outputs)


@pytest.mark.parametrize("h, w, k, s, p", [
    (5, 7, 3, 1, 0), (6, 6, 3, 1, 1), (8, 9, 3, 2, 1), (7, 5, 2, 2, 0), (9, 9, 5, 3, 2),
    (4, 4, 1, 1, 0), (6, 10, 3, 3, 0)])
def test_window_model_matches_the_window_timing(h, w, k, s, p):
    block = SlidingWindow(height=h, width=w, channels=1, kernel=k, stride=s, padding=p)
    oh, ow = block.out_shape
    cycles = run_one(WindowTiming(height=h, width=w, kernel=k, stride=s, padding=p),
                     2 * h * w, 2 * oh * ow)
    start = cycles.inputs[0]
    first = [c - start for c in cycles.outputs[:oh * ow]]
    assert first == block.output_offsets()
    second = [c - cycles.inputs[h * w] for c in cycles.outputs[oh * ow:]]
    assert second == block.output_offsets()           # the next image alike
    assert cycles.inputs[h * w] - start == block.cycles_per_image()


@pytest.mark.parametrize("h, w, k, s", [(4, 4, 2, 2), (7, 6, 2, 2), (9, 9, 3, 3),
                                        (6, 6, 3, 2), (5, 8, 2, 3)])
def test_pool_model_matches_the_pool_timing(h, w, k, s):
    block = MaxPool(height=h, width=w, channels=1, kernel=k, stride=s)
    oh, ow = block.out_shape
    cycles = run_one(PoolTiming(height=h, width=w, kernel=k, stride=s), h * w, oh * ow)
    assert [c - cycles.inputs[0] for c in cycles.outputs] == block.output_offsets()


def test_flatten_and_argmax_models():
    block = Flatten(height=3, width=4, channels=2)
    cycles = run_one(FlattenTiming(pixels=12), 24, 2)
    assert cycles.outputs[0] - cycles.inputs[0] == block.latency()
    assert cycles.outputs[1] - cycles.outputs[0] == block.cycles_per_image()
    cycles = run_one(ArgmaxTiming(stages=3), 5, 5)
    assert [o - i for i, o in zip(cycles.inputs, cycles.outputs)] == [3] * 5
    assert set(b - a for a, b in itertools.pairwise(cycles.outputs)) == {4}   # one at a time
    cycles = run_one(ArgmaxTiming(stages=3, pipelined=True), 5, 5)
    assert [o - i for i, o in zip(cycles.inputs, cycles.outputs)] == [3] * 5
    assert set(b - a for a, b in itertools.pairwise(cycles.outputs)) == {1}   # pipelined


@pytest.mark.parametrize("pe, simd", [(1, 1), (2, 3), (5, 12), (5, 1)])
def test_engine_model_matches_the_folding(pe, simd):
    network = random_network("abc", seed=1, layout="dense")
    plan = map_network(network, folding=[(pe, simd), (1, 10)])
    folding = plan.foldings[0]
    cycles = run_one(EngineTiming(cycles_per_vector=folding.cycles_per_vector,
                                  stages=engine_stages(folding)), 6, 6)
    assert cycles.outputs[0] - cycles.inputs[0] == folding.latency
    assert set(b - a for a, b in itertools.pairwise(cycles.outputs)) == \
        {folding.cycles_per_vector}


def test_a_slow_consumer_sets_the_pace():
    """An engine of 5 folds behind a window that offers a window every cycle: one window
    per 5 cycles, the window holding while the engine is busy."""
    models = [WindowTiming(height=4, width=4, kernel=3, stride=1, padding=0),
              EngineTiming(cycles_per_vector=5, stages=2)]
    cycles = chain_cycles(models, input_words=32, output_words=8)
    assert set(b - a for a, b in itertools.pairwise(cycles.outputs[:4])) == {5}


def test_a_hung_chain_is_reported():
    with pytest.raises(RuntimeError, match=r"the chain produced 0 of 1 output words in 50 "
                                           r"cycles"):
        chain_cycles([FlattenTiming(pixels=4)], input_words=3, output_words=1, max_cycles=50)


def test_a_chain_with_nothing_moving_is_reported_without_a_cycle_limit():
    with pytest.raises(RuntimeError, match=r"the chain produced 0 of 1 output words in "
                                           r"1000\d cycles"):
        chain_cycles([FlattenTiming(pixels=4)], input_words=3, output_words=1)


def test_a_long_vector_is_not_mistaken_for_a_hang():
    """One input word, 30 000 cycles of folds: far more than 64 cycles per input word
    (CNV-w2a2 folded to 60 000 cycles per image has 59 per input pixel)."""
    cycles = chain_cycles([EngineTiming(cycles_per_vector=30_000, stages=3)],
                          input_words=2, output_words=2)
    assert cycles.outputs == (30_004, 60_004)
