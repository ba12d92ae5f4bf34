"""Binary bases and their exact integer dot products (ARCHITECTURE.md, "binary bases").

A base is an array of bits (``numpy.uint8`` 0/1, last axis = the K-long vector) read in
one of two encodings:

* ``"pm1"``: bit 1 means +1, bit 0 means -1 (BNN, seed 001; XNOR-Net, seed 003; ABC-Net, seed 000);
* ``"zo"``: bit 1 means 1, bit 0 means 0 (PA-Net pieces, seed 004; fixed-point bit planes).

:func:`binary_dot` computes the dot product only from popcounts, with the four identities
the hardware uses, so it is the reference for every XNOR/AND popcount datapath. It broadcasts
(..., N, K) arrays of single bits; :func:`pack_bits` and :func:`packed_dot` compute the same
identities on the K axis packed into 64-bit words (XOR/AND, then ``numpy.bitwise_count``), a
bounded block of rows at a time: what the integer model runs on large batches.
"""

import numpy as np

ENCODINGS = ("pm1", "zo")


def check_bits(bits, name):
    """Return ``bits`` as a ``uint8`` array of 0/1, or raise naming ``name``."""
    arr = np.asarray(bits)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer or boolean array of bits, not {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must hold only bits 0 and 1, found values in "
                         f"[{arr.min()}, {arr.max()}]")
    return arr.astype(np.uint8)


def values(bits, encoding):
    """The integer values a base's bits stand for: ``pm1`` -> {-1, +1}, ``zo`` -> {0, 1}."""
    bits = check_bits(bits, "bits").astype(np.int64)
    if encoding == "pm1":
        return 2 * bits - 1
    if encoding == "zo":
        return bits
    raise ValueError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")


def sign_bits(x):
    """``pm1`` bits of sign(x) with sign(0) = +1 (seed 001, deterministic binarization)."""
    return (np.asarray(x) >= 0).astype(np.uint8)


def popcount(bits, axis=-1):
    """Number of ones along ``axis``, as ``int64``."""
    return np.asarray(bits, dtype=np.int64).sum(axis=axis)


def binary_dot(weight_bits, act_bits, weight_encoding="pm1", act_encoding="pm1"):
    """Exact dot products of weight bases and activation bases, from popcounts only.

    Parameters
    ----------
    weight_bits : array (N, K) of bits, one row per output neuron.
    act_bits : array (..., K) of bits.
    weight_encoding, act_encoding : ``"pm1"`` or ``"zo"``.

    Returns
    -------
    ``int64`` array (..., N), the four identities of ARCHITECTURE.md::

        pm1 x pm1:  2*pc(XNOR(t, v)) - K
        pm1 x zo:   2*pc(AND(t, v)) - pc(v)
        zo  x pm1:  2*pc(AND(t, v)) - pc(t)
        zo  x zo:   pc(AND(t, v))
    """
    t = check_bits(weight_bits, "weight_bits")
    v = check_bits(act_bits, "act_bits")
    if t.ndim != 2:
        raise ValueError(f"weight_bits must be 2-D (neurons, K), not shape {t.shape}")
    if v.shape[-1] != t.shape[1]:
        raise ValueError(f"act_bits has K = {v.shape[-1]} but weight_bits has K = {t.shape[1]}")
    for name, enc in (("weight_encoding", weight_encoding), ("act_encoding", act_encoding)):
        if enc not in ENCODINGS:
            raise ValueError(f"{name} must be one of {ENCODINGS}, not {enc!r}")
    k = t.shape[1]
    tt = t[None, ...] if v.ndim == 1 else t.reshape((1,) * (v.ndim - 1) + t.shape)
    vv = v[..., None, :]
    pc_and = popcount(tt & vv)
    if weight_encoding == "pm1" and act_encoding == "pm1":
        pc_xnor = popcount(1 - (tt ^ vv))
        out = 2 * pc_xnor - k
    elif weight_encoding == "pm1":
        out = 2 * pc_and - popcount(vv)
    elif act_encoding == "pm1":
        out = 2 * pc_and - popcount(tt)
    else:
        out = pc_and
    return out[0] if v.ndim == 1 else out


WORD = 64
_BLOCK = 1 << 14   # elements of one (rows, neurons) block: its work arrays stay in cache


def pack_bits(bits):
    """Pack the last axis (K bits, ``uint8`` 0/1) into ``uint64`` words, ``(..., ceil(K / 64))``.

    Bit k of the vector is bit ``k % 64`` of word ``k // 64``; the bits after K in the last
    word are 0. Bits are not checked (pass the output of :func:`check_bits` or comparators).
    """
    bits = np.asarray(bits, dtype=np.uint8)
    k = bits.shape[-1]
    words = -(-k // WORD)
    packed = np.packbits(bits, axis=-1, bitorder="little")          # (..., ceil(K / 8))
    full = np.zeros(bits.shape[:-1] + (words * WORD // 8,), dtype=np.uint8)
    full[..., :packed.shape[-1]] = packed
    return full.view(np.dtype("<u8")).astype(np.uint64, copy=False)


def packed_dot(weight_words, act_words, k, weight_encoding="pm1", act_encoding="pm1"):
    """:func:`binary_dot` on packed bases: ``int64`` (R, N) for ``weight_words`` (N, W) and
    ``act_words`` (R, W), both from :func:`pack_bits` of K-bit vectors.

    The same four identities, on popcounts of 64-bit words (padding bits are 0 in both, so
    they add nothing to pc(XOR), pc(AND), pc(t) or pc(v))::

        pm1 x pm1:  K - 2*pc(XOR(t, v))   (= 2*pc(XNOR(t, v)) - K)
        pm1 x zo:   2*pc(AND(t, v)) - pc(v)
        zo  x pm1:  2*pc(AND(t, v)) - pc(t)
        zo  x zo:   pc(AND(t, v))

    Rows are processed in blocks of about 32 Ki (row, neuron) pairs, one word at a time, so
    the temporaries stay small whatever R is.
    """
    for name, enc in (("weight_encoding", weight_encoding), ("act_encoding", act_encoding)):
        if enc not in ENCODINGS:
            raise ValueError(f"{name} must be one of {ENCODINGS}, not {enc!r}")
    t = np.asarray(weight_words, dtype=np.uint64)
    v = np.asarray(act_words, dtype=np.uint64)
    if t.ndim != 2 or v.ndim != 2 or t.shape[1] != v.shape[1]:
        raise ValueError(f"weight_words (N, W) and act_words (R, W) must share W, not shapes "
                         f"{t.shape} and {v.shape}")
    if t.shape[1] != -(-int(k) // WORD):
        raise ValueError(f"K = {k} bits need {-(-int(k) // WORD)} words, not {t.shape[1]}")
    rows, neurons = v.shape[0], t.shape[0]
    xnor = weight_encoding == "pm1" and act_encoding == "pm1"
    tt = np.ascontiguousarray(t.T)                                  # (W, N)
    counts = np.empty((rows, neurons), dtype=np.int64)
    block = max(1, _BLOCK // max(neurons, 1))
    scratch = popcount_scratch(min(block, rows), neurons)
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        counts[start:stop] = popcount_block(v[start:stop], tt, xnor, scratch)
    if xnor:
        return int(k) - 2 * counts
    if weight_encoding == "pm1":
        return 2 * counts - np.bitwise_count(v).sum(axis=1, dtype=np.int64)[:, None]
    if act_encoding == "pm1":
        return 2 * counts - np.bitwise_count(t).sum(axis=1, dtype=np.int64)[None, :]
    return counts


def popcount_scratch(rows, neurons):
    """Work arrays for :func:`popcount_block` on up to ``rows`` x ``neurons``."""
    return (np.empty((rows, neurons), dtype=np.uint64), np.empty((rows, neurons), dtype=np.uint8),
            np.empty((rows, neurons), dtype=np.int64))


def popcount_block(act_words, weight_columns, xor, scratch):
    """``int64`` (n, N) view into ``scratch``: per row r and neuron c, the popcount of
    ``XOR`` (``xor``) or ``AND`` of ``act_words[r]`` (n, W) and ``weight_columns[:, c]``
    (W, N), one word at a time."""
    n = len(act_words)
    tmp, pc, counts = (a[:n] for a in scratch)
    op = np.bitwise_xor if xor else np.bitwise_and
    for word in range(act_words.shape[1]):
        op(act_words[:, word, None], weight_columns[word][None, :], out=tmp)
        np.bitwise_count(tmp, out=pc)
        if word:
            np.add(counts, pc, out=counts)
        else:
            counts[...] = pc
    if not act_words.shape[1]:
        counts[...] = 0
    return counts


def threshold_bits(y, thresholds):
    """Comparator activation: bit ``[y >= T]`` per neuron (``pm1``: 1 = +1).

    ``y`` is (..., N) integers, ``thresholds`` (N,) integers. With T = 0 this is
    sign(y) with sign(0) = +1 (seed 001).
    """
    return (np.asarray(y) >= np.asarray(thresholds)).astype(np.uint8)


def pack_words(bits, axes=1):
    """Pack the last ``axes`` axes of a bit array into Python ints (flat index 0 at
    bit 0), one per leading index, as the hardware's stream words."""
    bits = check_bits(bits, "bits")
    lead = bits.shape[:bits.ndim - axes]
    flat = bits.reshape(int(np.prod(lead, dtype=np.int64)), -1)
    packed = np.packbits(flat, axis=1, bitorder="little")     # (words, bytes), row by row
    size = packed.shape[1]
    if size <= 8:               # up to 64 bits: one little-endian uint64 per word
        padded = np.zeros((len(packed), 8), dtype=np.uint8)
        padded[:, :size] = packed
        return padded.view("<u8")[:, 0].tolist()
    data = packed.tobytes()
    return [int.from_bytes(data[n:n + size], "little") for n in range(0, len(data), size)]


def unpack_words(words, width):
    """Inverse of :func:`pack_words` for 1-D words: ``(len(words), width)`` bits."""
    return np.array([[(w >> i) & 1 for i in range(width)] for w in words],
                    dtype=np.uint8).reshape(len(words), width)
