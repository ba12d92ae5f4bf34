"""Formal proofs of the stream rules (SymbiYosys, :mod:`popcorn.sim.formal`) of every
streaming block, and of a whole small accelerator's output sequence.

The environment obeys the rules it is checked against (``amaranth.lib.stream``): every
``In`` stream's source holds ``valid`` and its payload until the transfer, with free
payloads, free ``valid`` and free ``ready`` on every ``Out`` stream; other inputs free;
reset low. Proved:

* **held until taken** (k-induction, unbounded in time; the shortcut forks and the
  concats, whose FIFOs defeat induction, every trace of 16 cycles from reset): an ``Out``
  stream that offers a word and is not taken offers the same word in the next cycle;
* **the sequence**, unbounded (PDR, Berkeley ABC), for every stall pattern and every input
  sequence: a whole one-layer accelerator's results are the golden model's for its images,
  in order, none lost or duplicated (a result with no image waiting for it, or more images
  waiting than the accelerator holds, fails), behind ``-m slow`` (about 90 s); the default
  run checks the same property on every trace of 16 cycles from reset (long enough for
  the accelerator to fill: a bound of one image fewer fails at cycle 7); for a two-layer
  accelerator a bounded model check from reset, every trace of 40 cycles, behind
  ``-m slow`` (PDR had not converged on it after 11 minutes).

Each proof has a broken variant that SymbiYosys must refute: a block that loads a new word
while its old one waits, the accelerator of another network, and a bound on the images in
flight one lower than the accelerator reaches.
"""

import itertools

import numpy as np
import pytest
from amaranth.asserts import AnySeq
from amaranth.hdl import (Array, Assert, Assume, Cat, Const, Elaboratable, Module, Mux,
                          ResetSignal, Signal, Value)
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from popcorn.boards.host_link import FrameReceiver, FrameTransmitter
from popcorn.golden.examples import random_concat_network, random_residual_network, sign_mlp
from popcorn.hdl.accelerator import DataflowAccelerator, stage_blocks
from popcorn.hdl.argmax import Argmax, SerialArgmax
from popcorn.hdl.concat import Concat
from popcorn.hdl.flatten import Flatten
from popcorn.hdl.handshake import HoldRegister, RegisterSlice
from popcorn.hdl.input_layer import BitPlanes
from popcorn.hdl.mva import MatrixVectorActivation
from popcorn.hdl.pool import MaxPool
from popcorn.hdl.queue import Queue
from popcorn.hdl.shortcut import Shortcut
from popcorn.hdl.uart import UARTReceiver
from popcorn.hdl.window import SlidingWindow
from popcorn.hdl.width import BytesToWord
from popcorn.mapping.network_map import map_network
from popcorn.sim.formal import FormalFailed, prove

HOLD_DEPTH = 4
SEQUENCE_SIZES = (4, 2)
"""The accelerator whose sequence is proved unbounded: 4 inputs, one Dense layer of 2
classes, the argmax."""
CAPACITY = 14
"""The most images :data:`SEQUENCE_SIZES`' one-layer accelerator holds, taken and not yet
answered: a bound in every 16-cycle trace from reset (the bounded sequence check; the
unbounded PDR proof has not been re-run to the end since the input slice), and reached (the
bounded check refutes a bound of one fewer). 8 before the argmax registered its compares apart, a stage more; 9
before the product stages added pairs, two stages more for its 3 gated multiples; 11
before the input register slice (two words)."""


def tiny_plan(target_cycles=1, sizes=(4, 3, 2), seed=1):
    """A 4-input BNN: 16 possible images, so that the golden model's every answer fits a
    table in the proof."""
    return map_network(sign_mlp(sizes, seed=seed), target_cycles=target_cycles)


def held_source(m, port, name):
    """Drive ``In`` stream ``port`` from free inputs that hold ``valid`` and the payload
    until the transfer."""
    width = len(Value.cast(port.payload))
    valid, payload = Signal(name=f"{name}_valid"), Signal(width, name=f"{name}_payload")
    m.d.comb += [valid.eq(AnySeq(1)), payload.eq(AnySeq(width)),
                 port.valid.eq(valid), port.payload.eq(payload)]
    was_offered = Signal(name=f"{name}_waiting")
    last = Signal(width, name=f"{name}_last")
    m.d.sync += [was_offered.eq(valid & ~port.ready), last.eq(payload)]
    with m.If(was_offered):
        m.d.comb += Assume(valid & (payload == last))


def held_sink(m, port, name):
    """Free ``ready`` on ``Out`` stream ``port``; assert its word is held until taken."""
    m.d.comb += port.ready.eq(AnySeq(1))
    width = len(Value.cast(port.payload))
    waiting, last = Signal(name=f"{name}_waiting"), Signal(width, name=f"{name}_last")
    m.d.sync += [waiting.eq(port.valid & ~port.ready), last.eq(port.payload)]
    held = port.valid & (Value.cast(port.payload) == last)
    with m.If(waiting):
        m.d.comb += Assert(held)


class StreamRules(Elaboratable):
    """The stream rules of ``dut``: every ``Out`` stream's word held until taken, against
    held ``In`` streams (:func:`held_source`) and free other inputs."""

    def __init__(self, dut, lemma=None):
        self.dut, self.lemma = dut, lemma

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        m.d.comb += Assume(~ResetSignal())
        if self.lemma is not None:          # asserted too: k-induction then assumes it
            m.d.comb += Assert(self.lemma(dut))
        for name, member in dut.signature.members.items():
            port = getattr(dut, name)
            if member.is_port:
                if member.flow == wiring.In:
                    m.d.comb += port.eq(AnySeq(len(Value.cast(port))))
            elif isinstance(member.signature, stream.Signature):
                if member.flow == wiring.In:
                    held_source(m, port, name)
                else:
                    held_sink(m, port, name)
        return m


def blocks():
    """One of each streaming block (the proved popcount tree, comparator and PE aside),
    and a whole accelerator."""
    plan = tiny_plan(target_cycles=4)
    residual = map_network(random_residual_network("bnn", layout="dense", blocks=2,
                                                   downsample=True),
                           target_cycles=16)
    forks = [stage for stage in residual.stages if stage.kind == "shortcut"]
    closing = [f for f in residual.foldings if f.side_bits]
    concat = [stage for stage in map_network(random_concat_network(
        "bnn", layout="dense", branches=2, identity=True), target_cycles=16).stages
        if stage.kind == "concat"]
    return {
        "shortcut": Shortcut(width=3, depth=3),
        "shortcut_with_engine": Shortcut(width=forks[1].in_width, depth=forks[1].depth,
                                         side=stage_blocks(forks[1].side)),
        "mva_shortcut_tables": MatrixVectorActivation(closing[0]),
        "concat": Concat(width=3, branches=[[], []], depths=(2, 3)),
        "concat_with_engines": stage_blocks(concat[0])[0][1],
        "mva_addend": MatrixVectorActivation(closing[1]),
        "accelerator": DataflowAccelerator(plan),
        "bit_planes": BitPlanes(channels=2, bits=3),
        "mva": MatrixVectorActivation(plan.stages[0].folding),
        "uart_receiver": UARTReceiver(divisor=4),
        "bytes_to_word": BytesToWord(20),
        "queue": Queue(width=5, depth=3),
        "register_slice": RegisterSlice(5),
        "hold_register": HoldRegister(5),
        "argmax": Argmax(classes=3, width=4),
        "argmax_pipelined": Argmax(classes=3, width=4, pipelined=True),
        "argmax_serial": SerialArgmax(classes=3, width=4),
        "maxpool": MaxPool(height=4, width=4, channels=2, kernel=2),
        "window": SlidingWindow(height=4, width=4, channels=2, kernel=3, padding=1),
        "flatten": Flatten(height=2, width=2, channels=2),
        "frame_receiver": FrameReceiver(image_bytes=3, weight_bytes=2, idle=3),
        "frame_transmitter": FrameTransmitter(12),
    }


FROM_RESET = {"shortcut": 16, "shortcut_with_engine": 16, "concat": 16,
              "concat_with_engines": 16}
"""Blocks whose hold proof is a bounded check from reset (every trace of that many
cycles): the FIFO inside a shortcut fork (and a concat's) has unreachable states (a
level above its depth) in which its ``ready`` falls with no write, which defeat
k-induction at any depth (tried up to 10); from reset they cannot occur."""


LEMMAS = {"window": lambda window: window.data_valid == window.o.valid}
"""Invariants proved with a block's rule, without which k-induction starts from
unreachable states: the window's copy of ``o.valid`` equals it."""


@pytest.mark.parametrize("name", sorted(blocks()))
def test_every_block_holds_its_words(name, tmp_path):
    rules = StreamRules(blocks()[name], LEMMAS.get(name))
    if name in FROM_RESET:
        prove(rules, mode="bmc", depth=FROM_RESET[name], build_dir=tmp_path)
    else:
        prove(rules, depth=HOLD_DEPTH, build_dir=tmp_path)


class Forgetful(wiring.Component):
    """A register stage that loads a new word whenever one is offered, taken or not: it
    breaks the rule the proofs check."""

    def __init__(self):
        super().__init__({"i": In(stream.Signature(5)), "o": Out(stream.Signature(5))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(1)
        with m.If(self.i.valid | self.o.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


def test_a_block_that_drops_its_word_is_refuted(tmp_path):
    with pytest.raises(FormalFailed) as failure:
        prove(StreamRules(Forgetful()), depth=HOLD_DEPTH, build_dir=tmp_path, mode="bmc")
    assert failure.value.status == "FAIL" and failure.value.trace.is_file()


# -- a whole accelerator's output sequence -----------------------------------------------

class SequenceProof(Elaboratable):
    """The accelerator of ``plan`` (or ``hardware``'s, against ``plan``'s golden model)
    under free stalls: each result equals the golden model's for the image it answers; no
    result comes without an image waiting for it; at most ``in_flight`` images wait (more:
    one was lost).

    The harness watches one image, chosen freely among those taken, with the count of
    results owed before it, and checks the result that answers it (data independence:
    every image can be the watched one, so every result is checked; a few bits of state
    instead of a queue of images, which is what lets PDR find the invariant)."""

    def __init__(self, plan, *, hardware=None, in_flight):
        self.plan, self.hardware, self.in_flight = plan, hardware or plan, in_flight

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        m.submodules.dut = dut = DataflowAccelerator(self.hardware)
        m.d.comb += Assume(~ResetSignal())
        held_source(m, dut.i, "i")
        m.d.comb += dut.o.ready.eq(AnySeq(1))
        k, width = plan.in_words, plan.in_width
        elements = int(np.prod(plan.network.input_shape))
        x = np.array(list(itertools.product([-1.0, 1.0], repeat=elements)))[:, ::-1]
        table = plan.pack_outputs(*plan.reference(x))   # image bits (word 0 lowest) -> word
        assert [sum(b << n for n, b in enumerate(plan.input_words(x[i:i + 1])))
                for i in range(len(x))] == list(range(len(x)))
        golden = Array(Const(w, plan.out_width) for w in table)

        bits, count = Signal(k * width), Signal(range(k))     # the image being taken
        take_in = dut.i.valid & dut.i.ready
        take_out = dut.o.valid & dut.o.ready
        image = Signal(k * width)
        m.d.comb += image.eq(Cat(bits[width:], dut.i.payload))
        done = take_in & (count == k - 1)
        with m.If(take_in):
            m.d.sync += [bits.eq(image), count.eq(Mux(count == k - 1, 0, count + 1))]
        waiting = Signal(range(self.in_flight + 2))           # images taken, not answered
        m.d.sync += waiting.eq(waiting + done - take_out)
        m.d.comb += Assert(waiting <= self.in_flight)
        with m.If(take_out):
            m.d.comb += Assert(waiting > 0)

        watching, watched = Signal(), Signal(k * width)
        ahead = Signal(range(self.in_flight + 1))             # results owed before it
        with m.If(watching & take_out):
            with m.If(ahead == 0):
                m.d.comb += Assert(dut.o.payload == golden[watched])
                m.d.sync += watching.eq(0)
            with m.Else():
                m.d.sync += ahead.eq(ahead - 1)
        with m.If(done & ~watching & AnySeq(1)):
            m.d.sync += [watching.eq(1), watched.eq(image), ahead.eq(waiting - take_out)]
        return m


@pytest.mark.slow
def test_accelerator_sequence_equals_the_golden_model(tmp_path):
    """Unbounded in time: every trace of the one-layer accelerator, by PDR (about 90 s
    before the accelerator's input register slice; since, it had not finished after 20 min
    on this machine: the bounded check below is the default run's)."""
    prove(SequenceProof(tiny_plan(sizes=SEQUENCE_SIZES), in_flight=CAPACITY), engine="pdr",
          build_dir=tmp_path)


def test_accelerator_sequence_bounded(tmp_path):
    """The default run's form of the proof above: every trace of 16 cycles from reset of
    the one-layer accelerator (a few seconds; 20 cycles take about 90 s)."""
    prove(SequenceProof(tiny_plan(sizes=SEQUENCE_SIZES), in_flight=CAPACITY), depth=16,
          build_dir=tmp_path, mode="bmc")


@pytest.mark.parametrize("broken", ["another network", "capacity too small"])
def test_bounded_sequence_check_refutes_a_broken_variant(broken, tmp_path):
    """The 16-cycle check fails on the accelerator of other weights, and on a bound of one
    image fewer than the accelerator holds (its traces are long enough to fill it)."""
    plan = tiny_plan(sizes=SEQUENCE_SIZES)
    proof = SequenceProof(plan, hardware=tiny_plan(sizes=SEQUENCE_SIZES, seed=2),
                          in_flight=CAPACITY) if broken == "another network" else \
        SequenceProof(plan, in_flight=CAPACITY - 1)
    with pytest.raises(FormalFailed, match=r"formal FAIL") as failure:
        prove(proof, depth=16, build_dir=tmp_path, mode="bmc")
    assert failure.value.status == "FAIL"


@pytest.mark.slow
def test_two_layer_accelerator_sequence_bounded(tmp_path):
    """Every trace of 40 cycles from reset of a two-layer one (one element a transfer, an
    image every 4 cycles, the first result after 17: up to six results)."""
    plan = tiny_plan(target_cycles=4)
    prove(SequenceProof(plan, in_flight=40 // plan.cycles_per_image + 1), depth=40,
          build_dir=tmp_path, mode="bmc")


@pytest.mark.parametrize("broken", ["another network",
                                    pytest.param("capacity too small", marks=pytest.mark.slow)])
def test_sequence_proof_refutes_a_broken_variant(broken, tmp_path):
    """The same shapes with other weights: some image's result differs. A bound of one
    image fewer than the accelerator holds: exceeded."""
    plan = tiny_plan(sizes=SEQUENCE_SIZES)
    proof = SequenceProof(plan, hardware=tiny_plan(sizes=SEQUENCE_SIZES, seed=2),
                          in_flight=CAPACITY) if broken == "another network" else \
        SequenceProof(plan, in_flight=CAPACITY - 1)
    with pytest.raises(FormalFailed, match=r"a property fails \d+ cycles from reset") as failure:
        prove(proof, engine="pdr", build_dir=tmp_path)
    assert failure.value.status == "FAIL"


def test_pdr_only_proves(tmp_path):
    with pytest.raises(ValueError, match=r"'pdr' only proves"):
        prove(StreamRules(Queue(width=5, depth=3)), engine="pdr", mode="bmc", depth=3,
              build_dir=tmp_path)
