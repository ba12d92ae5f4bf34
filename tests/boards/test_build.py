"""Bitstream builds with the real Yosys + nextpnr, and their error messages."""

import dataclasses
import json
import re

import pytest

from popcorn.boards.build import (BuildFailed, TimingFailed, build_bitstream, check_timing,
                                  place_with_seeds)
from popcorn.boards.top import BoardTop
from popcorn.examples import load_example
from popcorn.golden.examples import random_network
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.reports.nextpnr import Implementation

ICE40_PREAMBLE = bytes([0x7E, 0xAA, 0x99, 0x7E])


def accelerator(scheme="bnn", seed=0, target_cycles=8):
    """A small random dense network's accelerator."""
    return DataflowAccelerator(map_network(random_network(scheme, seed=seed, layout="dense"),
                                           target_cycles=target_cycles))


@pytest.mark.synth
def test_icebreaker_build_matches_tool_outputs(tmp_path):
    seen = []
    bitstream, impl = build_bitstream(BoardTop(accelerator("bnn")), board="icebreaker",
                                      build_dir=tmp_path, progress=seen.append)
    # progress every 2 s, from the tools' own logs (Yosys, then nextpnr)
    assert seen and all(text == "starting" or text.startswith(("yosys: ", "nextpnr: "))
                        for text in seen), seen
    assert any(text.startswith("nextpnr: ") for text in seen), seen
    assert ICE40_PREAMBLE in bitstream.read_bytes()[:64]
    log = (tmp_path / "top.tim").read_text()
    # The last "Max frequency" line of the log is the routed design's.
    fmax = float(re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)[-1])
    assert impl.fmax_mhz == pytest.approx(fmax, abs=0.01)
    for bel, used in (("ICESTORM_LC", impl.logic_cells), ("ICESTORM_RAM", impl.ebr),
                      ("ICESTORM_SPRAM", impl.spram), ("ICESTORM_DSP", impl.dsp)):
        assert int(re.search(rf"{bel}:\s+(\d+)/", log).group(1)) == used, bel
    # Yosys counted the same LUT4s and flip-flops before placement.
    cells = json.loads((tmp_path / "top_stat.json").read_text())["design"]["num_cells_by_type"]
    assert impl.lut4 == cells["SB_LUT4"] > 0
    assert impl.ff == sum(n for cell, n in cells.items() if cell.startswith("SB_DFF")) > 0
    assert impl.clock_mhz == 12.0


def small_impl(**changes):
    return dataclasses.replace(
        Implementation(board="icebreaker", device="iCE40UP5K", lut4=1, ff=1, logic_cells=1,
                       logic_cells_available=5280, ebr=0, ebr_available=30, spram=0,
                       spram_available=4, dsp=0, dsp_available=8, fmax_mhz=11.5,
                       clock_mhz=12.0), **changes)


def test_timing_failure_names_clock_and_fix(tmp_path):
    impl = small_impl()
    with pytest.raises(TimingFailed, match=r"timing failed on icebreaker: fmax 11.5 MHz is "
                                           r"below the 12.0 MHz clock; choose a lower "
                                           r"--clock-mhz, try other placements \(--seeds 4"):
        check_timing(impl, tmp_path / "top.tim")
    path = {"delay_ns": 105.3, "cells": 7, "start": "link.core.a", "end": "link.core.b"}
    with pytest.raises(TimingFailed, match=r"below the 12.0 MHz clock \(critical path 105.3 ns, "
                                           r"7 logic cells, from `link.core.a` to "
                                           r"`link.core.b`\)"):
        check_timing(dataclasses.replace(impl, critical_path=path), tmp_path / "top.tim")
    # far below the clock (another placement will not do) or after other placements
    with pytest.raises(TimingFailed, match=r"--clock-mhz, pipeline the critical path") as far:
        check_timing(dataclasses.replace(impl, fmax_mhz=9.5), tmp_path / "top.tim")
    assert "--seeds" not in str(far.value)
    tried = {"default": 11.5, "1": 11.2, "2": 11.9}
    with pytest.raises(TimingFailed, match=r"clock; nextpnr's placements tried \(seed: fmax "
                                           r"MHz\): default: 11.5, 1: 11.2, 2: 11.9; choose a "
                                           r"lower --clock-mhz, pipeline"):
        check_timing(dataclasses.replace(impl, fmax_mhz=11.9, seed="2", seeds_tried=tried),
                     tmp_path / "top.tim")
    check_timing(dataclasses.replace(impl, fmax_mhz=12.0), tmp_path / "top.tim")


@pytest.mark.parametrize("fmax, cores, placed_batches, kept", [
    # seeds 1, 2 on two cores: 2 meets the clock, the fastest that does
    ({"1": 12.1, "2": 12.4, "3": 13.0}, 2, [[1, 2]], "2"),
    # one core: seed 1 meets it, 2 and 3 are not placed
    ({"1": 12.1, "2": 12.4, "3": 13.0}, 1, [[1]], "1"),
    # none meets it: the fastest placement's files are kept, every seed tried
    ({"1": 11.0, "2": 11.8, "3": 11.7}, 2, [[1, 2], [3]], "2"),
    # none beats the default: its files stay
    ({"1": 11.0, "2": 11.1, "3": 11.2}, 2, [[1, 2], [3]], "default")])
def test_other_placements_until_one_meets_the_clock(fmax, cores, placed_batches, kept, tmp_path,
                                                   monkeypatch):
    """_retry_seeds with the placements faked (their files and figures): batches of as many
    seeds as cores until one meets the clock; the fastest placement's files replace the
    build's; the seeds tried and the seed kept are recorded (seeds.json, Implementation);
    the seed folders are removed."""
    from popcorn.boards import build

    batches = []

    def place(build_dir, board, seeds, progress=None):
        batches.append(list(seeds))
        placed = {}
        for seed in seeds:
            folder = build_dir / f"seed{seed}"
            folder.mkdir()
            (folder / "top.bin").write_text(f"seed {seed}")
            (folder / "place.log").write_text("log")
            placed[seed] = small_impl(fmax_mhz=fmax[str(seed)])
        return placed

    monkeypatch.setattr(build, "place_with_seeds", place)
    monkeypatch.setattr(build.os, "sched_getaffinity", lambda pid: set(range(cores)))
    (tmp_path / "top.bin").write_text("default")
    impl = build._retry_seeds(tmp_path, "icebreaker", small_impl(fmax_mhz=11.5), 4, None)
    assert batches == placed_batches
    tried = {"default": 11.5, **{str(s): fmax[str(s)] for b in placed_batches for s in b}}
    assert impl.seeds_tried == tried and impl.seed == kept
    assert impl.fmax_mhz == tried[kept]
    assert (tmp_path / "top.bin").read_text() == ("default" if kept == "default"
                                                 else f"seed {kept}")
    assert not (tmp_path / "place.log").exists()
    assert json.loads((tmp_path / "seeds.json").read_text()) == {"seed": kept, "tried": tried}
    assert not list(tmp_path.glob("seed?"))


@pytest.mark.synth
def test_other_seeds_place_the_same_netlist(tmp_path):
    """place_with_seeds runs the build's nextpnr and packer again with each seed on a copy
    of its netlist, beside the build's own files, which it leaves alone: each placement's
    figures are its own log's, its bitstream is whole, and the seed reaches the placer
    (the two placements differ)."""
    build_bitstream(BoardTop(accelerator("bnn")), board="icebreaker", build_dir=tmp_path)
    own = {name: (tmp_path / name).read_bytes() for name in ("top.tim", "top.asc", "top.bin")}
    placed = place_with_seeds(tmp_path, "icebreaker", [1, 2])
    assert sorted(placed) == [1, 2]
    cells = json.loads((tmp_path / "top_stat.json").read_text())["design"]["num_cells_by_type"]
    for seed, impl in placed.items():
        folder = tmp_path / f"seed{seed}"
        assert f"--seed {seed}" in (folder / "place.sh").read_text()
        log = (folder / "top.tim").read_text()
        fmax = float(re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)[-1])
        assert impl.fmax_mhz == pytest.approx(fmax, abs=0.01)
        assert impl.lut4 == cells["SB_LUT4"]
        assert ICE40_PREAMBLE in (folder / "top.bin").read_bytes()[:64]
    assert (tmp_path / "seed1" / "top.asc").read_bytes() != \
        (tmp_path / "seed2" / "top.asc").read_bytes()
    assert {name: (tmp_path / name).read_bytes() for name in own} == own


def test_unknown_board(tmp_path):
    with pytest.raises(ValueError, match="unknown board 'de10'; known boards: icebreaker, "
                                         "ulx3s-85f"):
        build_bitstream(BoardTop(accelerator()), board="de10", build_dir=tmp_path)


@pytest.mark.synth
def test_design_that_does_not_fit_names_the_resource(tmp_path):
    """The digits example folded to 16 cycles per image needs more logic than a UP5K."""
    plan = map_network(load_example("digits-bnn")[0], target_cycles=16)
    with pytest.raises(BuildFailed, match=r"the design does not fit the iCE40UP5K on "
                                          r"icebreaker: it needs more ICESTORM_LC cells than "
                                          r"the device has; fold more"):
        build_bitstream(BoardTop(DataflowAccelerator(plan)), board="icebreaker",
                        build_dir=tmp_path)


@pytest.mark.synth
@pytest.mark.parametrize("estimated_lut4, opts", [pytest.param(0, "", marks=pytest.mark.slow),
                                                  (20000, ""),
                                                  (20000, "--router router1 --seed 3 "
                                                          "--placer-heap-timingweight 20")])
def test_ulx3s_build_matches_tool_outputs(estimated_lut4, opts, tmp_path):
    bitstream, impl = build_bitstream(BoardTop(accelerator("bnn", target_cycles=32)),
                                      board="ulx3s-85f", build_dir=tmp_path,
                                      estimated_lut4=estimated_lut4, nextpnr_opts=opts)
    assert bitstream.stat().st_size > 0
    # router2 above 15 000 estimated LUT4 (router1 is faster to route small designs
    # and gives them a higher fmax), unless the options name the router
    script = (tmp_path / "build_top.sh").read_text()
    assert ("--router router2" in script) == (estimated_lut4 > 15000 and not opts)
    assert opts in script
    # the board's placer weight, unless the options set their own
    assert ("--placer-heap-timingweight 40" in script) == (not opts)
    if opts:
        assert "Router1 time" in (tmp_path / "top.tim").read_text()
    log = (tmp_path / "top.tim").read_text()
    fmax = float(re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)[-1])
    assert impl.fmax_mhz == pytest.approx(fmax, abs=0.01)
    assert impl.lut4 == int(re.search(r"Total LUT4s:\s+(\d+)/", log).group(1)) > 0
    assert impl.ff == int(re.search(r"TRELLIS_FF:\s+(\d+)/", log).group(1)) > 0
    assert impl.clock_mhz == 25.0


def test_tool_progress_reads_the_newest_log(tmp_path):
    import os

    from popcorn.boards.build import tool_progress

    assert tool_progress(tmp_path) == "starting"
    (tmp_path / "top.rpt").write_text("\n3.12. Executing ABC pass.\n\n")
    assert tool_progress(tmp_path) == "yosys: 3.12. Executing ABC pass."
    (tmp_path / "top.tim").write_text("Info: Routing..\nInfo:     iter=7 wires=5 overused=3\n")
    os.utime(tmp_path / "top.rpt", (0, 0))
    assert tool_progress(tmp_path) == "nextpnr: iter=7 wires=5 overused=3"
    (tmp_path / "top.tim").write_text("Info: " + "x" * 300)
    assert len(tool_progress(tmp_path)) == 100


def test_folded_board_top_puts_the_flash_on_its_pins():
    """The folded accelerator's board top on the iCEBreaker: the flash's chip select and
    clock, IO0 bidirectional (the command out, then dual-output data in), IO1 in, IO2 and
    IO3 driven (/WP, /HOLD high), on the board's flash pins (amaranth-boards'
    ``spi_flash_4x``: 16, 15, 14, 17, 12, 13)."""
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from popcorn.boards.host_link import WeightsFromFlash
    from popcorn.hdl.folded import FoldedAccelerator
    from popcorn.mapping.folded import FLASH_OFFSET, map_folded

    plan = map_folded(random_network("bnn", layout="dense", seed=2), pe=2, simd=8,
                      spram_words=4, stream_depth=2)
    assert plan.stream_words
    core = WeightsFromFlash(FoldedAccelerator(plan), plan.flash_image(), offset=FLASH_OFFSET)
    files = ICEBreakerPlatform().prepare(BoardTop(core, flash=True), name="top").files
    pins = dict(re.findall(r"set_io\s+(?:-\S+\s+)*(\S+)\s+(\S+)", files["top.pcf"]))
    flash = {name: pin for name, pin in pins.items() if name.startswith("spi_flash_4x_0")}
    assert sorted(flash.values()) == ["12", "13", "14", "15", "16", "17"]
    io0 = files["top.il"].split("module \\top.flash_io0\n")[1].split("\nend\n")[0]
    assert "connect \\OUTPUT_ENABLE" in io0 and "connect \\D_IN_0" in io0
