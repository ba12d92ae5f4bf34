"""report.html: the numbers of report.json, the counts it derives, plots a browser draws."""

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from popcorn import tools
from popcorn.reports.html_report import (binary_ops_per_lut4_cycle, block_label, html_report,
                                         weight_memory_bits)
from popcorn.reports.network_report import write_report
from popcorn.tools import ToolMissing, find_tool

REPORTS = Path(__file__).parents[2] / "reports"
DATAFLOW = REPORTS / "digits-bnn-icebreaker/report.json"
FOLDED = REPORTS / "sfc_1w1a-folded-icebreaker/report.json"
RESOURCES = {"LUT4": "lut4", "FF": "ff", "EBR": "ebr", "SPRAM": "spram", "DSP": "dsp"}


class Page(HTMLParser):
    """A page's tables by id (rows of cell texts, the header first) and its images'
    sources."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.images = {}, []
        self._rows, self._cell = None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._rows = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def row(self, table, first):
        """The row of ``table`` whose first cell is ``first``, as {header: cell}."""
        header, *rows = self.tables[table]
        (found,) = [r for r in rows if r[0] == first]
        return dict(zip(header, found))


@pytest.mark.parametrize("path", [DATAFLOW, FOLDED], ids=["dataflow", "folded"])
def test_html_shows_the_numbers_of_report_json(path):
    report = json.loads(path.read_text())
    text = html_report(report)
    page = Page(text)
    impl, est, cyc, acc = (report[k] for k in ("implementation", "estimate", "cycles",
                                                 "accuracy"))
    nextpnr = page.row("resources", "nextpnr, whole design")
    assert {name: nextpnr[name] for name in RESOURCES} == {
        name: str(impl[key]) for name, key in RESOURCES.items()}
    total = page.row("resources", "estimate, total")
    for name, key in RESOURCES.items():
        assert total[name] == (str(est["total"][key]) if key in est["total"] else "—")
    for part in est["layers"]:
        assert page.row("resources", block_label(part))["LUT4"] == str(part["lut4"])

    assert page.row("timing", "fmax")["MHz"] == str(impl["fmax_mhz"])
    assert page.row("timing", "board clock")["MHz"] == str(impl["clock_mhz"])
    assert page.row("critical-path", "delay (ns)")[""] == str(impl["critical_path"]["delay_ns"])

    assert page.row("cycles", "per image") == {
        "cycles (RTL simulation)": "per image", "predicted": str(cyc["per_image_predicted"]),
        "measured": str(cyc["per_image_measured"])}
    assert page.row("cycles", "latency")["measured"] == str(cyc["latency_measured"])
    engines = [row for row in report["layers"] if "pe" in row]
    for row in engines:
        assert page.row("layer-cycles", str(row["layer"]))["cycles per image"] == \
            str(row["cycles_per_vector"] * row["vectors"])
        assert page.row("latency-model", str(row["layer"]))["K"] == str(row["fan_in"])
    for label, perf in report["performance"].items():
        shown = page.row("performance", label.replace("_", " "))
        assert (shown["latency (us)"], shown["throughput (images/s)"]) == (
            str(perf["latency_us"]), str(perf["throughput_images_per_s"]))

    assert page.row("ops-per-lut4", "nextpnr LUT4 (whole design)")["value"] == str(impl["lut4"])
    assert page.row("ops-per-lut4", "measured cycles per image")["value"] == \
        str(cyc["per_image_measured"])
    binary = sum(r["fan_in"] * r["channels"] * r["weight_bases"] for r in engines)
    assert page.row("memory", "all")["binary bits"] == str(binary)
    assert page.row("memory", "all")["float bits"] == str(32 * sum(
        r["fan_in"] * r["channels"] for r in engines))
    assert page.row("accuracy", "integer golden model")["accuracy"] == \
        f"{100 * acc['integer_golden']:.2f} %"

    # Self-contained: three plots as data URIs (four with a confusion matrix), nothing
    # loaded from elsewhere.
    assert len(page.images) == 3 + ("confusion" in report)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert not re.search(r"<(script|link|iframe)|https?:|url\(", text)


def test_the_placements_tried_are_shown_with_the_one_kept():
    from popcorn.reports.network_report import markdown

    report = json.loads(DATAFLOW.read_text())
    report["implementation"].update(seed="2", seeds_tried={"default": 59.3, "1": 58.1,
                                                           "2": 61.4})
    page = Page(html_report(report))
    assert page.tables["placements"] == [["placer seed", "fmax (MHz)"], ["default", "59.3"],
                                         ["1", "58.1"], ["2 (kept)", "61.4"]]
    assert ("Placement: nextpnr's seed 2, of 3 tried (seed: fmax MHz) default: 59.3, 1: 58.1, "
            "2: 61.4.") in markdown(report)
    report["implementation"].update(seed=None, seeds_tried=None)   # one placement
    assert "placements" not in Page(html_report(report)).tables
    assert "Placement:" not in markdown(report)


def test_binary_ops_per_lut4_cycle_by_hand():
    report = {
        "layers": [
            {"layer": 0, "kind": "conv2d", "fan_in": 9, "channels": 4, "weight_bases": 2,
             "act_bases": 3, "vectors": 10},              # 2*9*4*2*3*10 = 4320
            {"layer": 3, "kind": "maxpool2d"},            # no engine: no operations
            {"layer": 5, "kind": "dense", "fan_in": 40, "channels": 10, "weight_bases": 1,
             "act_bases": 1, "vectors": 1},               # 2*40*10 = 800
        ],
        "implementation": {"lut4": 640},
        "cycles": {"per_image_measured": 50},
    }
    assert binary_ops_per_lut4_cycle(report) == pytest.approx(5120 / (640 * 50))   # 0.16


def test_weight_memory_by_hand():
    layers = [{"fan_in": 9, "channels": 4, "weight_bases": 2},      # 72 bits, 1152 float
              {"kind": "argmax"},
              {"fan_in": 40, "channels": 10, "weight_bases": 1}]    # 400 bits, 12800 float
    assert weight_memory_bits(layers) == (472, 13952)


def test_missing_sections_are_left_out():
    report = json.loads(DATAFLOW.read_text())
    for key in ("implementation", "estimate", "cycles", "performance", "accuracy", "confusion"):
        del report[key]
    text = html_report(report)
    page = Page(text)
    assert set(page.tables) == {"layer-cycles", "memory", "table8", "latency-model"}
    assert len(page.images) == 1
    assert "Binary operations per LUT4" not in text and "Accuracy" not in text
    assert html_report({"design": "<empty>", "layers": []}).count("&lt;empty&gt;") == 2


def test_write_report_writes_the_html_beside_json_and_markdown(tmp_path):
    report = json.loads(FOLDED.read_text())
    paths = write_report(report, tmp_path)
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]
    assert paths[2].read_text() == html_report(report)


def test_missing_browser_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(tools, "script_dirs", lambda: [])
    with pytest.raises(ToolMissing, match=r"`chromium-headless-shell` was not found on PATH: "
                                          r".*`apt-get install -y chromium-headless-shell`"):
        find_tool("chromium-headless-shell")


# Counts, once the page has loaded, the images the browser decoded.
COUNT_LOADED = """<script>
window.addEventListener("load", () => {
  const loaded = [...document.images].filter(img => img.complete && img.naturalWidth > 0);
  document.body.dataset.plotsLoaded = loaded.length;
});
</script>
"""


def test_a_browser_draws_every_plot(tmp_path):
    """The page in a real headless Chromium (a missing browser fails with the apt-get
    command): every plot decodes, the confusion matrix included."""
    browser = find_tool("chromium-headless-shell")
    report = json.loads(DATAFLOW.read_text())
    report["confusion"] = [[10 * (i == j) + j % 3 for j in range(10)] for i in range(10)]
    text = html_report(report)
    plots = len(Page(text).images)
    assert plots == 4           # LUT4 per layer, totals, cycles per layer, confusion matrix
    page = tmp_path / "report.html"
    page.write_text(text.replace("</body>", COUNT_LOADED + "</body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert re.search(r'<body data-plots-loaded="(\d+)"', dom).group(1) == str(plots)
