"""Stream plumbing written once: :func:`fork` moves a word from one stream into several in
one transfer, :func:`join` one word of each of several streams into one (both
combinational: no register, no latency), :func:`chain` connects blocks one after another,
:class:`RegisterSlice` registers a stream, :class:`HoldRegister` a slow one."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .estimates import check_family

__all__ = ["fork", "join", "chain", "RegisterSlice", "register_slice_resources",
           "HoldRegister"]


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


class RegisterSlice(wiring.Component):
    """A stream through registers both ways (a skid buffer): ``o.valid``, ``o.payload`` and
    ``i.ready`` are flip-flops, so no path runs between ``i``'s producer and ``o``'s
    consumer in either direction. A word is offered the cycle after its input handshake
    (latency 1); one word per cycle. ``i.ready`` falls the cycle after a word was taken
    while ``o`` stalled (that word waits in the skid register, and leaves first). Ports
    ``i``, ``o``: ``stream.Signature(shape)``."""

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def resources(self, family="ice40"):
        """:func:`register_slice_resources` of this slice's payload width."""
        return register_slice_resources(len(self.i.payload), family)

    def elaborate(self, platform):
        m = Module()
        skid = Signal.like(self.i.payload, name="skid")
        skid_empty = Signal(init=1)
        m.d.comb += self.i.ready.eq(skid_empty)
        # The skid register copies the input while it is empty (its word matters only once
        # `skid_empty` falls with it): its enable is one flip-flop, no path from `i.valid`
        # or `o.ready` into the enables of its bits.
        with m.If(skid_empty):
            m.d.sync += skid.eq(self.i.payload)
        with m.If(self.o.ready | ~self.o.valid):
            with m.If(~skid_empty):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_empty.eq(1)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & skid_empty):
            m.d.sync += skid_empty.eq(0)
        return m


def register_slice_resources(width, family="ice40"):
    """``{"lut4", "ff", "ebr", "dsp"}`` of a :class:`RegisterSlice` of ``width`` bits:
    ``width + 5`` LUT4 on the iCE40, ``width + 4`` on the ECP5 (the skid-or-input
    multiplexer per bit, the enables) and ``2 width + 2`` flip-flops (Yosys 0.70 alone,
    exact at 3, 4, 16, 24 and 40 bits)."""
    check_family(family)
    return {"lut4": width + (5 if family == "ice40" else 4), "ff": 2 * width + 2,
            "ebr": 0, "dsp": 0}


class HoldRegister(wiring.Component):
    """A stream through one register, a word at most every other cycle (for slow streams:
    a UART's bytes): ``o.valid`` and ``o.payload`` are flip-flops, ``i.ready`` is
    ``~o.valid``. ``o.ready`` reaches only ``o.valid``'s input (in a
    :class:`RegisterSlice` it also selects the skid register for the payload). A word is
    offered the cycle after its input handshake (latency 1). Ports ``i``, ``o``:
    ``stream.Signature(shape)``."""

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid)
        with m.If(self.i.valid & ~self.o.valid):
            m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
