"""Checks shared by the network description: scalar and array arguments, and layer chaining.

Scalar and array checks raise ``TypeError``/``ValueError`` naming the argument; the network
checks (:func:`validate_network`) raise :class:`NetworkError` naming the layer by index and
kind (``"layer 3 (conv2d): ..."``), the problem, and what to do.
"""

import numpy as np

__all__ = ["NetworkError", "check_bool", "check_int", "check_positive_int", "check_positive_float", "check_pair", "pair_text",
           "check_finite_vector", "check_float_array", "check_increasing", "check_nondecreasing",
           "validate_network"]


class NetworkError(ValueError):
    """A network description (in memory or in a file) that popcorn cannot use."""


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a boolean, not {value!r}")


def check_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")


def check_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def check_pair(value, name, minimum=1):
    """``value``, an integer or a pair ``(h, w)`` of integers each at least ``minimum`` (1 or
    0), as a tuple ``(h, w)`` of ``int``: the per-axis geometry of a 2-D layer or block
    (kernel, stride, padding), an integer meaning the same on both axes. The one place that
    normalises it. Raise ``TypeError`` (not integers) or ``ValueError`` (out of range, not
    two of them) naming ``name``."""
    what = "a positive integer" if minimum == 1 else "a non-negative integer"
    if isinstance(value, (tuple, list, np.ndarray)):
        items = tuple(value.tolist() if isinstance(value, np.ndarray) else value)
        message = f"{name} must be {what} or a pair (h, w) of them, not {value!r}"
        if len(items) != 2:
            raise ValueError(message)
    else:
        items, message = (value, value), f"{name} must be {what}, not {value!r}"
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            raise TypeError(message)
        if item < minimum:
            raise ValueError(message)
    return tuple(int(item) for item in items)


def pair_text(pair):
    """A normalised ``(h, w)`` (or one value per axis) in a message: ``"3"`` when every
    axis has that value, else ``"(1, 3)"``."""
    return str(pair[0]) if len(set(pair)) == 1 else str(tuple(pair))


def check_positive_float(value, name):
    """Return ``value`` as a finite positive ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, not {value!r}")
    return float(value)


def check_float_array(value, name, ndim=None):
    """Return ``value`` as a finite ``float32``/``float64`` array, or raise naming ``name``.

    Integer, boolean and object arrays are refused (a weight file with the wrong dtype is a
    broken export, not something to convert silently).
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(value).__name__}")
    if value.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be a float32 or float64 array, not {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, not shape {value.shape}")
    if not np.isfinite(value).all():
        bad = np.argwhere(~np.isfinite(value))[0]
        raise ValueError(f"{name} contains NaN or infinity (first at index {tuple(int(i) for i in bad)}); "
                         f"fix the export or retrain")
    return value


def check_finite_vector(value, name):
    """Return ``value`` as a finite 1-D ``float64`` array."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a float32 or float64 array, not {value.dtype}")
        arr = value.astype(np.float64)
    else:
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a sequence of numbers, not {value!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, not shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity: {arr.tolist()!r}")
    return arr


def check_increasing(arr, name):
    if (np.diff(arr) <= 0).any():
        raise ValueError(f"{name} must be strictly increasing, not {np.asarray(arr).tolist()!r}")


def check_nondecreasing(arr, name):
    if (np.diff(arr) < 0).any():
        raise ValueError(f"{name} must be non-decreasing, not {np.asarray(arr).tolist()!r}")


# What each layer kind may follow: "codes" = quantized activations (the network input, an
# activation quantizer, pooling or flattening of those), "linear" = a Dense/Conv2d
# pre-activation (also of a Conv1d), "normalized" = batch norm of a pre-activation, "averages" = the global
# average of quantized activations (read only by a Dense, which the average folds into).
_NEEDS = {
    "dense": ("codes", "averages"), "conv2d": ("codes",), "maxpool2d": ("codes",),
    "flatten": ("codes",), "globalavgpool": ("codes",),
    "conv1d": ("codes",), "maxpool1d": ("codes",), "globalmaxpool": ("codes",),
    "batchnorm": ("linear",), "activation": ("linear", "normalized"),
    "scores": ("linear", "normalized"),
}
_GIVES = {"dense": "linear", "conv2d": "linear", "maxpool2d": "codes", "flatten": "codes",
          "globalavgpool": "averages", "conv1d": "linear", "maxpool1d": "codes",
          "globalmaxpool": "codes",
          "batchnorm": "normalized", "activation": "codes", "scores": "scores"}
_FIX = {
    "dense": "put an Activation (quantizer) before it",
    "conv2d": "put an Activation (quantizer) before it",
    "maxpool2d": "pool quantized activations: move it after the Activation",
    "flatten": "flatten quantized activations: move it after the Activation (after a "
               "GlobalAvgPool2d none is needed)",
    "globalavgpool": "average quantized activations: move it after the Activation",
    "conv1d": "put an Activation (quantizer) before it",
    "maxpool1d": "pool quantized activations: move it after the Activation",
    "globalmaxpool": "pool quantized activations: move it after the Activation",
    "batchnorm": "a BatchNorm must directly follow a Dense, Conv2d or Conv1d",
    "activation": "an Activation must follow a Dense, Conv2d or BatchNorm",
    "scores": "Scores must follow the last Dense (or its BatchNorm)",
}


def validate_network(input_shape, input_quantizer, layers):
    """Check that ``layers`` chain from ``input_shape``; return the shape after each layer.

    Returns
    -------
    list of tuples: ``shapes[0]`` is ``input_shape``, ``shapes[i + 1]`` the output of layer i.

    Raises
    ------
    NetworkError
        naming the layer (``"layer i (kind)"``) and the problem.
    """
    if not layers:
        raise NetworkError("a network needs at least one layer, ending with Scores")
    shapes = [tuple(input_shape)]
    state = "codes"
    scaled = getattr(input_quantizer, "mean_scaling", False)
    for index, layer in enumerate(layers):
        where = f"layer {index} ({layer.kind})"
        if state not in _NEEDS[layer.kind]:
            previous = "the input" if index == 0 else f"layer {index - 1} ({layers[index - 1].kind})"
            raise NetworkError(f"{where} cannot follow {previous}: {_FIX[layer.kind]}")
        if scaled and layer.kind not in ("dense", "conv2d", "flatten"):
            raise NetworkError(f"{where} cannot follow a sign activation with mean_scaling "
                               f"(XNOR-Net input scaling): the next layer must be Dense or "
                               f"Conv2d, optionally after Flatten")
        if scaled and getattr(layer, "groups", 1) != 1:
            raise NetworkError(f"{where}: XNOR-Net input scaling (mean_scaling) averages over "
                               f"all input channels (seed 003), which a grouped convolution "
                               f"does not read; use SignActivation() before it")
        try:
            shape = layer.output_shape(shapes[-1])
        except ValueError as error:
            raise NetworkError(f"{where}: {error}") from None
        if layer.kind == "scores" and index != len(layers) - 1:
            raise NetworkError(f"{where}: Scores must be the last layer, but "
                               f"{len(layers) - 1 - index} layer(s) follow it")
        if layer.kind in ("dense", "conv2d", "conv1d"):
            scaled = False
        elif layer.kind == "activation":
            scaled = layer.quantizer.quantizer == "sign" and layer.quantizer.mean_scaling
        shapes.append(shape)
        state = _GIVES[layer.kind]
    if state != "scores":
        raise NetworkError(f"layer {len(layers) - 1} ({layers[-1].kind}): the last layer must be "
                           f"Scores (integer scores and argmax); append Scores()")
    return shapes
