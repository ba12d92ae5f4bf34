"""RTL prediction of whole networks: `popcorn predict --rtl`, and the first-divergence
report when an accelerator departs from the golden model (a fault injected into the RTL
only)."""

from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from popcorn.cli import main
from popcorn.golden.examples import random_network
from popcorn.golden.predict import predict
from popcorn.mapping.network_map import map_network
from popcorn.network import save_network
from popcorn.sim.network import first_divergence, simulate_network


def faulty(plan, stage_index, base, channel, element):
    """``plan`` with one weight bit of one engine flipped: the hardware to test against
    ``plan``'s golden model."""
    stage = plan.stages[stage_index]
    linear = stage.folding.linear
    bits = linear.weight_bits.copy()
    bits[base, channel, element] ^= 1
    folding = replace(stage.folding, linear=replace(linear, weight_bits=bits))
    stages = list(plan.stages)
    stages[stage_index] = replace(stage, folding=folding)
    return replace(plan, stages=tuple(stages))


def test_first_divergence_names_layer_pixel_and_channel(tmp_path):
    network = random_network("pa", seed=1, layout="conv")
    plan = map_network(network, target_cycles=150)
    bad = faulty(plan, 2, base=0, channel=3, element=5)     # the second convolution
    inputs = np.random.default_rng(3).integers(0, 256, (6,) + network.input_shape)
    run = simulate_network(plan, inputs, build_dir=tmp_path / "run", check=False,
                           hardware=bad, idle=0.0, stall=0.0)
    scores, _ = plan.reference(inputs)
    wrong = np.flatnonzero((run.scores != scores).any(axis=1))
    assert wrong.size, "the fault must show in the scores"
    image = int(wrong[0])
    found = first_divergence(plan, inputs[image], index=image, build_dir=tmp_path / "probe",
                             hardware=bad)
    # the faulty weight row is channel 3 of layer 4 (the second Conv2d): its first
    # differing output word, found with the stages' references of the faulty plan
    words_good = words_bad = plan.input_words(inputs[image][None])
    for stage, stage_bad in zip(plan.stages[:3], bad.stages[:3]):
        words_good, words_bad = stage.reference(words_good), stage_bad.reference(words_bad)
    first = next(n for n, (a, b) in enumerate(zip(words_good, words_bad)) if a != b)
    assert (found.layer, found.kind, found.element, found.word) == (4, "conv2d", 3, first)
    assert found.pixel == divmod(first, plan.stages[2].out_shape[1])
    assert found.rtl_word == words_bad[first] and found.golden_word == words_good[first]
    assert str(found).startswith(f"image {image}: first divergence at layer 4 (conv2d), "
                                 f"pixel (y={found.pixel[0]}, x={found.pixel[1]}), channel 3")
    assert first_divergence(plan, inputs[image], build_dir=tmp_path / "good") is None


def test_predict_rtl_writes_the_golden_keys_and_the_cycles(tmp_path):
    network = random_network("bnn", seed=2, layout="conv")
    save_network(network, tmp_path / "net.npz")
    inputs = np.random.default_rng(0).integers(0, 256, (10,) + network.input_shape)
    np.save(tmp_path / "x.npy", inputs.astype(np.uint8))
    result = CliRunner().invoke(main, [
        "predict", str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "-o",
        str(tmp_path / "s.npz"), "--rtl", "--target-cycles", "100", "--sim", "icarus",
        "--build-dir", str(tmp_path / "build")])
    assert result.exit_code == 0, result.output
    out = np.load(tmp_path / "s.npz")
    golden = predict(network, inputs)
    assert (out["scores"] == golden.scores).all() and (out["argmax"] == golden.argmax).all()
    plan = map_network(network, target_cycles=100)
    assert int(out["cycles_per_image"]) == plan.cycles_per_image
    assert int(out["latency"]) == plan.latency and int(out["frac_bits"]) == golden.frac_bits
    assert "RTL (icarus), equal to the integer model" in result.output


@pytest.mark.parametrize("layout", ["dense", pytest.param("conv", marks=pytest.mark.slow)])
def test_predict_rtl_of_the_folded_architecture(layout, tmp_path, monkeypatch):
    """--arch folded: the folded engine in RTL, the golden model's keys and its cycles; a
    difference names the image and both scores (no per-layer probes). The convolutional
    network takes about 80 s: slow."""
    from popcorn.mapping.folded import choose_folded
    from popcorn.sim.network import RtlMismatch, predict_rtl

    network = random_network("abc", seed=3, layout=layout)
    save_network(network, tmp_path / "net.npz")
    inputs = np.random.default_rng(1).integers(0, 256, (3,) + network.input_shape)
    np.save(tmp_path / "x.npy", inputs.astype(np.uint8))
    result = CliRunner().invoke(main, [
        "predict", str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "-o",
        str(tmp_path / "s.npz"), "--rtl", "--arch", "folded", "--target-cycles", "20000",
        "--sim", "icarus", "--build-dir", str(tmp_path / "build")])
    assert result.exit_code == 0, result.output
    out = np.load(tmp_path / "s.npz")
    golden = predict(network, inputs)
    assert (out["scores"] == golden.scores).all() and (out["argmax"] == golden.argmax).all()
    plan = choose_folded(network, 20000)
    assert int(out["cycles_per_image"]) == plan.cycles_per_image
    # scores that differ: this network's accelerator against another network's golden model
    other = choose_folded(random_network("abc", seed=4, layout=layout), 20000)
    import popcorn.sim.network as sim

    real = sim.simulate_network
    monkeypatch.setattr(sim, "simulate_network", lambda p, *a, **k: real(plan, *a, **k))
    with pytest.raises(RtlMismatch, match=r"image 0: scores \[.*\], the golden model's "
                                          r"\[.*\] \(the folded engine has no"):
        predict_rtl(other, inputs, build_dir=tmp_path / "other", simulator="icarus")


def test_predict_rtl_refuses_float(tmp_path):
    network = random_network("bnn", seed=2, layout="dense")
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", np.zeros((2,) + network.input_shape, dtype=np.uint8))
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "net.npz"),
                                       str(tmp_path / "x.npy"), "-o", str(tmp_path / "s.npz"),
                                       "--rtl", "--float"])
    assert result.exit_code != 0 and "--rtl runs the integer accelerator" in result.output
