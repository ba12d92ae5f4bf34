"""The report of a built network: layers and folding, accuracy, cycles, resources, speed.

Every figure comes from a tool run: accuracy from the golden models and the RTL
simulation, resources and fmax from nextpnr (:mod:`popcorn.reports.nextpnr`), cycles from
the simulation; latency and throughput are derived from those and nothing else.
"""

import json
import os
from pathlib import Path

import numpy as np

from ..atomic import write_text
from .html_report import block_label, html_report
from .nextpnr import placements_text


def _accuracy(pred, labels):
    return None if labels is None else round(float(np.mean(pred == labels[:len(pred)])), 4)


def confusion_matrix(labels, pred, classes):
    """Counts (classes x classes, list of lists): row the label, column the predicted class,
    over the first ``len(pred)`` labelled images."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels[:len(pred)]), np.asarray(pred)), 1)
    return counts.tolist()


def network_report(*, name, plan, labels, float_pred, int_pred, rtl_argmax, measured, impl,
                   bitstream, estimate, flash_image=None):
    """The report as a dict (what ``report.json`` holds); ``estimate`` is the
    :class:`~popcorn.boards.fit.DesignEstimate` of the core made before the build;
    ``flash_image``: ``{"path", "offset"}`` of the weight image the design reads from the
    board's flash, if it does. With ``labels``, ``confusion`` holds the integer golden
    model's :func:`confusion_matrix` over all the images."""
    layers = plan.summary()
    cycles, latency = measured["interval"], measured["latency"]
    performance = {}
    for label, mhz in (("fmax", impl.fmax_mhz), ("board_clock", impl.clock_mhz)):
        performance[label] = {"clock_mhz": mhz, "latency_us": round(latency / mhz, 3),
                              "throughput_images_per_s": round(mhz * 1e6 / cycles, 1)}
    n_sim = measured["images"]
    report = {
        "design": name,
        "network": {"input_shape": list(plan.network.input_shape),
                    "input_quantizer": plan.network.input_quantizer.quantizer,
                    "classes": plan.classes, "frac_bits": plan.integer.frac_bits},
        "layers": layers,
        "accuracy": {
            "images": int(len(float_pred.argmax)),
            "float": _accuracy(float_pred.argmax, labels),
            "integer_golden": _accuracy(int_pred.argmax, labels),
            "float_integer_agreement": round(float(np.mean(float_pred.argmax == int_pred.argmax)), 4),
            "rtl_images": n_sim, "simulator": measured["simulator"],
            "rtl": _accuracy(rtl_argmax, labels),
        },
        "cycles": {"per_image_predicted": plan.cycles_per_image, "per_image_measured": cycles,
                   "latency_predicted": plan.latency, "latency_measured": latency},
        "implementation": impl.to_dict(),
        "estimate": estimate.to_dict(),
        "performance": performance,
        "bitstream": str(bitstream),
    }
    if labels is not None:
        report["confusion"] = confusion_matrix(labels, int_pred.argmax, plan.classes)
    if flash_image:
        report["flash_image"] = {"path": os.path.relpath(flash_image["path"]),
                                 "offset": flash_image["offset"]}
    return report


def write_report(report, out_dir):
    """Write ``report.json``, ``report.md`` and ``report.html``
    (:func:`~popcorn.reports.html_report.html_report`) into ``out_dir``; return the three
    paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path, html_path = (out_dir / f"report.{ext}" for ext in ("json", "md", "html"))
    write_text(json_path, json.dumps(report, indent=2) + "\n")
    write_text(md_path, markdown(report))
    write_text(html_path, html_report(report))
    return json_path, md_path, html_path


def markdown(report):
    """The report as a Markdown page."""
    net, acc, cyc, impl = (report[k] for k in ("network", "accuracy", "cycles", "implementation"))
    pct = lambda v: "n/a" if v is None else f"{100 * v:.2f} %"  # noqa: E731
    lines = [
        f"# {report['design']} on {impl['board']} ({impl['device']})", "",
        f"Input {tuple(net['input_shape'])} ({net['input_quantizer']}), {net['classes']} "
        f"classes, coefficients with {net['frac_bits']} fractional bits.", "",
        "## Stages and folding", "",
        "Streams as words per image x bits per word (a pixel per word, or a vector).", "",
        "| layer | stage | in | out | K | C | M x N | encodings | output | PE | SIMD | "
        "cycles per vector | vectors | weight ROM (bits x words) |",
        "| ---: | --- | --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: "
        "| --- |",
        *(_layer_line(l) for l in report["layers"]),
        "", "## Accuracy", "",
        "| model | images | accuracy |", "| --- | ---: | ---: |",
        f"| float reference | {acc['images']} | {pct(acc['float'])} |",
        f"| integer golden model | {acc['images']} | {pct(acc['integer_golden'])} |",
        f"| RTL simulation (cocotb + {acc['simulator']}) | {acc['rtl_images']} | "
        f"{pct(acc['rtl'])} |", "",
        f"Float and integer models agree on {pct(acc['float_integer_agreement'])} of the "
        f"images; the RTL's scores and class equal the integer model's on every simulated "
        f"image.", "",
        "## Resources (nextpnr)", "",
        "| resource | used | available |", "| --- | ---: | ---: |",
        f"| LUT4 | {impl['lut4']} | |", f"| flip-flops | {impl['ff']} | |",
        f"| logic cells | {impl['logic_cells']} | {impl['logic_cells_available']} |",
        f"| EBR | {impl['ebr']} | {impl['ebr_available']} |",
        f"| SPRAM | {impl['spram']} | {impl['spram_available']} |",
        f"| DSP | {impl['dsp']} | {impl['dsp_available']} |", "",
        f"Maximum frequency: **{impl['fmax_mhz']} MHz** (board clock {impl['clock_mhz']} MHz).",
        *_placement_lines(impl.get("seeds_tried"), impl.get("seed")),
        *_critical_path_lines(impl.get("critical_path")),
        *_estimate_lines(report["estimate"], impl),
        "", "## Cycles (RTL simulation)", "",
        "| | predicted | measured |", "| --- | ---: | ---: |",
        f"| cycles per image | {cyc['per_image_predicted']} | {cyc['per_image_measured']} |",
        f"| latency (cycles) | {cyc['latency_predicted']} | {cyc['latency_measured']} |", "",
        "## Performance", "",
        "| clock | MHz | latency (us) | throughput (images/s) |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {label} | {p['clock_mhz']} | {p['latency_us']} | {p['throughput_images_per_s']} |"
          for label, p in report["performance"].items()),
        "", f"Bitstream: `{report['bitstream']}`", "",
        *_flash_lines(report.get("flash_image")),
    ]
    return "\n".join(lines)


def _flash_lines(image):
    if image is None:
        return []
    return [f"Weight image: `{image['path']}`, read from the board's flash at "
            f"{image['offset']:#x} at power-up (the second LED lights when it has been read "
            f"and checked, the first on an error): `iceprog -o {image['offset'] >> 10}k "
            f"{image['path']}`.", ""]


def _layer_line(l):
    if "pe" not in l:
        return (f"| {l['layer']} | {l['kind']} | {l['in']} | {l['out']} |" + " |" * 4
                + f" {l.get('output', '')} |" + " |" * 5)
    return (f"| {l['layer']} | {l['kind']} | {l['in']} | {l['out']} | {l['fan_in']} | "
            f"{l['channels']} | {l['weight_bases']} x {l['act_bases']} | {l['encodings']} | "
            f"{l['output']} | {l['pe']} | {l['simd']} | {l['cycles_per_vector']} | "
            f"{l['vectors']} | {l.get('weight_rom', '')} |")


def _placement_lines(tried, seed):
    if not tried:
        return []
    return ["", f"Placement: nextpnr's {'own' if seed == 'default' else f'seed {seed}'}, of "
                f"{len(tried)} tried (seed: fmax MHz) {placements_text(tried)}."]


def _critical_path_lines(path):
    if path is None:
        return []
    return ["", f"Critical path: {path['delay_ns']} ns ({path['logic_ns']} ns logic, "
                f"{path['routing_ns']} ns routing, {path['cells']} logic cells) from "
                f"`{path['start']}` to `{path['end']}`, through "
                + ", ".join(f"`{name}`" for name in path["through"]) + "."]


def _estimate_lines(est, impl):
    rows = [(block_label(part), part) for part in est["layers"]]
    rows += [("**total**", est["total"])]
    return ["", "### Estimate before the build", "",
            "`popcorn.hdl.estimates` on each block and `popcorn.boards.fit.estimate_link` "
            "on the host link (Yosys-alone models, errors in `reports/blocks/`); the "
            "nextpnr figures above are of the whole placed design.", "",
            "| block | LUT4 | FF | EBR | DSP |", "| --- | ---: | ---: | ---: | ---: |",
            *(f"| {label} | {p['lut4']} | {p['ff']} | {p['ebr']} | {p['dsp']} |"
              for label, p in rows),
            f"| nextpnr, whole design | {impl['lut4']} | {impl['ff']} | {impl['ebr']} | "
            f"{impl['dsp']} |"]
