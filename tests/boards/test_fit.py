"""The pre-build estimate of a mapped network against the board."""

import pytest

from popcorn.boards.fit import DesignTooLarge, check_fit, estimate_design
from popcorn.examples import load_example
from popcorn.hdl.estimates import estimate_argmax, estimate_mva
from popcorn.mapping.network_map import map_network


@pytest.fixture(scope="module")
def network():
    return load_example("digits-bnn")[0]


def test_estimate_is_the_sum_of_the_blocks(network):
    plan = map_network(network, target_cycles=256)
    est = estimate_design(plan, "ulx3s-85f")
    assert [layer["layer"] for layer in est.layers] == [f.linear.layer for f in plan.foldings]
    parts = [estimate_mva(f, "ecp5") for f in plan.foldings]
    parts.append(estimate_argmax(classes=10, width=plan.score_width, family="ecp5"))
    for key in ("lut4", "ff", "ebr", "dsp"):
        assert est.total[key] == sum(p[key] for p in parts)
    assert est.capacity == {"lut4": 83640, "ff": 83640, "ebr": 208, "dsp": 156}
    check_fit(est)                                         # fits: no error


def test_unfolded_network_does_not_fit_the_up5k_but_fits_the_ecp5(network):
    plan = map_network(network, target_cycles=1)
    with pytest.raises(DesignTooLarge, match=r"the design does not fit icebreaker: its layers "
                       r"need about \d+ LUT4 \(estimate\), the device has 5280; layer 1 alone"):
        check_fit(estimate_design(plan, "icebreaker"))
    check_fit(estimate_design(plan, "ulx3s-85f"))


def test_unknown_board(network):
    with pytest.raises(ValueError, match="unknown board 'de10'"):
        estimate_design(map_network(network), "de10")
