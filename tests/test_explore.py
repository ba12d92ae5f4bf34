"""`popcorn explore`: a sweep on a local Dask cluster, points pruned from their estimate,
the Pareto front, and a second run that reuses every point."""

import json

import numpy as np
from click.testing import CliRunner

from popcorn.cli import main
from popcorn.explore import pareto
from popcorn.golden.examples import sign_mlp
from popcorn.network import save_network


def test_pareto_keeps_exactly_the_undominated_rows():
    rows = [{"key": "a", "accuracy": 0.9, "lut4": 100, "images_per_s": 10},
            {"key": "b", "accuracy": 0.9, "lut4": 200, "images_per_s": 10},   # a beats it
            {"key": "c", "accuracy": 0.8, "lut4": 50, "images_per_s": 10},
            {"key": "d", "accuracy": 0.9, "lut4": 300, "images_per_s": 99}]
    assert [row["key"] for row in pareto(rows)] == ["a", "c", "d"]


def test_explore_sweeps_prunes_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_network(sign_mlp((256, 64, 10), seed=1), tmp_path / "net.npz")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "x.npz", x=rng.normal(size=(6, 256)), y=rng.integers(0, 10, 6))
    args = ["explore", "net.npz", "--inputs", "x.npz", "--targets", "1,4096",
            "--steps", "estimate,golden,simulate", "--sim-images", "2", "--out", "out"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    # 256 x 64 in one cycle is far beyond the UP5K: pruned from its estimate
    assert "dataflow-1: the design does not fit icebreaker" in first.output
    points = sorted(p.name for p in (tmp_path / "out/points").iterdir())
    assert points == ["dataflow-4096.json", "folded-1.json", "folded-4096.json"]
    rows = [json.loads((tmp_path / "out/points" / p).read_text()) for p in points]
    for row in rows:      # cycles measured in RTL, LUT4 from the estimate (no bitstream)
        assert row["source"] == "estimate" and row["cycles_per_image"] > 0
    front = [line for line in (tmp_path / "out/pareto.md").read_text().splitlines()
             if " * |" in line]
    assert front and (tmp_path / "out/pareto.png").stat().st_size > 1000
    stamps = {p: (tmp_path / "out/points" / p).stat().st_mtime_ns for p in points}
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "3 points built or reused, 1 pruned" in second.output
    assert stamps == {p: (tmp_path / "out/points" / p).stat().st_mtime_ns for p in points}


def test_explore_trains_schemes_and_bases_from_a_training_record(tmp_path, monkeypatch):
    """From a run record: each scheme and M x N trained as the record was (here a
    one-epoch digits MLP), each swept on its own test split; a second run trains and builds
    nothing again."""
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    examples = Path(__file__).resolve().parents[1] / "popcorn/examples"
    record = json.loads((examples / "digits_bnn_mlp.train.json").read_text())
    record.update(epochs=1, config=dict(record["config"], hidden=[16]))
    (tmp_path / "tiny.train.json").write_text(json.dumps(record))
    args = ["explore", "tiny.train.json", "--schemes", "bnn,abc", "--bases", "2x2,1x1",
            "--arch", "dataflow", "--targets", "64", "--steps", "estimate,golden",
            "--out", "out"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    networks = sorted(p.name for p in (tmp_path / "out/networks").glob("*.npz"))
    assert networks == ["abc-1x1.npz", "abc-1x1.test.npz", "abc-2x2.npz", "abc-2x2.test.npz",
                        "bnn-1x1.npz", "bnn-1x1.test.npz"]
    trained = json.loads((tmp_path / "out/networks/abc-2x2.train.json").read_text())
    assert (trained["config"]["m"], trained["config"]["n"], trained["epochs"]) == (2, 2, 1)
    assert trained["config"]["hidden"] == [16]
    points = sorted(p.name for p in (tmp_path / "out/points").iterdir())
    assert points == ["abc-1x1-dataflow-64.json", "abc-2x2-dataflow-64.json",
                      "bnn-1x1-dataflow-64.json"]
    for name in points:
        row = json.loads((tmp_path / "out/points" / name).read_text())
        assert 0 < row["accuracy"] <= 1 and row["variant"] == name.rsplit("-", 2)[0]
    assert "| abc-2x2 |" in (tmp_path / "out/pareto.md").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.json")}
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "3 points built or reused, 0 pruned" in second.output
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


def test_explore_refuses_training_options_without_a_record(tmp_path):
    save_network(sign_mlp((16, 8, 4), seed=1), tmp_path / "net.npz")
    result = CliRunner().invoke(main, ["explore", str(tmp_path / "net.npz"), "--bases", "2x2"])
    assert result.exit_code == 2
    assert "--schemes and --bases need a training record (NAME.train.json)" in result.output
    (tmp_path / "bad.train.json").write_text("{}")
    result = CliRunner().invoke(main, ["explore", str(tmp_path / "bad.train.json")])
    assert result.exit_code == 1
    assert "bad.train.json: not a training record of `popcorn train`" in result.output
