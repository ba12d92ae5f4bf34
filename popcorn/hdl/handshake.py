"""Stream plumbing written once: :func:`fork` moves a word from one stream into several in
one transfer, :func:`join` one word of each of several streams into one (both
combinational: no register, no latency), :func:`chain` connects blocks one after another."""

from amaranth.hdl import Cat
from amaranth.lib import wiring

__all__ = ["fork", "join", "chain"]


def _all(signals):
    """The AND of ``signals``."""
    return Cat(*signals).all()


def fork(m, source, sinks):
    """Connect ``source`` (a stream whose ``valid`` and payload are read) to every stream of
    ``sinks`` (whose ``valid`` and payload are driven): a word moves when every sink is
    ready, into all of them in the same cycle. A sink's ``valid`` is the source's while the
    other sinks are ready, so it never depends on its own ``ready``."""
    readies = [sink.ready for sink in sinks]
    m.d.comb += source.ready.eq(_all(readies))
    for n, sink in enumerate(sinks):
        m.d.comb += [sink.payload.eq(source.payload),
                     sink.valid.eq(source.valid & _all(readies[:n] + readies[n + 1:]))]


def join(m, sources, sink):
    """Connect ``sources`` (streams whose ``valid`` and payloads are read) to ``sink``: it
    offers their payloads side by side (``sources[0]`` in the low bits) while every source
    offers a word, and its transfer takes one word of each. A source's ``ready`` is the
    sink's while the other sources are valid."""
    valids = [source.valid for source in sources]
    m.d.comb += [sink.valid.eq(_all(valids)),
                 sink.payload.eq(Cat(*(source.payload for source in sources)))]
    for n, source in enumerate(sources):
        m.d.comb += source.ready.eq(sink.ready & _all(valids[:n] + valids[n + 1:]))


def chain(m, blocks, prefix=""):
    """Add ``blocks`` (``[(name, component), ...]`` with ``i``/``o`` streams) as submodules
    ``prefix + name``, each ``o`` connected to the next ``i``."""
    for name, block in blocks:
        m.submodules[prefix + name] = block
    for (_, block), (_, after) in zip(blocks, blocks[1:]):
        wiring.connect(m, block.o, after.i)
