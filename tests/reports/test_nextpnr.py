"""The critical-path summary of nextpnr's report JSON."""

from popcorn.reports.nextpnr import critical_path


def hop(kind, delay, cell_from, cell_to):
    return {"type": kind, "delay": delay, "from": {"cell": cell_from, "port": "O"},
            "to": {"cell": cell_to, "port": "I0"}}


def test_critical_path_summary_names_signals_and_splits_delay():
    reg = "top.layer1.acc_SB_DFFESR_Q_3_DFFLC"
    lut = "top.layer1.total_SB_LUT4_O_1_LC"
    out = "top.layer1.out_TRELLIS_FF_Q"
    report = {"critical_paths": [
        {"from": "<async>", "to": "posedge clk", "path": [hop("routing", 9.0, "a", "b")]},
        {"from": "posedge clk", "to": "posedge clk", "path": [
            hop("clk-to-q", 1.5, reg, reg), hop("routing", 2.0, reg, lut),
            hop("logic", 0.75, lut, lut), hop("routing", 3.0, lut, "$nextpnr_ICESTORM_LC_4"),
            hop("logic", 0.5, "$nextpnr_ICESTORM_LC_4", "$nextpnr_ICESTORM_LC_4"),
            hop("routing", 1.0, "$nextpnr_ICESTORM_LC_4", out), hop("setup", 0.25, out, out)]},
    ]}
    assert critical_path(report) == {
        "delay_ns": 9.0, "logic_ns": 3.0, "routing_ns": 6.0, "cells": 2,
        "start": "top.layer1.acc", "end": "top.layer1.out",
        "through": ["top.layer1.acc", "top.layer1.total", "top.layer1.out"]}


def test_no_register_to_register_path():
    assert critical_path({"critical_paths": []}) is None
    assert critical_path({}) is None
