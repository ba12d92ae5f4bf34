"""`popcorn run`, the host driver: the byte layout, a run against the simulated board top
through a pseudo-terminal, and the one-line refusals."""

import json
import os
import shutil
import threading
import tty
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator
from click.testing import CliRunner

from popcorn.boards import frames
from popcorn.boards.host import decode_replies, image_bytes, load_report, plan_of_build, \
    reply_size
from popcorn.boards.host_link import UARTLink
from popcorn.cli import main
from popcorn.examples import load_example
from popcorn.golden.examples import random_network
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.network import save_network

REPORT = Path(__file__).resolve().parents[2] / "reports/digits-bnn-icebreaker"
DIVISOR = 4                                  # the fastest UART popcorn.hdl.uart allows
IDLE = 400                                   # cycles: well within the host's quiet pause


def pty():
    """(master, slave, the slave's path) of a new pseudo-terminal in raw mode."""
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class SimulatedBoard:
    """The board top's UART link around the accelerator of ``plan``, in Amaranth's
    simulator on a thread, its ``rx``/``tx`` bridged to a pseudo-terminal as 8N1 frames
    of ``DIVISOR`` cycles per bit: ``path`` is the port. The requests (image frames)
    and replies whose index, counted from the start, is in ``corrupt_requests`` or
    ``corrupt_replies`` get a bit of their payload flipped on the way."""

    def __init__(self, plan):
        self.master, self.slave, self.path = pty()
        os.set_blocking(self.master, False)
        self.corrupt_requests, self.corrupt_replies, self.link_error = set(), set(), None
        self._stop = threading.Event()
        self._request = frames.HEADER + len(image_bytes(plan, np.zeros((1,) + plan.network.input_shape))[0]) + 2
        self._reply = frames.HEADER + reply_size(plan) + 2
        self._dut = UARTLink(DataflowAccelerator(plan), divisor=DIVISOR, idle=IDLE)
        self._sim = Simulator(self._dut)
        self._sim.add_clock(1e-6)
        self._sim.add_testbench(self._host_to_board)
        self._sim.add_testbench(self._board_to_host, background=True)
        self._thread = threading.Thread(target=self._sim.run)

    async def _host_to_board(self, ctx):
        """Bytes from the pty to ``rx`` (start bit, LSB first, stop bit) until stopped."""
        ctx.set(self._dut.rx, 1)
        count = 0
        while not self._stop.is_set():
            try:
                data = os.read(self.master, 256)
            except BlockingIOError:
                await ctx.tick().repeat(10 * DIVISOR)        # idle for one frame
                continue
            for byte in data:
                if count % self._request == frames.HEADER + 1 and \
                        count // self._request in self.corrupt_requests:
                    byte ^= 1
                count += 1
                for level in (0, *((byte >> b) & 1 for b in range(8)), 1):
                    ctx.set(self._dut.rx, level)
                    await ctx.tick().repeat(DIVISOR)
        self.link_error = ctx.get(self._dut.error)

    async def _board_to_host(self, ctx):
        """Frames on ``tx`` to bytes on the pty, each bit sampled at its middle."""
        count = 0
        while True:
            await ctx.negedge(self._dut.tx)
            await ctx.tick().repeat(DIVISOR // 2)
            byte = 0
            for b in range(8):
                await ctx.tick().repeat(DIVISOR)
                byte |= ctx.get(self._dut.tx) << b
            await ctx.tick().repeat(DIVISOR)
            assert ctx.get(self._dut.tx) == 1, "stop bit is 0"
            if count % self._reply == frames.HEADER + 1 and \
                    count // self._reply in self.corrupt_replies:
                byte ^= 1
            os.write(self.master, bytes([byte]))
            count += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture(scope="module")
def digits_plan():
    """The built-in digits example as its shipped build (the report) mapped it."""
    report, _ = load_report(REPORT)
    return plan_of_build(load_example("digits-bnn")[0], report)


def run(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)])


def test_byte_layout_of_images_and_replies():
    """8-bit pixels go as the bytes themselves; a reply is the scores' two's complement
    fields, class 0 lowest, the class above them, little-endian."""
    plan = map_network(random_network("bnn", seed=0, layout="dense"), target_cycles=8)
    codes = np.random.default_rng(0).integers(0, 256, size=(3, 12))
    assert image_bytes(plan, codes) == [bytes(row.tolist()) for row in codes]
    scores, classes = np.array([[-1, 2, -3, 4], [5, 0, -6, 1]]), np.array([3, 0])
    w, mask = plan.score_width, (1 << plan.score_width) - 1
    words = [sum((int(s) & mask) << (c * w) for c, s in enumerate(row)) | int(k) << (4 * w)
             for row, k in zip(scores, classes)]
    data = b"".join(word.to_bytes(reply_size(plan), "little") for word in words)
    assert reply_size(plan) == (plan.out_width + 7) // 8
    got_scores, got_classes = decode_replies(plan, data)
    np.testing.assert_array_equal(got_scores, scores)
    np.testing.assert_array_equal(got_classes, classes)


def test_run_against_the_simulated_board(digits_plan, tmp_path, monkeypatch):
    """The digits example's accelerator behind the UART link, in simulation, through a
    pseudo-terminal: every answer equals the golden model; a request and a reply
    corrupted on the way (a bit error each) are sent again, and the run still ends with
    every image equal to the golden model's."""
    import popcorn.boards.host

    # the simulated board runs its IDLE cycles in far more wall time than a board would
    monkeypatch.setattr(popcorn.boards.host, "QUIET_SECONDS", 1.0)
    x, y = load_example("digits-bnn")[1:3]
    np.savez(tmp_path / "images.npz", x=x[:3], y=y[:3])
    with SimulatedBoard(digits_plan) as board:
        clean = run("--port", board.path, "--report", REPORT, "--timeout", 60,
                    tmp_path / "images.npz")
        board.corrupt_requests, board.corrupt_replies = {4}, {3}  # the second run's 2nd, 1st
        noisy = run("--port", board.path, "--report", REPORT, "--timeout", 60,
                    tmp_path / "images.npz")
    assert board.link_error == 0
    assert clean.exit_code == 0, clean.output
    assert "3 images in " in clean.output and " images/s" in clean.output
    assert "sent again" not in clean.output
    assert "every class and score equals the integer golden model's (8 fractional bits)" \
        in clean.output
    assert f"board accuracy {np.mean(digits_plan.reference(x[:3])[1] == y[:3]):.4f}" \
        in clean.output
    assert noisy.exit_code == 0, noisy.output
    assert "requests sent again after link errors" in noisy.output
    assert "every class and score equals the integer golden model's" in noisy.output


def test_a_silent_port_and_a_short_reply_end_in_one_line(tmp_path):
    np.save(tmp_path / "x.npy", load_example("digits-bnn")[1][:2])
    master, slave, port = pty()
    silent = run("--port", port, "--report", REPORT, "--timeout", 0.2, tmp_path / "x.npy")
    os.close(master)
    os.close(slave)
    assert silent.exit_code == 1
    assert f"Error: {port}: no reply to image 0 within 0.2 s; check the port, the baud " \
           f"rate (115200)" in silent.output

    master, slave, port = pty()

    def short_board():
        received = b""
        while len(received) < 64 + 7:           # one image: 64 pixels of one byte, framed
            received += os.read(master, 128)
        os.write(master, bytes(5))

    board = threading.Thread(target=short_board)
    board.start()
    short = run("--port", port, "--report", REPORT, "--timeout", 0.5, tmp_path / "x.npy")
    board.join()
    os.close(master)
    os.close(slave)
    assert short.exit_code == 1
    # the bytes are no frame: the image is sent again, and nothing answers it
    assert f"Error: {port}: no reply to image 0 within 0.5 s; check the port" in short.output


def test_refusals_name_what_to_change(tmp_path):
    np.save(tmp_path / "x.npy", load_example("digits-bnn")[1][:2])
    save_network(random_network("bnn", seed=0, layout="dense"), tmp_path / "dense.npz")
    edited = json.loads((REPORT / "report.json").read_text())
    edited["layers"][1]["out"] = "1 x 31"
    (tmp_path / "edited").mkdir()
    (tmp_path / "edited/report.json").write_text(json.dumps(edited))
    mine = dict(edited, design="mynet-icebreaker")
    (tmp_path / "mine.json").write_text(json.dumps(mine))
    shutil.copy(REPORT / "report.md", tmp_path / "report.json")     # not JSON
    x, none = tmp_path / "x.npy", tmp_path / "none"
    cases = [
        (["--network", tmp_path / "dense.npz", "--report", REPORT],
         f"{tmp_path / 'dense.npz'} is not the network of {REPORT / 'report.json'}: the "
         f"network's input shape is (12,), the build's (1, 8, 8); pass --network with the "
         f"file the build was made from"),
        (["--report", tmp_path / "edited"],
         f"example digits-bnn is not the network of {tmp_path / 'edited/report.json'}: layer "
         f"4 (dense): out is 1 x 32 in the network, 1 x 31 in the build"),
        (["--report", tmp_path / "mine.json"],
         f"{tmp_path / 'mine.json'} is the build of a network file (design "
         f"'mynet-icebreaker'): pass that file with --network"),
        (["--report", tmp_path / "report.json"],
         f"{tmp_path / 'report.json'}: not the report.json of a `popcorn build`"),
        (["--report", REPORT, "--port", none],
         f"cannot open {none} ("),
    ]
    for args, message in cases:
        args = ["--port", tmp_path / "port", *args] if "--port" not in args else args
        result = run(*args, x)
        assert result.exit_code == 1 and result.exception.__class__ is SystemExit, args
        assert message in result.output and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_folded_build_is_mapped_as_it_was_built():
    """A report of `--arch folded` gives the folded plan (same link words), and a network
    that is not the build's is refused."""
    from popcorn.boards.host import BuildMismatch, plan_of_build
    from popcorn.golden.examples import sign_mlp
    from popcorn.mapping.folded import FoldedPlan, map_folded

    net = sign_mlp((40, 16, 4), seed=1)
    built = map_folded(net, pe=2, simd=16)
    report = {"network": {"input_shape": [40], "classes": 4, "input_quantizer": "sign",
                          "frac_bits": 8}, "layers": built.summary()}
    plan = plan_of_build(net, report)
    assert isinstance(plan, FoldedPlan) and (plan.pe, plan.simd) == (2, 16)
    assert plan.summary() == built.summary()
    with pytest.raises(BuildMismatch, match="layer"):
        plan_of_build(sign_mlp((40, 12, 4), seed=1), report)
    cnn = random_network("abc", layout="conv", seed=2)
    built = map_folded(cnn, pe=4, simd=16)
    report = {"network": {"input_shape": [1, 8, 8], "classes": 5,
                          "input_quantizer": "fixedpoint", "frac_bits": 8},
              "layers": built.summary()}
    plan = plan_of_build(cnn, report)
    assert isinstance(plan, FoldedPlan) and (plan.pe, plan.simd) == (4, 16)


def test_a_residual_build_with_a_downsampling_shortcut_is_mapped_as_it_was_built():
    """The report lists the shortcut's engine before the block's main branch (the plan's
    stage order), which is not the order map_network's folding list takes: the engines are
    matched by layer name (digits-resnet-abc's report was refused: 'simd = 18 does not
    divide the 8 inputs')."""
    from popcorn.golden.examples import random_residual_network
    from popcorn.mapping.network_map import map_network

    graph = random_residual_network("abc", seed=4, layout="conv", blocks=2, downsample=True)
    built = map_network(graph, target_cycles=40)
    report = {"network": {"input_shape": list(graph.input_shape), "classes": graph.classes,
                          "input_quantizer": graph.input_quantizer.quantizer,
                          "frac_bits": 8}, "layers": built.summary()}
    assert any(s.kind == "shortcut" and s.side is not None for s in built.stages)
    plan = plan_of_build(graph, report)
    assert [(f.linear.layer, f.pe, f.simd) for f in plan.foldings] == \
        [(f.linear.layer, f.pe, f.simd) for f in built.foldings]
    with pytest.raises(ValueError, match="folding names layers \\['nope'\\], the network"):
        map_network(graph, folding={"nope": (1, 1)})


def test_a_flash_error_reply_names_the_weight_image():
    """A folded build that could not read its weights answers every image with `no
    weights`; the host stops at the first, naming the image and how to write them."""
    import serial

    from popcorn.boards.host import LinkError, run_board
    from popcorn.golden.examples import sign_mlp
    from popcorn.mapping.folded import map_folded

    plan = map_folded(sign_mlp((16, 8, 4), seed=1), pe=2, simd=8)
    master, slave, path = pty()

    def broken_board():
        received = b""
        while len(received) < 16 + 7:           # one image: 16 one-byte words, framed
            received += os.read(master, 64)
        os.write(master, frames.reply(frames.NO_WEIGHTS, 0))

    board = threading.Thread(target=broken_board)
    board.start()
    with serial.Serial(path, timeout=2) as port, \
            pytest.raises(LinkError, match=r"answered image 0 with `no weights`: it "
                                           r"could not read its weights \(LED 0 lit.*"
                                           r"iceprog -o 1024k weights.bin"):
        run_board(port, plan, np.ones((2, 16)), window=1)
    board.join()
    os.close(master)
    os.close(slave)
