"""The report of a built layer: resources, fmax, cycles, latency, throughput.

Every figure comes from a tool run: resources and fmax from nextpnr (see
:mod:`popcorn.reports.nextpnr`), cycles from the RTL simulation; latency and throughput
are derived from those two and nothing else.
"""

import json
from pathlib import Path


def layer_report(*, name, folding, measured, impl, bitstream):
    """The report as a dict (what ``report.json`` holds)."""
    cycles = measured["cycles_per_vector"]
    latency = measured["latency"]
    figures = {}
    for label, mhz in (("fmax", impl.fmax_mhz), ("board_clock", impl.clock_mhz)):
        figures[label] = {
            "clock_mhz": mhz,
            "latency_us": round(latency / mhz, 4),
            "throughput_vectors_per_s": round(mhz * 1e6 / cycles, 1),
        }
    return {
        "design": name,
        "layer": {"kind": "bnn_dense", "in_bits": folding.in_bits, "neurons": folding.neurons,
                  "pe": folding.pe, "simd": folding.simd},
        "cycles": {"per_vector_predicted": folding.cycles_per_vector,
                   "per_vector_measured": cycles,
                   "latency_predicted": folding.latency, "latency_measured": latency,
                   "vectors_simulated": measured["vectors"]},
        "implementation": impl.to_dict(),
        "performance": figures,
        "bitstream": str(bitstream),
    }


def write_report(report, out_dir):
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    md_path = out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path


def markdown(report):
    """The report as a Markdown page."""
    lay, cyc, impl = report["layer"], report["cycles"], report["implementation"]
    rows = [
        ("LUT4", impl["lut4"], ""),
        ("flip-flops", impl["ff"], ""),
        ("logic cells", impl["logic_cells"], impl["logic_cells_available"]),
        ("EBR", impl["ebr"], impl["ebr_available"]),
        ("SPRAM", impl["spram"], impl["spram_available"]),
        ("DSP", impl["dsp"], impl["dsp_available"]),
    ]
    lines = [
        f"# {report['design']} on {impl['board']} ({impl['device']})",
        "",
        f"BNN dense layer, {lay['in_bits']} input bits -> {lay['neurons']} neurons, "
        f"folded PE = {lay['pe']}, SIMD = {lay['simd']}.",
        "",
        "## Resources (nextpnr)",
        "",
        "| resource | used | available |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {used} | {avail} |" for name, used, avail in rows),
        "",
        f"Maximum frequency: **{impl['fmax_mhz']} MHz** (board clock {impl['clock_mhz']} MHz).",
        "",
        "## Cycles (RTL simulation, cocotb + Icarus)",
        "",
        "| | predicted | measured |",
        "| --- | ---: | ---: |",
        f"| cycles per vector | {cyc['per_vector_predicted']} | {cyc['per_vector_measured']} |",
        f"| latency (cycles) | {cyc['latency_predicted']} | {cyc['latency_measured']} |",
        "",
        f"{cyc['vectors_simulated']} vectors simulated with random stalls, every output "
        "equal to the golden model.",
        "",
        "## Performance",
        "",
        "| clock | MHz | latency (us) | throughput (vectors/s) |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {label} | {p['clock_mhz']} | {p['latency_us']} | {p['throughput_vectors_per_s']} |"
          for label, p in report["performance"].items()),
        "",
        f"Bitstream: `{report['bitstream']}`",
        "",
    ]
    return "\n".join(lines)
