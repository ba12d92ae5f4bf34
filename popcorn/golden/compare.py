"""Measure how far the integer golden model is from the float reference on a batch.

The two differ only by coefficient rounding (:func:`~popcorn.golden.widths.rounding_error_bound`
per layer). A rounded pre-activation near a comparator threshold can flip an activation bit,
after which the two networks see different inputs; :func:`compare_models` counts such samples
and, for the others, the score error is within the last layer's bound.
"""

from dataclasses import dataclass

import numpy as np

from .float_ref import float_forward
from .integer_model import run_integer, to_integer
from .predict import input_thermometer, input_values
from .quantizers import bases_to_values, thermometer_to_bases
from .widths import rounding_error_bound

__all__ = ["Comparison", "compare_models"]


@dataclass(frozen=True)
class Comparison:
    """Integer model vs float reference on one batch.

    Attributes
    ----------
    samples : batch size.
    argmax_agreement : fraction of samples with the same class.
    max_score_error : max over the batch of ``|scores_int / 2**F - scores_float|`` (F the
        scores' fractional bits, ``IntegerNetwork.score_frac_bits``).
    score_bound : :func:`rounding_error_bound` of the last layer; every sample whose
        activations all agree has a score error within it.
    diverged : samples where some activation code differs (a rounded pre-activation crossed
        a threshold).
    max_agreeing_score_error : max score error over the samples that did not diverge (0 if
        none).
    """

    samples: int
    argmax_agreement: float
    max_score_error: float
    score_bound: float
    diverged: int
    max_agreeing_score_error: float

    def to_json(self):
        return dict(self.__dict__)


def compare_models(network, inputs, frac_bits=8, *, per_layer=True):
    """Run both models on ``inputs`` (B, *input_shape) and return a :class:`Comparison`
    (``frac_bits``, ``per_layer``: :func:`~popcorn.golden.integer_model.to_integer`)."""
    integer = to_integer(network, frac_bits, per_layer=per_layer)
    exact = run_integer(integer, input_thermometer(network, inputs))
    reference = float_forward(network, input_values(network, inputs))
    diverged = np.zeros(len(exact.scores), dtype=bool)
    positions = {stage.layer: s for s, stage in enumerate(integer.stages)}
    for index, layer in enumerate(network.layers):
        if layer.kind == "activation":
            code = exact.trace[positions[index]]
            got = bases_to_values(thermometer_to_bases(code, layer.quantizer), layer.quantizer)
            diff = got != reference.trace[index]
            diverged |= diff.reshape(len(diff), -1).any(axis=1)
    error = np.abs(exact.scores / 2.0 ** integer.score_frac_bits - reference.scores).max(axis=1)
    last = [stage for stage in integer.stages if stage.kind in ("dense", "conv2d")][-1]
    return Comparison(
        samples=len(error), argmax_agreement=float((exact.argmax == reference.argmax).mean()),
        max_score_error=float(error.max()), score_bound=rounding_error_bound(last),
        diverged=int(diverged.sum()),
        max_agreeing_score_error=float(error[~diverged].max()) if (~diverged).any() else 0.0)
