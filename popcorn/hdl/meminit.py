"""Large memory images (the weight ROMs) through Amaranth 0.5 without its per-word cost.

Amaranth 0.5 checks a memory's initial contents word by word (``MemoryData.Init`` makes a
``Const`` of every word) and its RTLIL backend turns them into the ``$meminit_v2`` constant
bit by bit (a netlist ``Net`` per bit, then ``sigspec``). For CNV's ~400 000 weight ROM
words those two loops were most of the time network -> Verilog took (about 12 s of 15 s).
Both paths here give the same memory contents and the same RTLIL text, byte for byte:

- :func:`fill` sets the contents of a memory made with ``init=[]`` (so that its ``src``
  location stays at the caller's line) from Python ints in range of an unsigned shape
  given as a width or a ``Shape``, which is exactly what ``MemoryData.Init`` would store
  for them; anything else (a signed, range or custom shape, a negative or too wide word, a
  non-int) goes through ``Memory.init`` as before, with Amaranth's checks and warnings.
- :func:`install` replaces ``ModuleEmitter.emit_memory`` of Amaranth's RTLIL backend with
  one that formats the constant with ``format(row, "0{w}b")`` (once per value for memories
  deeper than their words have values) instead of a ``Net`` per bit;
  it is installed when ``popcorn.hdl`` is imported, for Amaranth 0.5 only (whose
  ``emit_memory`` it reproduces), and ``tests/hdl/test_meminit.py`` compares both on the
  same netlists.
- :func:`deferred` and :func:`initialize` write the Verilog of the simulate step without
  passing the contents through Yosys (whose ``write_verilog`` of CNV's ROMs took most of its
  2 s): within :func:`deferred`, that ``emit_memory`` leaves the ``$meminit_v2`` out and
  records the contents; :func:`initialize` then adds to Yosys's Verilog the ``initial``
  block Yosys writes for them, after the memory's declaration, character for character
  (``tests/hdl/test_meminit.py`` compares both).
"""

import contextlib
import contextvars
import re

import amaranth
from amaranth.back import rtlil as _rtlil
from amaranth.hdl import Shape
from amaranth.hdl import _nir

__all__ = ["deferred", "fill", "initialize", "install"]


def fill(mem, words):
    """Set the initial contents of ``mem`` (an ``amaranth.lib.memory.Memory`` made with
    ``init=[]``) to ``words`` (at most ``mem.depth``; the rest 0), as ``mem.init = words``
    would: Python ints in range of an unsigned shape directly, anything else through
    ``mem.init``."""
    words = list(words)
    init = mem.data.init
    shape = mem.shape
    fast = (type(shape) in (int, Shape) and len(words) <= mem.depth
            and getattr(init, "_raw", None) is getattr(init, "_elems", ())
            and isinstance(init._elems, list) and len(init._elems) == mem.depth
            and not getattr(init, "_frozen", True))
    if fast:
        shape = Shape.cast(shape)
        limit = 1 << shape.width
        fast = not shape.signed and all(type(w) is int and 0 <= w < limit for w in words)
    if not fast:
        mem.init = words
        return
    # What MemoryData.Init.__setitem__ stores for an int of an unsigned shape in range: the
    # int itself, in _elems (aliased by _raw for a plain shape).
    init._elems[:len(words)] = words
    init._elems[len(words):] = [0] * (mem.depth - len(words))


_original_emit_memory = _rtlil.ModuleEmitter.emit_memory


_deferred = contextvars.ContextVar("popcorn_meminit_deferred", default=None)
"""Within :func:`deferred` (in its thread only): its dict, {module name: {memory name:
(width, contents)}}."""


def _emit_memory(self, cell_idx, cell):
    if not cell.width or not cell.depth:
        return _original_emit_memory(self, cell_idx, cell)
    memory_info = self.memories[cell_idx]
    width, mask = cell.width, (1 << cell.width) - 1
    deferred = _deferred.get()
    if deferred is not None:
        deferred.setdefault(self.builder.name, {})[memory_info.memid[1:]] = (
            width, [row & mask for row in cell.init])
        return
    if cell.depth > 1 << width:     # narrow words: each value's bits formatted once
        table = [format(value, f"0{width}b") for value in range(1 << width)]
        rows = [table[row & mask] for row in reversed(cell.init)]
    else:
        rows = [format(row & mask, f"0{width}b") for row in reversed(cell.init)]
    # sigspec of the constant bits, row 0 bit 0 first: one chunk "<n>'<bits MSB first>".
    spec = "{}'{}".format(width * cell.depth, "".join(rows))
    self.builder.cell("$meminit_v2", ports={
        "ADDR": self.sigspec(),
        "DATA": spec,
        "EN": self.sigspec(_nir.Value.ones(cell.width)),
    }, parameters={
        "MEMID": memory_info.memid,
        "ABITS": 0,
        "WIDTH": cell.width,
        "WORDS": cell.depth,
        "PRIORITY": 0,
    }, src_loc=cell.src_loc)


@contextlib.contextmanager
def deferred():
    """Within: RTLIL conversions leave out the initial contents of every memory of non-zero
    width and depth (with :func:`install`'s ``emit_memory``, else none) and record them in
    the dict yielded, for :func:`initialize`; in this thread only."""
    token = _deferred.set({})
    try:
        yield _deferred.get()
    finally:
        _deferred.reset(token)


_MODULE = re.compile(r"^module (?:\\(\S+) |(\w+))\(", re.M)
_MEMORY = re.compile(r"^  reg \[\d+:0\] (\\\S+ |\w+) \[\d+:0\];\n", re.M)


def initialize(text, contents):
    """``text``, Verilog that Yosys's ``write_verilog -norename`` wrote of RTLIL converted
    within :func:`deferred`, with the ``initial`` block of each memory in ``contents`` (its
    dict) that Yosys writes for the ``$meminit_v2`` left out. Raises ``ValueError`` if a
    memory's declaration is not found."""
    pieces, start, left = [], 0, sum(len(mems) for mems in contents.values())
    modules = list(_MODULE.finditer(text)) + [None]
    for module, end in zip(modules, modules[1:]):
        mems = contents.get(module.group(1) or module.group(2), {})
        for decl in _MEMORY.finditer(text, module.start(), end.start() if end else len(text)):
            name = decl.group(1)
            if name.startswith("\\"):
                name = name[1:-1]
            if name not in mems:
                continue
            width, words = mems[name]
            # Yosys's dump_const writes 32-bit constants in decimal, others in hex.
            word = "32'd%d" if width == 32 else f"{width}'h%0{(width + 3) // 4}x"
            line = f"    {decl.group(1).replace('%', '%%')}[%d] = {word};\n"
            pieces += [text[start:decl.end()], "  initial begin\n",
                       "".join(map(line.__mod__, enumerate(words))), "  end\n"]
            start = decl.end()
            left -= 1
    if left:
        raise ValueError(f"{left} memories of {sorted(contents)} are not declared in the text")
    return "".join(pieces) + text[start:]


def install():
    """Use :func:`_emit_memory` in Amaranth's RTLIL backend (Amaranth 0.5 only); return
    whether it is installed."""
    if not amaranth.__version__.startswith("0.5."):
        return False
    _rtlil.ModuleEmitter.emit_memory = _emit_memory
    return True


def uninstall():
    """Restore Amaranth's own ``emit_memory`` (for the tests that compare the two)."""
    _rtlil.ModuleEmitter.emit_memory = _original_emit_memory
