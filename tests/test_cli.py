"""`popcorn build` on the built-in example: simulation, bitstream, report."""

import json
import re

import pytest
from click.testing import CliRunner

from popcorn.cli import main


@pytest.mark.synth
def test_build_writes_bitstream_and_report_matching_nextpnr(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--vectors", "40"])
    assert result.exit_code == 0, result.output
    assert "bitstream: build/bnn-dense-icebreaker/icebreaker/top.bin" in result.output
    report = json.loads((tmp_path / "reports/bnn-dense-icebreaker/report.json").read_text())
    assert (tmp_path / report["bitstream"]).stat().st_size > 0
    log = (tmp_path / "build/bnn-dense-icebreaker/icebreaker/top.tim").read_text()
    impl = report["implementation"]
    fmax = float(re.findall(r"Max frequency for clock '[^']+': ([\d.]+) MHz", log)[-1])
    assert impl["fmax_mhz"] == pytest.approx(fmax, abs=0.01)
    assert int(re.search(r"ICESTORM_LC:\s+(\d+)/", log).group(1)) == impl["logic_cells"]
    lut_only, lut_ff, ff_only = (int(re.search(rf"(\d+) LCs used as {kind}", log).group(1))
                                 for kind in ("LUT4 only", "LUT4 and DFF", "DFF only"))
    assert (impl["lut4"], impl["ff"]) == (lut_only + lut_ff, lut_ff + ff_only)
    cycles = report["cycles"]
    assert cycles["per_vector_measured"] == cycles["per_vector_predicted"] == 256
    assert cycles["latency_measured"] == cycles["latency_predicted"] == 258
    assert report["performance"]["fmax"]["throughput_vectors_per_s"] == pytest.approx(
        impl["fmax_mhz"] * 1e6 / 256, rel=1e-6)
    md = (tmp_path / "reports/bnn-dense-icebreaker/report.md").read_text()
    assert f"| LUT4 | {impl['lut4']} |" in md

    # Nothing changed: neither the simulation nor the tools run again.
    tim = tmp_path / "build/bnn-dense-icebreaker/icebreaker/top.tim"
    sim_log = tmp_path / "build/bnn-dense-icebreaker/sim/sim.log"
    stamps = tim.stat().st_mtime_ns, sim_log.stat().st_mtime_ns
    again = CliRunner().invoke(main, ["build", "--vectors", "40"])
    assert again.exit_code == 0, again.output
    assert (tim.stat().st_mtime_ns, sim_log.stat().st_mtime_ns) == stamps
    assert json.loads((tmp_path / "reports/bnn-dense-icebreaker/report.json").read_text()) \
        == report
