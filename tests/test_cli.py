"""`popcorn build` on the built-in example, and on a network file given by the user."""

import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from popcorn.boards.boards import BOARDS
from popcorn.cli import main
from popcorn.golden.examples import random_network, sign_mlp
from popcorn.network import (Activation, BnnWeights, Conv2d, Dense, FixedPointActivation,
                             Flatten, Network, Scores, SignActivation, save_network)

REPORT = "reports/digits-bnn-icebreaker/report.json"
TIM = "build/digits-bnn-icebreaker/icebreaker/top.tim"


@pytest.mark.synth
def test_build_example_writes_bitstream_and_report_matching_the_tools(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--sim-images", "30"])
    assert result.exit_code == 0, result.output
    assert "bitstream: build/digits-bnn-icebreaker/icebreaker/top.bin" in result.output
    report = json.loads((tmp_path / REPORT).read_text())
    assert (tmp_path / report["bitstream"]).stat().st_size > 0
    log = (tmp_path / TIM).read_text()
    impl = report["implementation"]
    fmax = float(re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)[-1])
    assert impl["fmax_mhz"] == pytest.approx(fmax, abs=0.01)
    assert int(re.search(r"ICESTORM_LC:\s+(\d+)/", log).group(1)) == impl["logic_cells"]
    lut_only, lut_ff, ff_only = (int(re.search(rf"(\d+) LCs used as {kind}", log).group(1))
                                 for kind in ("LUT4 only", "LUT4 and DFF", "DFF only"))
    assert (impl["lut4"], impl["ff"]) == (lut_only + lut_ff, lut_ff + ff_only)
    capacity = BOARDS["icebreaker"].capacity      # the board data agrees with nextpnr
    assert (capacity["lut4"], capacity["ebr"], capacity["dsp"]) == (
        impl["logic_cells_available"], impl["ebr_available"], impl["dsp_available"])
    est = report["estimate"]["total"]            # the pre-build estimate of the core
    assert est["ebr"] == impl["ebr"] and est["dsp"] == impl["dsp"]
    # the link estimated too; issue 12's bound on the shipped examples: within 10 %
    assert abs(est["lut4"] - impl["lut4"]) <= 0.1 * impl["lut4"]
    path = impl["critical_path"]          # its hops add up to the period nextpnr reports
    assert path["delay_ns"] == pytest.approx(1000 / fmax, abs=0.05)
    assert path["logic_ns"] + path["routing_ns"] == pytest.approx(path["delay_ns"], abs=0.02)
    assert path["start"].startswith("link.") and path["cells"] > 0     # in the design
    cycles = report["cycles"]
    assert cycles["per_image_measured"] == cycles["per_image_predicted"]
    assert cycles["latency_measured"] == cycles["latency_predicted"]
    assert report["performance"]["fmax"]["throughput_images_per_s"] == pytest.approx(
        impl["fmax_mhz"] * 1e6 / cycles["per_image_measured"], rel=1e-6)
    acc = report["accuracy"]
    assert acc["images"] == 360 and acc["rtl_images"] == 30
    assert acc["integer_golden"] > 0.85 and acc["float"] > 0.85
    md = (tmp_path / "reports/digits-bnn-icebreaker/report.md").read_text()
    assert f"| LUT4 | {impl['lut4']} |" in md

    # Nothing changed: neither the simulation nor the tools run again.
    sim_log = tmp_path / "build/digits-bnn-icebreaker/sim/sim.log"
    stamps = (tmp_path / TIM).stat().st_mtime_ns, sim_log.stat().st_mtime_ns
    again = CliRunner().invoke(main, ["build", "--sim-images", "30"])
    assert again.exit_code == 0, again.output
    assert ((tmp_path / TIM).stat().st_mtime_ns, sim_log.stat().st_mtime_ns) == stamps
    assert json.loads((tmp_path / REPORT).read_text()) == report


@pytest.mark.synth
def test_the_demo_meets_60_mhz_on_the_up5k(tmp_path, monkeypatch):
    """Issue 12's clock target from the command line: the digits demo at 60 MHz on the
    iCEBreaker within 2 500 LUT4, its placement tried with other seeds when nextpnr's own
    misses narrowly; the figures printed and saved are those of the files the build kept."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--clock-mhz", "60", "--steps", "bitstream"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "build/digits-bnn-icebreaker/steps/bitstream.json")
                       .read_text())["implementation"]
    log = (tmp_path / TIM).read_text()
    fmax = float(re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)[-1])
    assert saved["fmax_mhz"] == fmax >= saved["clock_mhz"] == 60.04
    assert saved["lut4"] <= 2500
    tried = saved["seeds_tried"]
    if tried:                    # nextpnr's own placement missed: another was kept
        assert saved["seed"] != "default" and tried[saved["seed"]] == fmax
        assert tried["default"] < 60.04
    printed = " ".join(result.output.split())
    assert f"fmax {fmax} MHz at the 60.04 MHz clock" in printed


def test_seeds_and_a_seed_in_the_nextpnr_options_are_refused_together(tmp_path):
    result = CliRunner().invoke(main, ["build", "--steps", "estimate", "--seeds", "3",
                                       "--nextpnr-opts", "--seed 2",
                                       "--build-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--nextpnr-opts names one placer seed: give it or --seeds, not both" in result.output


def test_build_network_file_needs_inputs(tmp_path):
    path = tmp_path / "net.npz"
    save_network(random_network("bnn", seed=0, layout="dense"), path)
    result = CliRunner().invoke(main, ["build", str(path)])
    assert result.exit_code != 0
    assert "--inputs is required with NETWORK for the golden, simulate, report steps" \
        in result.output


def test_build_estimate_of_a_network_file_needs_no_inputs(tmp_path):
    path = tmp_path / "net.npz"
    save_network(random_network("bnn", seed=0, layout="dense"), path)
    result = CliRunner().invoke(main, ["build", str(path), "--steps", "estimate",
                                       "--build-dir", str(tmp_path / "build")])
    assert result.exit_code == 0, result.output
    assert "estimate:" in result.output and "LUT4" in result.output


def test_build_of_an_onnx_file_points_to_import(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07\x12\x07pytorch")          # an ONNX protobuf's first bytes
    result = CliRunner().invoke(main, ["build", str(path), "--steps", "estimate"])
    assert result.exit_code != 0
    assert f"convert it first with `popcorn import {path} -o NET.npz`" in result.output


def test_build_refuses_an_unmapped_layer_naming_it(tmp_path):
    path = tmp_path / "net.npz"
    save_network(Network((1, 6, 6), FixedPointActivation(8, 1 / 255), (
        Conv2d(np.ones((2, 1, 3, 2)), BnnWeights(), padding=(0, 2)), Activation(SignActivation()),
        Flatten(), Dense(np.ones((2, 2 * 4 * 9)), BnnWeights()), Scores())), path)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 1, 6, 6)))
    result = CliRunner().invoke(main, ["build", str(path), "--inputs", str(tmp_path / "x.npz")])
    assert result.exit_code != 0
    assert "layer 0 (conv2d): padding 2 is not smaller than the kernel 2 along the width" \
        in result.output


def test_build_folded_refuses_what_it_cannot_run(tmp_path, monkeypatch):
    """--arch folded on a board without SPRAM: refused in one line."""
    monkeypatch.chdir(tmp_path)
    save_network(sign_mlp((16, 8, 4)), tmp_path / "mlp.npz")
    np.savez(tmp_path / "x.npz", x=np.ones((2, 16)))
    result = CliRunner().invoke(main, ["build", "mlp.npz", "--inputs", "x.npz", "--arch",
                                       "folded", "--board", "ulx3s-85f"])
    assert result.exit_code != 0
    assert "about 4 SPRAM blocks (estimate), the device has 0" in result.output
    assert "Traceback" not in result.output


def test_target_fps_sets_the_cycles_and_warns_when_out_of_reach(tmp_path, monkeypatch):
    """--target-fps at the board's 12 MHz: the folded engine's lanes chosen for it, and a
    target no folding reaches named with the shortfall; not with --target-cycles."""
    monkeypatch.chdir(tmp_path)
    base = ["build", "--example", "mnist-cnn-bnn-tiny", "--arch", "folded", "--steps",
            "estimate"]
    result = CliRunner().invoke(main, base + ["--target-fps", "150"])
    assert result.exit_code == 0 and "Warning" not in result.output
    # before any tool: the architecture, its throughput at the board clock and its fit
    from popcorn.examples import load_example
    from popcorn.mapping.folded import map_folded

    net = load_example("mnist-cnn-bnn-tiny")[0]
    one, two = (map_folded(net, pe=pe).cycles_per_image for pe in (1, 2))
    assert one > 12e6 / 150 >= two                 # 150 images/s at 12 MHz: 2 lanes
    assert f"plan: folded (one engine of 2 lanes x 32 bits): {two} cycles per image, " \
        f"{12e6 / two:,.1f} images/s at the icebreaker's 12 MHz" \
        in " ".join(result.output.split())
    assert "of 5280 LUT4" in result.output and "4 of 4 SPRAM" in result.output
    result = CliRunner().invoke(main, base + ["--target-fps", "100000"])
    assert result.exit_code == 0
    assert "images/s at the icebreaker's 12 MHz, short of --target-fps 100000 by" \
        in result.output
    result = CliRunner().invoke(main, base + ["--target-fps", "5", "--target-cycles", "9"])
    assert result.exit_code != 0 and "not both" in result.output


def test_build_refuses_a_design_far_too_large_before_running_tools(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--target-cycles", "1", "--arch", "dataflow"])
    assert result.exit_code != 0
    assert "the design does not fit icebreaker: its layers need about" in result.output
    assert "LUT4 (estimate), the device has 5280; layer 1 (dense) alone needs" in result.output
    assert "a larger --target-cycles" in result.output
    assert not (tmp_path / "build/digits-bnn-icebreaker/sim").exists()   # stopped first


def test_bad_files_end_in_one_line_naming_them(tmp_path):
    """A network file that is not an .npz, inputs that are not an array, inputs of the
    wrong shape: a one-line error naming the file or the shape, never a traceback."""
    (tmp_path / "junk.npz").write_text("junk")
    (tmp_path / "junk.npy").write_text("junk")
    save_network(random_network("bnn", seed=0, layout="conv"), tmp_path / "net.npz")
    np.savez(tmp_path / "wrong.npz", x=np.zeros((2, 5, 5), np.float32))
    runner = CliRunner()
    cases = [
        (["build", str(tmp_path / "junk.npz"), "--inputs", str(tmp_path / "wrong.npz")],
         f"{tmp_path / 'junk.npz'}: not a popcorn network file"),
        (["predict", str(tmp_path / "net.npz"), str(tmp_path / "junk.npy"), "-o",
          str(tmp_path / "s.npz")], f"{tmp_path / 'junk.npy'}: not a NumPy .npy array"),
        (["build", str(tmp_path / "net.npz"), "--inputs", str(tmp_path / "wrong.npz"),
          "--steps", "estimate"], "inputs have shape (2, 5, 5), but the network takes"),
        (["build", str(tmp_path / "net.npz"), "--inputs", str(tmp_path / "junk.npz")],
         f"{tmp_path / 'junk.npz'}: not an .npz of inputs"),
    ]
    for args, message in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 1 and result.exception.__class__ is SystemExit, args
        assert message in result.output and "Traceback" not in result.output, result.output


def test_arch_auto_chooses_folded_when_dataflow_does_not_fit():
    from popcorn.cli import _choose_arch
    from popcorn.mapping.network_map import map_network

    small, large = sign_mlp((64, 16, 10)), sign_mlp((784, 256, 256, 10))
    assert _choose_arch(small, map_network(small, target_cycles=64), "icebreaker", 8, "auto") \
        == "dataflow"
    assert _choose_arch(large, map_network(large, target_cycles=64), "icebreaker", 8, "auto") \
        == "folded"
    assert _choose_arch(large, map_network(large, target_cycles=64), "ulx3s-85f", 8, "auto") \
        == "dataflow"                       # fits the ECP5; and it has no SPRAM


def test_quiet_and_debug(tmp_path, monkeypatch):
    """--quiet keeps the terminal to warnings, errors and paths; --debug adds the traceback
    behind an error, which is one line without it."""
    monkeypatch.chdir(tmp_path)
    quiet = CliRunner().invoke(main, ["--quiet", "build", "--steps", "estimate"])
    assert quiet.exit_code == 0 and quiet.output == ""
    loud = CliRunner().invoke(main, ["build", "--steps", "estimate"])
    assert "plan:" in loud.output and "estimate:" in loud.output
    (tmp_path / "junk.npz").write_text("junk")
    args = ["build", "junk.npz", "--inputs", "junk.npz"]
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 1 and "Traceback" not in plain.output
    debug = CliRunner().invoke(main, ["--debug", *args])
    assert debug.exit_code == 1 and "Traceback" in debug.output
    assert plain.output.splitlines()[-1] == debug.output.splitlines()[-1]


def test_arch_auto_counts_ice40_logic_cells():
    """`make examples` found it: the MNIST BNN at 92 images/s in the dataflow architecture
    estimated 2 840 LUT4 and 3 469 flip-flops, each within the UP5K's 5 280, and nextpnr
    ran out of logic cells (a cell holds one LUT4 and one flip-flop). Counting cells, auto
    takes the folded architecture: now for the MNIST PA-Net (the BNN's Dense engine
    gathers its map since, and fits)."""
    from popcorn.boards.fit import LC_PACKING, estimate_design
    from popcorn.cli import _choose_arch, _plan
    from popcorn.examples import load_example

    net = load_example("mnist-cnn-pa")[0]
    target = str(12_000_000 // 92)
    plan = _plan(net, frac_bits=8, target_cycles=target, pipeline="auto", bases="parallel",
                 multiply="shift-add", counts="logic")
    est = estimate_design(plan, "icebreaker")
    assert est.total["lut4"] <= 5280 and est.total["ff"] <= 5280
    assert est.logic_cells[0] == math.ceil(LC_PACKING * (est.total["lut4"] + est.total["ff"]))
    assert est.logic_cells[0] > 5280 and not est.within_capacity()
    assert _choose_arch(net, plan, "icebreaker", 8, target) == "folded"
    assert estimate_design(plan, "ulx3s-85f").logic_cells is None


def test_arch_auto_leaves_the_ice40_s_last_cells_free(monkeypatch):
    """A dataflow estimate within the UP5K's logic cells but above PLACEABLE_CELLS of them
    (the MNIST BinaryConnect CNN at 92 images/s, 5 179 cells as nextpnr counted them, had
    not been placed after 12 minutes): auto takes the folded architecture. The device is
    given 100 cells more than the estimate, so the rule is tested, not the estimate."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import PLACEABLE_CELLS, estimate_design, place_weight_roms
    from popcorn.cli import _choose_arch, _plan
    from popcorn.examples import load_example

    net = load_example("mnist-cnn-binaryconnect")[0]
    target = str(12_000_000 // 92)
    plan = place_weight_roms(_plan(net, frac_bits=8, target_cycles=target, pipeline="auto",
                                   bases="parallel", multiply="shift-add",
                                   counts="logic"), "icebreaker")
    need = estimate_design(plan, "icebreaker").logic_cells[0]
    monkeypatch.setitem(get_board("icebreaker").capacity, "lut4", need + 100)
    est = estimate_design(plan, "icebreaker")
    need, have = est.logic_cells
    assert PLACEABLE_CELLS * have < need <= have and not est.over_capacity()
    assert not est.within_capacity()
    assert _choose_arch(net, plan, "icebreaker", 8, target) == "folded"


def test_build_says_what_fitting_the_block_ram_changed(tmp_path, monkeypatch):
    """A board one block RAM short: before any tool runs, `popcorn build` names each engine
    the fitting refolded, coded or moved (the digits BNN at 256 cycles per image: its first
    engine refolded, and a ROM it kept in logic moved to the block RAM it freed), and the
    estimate then fits."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import estimate_design, place_weight_roms
    from popcorn.examples import load_example
    from popcorn.mapping.network_map import map_network

    monkeypatch.chdir(tmp_path)
    plan = map_network(load_example("digits-bnn")[0], target_cycles=256)
    need = estimate_design(plan, "icebreaker").total["ebr"]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", need - 1)
    placed = place_weight_roms(plan, "icebreaker")
    changed = [(a, b) for a, b in zip(plan.foldings, placed.foldings) if a != b]
    refolded = [(a, b) for a, b in changed if (a.pe, a.simd) != (b.pe, b.simd)]
    assert refolded
    result = CliRunner().invoke(main, ["build", "--target-cycles", "256", "--arch",
                                       "dataflow", "--steps", "estimate"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "weights: placed for the icebreaker's block RAM: " in text
    for old, new in refolded:
        assert f"layer {new.linear.layer} refolded {old.pe}x{old.simd} -> " \
            f"{new.pe}x{new.simd} (PE x SIMD)" in text
    for old, new in changed:
        assert f"layer {new.linear.layer} " in text
    assert f"of {need - 1} EBR" in result.output
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", need)
    result = CliRunner().invoke(main, ["build", "--target-cycles", "256", "--arch",
                                       "dataflow", "--steps", "estimate"])
    assert result.exit_code == 0 and "weights:" not in result.output


def test_auto_target_folds_the_dataflow_design_until_it_fits(tmp_path, monkeypatch):
    """An MLP (64-128-64-10, BNN) at the default 256 cycles per image is over the UP5K's
    logic cells (about 6 100 of 5 280), and the folded engine too (about 6 800), which
    `--arch auto` took and nextpnr could not place: `--target-cycles auto` now doubles the
    target until the dataflow estimate fits. An explicit target is kept as it is."""
    from popcorn.boards.fit import estimate_design, place_weight_roms
    from popcorn.cli import _default_target, _plan
    from popcorn.golden.examples import random_network
    from popcorn.network import save_network

    monkeypatch.chdir(tmp_path)
    net = random_network("bnn", seed=7, layout=((64,), (("dense", 128), ("dense", 64),
                                                        ("dense", 10))))
    save_network(net, tmp_path / "mlp.npz")
    default = place_weight_roms(_plan(net, frac_bits=8, target_cycles="auto", pipeline="auto",
                                      bases="parallel", multiply="shift-add",
                                      counts="logic"), "icebreaker")
    assert default.cycles_per_image <= _default_target(net) == 256
    assert not estimate_design(default, "icebreaker").within_capacity()
    result = CliRunner().invoke(main, ["build", "mlp.npz", "--board", "icebreaker", "--steps",
                                       "estimate"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    cycles = int(re.search(r"plan: dataflow \(3 engines\): (\d+) cycles per image", out)[1])
    assert 256 < cycles <= 1024 and "over the icebreaker's capacity" not in out
    cells = int(re.search(r"about (\d+) of 5280 logic cells", out)[1])
    assert cells <= 5280
    result = CliRunner().invoke(main, ["build", "mlp.npz", "--board", "icebreaker", "--steps",
                                       "estimate", "--target-cycles", "256", "--arch",
                                       "dataflow"])
    assert "plan: dataflow (3 engines): 256 cycles per image" in " ".join(result.output.split())


def test_estimate_over_the_device_within_the_margin_warns(tmp_path, monkeypatch):
    """An estimate over the board's LUT4 but within LOGIC_MARGIN is left to the tools, with
    a warning naming both figures (CNV-w1a1 on the ULX3S-85F: 85 244 of 83 640 LUT4 went
    by without a word); over the margin it is refused."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import LOGIC_MARGIN, estimate_design, place_weight_roms
    from popcorn.examples import load_example
    from popcorn.mapping.network_map import map_network

    monkeypatch.chdir(tmp_path)
    plan = map_network(load_example("digits-bnn")[0], target_cycles=4096)
    need = estimate_design(place_weight_roms(plan, "ulx3s-85f"), "ulx3s-85f").total["lut4"]
    args = ["build", "--board", "ulx3s-85f", "--target-cycles", "4096", "--arch", "dataflow",
            "--steps", "estimate"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "over the ulx3s-85f's capacity" not in result.output
    monkeypatch.setitem(get_board("ulx3s-85f").capacity, "lut4", need - 1)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"the estimate is over the ulx3s-85f's capacity ({need} of {need - 1} LUT4), " \
        f"within the estimates' error ({LOGIC_MARGIN}x)" in " ".join(result.output.split())
    monkeypatch.setitem(get_board("ulx3s-85f").capacity, "lut4", int(need / LOGIC_MARGIN) - 1)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "does not fit ulx3s-85f" in result.output


def test_arch_auto_judges_the_dataflow_design_with_its_block_ram_fitted(tmp_path, monkeypatch):
    """One block RAM short, the mapped dataflow plan is over the board, the fitted one is
    not: --arch auto keeps the dataflow architecture."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import estimate_design
    from popcorn.examples import load_example
    from popcorn.mapping.network_map import map_network

    monkeypatch.chdir(tmp_path)
    plan = map_network(load_example("digits-bnn")[0], target_cycles=4096)
    need = estimate_design(plan, "icebreaker").total["ebr"]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", need - 1)
    assert not estimate_design(plan, "icebreaker").within_capacity()
    result = CliRunner().invoke(main, ["build", "--target-cycles", "4096", "--arch", "auto",
                                       "--steps", "estimate"])
    assert result.exit_code == 0, result.output
    assert "plan: dataflow (3 engines)" in " ".join(result.output.split())


def test_folded_auto_takes_the_fewest_lanes_that_fit(monkeypatch):
    """--target-cycles auto on a board: the folded engine of the fewest lanes whose
    estimate fits (more lanes tile the records and banks into fewer block RAMs); without
    a board, one lane."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import estimate_design
    from popcorn.cli import _folded_plan
    from popcorn.golden.examples import random_network
    from popcorn.mapping.folded import map_folded

    net = random_network("bnn", layout="conv", seed=1)
    ebr = {pe: estimate_design(map_folded(net, pe=pe), "icebreaker").total["ebr"]
           for pe in (1, 2)}
    assert ebr[2] < ebr[1]
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", ebr[2])
    assert _folded_plan(net, 8, "auto", "icebreaker").pe == 2
    assert _folded_plan(net, 8, "auto").pe == 1


def test_folded_auto_takes_one_input_bank_before_more_lanes(monkeypatch):
    """A 3 x 12 x 12 input whose two input banks do not fit: one lane with one bank
    (the next image waits for the first layer's last read) before two lanes."""
    from popcorn.boards.boards import get_board
    from popcorn.boards.fit import estimate_design
    from popcorn.cli import _folded_plan
    from popcorn.golden.examples import random_network
    from popcorn.mapping.folded import map_folded

    net = random_network("bnn", seed=1, layout=(
        (3, 12, 12), (("conv", 4, 3, 1, 0), ("conv", 4, 3, 1, 0), ("pool", 2),
                      ("conv", 6, 3, 1, 0), ("flatten",), ("dense", 4))))
    ebr = {(pe, banks): estimate_design(map_folded(net, pe=pe, input_banks=banks),
                                        "icebreaker").total["ebr"]
           for pe in (1, 2) for banks in (2, 1)}
    assert ebr[1, 1] < min(ebr[1, 2], ebr[2, 2])
    monkeypatch.setitem(get_board("icebreaker").capacity, "ebr", ebr[1, 1])
    plan = _folded_plan(net, 8, "auto", "icebreaker")
    assert (plan.pe, plan.input_banks) == (1, 1)


def test_counts_tables_reach_the_dataflow_engines_and_warn_on_the_folded(tmp_path, monkeypatch):
    """--counts tables: the estimate step's plan names the count tables placed in block
    RAM (fewer LUT4 than the logic counts at the same throughput); the folded engine
    keeps its logic counts and says so."""
    monkeypatch.chdir(tmp_path)
    base = ["build", "--example", "digits-bnn", "--board", "ulx3s-85f", "--target-cycles",
            "64", "--arch", "dataflow", "--steps", "estimate"]
    tables = CliRunner().invoke(main, base + ["--counts", "tables"])
    logic = CliRunner().invoke(main, base)
    assert tables.exit_code == 0 and logic.exit_code == 0, tables.output
    said = " ".join(tables.output.split())
    assert "count tables in block" in said
    assert "counts: tables in layers 1, 4; logic in layer 7 (64 weight words of SIMD 1; " \
        "tables need 3 to 128 words of SIMD 2 or more: a smaller --target-cycles)" in said
    assert "counts:" not in logic.output

    def lut4(result):
        return int(re.search(r"estimate: +(\d+) of", result.output).group(1))
    assert lut4(tables) < lut4(logic)
    folded = CliRunner().invoke(main, ["build", "--example", "mnist-cnn-bnn-tiny", "--arch",
                                       "folded", "--counts", "tables", "--steps", "estimate"])
    assert folded.exit_code == 0
    assert "--counts tables shapes the dataflow engines" in " ".join(folded.output.split())
