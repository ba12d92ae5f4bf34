"""The integer model's linear stages as first written: every base pair through
:func:`~popcorn.golden.binary.binary_dot`, which broadcasts (B, ..., out, K) arrays.

This is the definition the fast, bit-packed :mod:`~popcorn.golden.integer_model` is checked
against, bit for bit (tests/golden/test_packed_model.py, benchmarks/golden_speed.py). It
needs about K bytes per output per image, so it is for small batches only.
"""

import numpy as np

from .binary import binary_dot, values
from .integer_model import IntegerResult, _run_stages
from .quantizers import thermometer_to_bases
from .windows import im2col

__all__ = ["reference_linear_dots", "reference_run_integer"]


def reference_linear_dots(stage, thermo):
    """All M x N binary dot products ``int64`` (M, N, B, *spatial, out), as
    :func:`~popcorn.golden.integer_model.linear_dots`. A convolution padded with the value 0
    (``IntLinear.zero_fill_differs``) multiplies the bases' values, 0 at the padded taps."""
    bases = thermometer_to_bases(thermo, stage.input_quantizer)  # (B, *shape, N)
    bases = np.moveaxis(bases, -1, 1)                             # (B, N, *shape)
    if stage.zero_fill_differs:
        acts = im2col(values(bases, stage.act_encoding), stage.kernel, stage.stride,
                      stage.padding, 0)                           # (B, N, Ho, Wo, K)
        weights = values(stage.weight_bits, stage.weight_encoding)  # (M, out, K)
        return np.einsum("bnhwk,mck->mnbhwc", acts, weights)
    if stage.kind == "conv2d":
        bases = im2col(bases, stage.kernel, stage.stride, stage.padding, 0)  # (B, N, Ho, Wo, K)
    m, n = stage.coefficients.shape[1:]
    return np.stack([np.stack([
        binary_dot(stage.weight_bits[i], np.take(bases, j, axis=1), stage.weight_encoding,
                   stage.act_encoding) for j in range(n)]) for i in range(m)])


def _linear(stage, thermo):
    dots = reference_linear_dots(stage, thermo)
    y = np.einsum("ij...c,cij->...c", dots, stage.coefficients) + stage.bias
    return np.moveaxis(y, -1, 1) if stage.kind == "conv2d" else y


def reference_run_integer(integer_network, thermo):
    """:func:`~popcorn.golden.integer_model.run_integer` with the reference linear stages,
    the whole batch at once, always with the trace."""
    trace = []
    value = _run_stages(integer_network, np.asarray(thermo, dtype=np.uint8), trace, _linear)
    return IntegerResult(value, np.argmax(value, axis=1), trace)
