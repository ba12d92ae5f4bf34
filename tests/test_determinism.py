"""Same input, same output: identical networks and options give byte-identical Verilog,
memory images and bitstreams, whatever Python's hash seed."""

import subprocess
import sys

import pytest

SCRIPT = """
import hashlib, sys
from popcorn.golden.examples import random_network
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.hdl.folded import FoldedAccelerator
from popcorn.mapping.folded import map_folded
from popcorn.mapping.network_map import map_network
from amaranth.back import verilog
net = random_network("abc", layout="conv", seed=4)
dataflow, folded = map_network(net, target_cycles=16), map_folded(net, pe=2, simd=16)
for text in (verilog.convert(DataflowAccelerator(dataflow), name="top"),
             verilog.convert(FoldedAccelerator(folded), name="top"),
             repr(folded.weight_image()), repr(folded.record_image()),
             repr(folded.coefficient_image()), folded.flash_image().hex()):
    print(hashlib.sha256(text.encode()).hexdigest())
"""


def _digests(hash_seed):
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True, env={"PYTHONHASHSEED": str(hash_seed),
                                           "PATH": "/usr/bin:/bin"}).stdout.split()


def test_verilog_and_memory_images_are_byte_identical():
    first, second = _digests(1), _digests(2)
    assert len(first) == 6 and first == second


@pytest.mark.synth
def test_bitstreams_are_byte_identical(tmp_path):
    from popcorn.boards.build import build_bitstream
    from popcorn.boards.top import BoardTop
    from popcorn.golden.examples import random_network
    from popcorn.hdl.accelerator import DataflowAccelerator
    from popcorn.mapping.network_map import map_network

    plan = map_network(random_network("bnn", seed=2, layout="dense"), target_cycles=1000)
    bits = [build_bitstream(BoardTop(DataflowAccelerator(plan)), board="icebreaker",
                            build_dir=tmp_path / str(n))[0].read_bytes() for n in range(2)]
    assert bits[0] == bits[1] and len(bits[0]) > 1000
