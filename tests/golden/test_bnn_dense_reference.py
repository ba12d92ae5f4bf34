"""The BNN dense golden model against plain integer arithmetic."""

import numpy as np

from popcorn.golden.dense import bnn_dense


def test_bnn_dense_is_sign_of_dot_minus_threshold():
    rng = np.random.default_rng(11)
    w = rng.integers(0, 2, (9, 33))
    x = rng.integers(0, 2, (50, 33))
    t = rng.integers(-6, 7, 9)
    dot = (2 * x - 1) @ (2 * w - 1).T
    assert (bnn_dense(x, w, t) == (dot >= t)).all()


def test_sign_of_zero_is_plus_one():
    w = np.array([[1, 0]])
    assert bnn_dense(np.array([1, 1]), w, [0]).tolist() == [1]  # dot = 0 -> +1


def test_pack_words_round_trip():
    from popcorn.golden.binary import pack_words, unpack_words
    bits = np.random.default_rng(3).integers(0, 2, (5, 70)).astype(np.uint8)
    words = pack_words(bits)
    assert words[0] == sum(int(b) << i for i, b in enumerate(bits[0]))
    assert (unpack_words(words, 70) == bits).all()
