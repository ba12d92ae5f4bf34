"""Fit :data:`popcorn.boards.fit.LC_PACKING`: how many iCE40 logic cells a placed design
takes per LUT4 plus flip-flop.

An iCE40 logic cell holds one LUT4 and one flip-flop, shared only when the flip-flop
takes the LUT's output, so a design needs more cells than LUT4 or flip-flops alone. This
reads every iCE40 build's report in ``reports/`` (nextpnr's placed LUT4, flip-flops and
``ICESTORM_LC``) and takes the largest ratio of cells to LUT4 + flip-flops, rounded up.

    PYTHONPATH=. python benchmarks/fit_logic_cells.py

Writes ``reports/blocks/logic_cells.md`` and ``.json``.
"""

import json
import math
from pathlib import Path

from _common import write_markdown_and_json


def main():
    rows = []
    for path in sorted(Path("reports").glob("*/report.json")):
        impl = json.loads(path.read_text()).get("implementation") or {}
        if impl.get("device", "").lower().startswith("ice40") and impl.get("logic_cells"):
            rows.append({"design": path.parent.name, "lut4": impl["lut4"], "ff": impl["ff"],
                         "logic_cells": impl["logic_cells"],
                         "ratio": impl["logic_cells"] / (impl["lut4"] + impl["ff"])})
    if not rows:
        raise SystemExit("no iCE40 build reports in reports/: build some first")
    packing = math.ceil(100 * max(row["ratio"] for row in rows)) / 100
    lines = ["# iCE40 logic cells per LUT4 + flip-flop",
             "",
             "Written by `benchmarks/fit_logic_cells.py` from every iCE40 build report in "
             "`reports/` (nextpnr's placed figures). `LC_PACKING` in `popcorn/boards/fit.py` "
             f"is the largest ratio, rounded up: **{packing}**.",
             "",
             "| design | LUT4 | FF | logic cells | cells / (LUT4 + FF) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['design']} | {r['lut4']} | {r['ff']} | {r['logic_cells']} | "
              f"{r['ratio']:.3f} |" for r in rows]
    write_markdown_and_json("reports/blocks/logic_cells.md", "\n".join(lines) + "\n",
                            {"packing": packing, "builds": rows})


if __name__ == "__main__":
    main()
