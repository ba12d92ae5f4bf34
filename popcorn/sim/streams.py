"""cocotb stream sources and sinks for ``amaranth.lib.stream`` ports, with random stalls.

Everything runs in one cycle loop (:func:`run_cycles`) so that handshakes are sampled
race-free: inputs are driven right after the rising edge, and ``valid & ready`` is
sampled in the read-only phase before the next edge, which is the edge that transfers.
"""

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


class StreamSource:
    """Drives ``<prefix>__valid`` / ``<prefix>__payload`` with ``words`` in order.

    ``idle`` is the probability of holding ``valid`` low in a cycle before a word is
    offered (once offered, a word is held until it is taken, as the stream rules demand).
    ``fired`` lists the cycle of each transfer.
    """

    def __init__(self, dut, prefix, words, *, idle=0.0, rng=None):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.words = list(words)
        self.idle = idle
        self.rng = rng or random.Random(0)
        self.sent = 0
        self.fired = []
        self._offering = False

    @property
    def done(self):
        return self.sent == len(self.words)

    def drive(self):
        if not self._offering and not self.done and self.rng.random() >= self.idle:
            self._offering = True
            self.payload.value = self.words[self.sent]
        self.valid.value = int(self._offering)

    def sample(self, cycle):
        if self._offering and int(self.ready.value):
            self.fired.append(cycle)
            self.sent += 1
            self._offering = False


class StreamSink:
    """Collects ``<prefix>__payload`` words; ``stall`` is the probability of holding
    ``ready`` low in a cycle. ``fired`` lists the cycle of each transfer."""

    def __init__(self, dut, prefix, *, stall=0.0, rng=None):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.stall = stall
        self.rng = rng or random.Random(1)
        self.words = []
        self.fired = []

    def drive(self):
        self.ready.value = int(self.rng.random() >= self.stall)

    def sample(self, cycle):
        if int(self.valid.value) and int(self.ready.value):
            self.words.append(int(self.payload.value))
            self.fired.append(cycle)


async def start_clock_and_reset(dut, period_ns=10):
    """Start ``clk`` and hold ``rst`` for two cycles."""
    cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def run_cycles(dut, sources, sinks, *, until, max_cycles):
    """Drive and sample every stream once per cycle until ``until()`` is true.

    Returns the number of cycles run. Raises ``AssertionError`` after ``max_cycles``
    (a hung design).
    """
    cycle = 0
    while not until():
        assert cycle < max_cycles, f"no progress after {max_cycles} cycles"
        for s in (*sources, *sinks):
            s.drive()
        await ReadOnly()
        for s in (*sources, *sinks):
            s.sample(cycle)
        await RisingEdge(dut.clk)
        cycle += 1
    return cycle
