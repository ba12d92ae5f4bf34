"""popcorn.hdl.meminit: the same memory contents, the same RTLIL and the same Verilog as
Amaranth's own paths."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from amaranth.back import rtlil, verilog
from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from popcorn.examples import load_example
from popcorn.golden.binary import pack_words
from popcorn.hdl import meminit
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.sim.verilog import write_verilog


def _both(shape, depth, words):
    """(contents by meminit.fill, contents by init=, warnings of each)."""
    with warnings.catch_warnings(record=True) as fast_warn:
        warnings.simplefilter("always")
        fast = memory.Memory(shape=shape, depth=depth, init=[])
        meminit.fill(fast, words)
    with warnings.catch_warnings(record=True) as slow_warn:
        warnings.simplefilter("always")
        slow = memory.Memory(shape=shape, depth=depth, init=words)
    return fast, slow, fast_warn, slow_warn


@pytest.mark.parametrize("shape, depth, words", [
    (8, 6, [0, 1, 255, 17, 128, 3]),             # full
    (8, 6, [5, 6]),                              # short: the rest 0
    (8, 4, []),
    (1, 3, [1, 0, 1]),
    (100, 3, [(1 << 100) - 1, 1 << 99, 12345]),  # wider than a machine word
    (8, 3, [True, 7, 0]),
    (unsigned(8), 2, [7, 200]),                        # a bool: through Memory.init
    (8, 3, [256, 1, 2]),                         # too wide: Amaranth truncates, warns
    (8, 3, [-1, -2, 3]),                         # negative
    (signed(8), 3, [-1, 5, -128]),               # signed shape
    (range(10), 3, [0, 9, 5]),
    (data.StructLayout({"a": 4, "b": 4}), 2, [{"a": 1, "b": 2}, {"a": 15, "b": 0}]),
])
def test_fill_is_init(shape, depth, words):
    fast, slow, fast_warn, slow_warn = _both(shape, depth, words)
    assert list(fast.init) == list(slow.init)
    assert list(fast.data.init._raw) == list(slow.data.init._raw)
    assert _own(fast_warn) == _own(slow_warn)


def _own(caught):
    """The warnings' messages, without the "created but never used" ones that garbage
    collection of other tests' objects may emit at any time."""
    return [str(w.message) for w in caught if "created but never used" not in str(w.message)]


def test_fill_refuses_what_init_refuses():
    mem = memory.Memory(shape=8, depth=2, init=[])
    with pytest.raises(ValueError):
        meminit.fill(mem, [1, 2, 3])
    with pytest.raises(TypeError):
        meminit.fill(memory.Memory(shape=8, depth=2, init=[]), ["x"])
    with pytest.raises(Exception, match="not within the memory shape"):
        meminit.fill(memory.Memory(shape=range(10), depth=2, init=[]), [12, 0])


def _design():
    m = Module()
    rng = np.random.default_rng(5)
    mems = [
        memory.Memory(shape=37, depth=50, init=pack_words(rng.integers(0, 2, (50, 37)))),
        memory.Memory(shape=signed(6), depth=5, init=[-1, -32, 31, 0, 7]),
        memory.Memory(shape=1, depth=1, init=[1]),
        memory.Memory(shape=200, depth=3, init=[(1 << 200) - 1, 0, 1 << 150]),
        memory.Memory(shape=8, depth=4, init=[]),
        memory.Memory(shape=2, depth=9, init=[3, 0, 1, 2, 3, 3, 0, 1]),  # deeper than 2 ** 2
    ]
    ports = []
    for n, mem in enumerate(mems):
        m.submodules[f"mem{n}"] = mem
        port = mem.read_port()
        out = Signal(len(port.data), name=f"o{n}")
        addr = Signal(len(port.addr), name=f"a{n}")
        m.d.comb += [out.eq(port.data), port.addr.eq(addr)]
        ports += [out, addr]
    return m, ports


def test_emit_memory_is_amaranths():
    m, ports = _design()
    assert meminit.install()
    try:
        fast = rtlil.convert(m, ports=ports)
        meminit.uninstall()
        m, ports = _design()
        slow = rtlil.convert(m, ports=ports)
    finally:
        meminit.install()
    assert fast.count("$meminit_v2") == 6
    assert fast == slow


class _Roms(wiring.Component):
    """Read ports of memories (name, shape, depth, contents), the same names again in a
    submodule."""

    MEMORIES = [("reg", 32, 3, [0, 2 ** 32 - 1, 2 ** 31]),     # a keyword, in decimal
                ("a.b", 1, 2, [1, 0]), ("x%d", 5, 4, [31, 0, 7]),   # escaped names
                ("rom", 200, 3, [(1 << 200) - 1, 3]), ("empty", 4, 0, []),
                ("signed", signed(6), 5, [-1, -32, 31, 0, 7])]

    def __init__(self, nested=True):
        self.nested = nested
        super().__init__({"addr": In(8), "o": Out(1 + 32 + 1 + 5 + 200 + 4 + 6)})

    def elaborate(self, platform):
        m = Module()
        words = []
        for name, shape, depth, init in self.MEMORIES:
            m.submodules[name] = mem = memory.Memory(shape=shape, depth=depth, init=init)
            port = mem.read_port()
            m.d.comb += port.addr.eq(self.addr)
            words.append(port.data)
        if self.nested:
            m.submodules.inner = inner = _Roms(nested=False)
            m.d.comb += [inner.addr.eq(self.addr + 1), self.o[0].eq(inner.o.xor())]
        m.d.comb += self.o[1:].eq(Cat(*words))
        return m


@pytest.mark.parametrize("component", [
    _Roms, lambda: DataflowAccelerator(map_network(load_example("digits-bnn")[0],
                                                   target_cycles=256))])
def test_write_verilog_is_amaranths(component, tmp_path):
    """The Verilog of the simulate step, its memories' contents written by
    meminit.initialize, is Amaranth's (Yosys's), line for line: the same lines, every one
    character for character, in the same order but for independent statements (Yosys,
    given the memories without their contents, writes some always blocks of the digits
    demo's engines in another order)."""
    fast = write_verilog(component(), tmp_path / "top.v").read_text()
    reference = verilog.convert(component(), name="top")
    assert sorted(fast.splitlines()) == sorted(reference.splitlines())
    declared = [line for line in fast.splitlines() if line.startswith(("  wire", "  reg"))]
    assert declared == [line for line in reference.splitlines()
                        if line.startswith(("  wire", "  reg"))]
    assert "initial begin" in fast


def test_initialize_refuses_a_memory_not_declared():
    with meminit.deferred() as contents:
        text = verilog._convert_rtlil_text(rtlil.convert(_Roms()))
    contents["top.inner"]["gone"] = (4, [1, 2])
    with pytest.raises(ValueError, match="1 memories"):
        meminit.initialize(text, contents)


def test_deferred_in_its_thread_only():
    """A conversion in another thread keeps its contents (the empty memories' always)."""
    with meminit.deferred() as contents, ThreadPoolExecutor(1) as pool:
        other = pool.submit(rtlil.convert, _Roms()).result()
        assert contents == {}
        mine = rtlil.convert(_Roms())
    assert other.count("$meminit_v2") == 12 and mine.count("$meminit_v2") == 2
    assert sorted(contents) == ["top", "top.inner"]
