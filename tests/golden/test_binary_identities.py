"""The four popcount identities against plain integer dot products (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from popcorn.golden.binary import binary_dot, popcount, sign_bits, threshold_bits, values
from popcorn.golden.dense import bnn_dense

ENCODINGS = st.sampled_from(["pm1", "zo"])


@st.composite
def base_pairs(draw):
    k = draw(st.integers(1, 96))
    n = draw(st.integers(1, 5))
    batch = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.5, 1.0, rng.random()]))
    t = (rng.random((n, k)) < density).astype(np.uint8)
    v = (rng.random((batch, k)) < rng.random()).astype(np.uint8)
    return t, v


@settings(max_examples=200, deadline=None)
@given(base_pairs(), ENCODINGS, ENCODINGS)
def test_identity_equals_integer_dot(pair, weight_encoding, act_encoding):
    t, v = pair
    expected = values(v, act_encoding) @ values(t, weight_encoding).T
    assert np.array_equal(binary_dot(t, v, weight_encoding, act_encoding), expected)
    assert np.array_equal(binary_dot(t, v[0], weight_encoding, act_encoding), expected[0])


@settings(max_examples=100, deadline=None)
@given(base_pairs())
def test_identities_spelled_out(pair):
    t, v = pair
    k = t.shape[1]
    tt, vv = t[None], v[:, None]
    assert np.array_equal(binary_dot(t, v, "pm1", "pm1"), 2 * popcount(1 - (tt ^ vv)) - k)
    assert np.array_equal(binary_dot(t, v, "pm1", "zo"), 2 * popcount(tt & vv) - popcount(vv))
    assert np.array_equal(binary_dot(t, v, "zo", "pm1"), 2 * popcount(tt & vv) - popcount(tt))
    assert np.array_equal(binary_dot(t, v, "zo", "zo"), popcount(tt & vv))


@settings(max_examples=100, deadline=None)
@given(base_pairs(), st.integers(-20, 20))
def test_bnn_dense_is_sign_of_dot(pair, threshold):
    t, v = pair
    dot = values(v, "pm1") @ values(t, "pm1").T
    thresholds = np.full(t.shape[0], threshold)
    assert np.array_equal(bnn_dense(v, t, thresholds), (dot >= threshold).astype(np.uint8))
    assert np.array_equal(threshold_bits(dot, np.zeros(t.shape[0])), sign_bits(dot))


def test_errors():
    with pytest.raises(ValueError, match="weight_encoding must be one of \\('pm1', 'zo'\\), not 'pm2'"):
        binary_dot(np.zeros((1, 2), np.uint8), np.zeros(2, np.uint8), "pm2")
    with pytest.raises(ValueError, match="act_bits has K = 3 but weight_bits has K = 2"):
        binary_dot(np.zeros((1, 2), np.uint8), np.zeros(3, np.uint8))
