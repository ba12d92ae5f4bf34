"""A slice of the randomized campaign (benchmarks/campaign.py) in the default run, and every
case a campaign ever failed on, as a regression."""

import pytest

from popcorn.sim.campaign import campaign_case, run_case

REGRESSIONS = {
    3: "a network of one layer (the scores): the folded engine's 0-bit layer index",
}


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), 2,
                                  pytest.param(5, marks=pytest.mark.slow), *REGRESSIONS])
def test_campaign_case_bit_exact_with_exact_cycles(seed, tmp_path):
    case = run_case(seed, tmp_path)
    assert case["result"] == "pass", case.get("traceback", case["result"])


def test_cases_cover_every_scheme_and_both_architectures():
    cases = [campaign_case(seed)[0] for seed in range(10)]
    assert {(c["scheme"], c["arch"]) for c in cases} == {
        (s, a) for s in ("bnn", "binaryconnect", "xnor", "abc", "pa")
        for a in ("dataflow", "folded")}
