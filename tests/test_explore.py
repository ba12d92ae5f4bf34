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
