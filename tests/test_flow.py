"""The build flow as named steps: saved and timed results, run one by one or all at once."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from popcorn.boards.fit import place_weight_roms
from popcorn.cli import main
from popcorn.flow import STEPS, FlowConfig, MissingResult, build_network, load, report
from popcorn.golden.examples import random_network
from popcorn.mapping.network_map import map_network
from popcorn.network import load_network, save_network

SIM_IMAGES = 5


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A small dense network and 20 labelled inputs as files, in the working folder."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    save_network(random_network("bnn", seed=0, layout="dense"), tmp_path / "net.npz")
    np.savez(tmp_path / "x.npz", x=rng.integers(0, 256, size=(20, 12)),
             y=rng.integers(0, 4, size=20))
    return ["net.npz", "--inputs", "x.npz", "--target-cycles", "8",
            "--sim-images", str(SIM_IMAGES)]


def plan_and_config(**changes):
    """The plan and configuration `popcorn build` makes of :func:`files` (weight ROMs in
    the board's spare block RAM)."""
    data = np.load("x.npz")
    plan = place_weight_roms(map_network(load_network("net.npz"), target_cycles=8),
                             "icebreaker")
    return plan, FlowConfig(**dict(dict(name="net-icebreaker", inputs=data["x"],
                                        labels=data["y"], sim_images=SIM_IMAGES), **changes))


def steps(*names):
    return ["--steps", ",".join(names)]


@pytest.mark.synth
def test_steps_one_by_one_give_the_report_of_a_full_run(files, tmp_path):
    for step in STEPS:                       # each in its own command: a fresh plan each time
        result = CliRunner().invoke(main, ["build", *files, *steps(step)])
        assert result.exit_code == 0, result.output
        assert f"  {step} " in result.output and " s\n" in result.output
        saved = json.loads((tmp_path / f"build/net-icebreaker/steps/{step}.json").read_text())
        assert saved["seconds"] >= 0
    folder = tmp_path / "reports/net-icebreaker"
    names = "report.json", "report.md", "report.html"
    one_by_one = [(folder / name).read_bytes() for name in names]
    assert b"build/net-icebreaker/icebreaker/top.bin" in one_by_one[0]

    shutil.rmtree(folder)
    shutil.rmtree(tmp_path / "build/net-icebreaker/steps")
    plan, config = plan_and_config()
    full = build_network(plan, config.inputs, config.labels, name=config.name,
                         sim_images=SIM_IMAGES)
    assert list(full.step_seconds) == list(STEPS)
    assert [(folder / name).read_bytes() for name in names] == one_by_one
    assert tmp_path / full.report_html == folder / "report.html"
    assert b'"confusion"' in one_by_one[0]                # the inputs have labels
    assert b'alt="confusion matrix of the integer golden model"' in one_by_one[2]
    assert full.report == json.loads(one_by_one[0])
    assert load("bitstream", plan, config)["implementation"] == full.report["implementation"]


def test_steps_run_only_those_in_pipeline_order(files, tmp_path):
    result = CliRunner().invoke(main, ["build", *files, *steps("golden", "estimate")])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if line.endswith(" s")]
    assert [line[0] for line in lines] == ["estimate", "golden"]
    saved = sorted(p.name for p in (tmp_path / "build/net-icebreaker/steps").iterdir())
    assert saved == ["estimate.json", "golden.json", "golden.npz"]
    assert not (tmp_path / "reports").exists()
    plan, config = plan_and_config()
    golden = load("golden", plan, config)
    assert golden["integer_argmax"].shape == (20,)
    np.testing.assert_array_equal(golden["integer_scores"], plan.reference(config.inputs)[0])


def test_a_missing_result_names_the_step_to_run_first(files):
    result = CliRunner().invoke(main, ["build", *files, *steps("estimate", "golden", "report")])
    assert result.exit_code != 0
    assert "`report` needs the result of `simulate`: run `popcorn build ... --steps " \
           "simulate` first" in result.output


def test_unknown_step(files):
    result = CliRunner().invoke(main, ["build", *files, *steps("golden", "synth")])
    assert result.exit_code != 0
    assert "unknown step 'synth'; the steps are estimate, golden, simulate, bitstream, " \
           "report" in result.output


def test_a_result_of_other_inputs_is_not_reused(files):
    plan, config = plan_and_config()
    STEPS["estimate"](plan, config)
    STEPS["golden"](plan, config)
    plan, other = plan_and_config(inputs=config.inputs[::-1])
    assert load("estimate", plan, other)["estimate"]["board"] == "icebreaker"   # same board
    with pytest.raises(MissingResult, match=r"`report` needs the result of `golden`, but the "
                                            r"one in .*golden.json was made with another "
                                            r"network, mapping or configuration: run "
                                            r"`popcorn build \.\.\. --steps golden` again"):
        report(plan, other)
    with pytest.raises(MissingResult, match="the result of `golden`, but"):
        load("golden", map_network(plan.network, target_cycles=8, frac_bits=10), config)
