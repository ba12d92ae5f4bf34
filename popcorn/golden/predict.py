"""Batch prediction with the integer golden model or the float reference (``popcorn predict``)."""

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
import warnings

import numpy as np

from ..atomic import atomic_open
from ..network import Graph, load_graph
from ..network.sequences import as_2d, inputs_2d
from ..network.fileformat import DAMAGED_ARCHIVE, numpy_load_error
from .float_ref import float_forward
from .integer_graph import run_integer_graph, to_integer_graph
from .integer_model import CHUNK, codes_thermometer, run_integer, to_integer
from .quantizers import comparators, thermometer

__all__ = ["Prediction", "check_inputs", "load_array", "input_thermometer", "input_values",
           "predict", "predict_files"]


@dataclass(frozen=True, eq=False)
class Prediction:
    """``scores`` (B, classes): ``int64`` in units of 2**-frac_bits (integer model: the last
    layer's fractional bits, ``IntegerNetwork.score_frac_bits``, at least the requested
    ``frac_bits``) or ``float64`` (float reference, ``frac_bits`` None); ``argmax`` ``int64``
    (B,)."""

    scores: np.ndarray
    argmax: np.ndarray
    frac_bits: int = None


def check_inputs(network, inputs):
    """Return ``inputs`` as a batch (B, *input_shape); a single sample gets a batch axis.

    Integer inputs to a fixed-point input quantizer are codes and must lie in
    0 .. 2**bits - 1; every other input is real and must be finite.
    """
    inputs = np.asarray(inputs)
    shape = network.input_shape
    if inputs.shape == shape:
        inputs = inputs[None]
    if inputs.ndim != len(shape) + 1 or inputs.shape[1:] != shape:
        raise ValueError(f"inputs have shape {inputs.shape}, but the network takes "
                         f"(batch, {', '.join(map(str, shape))}) or one sample {shape}")
    if inputs.dtype.kind not in "biuf":
        raise TypeError(f"inputs must be an integer or float array, not {inputs.dtype}")
    if inputs.dtype.kind == "f" and not np.isfinite(inputs).all():
        raise ValueError("inputs contain NaN or infinity")
    quantizer = network.input_quantizer
    if inputs.dtype.kind in "biu" and quantizer.quantizer == "fixedpoint" and inputs.size:
        top = 2 ** quantizer.bits - 1
        if inputs.min() < 0 or inputs.max() > top:
            raise ValueError(f"integer inputs are {quantizer.bits}-bit codes and must lie in "
                             f"0 .. {top}, found [{inputs.min()}, {inputs.max()}]; pass floats "
                             f"to have them quantized with scale {quantizer.scale}")
    if inputs.dtype.kind == "f" and quantizer.quantizer == "fixedpoint" and inputs.size:
        largest = (2 ** quantizer.bits - 1) * quantizer.scale
        if inputs.max() > 2 * largest:
            warnings.warn(f"real inputs reach {inputs.max():g}, but the network's "
                          f"{quantizer.bits}-bit input quantizer (scale {quantizer.scale:g}) "
                          f"saturates at {largest:g}: scale the inputs, or pass integer "
                          f"codes 0 .. {2 ** quantizer.bits - 1}", InputRangeWarning,
                          stacklevel=2)
    return inputs


class InputRangeWarning(UserWarning):
    """Real inputs far above what a fixed-point input quantizer represents (most would
    saturate): images in 0 .. 255 given to a network that takes 0 .. 1."""


def _is_codes(network, inputs):
    return inputs.dtype.kind in "biu" and network.input_quantizer.quantizer == "fixedpoint"


def input_thermometer(network, inputs):
    """The input thermometer code ``uint8`` (B, *input_shape, L) of checked inputs."""
    inputs = check_inputs(network, inputs)
    quantizer = network.input_quantizer
    if _is_codes(network, inputs):
        return codes_thermometer(inputs, len(comparators(quantizer).thresholds))
    return thermometer(inputs.astype(np.float64), quantizer)


def input_values(network, inputs):
    """Checked inputs as real numbers (fixed-point codes times their scale)."""
    inputs = check_inputs(network, inputs)
    if _is_codes(network, inputs):
        return inputs.astype(np.float64) * network.input_quantizer.scale
    return inputs.astype(np.float64)


def predict(network, inputs, *, use_float=False, frac_bits=8, chunk=CHUNK, progress=None,
            per_layer=True, workers=1):
    """Scores and classes of ``inputs`` (B, *input_shape) or one sample.

    The integer golden model (default) maps ``network`` with at least ``frac_bits``
    fractional bits (``per_layer``: see :func:`~popcorn.golden.integer_model.to_integer`)
    and runs ``chunk`` inputs at a time, from raw inputs to scores, without a trace: memory
    is bounded by the chunk, whatever B; ``progress(done, total)`` is called after each
    chunk. ``workers`` > 1 runs that many chunks at once in threads (NumPy releases the
    GIL in its loops; memory grows to ``workers`` chunks); the result does not depend on
    it. ``use_float=True`` runs the float reference instead (the whole batch at once).
    ``network`` may be a :class:`~popcorn.network.Graph` (residual Adds, Concats: the
    integer model of :mod:`popcorn.golden.integer_graph`); a network over sequences runs
    as its graph over maps (:func:`~popcorn.network.sequences.as_2d`).
    """
    inputs = inputs_2d(network, check_inputs(network, inputs))
    network = as_2d(network)
    if use_float:
        result = float_forward(network, input_values(network, inputs))
        return Prediction(result.scores, result.argmax, None)
    if isinstance(network, Graph):
        integer = to_integer_graph(network, frac_bits, per_layer=per_layer)
        stages = [stage for _, stage, _ in integer.steps]

        def model(thermo):
            return run_integer_graph(integer, thermo, trace=False).scores
    else:
        integer = to_integer(network, frac_bits, per_layer=per_layer)
        stages = integer.stages

        def model(thermo):
            return run_integer(integer, thermo, trace=False, chunk=chunk).scores
    total = len(inputs)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, not {chunk!r}")
    starts = range(0, max(total, 1), int(chunk))
    for stage in stages:                             # the packed weights, before any thread
        if stage.kind in ("dense", "conv2d"):
            stage.weight_columns, stage.weight_words

    def run(start):
        part = inputs[start:start + chunk]
        return model(input_thermometer(network, part))

    scores = []
    with ThreadPoolExecutor(int(workers)) if workers > 1 else nullcontext() as pool:
        results = pool.map(run, starts) if pool is not None else map(run, starts)
        for part in results:                         # in order, whatever the workers
            scores.append(part)
            if progress is not None and total:
                progress(min(total, len(scores) * chunk), total)
    scores = np.concatenate(scores)
    return Prediction(scores, np.argmax(scores, axis=1), integer.score_frac_bits)


def load_array(path):
    """The array in the ``.npy`` file ``path``, or the ``x`` of an ``.npz`` archive (as
    ``popcorn train`` writes its test split); ``ValueError`` naming the file otherwise."""
    try:
        array = np.load(path, allow_pickle=False)
        if isinstance(array, np.ndarray):
            return array
        with array:
            if "x" in array.files:
                return array["x"]
            files = array.files
    except DAMAGED_ARCHIVE as error:
        what = "NumPy .npy array" if str(path).endswith(".npy") else "readable .npz archive"
        raise ValueError(f"{path}: not a {what} ({numpy_load_error(error)})") from None
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    raise ValueError(f"{path}: an .npz archive without `x` (it has {shown or 'nothing'}); "
                     f"pass the inputs as `x`, or as one .npy array")


def predict_files(network_path, inputs_path, output_path, *, use_float=False, frac_bits=8,
                  chunk=CHUNK, progress=None, workers=1):
    """``popcorn predict``: load a network file and a batch (:func:`load_array`), write an
    ``.npz`` with
    ``scores``, ``argmax`` and (integer model only) ``frac_bits``, the scores' fractional
    bits (:attr:`Prediction.frac_bits`); return the
    :class:`Prediction`. ``chunk``, ``progress`` and ``workers`` as in :func:`predict`.
    Both models run graphs (residual Adds, Concats: a version 2 file)."""
    network = load_graph(network_path)
    inputs = load_array(inputs_path)
    result = predict(network, inputs, use_float=use_float, frac_bits=frac_bits, chunk=chunk,
                     progress=progress, workers=workers)
    arrays = {"scores": result.scores, "argmax": result.argmax}
    if result.frac_bits is not None:
        arrays["frac_bits"] = np.array(result.frac_bits, dtype=np.int64)
    with atomic_open(output_path) as file:
        np.savez(file, **arrays)
    return result
