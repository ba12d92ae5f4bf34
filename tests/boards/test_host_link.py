"""The UART host link (receiver, byte/word converters, MVTU, transmitter) end to end."""

import numpy as np

from popcorn.boards.host_link import UARTLink
from popcorn.hdl.mvtu import MatrixVectorThreshold
from popcorn.mapping.dense_folding import DenseFolding
from popcorn.sim.runner import run_testbench


def test_uart_link_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    # 20 input bits (3 bytes, 4 padding bits), 12 neurons (2 bytes, 4 padding bits).
    weights = rng.integers(0, 2, (12, 20))
    thresholds = rng.integers(-4, 5, 12)
    edges = np.array([np.ones(20), np.zeros(20), np.arange(20) % 2])
    inputs = np.concatenate([edges, rng.integers(0, 2, (37, 20))]).astype(np.uint8)
    folding = DenseFolding(weights, thresholds, pe=3, simd=5)
    case = dict(weights=weights, thresholds=thresholds, pe=3, simd=5, divisor=6,
                inputs=inputs)
    measured = run_testbench(UARTLink(MatrixVectorThreshold(folding), divisor=6),
                             test_module="popcorn.sim.testbenches.uart_link_tb",
                             build_dir=tmp_path, case=case)
    assert measured == {"vectors": 40}
