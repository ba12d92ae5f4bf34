"""RegisterSlice: every word through, in order, under random stalls; registered both ways;
its cycle model and its resource estimate."""

import random

import pytest
from amaranth.sim import Simulator

from popcorn.hdl.handshake import RegisterSlice, register_slice_resources
from popcorn.hdl.synth import synth_stat
from popcorn.mapping.timing import RegisterSliceTiming


def run_slice(words, *, p_valid, p_ready, seed):
    """Push ``words`` through a RegisterSlice(12) under random ``i.valid`` / ``o.ready``;
    return the words out, in order, and the cycles each spent from input to output
    handshake. Checks on the way that ``i.ready`` and ``o.valid`` do not move with the
    other side's ``o.ready`` / ``i.valid`` within a cycle (both are registers)."""
    rng = random.Random(seed)
    dut = RegisterSlice(12)
    out, taken_at, latencies = [], [], []

    async def bench(ctx):
        pending = list(words)
        cycle = 0
        while len(out) < len(words):
            offer = bool(pending) and rng.random() < p_valid
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, pending[0] if pending else 0)
            readies = set()
            for ready in (0, 1):
                ctx.set(dut.o.ready, ready)
                readies.add((ctx.get(dut.i.ready), ctx.get(dut.o.valid)))
            assert len(readies) == 1, "i.ready or o.valid depends on o.ready"
            ready = rng.random() < p_ready
            ctx.set(dut.o.ready, ready)
            if ctx.get(dut.o.valid) and ready:
                out.append(ctx.get(dut.o.payload))
                latencies.append(cycle - taken_at.pop(0))
            if offer and ctx.get(dut.i.ready):
                pending.pop(0)
                taken_at.append(cycle)
            await ctx.tick()
            cycle += 1
            assert cycle < 20 * len(words) + 100, "the slice stopped moving words"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out, latencies


def test_register_slice_keeps_every_word_in_order_under_random_stalls():
    rng = random.Random(1)
    words = [rng.randrange(1 << 12) for _ in range(400)] + [0, 0xFFF, 0xFFF, 0, 0x800]
    for seed, (p_valid, p_ready) in enumerate([(0.5, 0.5), (1.0, 0.3), (0.3, 1.0),
                                               (0.9, 0.9)]):
        out, _ = run_slice(words, p_valid=p_valid, p_ready=p_ready, seed=seed)
        assert out == words


def test_register_slice_passes_a_word_a_cycle_one_cycle_late():
    words = list(range(50))
    out, latencies = run_slice(words, p_valid=1.0, p_ready=1.0, seed=0)
    assert out == words and set(latencies) == {1}


def test_the_cycle_model_offers_and_takes_as_the_slice_does():
    """RegisterSliceTiming's ``in_ready`` and ``out_valid`` equal the slice's ``i.ready`` and
    ``o.valid`` in every cycle of a random run (random ``i.valid`` and ``o.ready``)."""
    rng = random.Random(7)
    dut, model = RegisterSlice(4), RegisterSliceTiming()
    mismatches = []

    async def bench(ctx):
        for cycle in range(600):
            valid, ready = rng.random() < 0.6, rng.random() < 0.5
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.o.ready, ready)
            got = (ctx.get(dut.i.ready), ctx.get(dut.o.valid))
            if got != (int(model.in_ready(ready)), int(model.out_valid)):
                mismatches.append((cycle, got))
            model.clock(valid, ready)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert mismatches == []


@pytest.mark.synth
@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_register_slice_resources_are_yosys_counts(family, tmp_path):
    for width in (3, 24):
        got = synth_stat(RegisterSlice(width), family=family, build_dir=tmp_path / str(width))
        assert {"lut4": got.lut4, "ff": got.ff} == \
            {k: v for k, v in register_slice_resources(width, family).items()
             if k in ("lut4", "ff")}
