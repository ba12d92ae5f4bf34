"""The report of a build as one self-contained HTML page (``report.html``).

:func:`html_report` is a pure function of the report dict that
:func:`~popcorn.reports.network_report.network_report` makes (what ``report.json`` holds):
every number on the page is one of the dict's or computed from them here, by the formulas
the page states. Plots are PNGs drawn with Matplotlib's Agg canvas and embedded as
``data:`` URIs, the style sheet is inline: the page loads nothing else. A section whose
keys the report lacks (no ``implementation``, no ``confusion`` without labels) is left out.

Sections and the keys they read:

* resources: ``estimate`` (per layer and total) beside ``implementation`` (nextpnr);
* timing: ``implementation`` (``fmax_mhz``, ``clock_mhz``, ``critical_path``,
  ``seeds_tried``);
* cycles: ``layers`` (``cycles_per_vector`` x ``vectors``), ``cycles``, ``performance``;
* binary operations per LUT4 per cycle: ``layers``, ``implementation``, ``cycles``
  (:func:`binary_ops_per_lut4_cycle`);
* weight memory against 32-bit floats, as PA-Net's Table 7: ``layers``
  (:func:`weight_memory_bits`);
* PA-Net's Table 8 latency model written out per layer: ``layers``, ``cycles``;
* accuracy and the integer golden model's confusion matrix: ``accuracy``, ``confusion``.
"""

import base64
import html
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RESOURCES = ("lut4", "ff", "ebr", "spram", "dsp")
"""The resource columns, in the order of the page."""

def block_label(part):
    """A row of the estimate: ``layer N (kind)``, or the kind of a part that is no layer
    (the folded engine, the host link)."""
    return f"layer {part['layer']} ({part['kind']})" if isinstance(part["layer"], int) \
        else part["kind"]


_NAMES = {"lut4": "LUT4", "ff": "FF", "ebr": "EBR", "spram": "SPRAM", "dsp": "DSP"}

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60em; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text, th { text-align: left; }
tr.total td { font-weight: bold; }
code, .formula { font-family: ui-monospace, monospace; font-size: 0.92em; }
.formula { background: #f4f4f4; padding: 0.4em 0.8em; display: inline-block; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
.note { color: #555; font-size: 0.92em; }
"""


# -- derived figures ------------------------------------------------------------------------
def engine_layers(layers):
    """The rows of ``layers`` that carry a matrix-vector engine (those with ``fan_in``)."""
    return [row for row in layers if "fan_in" in row]


def layer_cycles(row):
    """Cycles one image spends in an engine layer: ``cycles_per_vector * vectors``."""
    return row["cycles_per_vector"] * row["vectors"]


def binary_ops(row):
    """Binary operations of one image in an engine layer, a multiply-accumulate of one
    weight base and one activation base counted as 2: ``2 * fan_in * channels *
    weight_bases * act_bases * vectors``."""
    return (2 * row["fan_in"] * row["channels"] * row["weight_bases"] * row["act_bases"]
            * row["vectors"])


def binary_ops_per_lut4_cycle(report):
    """Binary operations per LUT4 per cycle of a build::

        sum over engine layers of 2 * fan_in * channels * weight_bases * act_bases * vectors
        ------------------------------------------------------------------------------------
               nextpnr's LUT4 (whole design) * measured cycles per image

    (:func:`binary_ops` per layer, ``report["implementation"]["lut4"]``,
    ``report["cycles"]["per_image_measured"]``)."""
    ops = sum(binary_ops(row) for row in engine_layers(report["layers"]))
    return ops / (report["implementation"]["lut4"] * report["cycles"]["per_image_measured"])


def weight_memory_bits(layers):
    """``(binary, float)`` bits of the weights, as PA-Net's Table 7 counts them (1 bit per
    binary value, 32 per real value): ``binary = sum fan_in * channels * weight_bases``,
    ``float = sum 32 * fan_in * channels`` over the engine layers. Neither counts the
    per-channel coefficients and thresholds: the report records neither their number nor
    their widths."""
    rows = engine_layers(layers)
    return (sum(r["fan_in"] * r["channels"] * r["weight_bases"] for r in rows),
            sum(32 * r["fan_in"] * r["channels"] for r in rows))


# -- page -----------------------------------------------------------------------------------
def html_report(report):
    """The report dict as one self-contained HTML page (a string)."""
    title = html.escape(_title(report))
    sections = [_resources(report), _timing(report), _cycles(report), _ops(report),
                _memory(report), _latency_model(report), _accuracy(report)]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{title}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{title}</h1>", _network(report), *(s for s in sections if s), _files(report),
        "</body>", "</html>", ""])


def _title(report):
    impl = report.get("implementation")
    return (f"{report['design']} on {impl['board']} ({impl['device']})" if impl
            else report["design"])


def _network(report):
    net = report.get("network")
    if net is None:
        return ""
    return _p(f"Input {tuple(net['input_shape'])} ({html.escape(net['input_quantizer'])}), "
              f"{net['classes']} classes, coefficients with {net['frac_bits']} fractional "
              f"bits. Every figure of the design below comes from its report.json (the "
              f"constants of PA-Net's Tables 7 and 8 are the paper's).")


def _files(report):
    lines = [f"Bitstream: <code>{html.escape(report['bitstream'])}</code>."
             if "bitstream" in report else ""]
    image = report.get("flash_image")
    if image is not None:
        lines.append(f"Weight image: <code>{html.escape(image['path'])}</code>, read from the "
                     f"board's flash at {image['offset']:#x} at power-up.")
    text = " ".join(line for line in lines if line)
    return _p(text) if text else ""


def _resources(report):
    est, impl = report.get("estimate"), report.get("implementation")
    if est is None and impl is None:
        return ""
    rows = []
    if est is not None:
        rows += [[block_label(p), *_cells(p)] for p in est["layers"]]
        rows.append(_Total(["estimate, total", *_cells(est["total"])]))
    if impl is not None:
        rows.append(_Total(["nextpnr, whole design", *_cells(impl)]))
    if est is not None and "capacity" in est:
        rows.append(["available on the board", *_cells(est["capacity"])])
    parts = ["<h2>Resources: estimate and nextpnr</h2>",
             _p("The estimate (<code>popcorn.hdl.estimates</code>, made before any tool ran) "
                "is per layer, and the host link's; nextpnr's figures are of the whole placed "
                "design, so it has no per-layer rows."),
             _table("resources", ["block", *(_NAMES[k] for k in RESOURCES)], rows)]
    if est is not None:
        layers = est["layers"]
        fig, ax = _figure(max(4.0, 0.6 * len(layers) + 2), 3.2)
        names = [block_label(p).replace(" (", "\n(") for p in layers]
        bars = ax.bar(range(len(layers)), [p["lut4"] for p in layers], color="#4c72b0")
        ax.bar_label(bars, fontsize=8)
        ax.set_xticks(range(len(layers)), names, fontsize=8)
        ax.set_ylabel("estimated LUT4")
        ax.set_title("Estimated LUT4 per layer")
        parts.append(_img(fig, "bar plot of the estimated LUT4 of every layer"))
    if est is not None and impl is not None:
        keys = [k for k in RESOURCES if k in est["total"] and k in impl]
        fig = Figure(figsize=(2.0 * len(keys), 3.0), layout="constrained")
        for ax, key in zip(fig.subplots(1, len(keys), squeeze=False)[0], keys):
            values = [est["total"][key], impl[key]]
            ax.bar_label(ax.bar(["estimate", "nextpnr"], values,
                                color=["#4c72b0", "#dd8452"]), fontsize=8)
            ax.set_ylim(0, 1.15 * max(1, *values))
            ax.set_title(_NAMES[key])
            ax.tick_params(labelsize=8)
        fig.suptitle("Totals: estimate (core) and nextpnr (whole design)")
        parts.append(_img(fig, "bar plots of the estimated and nextpnr totals per resource"))
    return "\n".join(parts)


def _cells(counts):
    return [counts.get(key) for key in RESOURCES]


def _timing(report):
    impl = report.get("implementation")
    if impl is None:
        return ""
    parts = ["<h2>Maximum frequency and critical path (nextpnr)</h2>",
             _table("timing", ["", "MHz"], [["fmax", impl["fmax_mhz"]],
                                            ["board clock", impl["clock_mhz"]]])]
    tried = impl.get("seeds_tried")
    if tried:
        parts.append(_table("placements", ["placer seed", "fmax (MHz)"], [
            [f"{seed} (kept)" if seed == impl["seed"] else seed, mhz]
            for seed, mhz in tried.items()]))
    path = impl.get("critical_path")
    if path is not None:
        parts += [
            _table("critical-path", ["critical path", ""], [
                ["delay (ns)", path["delay_ns"]], ["logic (ns)", path["logic_ns"]],
                ["routing (ns)", path["routing_ns"]], ["logic cells", path["cells"]]]),
            _p("From <code>{}</code> to <code>{}</code>, through {}.".format(
                html.escape(path["start"]), html.escape(path["end"]),
                " &rarr; ".join(f"<code>{html.escape(s)}</code>" for s in path["through"])))]
    return "\n".join(parts)


def _cycles(report):
    layers = engine_layers(report.get("layers", []))
    cyc, perf = report.get("cycles"), report.get("performance")
    if not layers and cyc is None:
        return ""
    parts = ["<h2>Cycles and speed</h2>"]
    if layers:
        parts += [
            _p("Cycles one image spends in each engine layer: cycles per vector x vectors "
               "(the cycle model's figures in the layer table). "
               + ("The folded engine runs the layers one after another."
                  if _folded(report) else
                  "The dataflow layers work at the same time, each on its part of the "
                  "stream.")),
            _table("layer-cycles", ["layer", "kind", "PE", "SIMD", "cycles per vector",
                                    "vectors", "cycles per image"],
                   [[r["layer"], r["kind"], r["pe"], r["simd"], r["cycles_per_vector"],
                     r["vectors"], layer_cycles(r)] for r in layers])]
        fig, ax = _figure(max(4.0, 0.6 * len(layers) + 2), 3.2)
        bars = ax.bar(range(len(layers)), [layer_cycles(r) for r in layers], color="#55a868")
        ax.bar_label(bars, fontsize=8)
        ax.set_xticks(range(len(layers)), [str(r["layer"]) for r in layers], fontsize=8)
        ax.set_xlabel("layer")
        ax.set_ylabel("cycles per image")
        top = max(layer_cycles(r) for r in layers)
        if cyc is not None:
            ax.axhline(cyc["per_image_measured"], color="#c44e52", linestyle="--",
                       label=f"measured per image: {cyc['per_image_measured']}")
            ax.legend(fontsize=8, loc="upper right")
            top = max(top, cyc["per_image_measured"])
        ax.set_ylim(0, 1.3 * top)
        ax.set_title("Cycles per image in each layer")
        parts.append(_img(fig, "bar plot of the cycles per image of every engine layer"))
    if cyc is not None:
        parts.append(_table("cycles", ["cycles (RTL simulation)", "predicted", "measured"], [
            ["per image", cyc["per_image_predicted"], cyc["per_image_measured"]],
            ["latency", cyc["latency_predicted"], cyc["latency_measured"]]]))
    if perf is not None:
        parts.append(_table("performance", ["clock", "MHz", "latency (us)",
                                            "throughput (images/s)"],
                            [[label.replace("_", " "), p["clock_mhz"], p["latency_us"],
                              p["throughput_images_per_s"]] for label, p in perf.items()]))
    return "\n".join(parts)


def _folded(report):
    return any(row["kind"].endswith("(folded)") for row in report.get("layers", []))


def _ops(report):
    layers = engine_layers(report.get("layers", []))
    if not layers or "implementation" not in report or "cycles" not in report:
        return ""
    lut4, cycles = report["implementation"]["lut4"], report["cycles"]["per_image_measured"]
    ops = [binary_ops(r) for r in layers]
    rows = [[r["layer"], r["fan_in"], r["channels"], r["weight_bases"], r["act_bases"],
             r["vectors"], n] for r, n in zip(layers, ops)]
    rows.append(_Total(["all", "", "", "", "", "", sum(ops)]))
    return "\n".join([
        "<h2>Binary operations per LUT4 per cycle</h2>",
        _p("A multiply-accumulate of one weight base and one activation base counts as 2 "
           "operations (K = fan-in, C = channels, M = weight bases, N = activation bases, "
           "V = vectors per image):"),
        '<p class="formula">ops per image = &Sigma;<sub>layers</sub> 2 &middot; K &middot; '
        'C &middot; M &middot; N &middot; V<br>ops / LUT4 / cycle = ops per image / '
        '(nextpnr LUT4 &middot; measured cycles per image)</p>',
        _table("ops", ["layer", "K", "C", "M", "N", "V", "ops per image"], rows),
        _table("ops-per-lut4", ["quantity", "value"], [
            ["ops per image", sum(ops)], ["nextpnr LUT4 (whole design)", lut4],
            ["measured cycles per image", cycles],
            _Total(["ops / LUT4 / cycle", f"{binary_ops_per_lut4_cycle(report):.4g}"])])])


def _memory(report):
    layers = engine_layers(report.get("layers", []))
    if not layers:
        return ""
    rows = [[r["layer"], r["fan_in"], r["channels"], r["weight_bases"],
             *weight_memory_bits([r])] for r in layers]
    binary, real = weight_memory_bits(layers)
    rows.append(_Total(["all", "", "", "", binary, real]))
    return "\n".join([
        "<h2>Weight memory against 32-bit floats</h2>",
        _p("As PA-Net's Table 7 counts memory: 1 bit per binary value, 32 bits per real "
           "value. Counted: the weight bases of every engine layer (binary) and one 32-bit "
           "float per weight (float). Not counted, in either column: the per-channel "
           "coefficients and thresholds, whose number and widths the report does not "
           "record."),
        '<p class="formula">binary bits = &Sigma;<sub>layers</sub> K &middot; C &middot; M'
        '<br>float bits = &Sigma;<sub>layers</sub> 32 &middot; K &middot; C</p>',
        _table("memory", ["layer", "K", "C", "M", "binary bits", "float bits"], rows),
        _p(f"Memory saving (float bits / binary bits): {real / binary:.2f} x.")])


def _latency_model(report):
    layers = engine_layers(report.get("layers", []))
    if not layers:
        return ""
    rows = [[r["layer"], r["encodings"], r["fan_in"], r["weight_bases"], r["act_bases"],
             r["weight_bases"] * r["act_bases"], _Code(_table8(r)),
             _Code(f"{r['fan_in']} × T_mul + {r['fan_in'] - 1} × T_add"), layer_cycles(r)]
            for r in layers]
    parts = [
        "<h2>PA-Net's latency model (Table 8) for this design</h2>",
        _p("Table 8 of the PA-Net paper models the latency of one convolution computed "
           "fully in parallel, in gate delays (T_XNOR, T_AND, T_pop, T_mul, T_add, T_com: "
           "an XNOR, AND, popcount, multiplication, addition, comparison), with "
           "K = c<sub>in</sub>hw inputs per output:"),
        _table("table8", ["model", "latency cost"], [
            ["Bi-Real Net", _Code("K × (T_XNOR + T_pop) + T_mul")],
            ["PA-Net (M = 4, N = 5)", _Code("K × (T_AND + T_pop) + 5T_mul + 4T_add + T_com")],
            ["full precision", _Code("K × T_mul + (K − 1) × T_add")]]),
        _p("Below, the model written with each layer's K, M weight bases and N activation "
           "bases: the M x N bitwise convolutions run side by side, so they add no term. The "
           "gate is what the engine counts per element: XNOR for pm1 x pm1, AND for "
           "zo x zo, and for mixed encodings two bits per element (t AND v, t OR NOT v), "
           "2K bits. Table 8 gives the terms after the popcount only for Bi-Real Net "
           "(M = N = 1, XNOR: T_mul) and for PA-Net with M = 4, N = 5 (AND: "
           "5T_mul + 4T_add + T_com); for any other M, N they are left as "
           "T_tail(M, N), which the paper does not state. It is a model in gate delays, "
           "not cycles: beside it, the cycles the folded hardware takes."),
        _table("latency-model", ["layer", "encodings", "K", "M", "N", "M x N",
                                 "binary (Table 8)", "full precision (Table 8)",
                                 "cycles per image (model)"], rows)]
    cyc = report.get("cycles")
    if cyc is not None:
        parts.append(_p(f"Measured in RTL simulation: {cyc['per_image_measured']} cycles "
                        f"per image, latency {cyc['latency_measured']} cycles."))
    return "\n".join(parts)


def _table8(row):
    """Table 8's latency of one convolution with this layer's K, M, N and encodings."""
    k, m, n = row["fan_in"], row["weight_bases"], row["act_bases"]
    weights, acts = (e.strip() for e in row["encodings"].split(" x "))
    if weights == acts == "pm1":
        bits, gate = k, "T_XNOR"
    elif weights == acts == "zo":
        bits, gate = k, "T_AND"
    else:
        bits, gate = 2 * k, "T_AND/OR"
    if gate == "T_XNOR" and (m, n) == (1, 1):
        tail = "T_mul"
    elif gate == "T_AND" and (m, n) == (4, 5):
        tail = "5T_mul + 4T_add + T_com"
    else:
        tail = f"T_tail({m}, {n})"
    return f"{bits} × ({gate} + T_pop) + {tail}"


def _accuracy(report):
    acc, confusion = report.get("accuracy"), report.get("confusion")
    if acc is None and confusion is None:
        return ""
    parts = ["<h2>Accuracy</h2>"]
    if acc is not None:
        pct = lambda v: "n/a" if v is None else f"{100 * v:.2f} %"  # noqa: E731
        parts += [
            _table("accuracy", ["model", "images", "accuracy"], [
                ["float reference", acc["images"], pct(acc["float"])],
                ["integer golden model", acc["images"], pct(acc["integer_golden"])],
                [f"RTL simulation ({acc['simulator']})", acc["rtl_images"], pct(acc["rtl"])]]),
            _p(f"Float and integer models agree on {pct(acc['float_integer_agreement'])} of "
               f"the images.")]
    if confusion is not None:
        classes = len(confusion)
        fig, ax = _figure(max(3.5, 0.45 * classes + 1.5), max(3.2, 0.45 * classes + 1.2))
        ax.imshow(confusion, cmap="Blues")
        top = max(max(row) for row in confusion)
        for i, row in enumerate(confusion):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if count > top / 2 else "black")
        ax.set_xticks(range(classes))
        ax.set_yticks(range(classes))
        ax.set_xlabel("predicted class (integer golden model)")
        ax.set_ylabel("label")
        ax.set_title("Confusion matrix")
        parts.append(_img(fig, "confusion matrix of the integer golden model"))
    return "\n".join(parts)


# -- HTML and plot helpers ------------------------------------------------------------------
class _Total(list):
    """A table row shown in bold."""


class _Code(str):
    """A cell shown as code."""


def _p(text):
    """A paragraph of trusted markup (the callers escape what comes from the report)."""
    return f"<p>{text}</p>"


def _table(name, header, rows):
    """An HTML table with ``id`` ``name``; cells are escaped, ``None`` shows as a dash."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cls = ' class="total"' if isinstance(row, _Total) else ""
        body.append(f"<tr{cls}>" + "".join(_cell(v) for v in row) + "</tr>")
    return (f'<table id="{name}"><thead><tr>{head}</tr></thead><tbody>' + "".join(body)
            + "</tbody></table>")


def _cell(value):
    if value is None:
        return "<td>—</td>"
    if isinstance(value, _Code):
        return f'<td class="text"><code>{html.escape(value)}</code></td>'
    cls = "" if isinstance(value, (int, float)) else ' class="text"'
    return f"<td{cls}>{html.escape(str(value))}</td>"


def _figure(width, height):
    """A Figure of one Axes, outside pyplot (no global state); :func:`_img` draws it."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def _img(fig, alt):
    """``fig`` as an ``<img>`` holding its PNG (Agg canvas, 100 dpi, no version stamp)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
