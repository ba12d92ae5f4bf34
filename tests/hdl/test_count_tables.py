"""Count tables (``LinearFolding(weight_code="tables")``): the weights as tables of counts
in block RAM, read with the fold and the activations, against the golden model."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from popcorn.boards.fit import estimate_design, place_weight_roms
from popcorn.examples import load_example
from popcorn.golden.examples import random_network, sign_mlp
from popcorn.golden.predict import predict
from popcorn.hdl.estimates import estimate_mva
from popcorn.hdl.mva import MatrixVectorActivation
from popcorn.hdl.synth import synth_stat
from popcorn.mapping.linear import LinearFolding, takes_tables
from popcorn.mapping.network_map import map_network
from popcorn.mapping.synthetic import abc_per_channel, bnn_hidden
from popcorn.sim.network import simulate_network

from .test_mva import compare_stage, dense_layers, run


def folding_of(scheme, which, pe, simd, **options):
    linear, activation = dense_layers(scheme, seed=5)[which]
    return LinearFolding(linear, activation, pe=pe, simd=simd, weight_code="tables",
                         **options)


@pytest.mark.parametrize("scheme, which, pe, simd", [
    ("bnn", 0, 2, 6),          # XNOR, 10 folds: groups of 5 and 1
    ("abc", 0, 1, 2),          # M x N pairs, 60 folds: groups of 2
    ("pa", 1, 1, 5),           # {0, 1} weights (AND), the scores
])
def test_count_tables_hold_each_groups_counts(scheme, which, pe, simd):
    """Word ``fold * 2**k + v`` of table g holds, for lane p and weight base i, the count
    of the group's elements whose weight bit and activation bit agree (XNOR, +-1
    weights) or are both 1 (AND, {0, 1} weights), counted here from the layer's weight
    bits themselves."""
    f = folding_of(scheme, which, pe, simd)
    w = f.linear.weight_bits                                      # (M, C, K)
    pm1 = f.linear.weight_encoding == "pm1"
    k, tables = f.table_group, f.count_tables()
    assert 2 <= k <= 7 and len(tables) == -(-simd // k)
    assert (f.neuron_folds * f.synapse_folds) << k <= 512 < (
        (f.neuron_folds * f.synapse_folds) << (k + 1)) or k in (7, simd)
    rng = np.random.default_rng(1)
    for g, table in enumerate(tables):
        elements = range(g * k, min(simd, (g + 1) * k))
        width = len(elements).bit_length()
        assert table.shape == ((f.neuron_folds * f.synapse_folds) << len(elements),
                               f.pe * f.weight_bases * width)
        for _ in range(40):
            nf, sf = rng.integers(f.neuron_folds), rng.integers(f.synapse_folds)
            v = int(rng.integers(1 << len(elements)))
            word = table[((nf * f.synapse_folds + sf) << len(elements)) + v]
            for p in range(f.pe):
                for i in range(f.weight_bases):
                    got = int((word[(p * f.weight_bases + i) * width:][:width]
                               << np.arange(width)).sum())
                    want = 0
                    for e, element in enumerate(elements):
                        t = w[i, nf * f.pe + p, sf * simd + element]
                        a = (v >> e) & 1
                        want += int(t == a) if pm1 else int(t & a)
                    assert got == want


@pytest.mark.parametrize("scheme, which, pe, simd, pipeline", [
    ("bnn", 0, 2, 6, 0),       # counts compared; groups of 5 and 1, 8 activation bases
    ("bnn", 1, 2, 10, 2),      # the scores, pipelined trees; groups of 7 and 3
    ("xnor", 0, 2, 4, 1),
    ("abc", 0, 2, 4, 0),       # M x N pairs in parallel
    ("abc", 1, 1, 2, 1),       # 20 folds, groups of 2, accumulated over 5 element folds
    ("pa", 1, 1, 5, "auto"),   # {0, 1} weights
])
def test_mva_with_count_tables_is_bit_exact(scheme, which, pe, simd, pipeline, tmp_path):
    """Every output word equals the golden model's; the interval is NF*SF and the latency
    one cycle more than the plain ROM's (the tables' read stage)."""
    options = {} if pipeline == "auto" else {"pipeline": pipeline}
    f = folding_of(scheme, which, pe, simd, **options)
    if pipeline == "auto":
        f = folding_of(scheme, which, pe, simd, pipeline=f.auto_pipeline)
    memories = [name for _, name, _ in Fragment.get(MatrixVectorActivation(f), None)
                .subfragments]
    assert "weights" not in memories and "table0" in memories
    measured = run(f, tmp_path, count=60, seed=2)
    assert measured == {"words": 60, "interval": f.cycles_per_vector,
                        "latency": f.cycles_per_vector + 4 + f.pipeline + compare_stage(f)}
    assert f.latency == measured["latency"]


def test_count_tables_are_refused_where_they_cannot_work():
    # two or fewer words are constants, more than 128 cannot have tables of 2 elements
    assert not takes_tables(2, 8) and takes_tables(3, 8) and takes_tables(128, 8)
    assert not takes_tables(129, 8) and not takes_tables(64, 8, pairs_per_fold=2)
    assert not takes_tables(64, 1)
    linear, activation = dense_layers("abc", seed=5)[0]
    with pytest.raises(ValueError, match=r"layer 0: count tables \(weight_code = 'tables'\) "
                                         r"need parallel bases; this engine walks its 24 base pairs"):
        LinearFolding(linear, activation, pe=2, simd=4, weight_code="tables",
                      bases="serial")
    with pytest.raises(ValueError, match=r"need at most 128 weight words \(NF\*SF\) to "
                                         r"count 2 elements a table; this folding has "):
        LinearFolding(linear, activation, pe=1, simd=1, weight_code="tables")


@pytest.mark.parametrize("scheme, target", [("bnn", 150), ("pa", 300)])
def test_networks_with_count_tables_run_bit_exact(scheme, target, tmp_path):
    """``map_network(counts="tables")`` on a convolutional network: the engines whose
    folding takes tables (convolutions gathering their pixels among them) count from
    them; every image's scores and every handshake of a free-running burst equal the
    golden model's and the cycle model's."""
    network = random_network(scheme, seed=4, layout="conv")
    plan = map_network(network, target_cycles=target, counts="tables")
    logic = map_network(network, target_cycles=target)
    codes = [f.weight_code for f in plan.foldings]
    assert "tables" in codes and any(f.gather and f.weight_code == "tables"
                                     for f in plan.foldings), codes
    for f in plan.foldings:
        assert (f.weight_code == "tables") == takes_tables(f.neuron_folds * f.synapse_folds,
                                                           f.simd)
    assert [f.pe * f.simd for f in plan.foldings] == [f.pe * f.simd for f in logic.foldings]
    inputs = np.random.default_rng(5).integers(0, 256, (5,) + network.input_shape)
    run = simulate_network(plan, inputs, build_dir=tmp_path)
    scores, _ = plan.reference(inputs)
    assert (run.scores == scores).all()
    assert (scores == predict(network, inputs, frac_bits=8).scores).all()


def test_the_board_refolds_count_tables_to_the_lanes_its_block_ram_holds():
    """``map_network(counts="tables")`` folds as in logic (FINN SFC-w1a1's shape at 64
    cycles per image: 4 x 784 first, 437 DP16KD of tables); placed for the ULX3S-85F the
    engines keep their tables at the same cycles per image, refolded to fit its 208 block
    RAMs (more lanes: fewer, fuller tables) and then to spend what is left on fewer lanes
    where that saves LUT4; far fewer LUT4 than the logic counts. On the UP5K's 30 block
    RAMs the digits demo's engines go back to weight ROMs where the tables do not fit."""
    network = sign_mlp((784, 256, 256, 256, 10))
    plan = map_network(network, target_cycles=64, counts="tables")
    assert [(f.pe, f.simd) for f in plan.foldings] == [(4, 784), (4, 256), (4, 256), (5, 8)]
    assert estimate_design(plan, "ulx3s-85f").total["ebr"] > 208
    placed = place_weight_roms(plan, "ulx3s-85f")
    total = estimate_design(placed, "ulx3s-85f").total
    assert total["ebr"] <= 208 and all(f.weight_code == "tables" for f in placed.foldings)
    assert placed.foldings[0].pe > 4
    logic = place_weight_roms(map_network(network, target_cycles=64), "ulx3s-85f")
    assert total["lut4"] < 0.7 * estimate_design(logic, "ulx3s-85f").total["lut4"]
    assert placed.cycles_per_image == plan.cycles_per_image == 64
    x = np.random.default_rng(0).integers(0, 2, (8, 784)) * 2 - 1
    assert (placed.reference(x)[0] == plan.reference(x)[0]).all()

    digits = map_network(load_example("digits-bnn")[0], target_cycles=64, counts="tables")
    small = place_weight_roms(digits, "icebreaker")
    assert estimate_design(small, "icebreaker").total["ebr"] <= 30
    assert "plain" in [f.weight_code for f in small.foldings]
    assert small.cycles_per_image == digits.cycles_per_image


@pytest.mark.synth
@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_count_tables_cost_what_the_estimate_says(family, tmp_path):
    """An engine with count tables synthesized alone: block RAMs exact (a table per group,
    a read port per activation base), LUT4 and FF within 20 % (measured: ECP5 +1..+11 %,
    iCE40 +5..+14 % LUT4; FF within 15 %)."""
    cases = [LinearFolding(*bnn_hidden(192, 32, seed=3), pe=16, simd=48, pipeline=2,
                           weight_code="tables"),
             LinearFolding(*abc_per_channel(64, 16, seed=4), pe=4, simd=16, pipeline=1,
                           weight_code="tables")]
    for n, folding in enumerate(cases):
        got = synth_stat(MatrixVectorActivation(folding), family=family,
                         synth_opts="-nowidelut" if family == "ecp5" else "",
                         build_dir=tmp_path / str(n))
        est = estimate_mva(folding, family)
        assert est["ebr"] == got.ebr, (n, est, got)
        for key in ("lut4", "ff"):
            assert abs(est[key] - getattr(got, key)) <= 0.2 * getattr(got, key), \
                (n, key, est, got)
