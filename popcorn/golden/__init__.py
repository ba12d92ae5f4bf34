"""NumPy golden models: the integer semantics the hardware is checked against, bit for bit.

Modules: :mod:`~popcorn.golden.binary` (bases, the four popcount identities),
:mod:`~popcorn.golden.dense` (BNN dense layer), :mod:`~popcorn.golden.quantizers` (the five
schemes), :mod:`~popcorn.golden.float_ref` (float reference), :mod:`~popcorn.golden.integer_model`
(the integer model), :mod:`~popcorn.golden.widths` (accumulator widths, rounding bound),
:mod:`~popcorn.golden.integer_reference` (the integer model's first, unpacked
definition, the reference of the packed one), :mod:`~popcorn.golden.predict` (``popcorn predict``), :mod:`~popcorn.golden.compare`
(integer vs float on a batch), :mod:`~popcorn.golden.examples`
(random networks), :mod:`~popcorn.golden.approx_table` (weight approximation report).
"""

from .binary import binary_dot, pack_bits, packed_dot, sign_bits, threshold_bits, values
from .dense import bnn_dense
from .quantizers import (WeightBases, quantize_weights, comparators, thermometer,
                         thermometer_to_bases, base_coefficients, bases_to_values,
                         quantize_activations)
from .float_ref import FloatResult, float_forward
from .integer_model import (IntegerNetwork, IntegerResult, IntLinear, IntThreshold, IntMaxPool,
                            IntFlatten, IntScores, to_integer, run_integer, linear_dots,
                            layer_frac_bits)
from .widths import LayerWidths, layer_widths, rounding_error_bound, signed_width
from .predict import Prediction, input_thermometer, predict
from .compare import Comparison, compare_models

__all__ = [
    "binary_dot", "pack_bits", "packed_dot", "sign_bits", "threshold_bits", "values", "bnn_dense",
    "WeightBases", "quantize_weights", "comparators", "thermometer", "thermometer_to_bases",
    "base_coefficients", "bases_to_values", "quantize_activations",
    "FloatResult", "float_forward",
    "IntegerNetwork", "IntegerResult", "IntLinear", "IntThreshold", "IntMaxPool", "IntFlatten",
    "IntScores", "to_integer", "run_integer", "linear_dots", "layer_frac_bits",
    "LayerWidths", "layer_widths", "rounding_error_bound", "signed_width",
    "Prediction", "input_thermometer", "predict", "Comparison", "compare_models",
]
