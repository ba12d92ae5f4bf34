"""The UART host link (receiver, byte/word converters, accelerator, transmitter) end to end."""

import numpy as np

from popcorn.boards.host_link import UARTLink
from popcorn.golden.binary import unpack_words
from popcorn.golden.examples import random_network
from popcorn.hdl.accelerator import DataflowAccelerator
from popcorn.mapping.network_map import map_network
from popcorn.sim.runner import run_testbench


def test_uart_link_round_trip(tmp_path):
    """A whole ABC-Net accelerator behind the UART, its inputs sent pixel by pixel; results
    end in padding bits."""
    plan = map_network(random_network("abc", seed=4, layout="dense"), target_cycles=4)
    assert plan.out_width % 8   # padding bits in the last byte of every result
    rng = np.random.default_rng(5)
    inputs = rng.normal(0, 1, (30,) + plan.network.input_shape)
    scores, argmax = plan.reference(inputs)
    case = dict(inputs=plan.input_pixels(inputs).reshape(-1, plan.in_width),
                expected=unpack_words(plan.pack_outputs(scores, argmax), plan.out_width),
                divisor=6)
    measured = run_testbench(UARTLink(DataflowAccelerator(plan), divisor=6),
                             test_module="popcorn.sim.testbenches.uart_link_tb",
                             build_dir=tmp_path, case=case)
    assert measured == {"words": 30 * plan.in_words, "results": 30}


def test_uart_divisor_is_checked():
    import pytest

    from popcorn.hdl.uart import UARTReceiver, UARTTransmitter
    for cls in (UARTReceiver, UARTTransmitter):
        with pytest.raises(ValueError, match=r"UART divisor \(clock cycles per bit\) must be an "
                                             r"integer >= 4, not 3"):
            cls(divisor=3)
        assert cls(divisor=104).divisor == 104
