"""The UART host link's frames (:mod:`popcorn.boards.frames`) in RTL: every reply of a
clean run equals the golden model's; bit errors, dropped bytes, overlong frames, unknown
kinds, framing errors and noise each get their error code, and the link answers the next
frame."""

import numpy as np
import pytest

from popcorn.boards import frames
from popcorn.boards.host_link import UARTLink
from popcorn.golden.examples import random_network
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.sim.runner import run_testbench

DIVISOR, IDLE = 4, 200


def link_run(core, chunks, tmp_path, *, replies, gaps=None, bad_stop=(), cells=(),
             synthesized=False):
    """Send ``chunks`` (bytes) over the UART to ``UARTLink(core)`` (with ``synthesized``
    Yosys's gate-level netlist of it); the parsed replies ``[(status, tag, payload)]``
    (``replies`` bytes awaited; None: those that come within the wait) and the sticky error
    flag."""
    gaps = [3 * IDLE] * len(chunks) if gaps is None else gaps
    case = dict(chunks=np.array([c.hex() for c in chunks]), gaps=np.array(gaps),
                bad_stop=np.array(bad_stop, dtype=np.int64).reshape(-1, 2), divisor=DIVISOR,
                replies=-1 if replies is None else replies, wait=100_000)
    measured = run_testbench(UARTLink(core, divisor=DIVISOR, idle=IDLE),
                             test_module="popcorn.sim.testbenches.uart_link_tb",
                             build_dir=tmp_path, case=case, cells=cells,
                             synthesized=synthesized)
    data, parsed = bytes.fromhex(measured["received"]), []
    while data:
        status, tag, payload, data = frames.parse_reply(data)
        parsed.append((status, tag, payload))
    return parsed, measured["error"]


def results(plan, x):
    """The golden model's reply payloads of images ``x``."""
    scores, argmax = plan.reference(x)
    size = (plan.out_width + 7) // 8
    return [w.to_bytes(size, "little") for w in plan.pack_outputs(scores, argmax)]


def image_payloads(plan, x):
    size = (plan.in_width + 7) // 8
    words, per = plan.input_words(x), plan.in_words
    return [b"".join(w.to_bytes(size, "little") for w in words[i * per:(i + 1) * per])
            for i in range(len(x))]


@pytest.fixture(scope="module")
def abc_plan():
    """An ABC-Net accelerator whose results end in padding bits."""
    plan = map_network(random_network("abc", seed=4, layout="dense"), target_cycles=4)
    assert plan.out_width % 8
    return plan


def test_frames_round_trip(abc_plan, tmp_path):
    """30 image requests back to back: 30 replies in order, tags echoed, every result the
    golden model's."""
    x = np.random.default_rng(5).normal(0, 1, (30,) + abc_plan.network.input_shape)
    sent = b"".join(frames.request(frames.IMAGE, n, p)
                    for n, p in enumerate(image_payloads(abc_plan, x)))
    want = [frames.reply(frames.OK, n, r) for n, r in enumerate(results(abc_plan, x))]
    replies, error = link_run(DataflowAccelerator(abc_plan), [sent], tmp_path,
                              replies=len(b"".join(want)))
    assert replies == [(frames.OK, n, r) for n, r in enumerate(results(abc_plan, x))]
    assert error == 0


@pytest.mark.parametrize("synthesized", [False, True], ids=["rtl", "synthesized"])
def test_every_fault_gets_its_code_and_the_next_frame_passes(abc_plan, tmp_path, synthesized):
    """Each fault answered with its code, and the next frame with its result; in the RTL
    and in Yosys's gate-level netlist (whose frame states are one-hot, re-encoded without
    their initial values: the testbench resets first)."""
    x = np.random.default_rng(6).normal(0, 1, (10,) + abc_plan.network.input_shape)
    good = results(abc_plan, x)
    images = image_payloads(abc_plan, x)

    def req(n, kind=frames.IMAGE):
        return frames.request(kind, n, images[n])

    # a bit error; a truncated frame; an overlong one; an unknown kind; a framing error;
    # a sync byte alone (a header cut short); noise before a frame; weights to a core that
    # takes none
    flipped = bytearray(req(1))
    flipped[frames.HEADER + 2] ^= 0x10                     # a bit error in the payload
    overlong = frames.request(frames.IMAGE, 5, images[5] + b"\0")
    chunks = [req(0), bytes(flipped), req(2), req(3)[:-3], req(4), overlong,
              req(6, kind=0x09), req(7), b"\xa5\x09", b"\x00\x13\xff\x5a" + req(8),
              frames.request(frames.WEIGHTS, 10, bytes(8)), req(9)]
    bad_stop = [(7, frames.HEADER + 1)]                   # a framing error in frame 7
    want = [(frames.OK, 0, good[0]), (frames.BAD_CRC, 1, b""), (frames.OK, 2, good[2]),
            (frames.TRUNCATED, 3, b""), (frames.OK, 4, good[4]),
            (frames.BAD_LENGTH, 5, b""), (frames.BAD_KIND, 6, b""),
            (frames.LINE_ERROR, 7, b""), (frames.TRUNCATED, 0, b""),
            (frames.OK, 8, good[8]), (frames.BAD_KIND, 10, b""), (frames.OK, 9, good[9])]
    size = sum(len(frames.reply(s, t, p)) for s, t, p in want)
    replies, error = link_run(DataflowAccelerator(abc_plan), chunks, tmp_path, replies=size,
                              bad_stop=bad_stop, synthesized=synthesized)
    assert replies == want
    assert error == 1                                      # the LED: the framing error


def test_an_overrun_is_answered_and_the_link_recovers(tmp_path):
    """Frames sent back to back to an accelerator slower than the line: the receiver
    overruns; the frame that lost a byte is answered LINE_ERROR, the LED lights, every OK
    reply is the golden model's, and a frame sent after a pause passes."""
    from popcorn.golden.examples import sign_mlp

    plan = map_network(sign_mlp((64, 256, 10), seed=1), target_cycles=16384)
    assert plan.cycles_per_image > 3 * 10 * DIVISOR * (plan.in_words + 7)   # 3 frames' time
    x = np.random.default_rng(7).normal(size=(6, 64))
    good, images = results(plan, x), image_payloads(plan, x)
    burst = b"".join(frames.request(frames.IMAGE, n, images[n]) for n in range(5))
    chunks = [burst, frames.request(frames.IMAGE, 5, images[5])]
    replies, error = link_run(DataflowAccelerator(plan), chunks, tmp_path, replies=None,
                              gaps=[6 * plan.cycles_per_image, 3 * IDLE])
    assert error == 1
    assert frames.LINE_ERROR in [status for status, _, _ in replies]
    assert all(payload == good[tag] for status, tag, payload in replies if status == frames.OK)
    assert replies[-1] == (frames.OK, 5, good[5])


def test_a_folded_core_takes_its_weights_in_a_frame_once(tmp_path):
    """The weights request, then images: OK (empty), the golden model's results; weights
    sent again are refused (LOADED) and the next image still passes."""
    from popcorn.golden.examples import sign_mlp
    from popcorn.hdl.folded import FoldedAccelerator
    from popcorn.mapping.folded import map_folded

    plan = map_folded(sign_mlp((20, 16, 4), seed=5), pe=2, simd=16)
    x = np.random.default_rng(4).normal(size=(4, 20))
    good, images = results(plan, x), image_payloads(plan, x)
    weights = b"".join(w.to_bytes(8, "little") for w in plan.weight_image())
    chunks = [frames.request(frames.WEIGHTS, 0, weights),
              *(frames.request(frames.IMAGE, n + 1, images[n]) for n in range(3)),
              frames.request(frames.WEIGHTS, 4, weights),
              frames.request(frames.IMAGE, 5, images[3])]
    replies, error = link_run(FoldedAccelerator(plan), chunks, tmp_path, replies=None,
                              cells=("SB_SPRAM256KA",))
    assert replies == [(frames.OK, 0, b""), *((frames.OK, n + 1, good[n]) for n in range(3)),
                       (frames.LOADED, 4, b""), (frames.OK, 5, good[3])]
    assert error == 0


def test_reply_frames_are_checked_on_the_host():
    """CRC-16/CCITT-FALSE's check value; a reply cut short, with another sync byte or a
    flipped bit is refused, naming what is wrong; a frame longer than its length field is
    refused before it is sent."""
    assert frames.CRC.compute(b"123456789") == 0x29B1
    good = frames.reply(frames.OK, 9, b"\x01\x02")
    assert frames.parse_reply(good + b"\xff") == (frames.OK, 9, b"\x01\x02", b"\xff")
    damaged = bytearray(good)
    damaged[6] ^= 4
    for data, message in ((good[:-1], "the reply's length says 9 bytes, got 8"),
                          (b"\xa5" + good[1:], "a reply starts with 0x5a, not 0xa5"),
                          (bytes(damaged), "the reply's CRC does not match its bytes"),
                          (good[:4], "a reply frame has at least 7 bytes, got 4")):
        with pytest.raises(frames.FrameError, match=message):
            frames.parse_reply(data)
    with pytest.raises(ValueError, match="a frame carries at most 65535 bytes, not 65536"):
        frames.request(frames.IMAGE, 0, bytes(65536))


@pytest.mark.parametrize("nbytes", [300, 1])
def test_a_reply_longer_than_255_bytes_has_both_length_bytes(nbytes):
    """A 300-byte result (a 2 400-bit word): the reply's length field is 300, both of its
    bytes; and a 1-byte result (Amaranth's simulator, the transmitter alone)."""
    from amaranth.sim import Simulator

    from popcorn.boards.host_link import FrameTransmitter

    dut = FrameTransmitter(8 * nbytes)
    word = int.from_bytes((bytes(range(256)) + bytes(range(44)))[-nbytes:], "little")
    got = bytearray()

    async def bench(ctx):
        ctx.set(dut.verdict.payload, {"status": frames.OK, "result": 1, "tag": 7})
        ctx.set(dut.verdict.valid, 1)
        ctx.set(dut.result.payload, word)
        ctx.set(dut.result.valid, 1)
        ctx.set(dut.o.ready, 1)
        for _ in range(4 * 310):                 # a byte every 4 cycles at most
            await ctx.tick()
            if ctx.get(dut.verdict.ready):
                ctx.set(dut.verdict.valid, 0)
            if ctx.get(dut.result.ready):
                ctx.set(dut.result.valid, 0)
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    status, tag, payload, rest = frames.parse_reply(bytes(got))
    assert (status, tag, payload, rest) == (frames.OK, 7, word.to_bytes(nbytes, "little"),
                                            b"")
