"""Verilog export of Amaranth components."""

from pathlib import Path

from amaranth.back import verilog


def write_verilog(component, path, *, name="top"):
    """Write ``component`` as a Verilog module ``name`` to ``path``; return the path.

    Ports follow Amaranth's naming: ``clk``, ``rst`` and ``<port>__<member>``
    (for instance ``i__payload``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(verilog.convert(component, name=name))
    return path
