"""The folded accelerator on the iCEBreaker beside the dataflow one, from the builds'
reports: reports/folded/summary.md.

    python benchmarks/folded_vs_dataflow.py

For each network with a folded report (reports/<name>-folded-icebreaker/report.json) and a
dataflow one (reports/<name>-<board>/, the iCEBreaker's if there is one, else the
ULX3S-85F's): nextpnr's LUT4, EBR, SPRAM, fmax, cycles per image (measured in RTL),
images/s at fmax, LUT4 per image/s (what a unit of throughput costs in logic: the price of
time-multiplexing), and for the folded build the bound that sets its cycles: the flash
stream's words (layers streamed: 128 cycles a word on the SPI), else the engine's issues,
one 64-bit SPRAM word each (weight bandwidth), or the input link's words.
Every figure is read from a report that `popcorn build` wrote.
"""

import json
from pathlib import Path

from popcorn.mapping.folded import STREAM_WORD_CYCLES

REPORTS = Path("reports")
NAMES = ("tfc_1w1a", "sfc_1w1a", "lfc_1w1a", "cnv_1w1a", "mnist-cnn-bnn-tiny", "mnist-cnn-bnn", "mnist-cnn-xnor",
         "mnist-cnn-abc", "mnist-cnn-pa", "mnist-cnn-binaryconnect")


def _load(name):
    path = REPORTS / name / "report.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _row(name, arch, rep):
    impl, cycles = rep["implementation"], rep["cycles"]["per_image_measured"]
    fps = rep["performance"]["fmax"]["throughput_images_per_s"]
    bound = ""
    if arch == "folded":
        issues = sum(r["cycles_per_vector"] * r["vectors"] for r in rep["layers"])
        words = int(rep["layers"][0]["in"].split(" x ")[0])
        stream = sum(r["cycles_per_vector"] * r["vectors"] for r in rep["layers"]
                     if "streamed" in r["kind"])
        bound = (f"flash: {stream} streamed words x {STREAM_WORD_CYCLES} cycles per image"
                 if stream else f"SPRAM: {issues} weight words (one per cycle) per image"
                 if issues >= words else f"input: {words} words per image")
    return (f"| {name} | {arch} | {impl['board']} | {impl['lut4']} | {impl['ebr']} | "
            f"{impl.get('spram', 0)} | {impl['fmax_mhz']} | {cycles} | {fps} | "
            f"{impl['lut4'] / fps:.3g} | {rep['accuracy']['rtl']} | {bound} |")


def main():
    lines = ["# Folded (iCEBreaker) beside dataflow", "",
             "Written by `benchmarks/folded_vs_dataflow.py` from the builds' report.json "
             "(nextpnr figures, cycles measured in RTL simulation, images/s at fmax).", "",
             "| network | architecture | board | LUT4 | EBR | SPRAM | fmax (MHz) | "
             "cycles per image | images/s | LUT4 per image/s | RTL accuracy | bound |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name in NAMES:
        folded = _load(f"{name}-folded-icebreaker")
        dataflow = _load(f"{name}-icebreaker") or _load(f"{name}-ulx3s-85f")
        for arch, rep in (("folded", folded), ("dataflow", dataflow)):
            if rep is not None:
                lines.append(_row(name, arch, rep))
    out = REPORTS / "folded" / "summary.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
