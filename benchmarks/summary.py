"""The table of every build in reports/: reports/summary.md and reports/index.html (the
table, each design linked to its report.html).

    python benchmarks/summary.py

Per build (reports/<design>/report.json, written by `popcorn build`): board, architecture,
nextpnr's LUT4, FF, EBR, SPRAM, DSP and fmax, cycles per image measured in RTL, images/s at
fmax, binary operations per LUT4 per cycle
(:func:`popcorn.reports.html_report.binary_ops_per_lut4_cycle`), the error of the estimate
made before the build (``popcorn.hdl.estimates``, report.json's ``estimate``) against
nextpnr's LUT4 and FF in percent, RTL accuracy, and the
wall time of each step (estimate, golden, simulate, bitstream: Verilog, synthesis, place
and route and pack; report) when the build folder build/<design>/steps/ is on this
machine, else the times the summary it replaces recorded. Beside each report.json it (re)writes report.html
(:func:`popcorn.reports.html_report.html_report`, a pure function of report.json), so that
reports of builds older than the HTML report have one too. `make examples` builds every
shipped example for both boards and then runs this.
"""

import html
import json
from pathlib import Path

from popcorn.atomic import write_text
from popcorn.reports.html_report import binary_ops_per_lut4_cycle, html_report

REPORTS, BUILD = Path("reports"), Path("build")
STEPS = ("estimate", "golden", "simulate", "bitstream", "report")
COLUMNS = ("design", "board", "arch", "LUT4", "FF", "EBR", "SPRAM", "DSP", "fmax MHz",
           "cycles/image", "images/s", "ops/LUT4/cycle", "LUT4 estimate error",
           "FF estimate error", "RTL accuracy",
           *(f"{step} s" for step in STEPS))


def recorded_seconds():
    """Each design's step wall times in the summary.md this run replaces (its last
    ``len(STEPS)`` columns, whatever columns came before them): kept for builds whose
    folder is no longer on the machine."""
    path = REPORTS / "summary.md"
    if not path.is_file():
        return {}
    recorded = {}
    for line in path.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) > len(STEPS) \
                and cells[0] not in ("design", "---"):
            recorded[cells[0]] = cells[-len(STEPS):]
    return recorded


def rows():
    recorded = recorded_seconds()
    for path in sorted(REPORTS.glob("*/report.json")):
        rep = json.loads(path.read_text())
        if "implementation" not in rep:
            continue
        write_text(path.with_name("report.html"), html_report(rep))
        impl, design = rep["implementation"], rep["design"]
        arch = "folded" if any(r["kind"].endswith("(folded)") for r in rep["layers"]) \
            else "dataflow"
        seconds = recorded.get(design, [""] * len(STEPS))
        if (BUILD / design / "steps").is_dir():
            seconds = []
            for step in STEPS:
                saved = BUILD / design / "steps" / f"{step}.json"
                seconds.append(json.loads(saved.read_text())["seconds"] if saved.is_file()
                               else "")
        yield (design, impl["board"], arch, impl["lut4"], impl["ff"], impl["ebr"],
               impl.get("spram", 0), impl["dsp"], impl["fmax_mhz"],
               rep["cycles"]["per_image_measured"],
               rep["performance"]["fmax"]["throughput_images_per_s"],
               f"{binary_ops_per_lut4_cycle(rep):.3f}",
               *(estimate_error(rep, key) for key in ("lut4", "ff")),
               rep["accuracy"]["rtl"], *seconds)


def estimate_error(report, key):
    """``(estimate - nextpnr) / nextpnr`` of resource ``key`` as a signed percentage ("" for
    a report without the estimate)."""
    estimate = report.get("estimate", {}).get("total", {}).get(key)
    placed = report["implementation"][key]
    if estimate is None or not placed:
        return ""
    return f"{100 * (estimate - placed) / placed:+.1f} %"


def main():
    table = list(rows())
    md = ["# Every build in reports/", "",
          "Written by `benchmarks/summary.py` from each build's report.json (nextpnr figures, "
          "cycles measured in RTL simulation, images/s at fmax) and, where the build folder "
          "was on the machine, each step's wall time in seconds.", "",
          "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    md += ["| " + " | ".join(str(v) for v in row) + " |" for row in table]
    (REPORTS / "summary.md").write_text("\n".join(md) + "\n")
    cells = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + f'<td><a href="{html.escape(row[0])}/report.html">{html.escape(row[0])}</a></td>'
        + "".join(f"<td>{html.escape(str(v))}</td>" for v in row[1:]) + "</tr>"
        for row in table)
    (REPORTS / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>popcorn builds'
        "</title><style>table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px}</style></head><body><h1>popcorn builds</h1>"
        f"<table><tr>{cells}</tr>{body}</table></body></html>\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
