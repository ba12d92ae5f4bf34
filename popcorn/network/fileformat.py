"""The network file: one ``.npz`` archive, arrays plus JSON metadata inside it.

Layout (format version 1):

* ``popcorn.json``: a ``uint8`` array holding UTF-8 JSON::

      {"format": "popcorn.network", "version": 1,
       "input": {"shape": [1, 28, 28], "activation": {"quantizer": "fixedpoint", ...}},
       "layers": [{"kind": "conv2d", "weights": {"scheme": "xnor"}, "bias": true,
                   "stride": 1, "padding": 1}, ...]}

  A ``conv2d`` layer's optional ``"padding_fill"`` is ``"lowest"`` (the default: activation
  code 0) or ``"zero"`` (the value 0, as PyTorch pads; :class:`~popcorn.network.layers.Conv2d`).
  A ``conv2d`` layer's optional ``"groups"`` (written only when not 1) is PyTorch's
  ``groups`` (:class:`~popcorn.network.layers.Conv2d`; a depthwise convolution has one
  group per input channel).
  A ``maxpool2d`` layer's optional ``"minimum"`` lists the channels it pools by the
  minimum (:class:`~popcorn.network.layers.MaxPool2d`). A ``conv2d`` layer's ``"stride"``
  and ``"padding"`` and a ``maxpool2d`` layer's ``"kernel"`` and ``"stride"`` are an integer
  (the same on both axes; what a square layer is written with) or a list ``[h, w]``.
  Sequences (input shape ``[C, T]``) take ``conv1d`` (as ``conv2d``, a ``(out, in, k)``
  weight, integer stride and padding), ``maxpool1d`` (as ``maxpool2d``, integers) and
  ``globalmaxpool`` (optional ``"minimum"``), which maps take too.

* ``layers.<i>.<name>``: the arrays of layer i (``weight``, ``bias``, ``gamma``, ``beta``,
  ``mean``, ``var``, ``shifts``, ``betas``, ``endpoints``), ``float32`` or ``float64``;
* ``input.<name>``: the arrays of the input quantizer.

Format version 2 holds a :class:`~popcorn.network.graph.Graph`: ``"nodes"`` instead of
``"layers"``, each a layer's JSON with its ``"name"`` and the names of the tensors it reads
(``"inputs"``; the input is ``"input"``), the joins ``{"kind": "add"}`` and
``{"kind": "concat"}`` too, arrays under ``nodes.<name>.<array>``. A sequential
:class:`~popcorn.network.layers.Network` is still written as version 1, so its files are
what they always were; both versions are read.

Every array must be declared by the JSON and every declared array present. Loading never
unpickles (``allow_pickle=False``).
"""

import json
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from .layers import LAYER_KINDS, Activation, BatchNorm, Conv1d, Conv2d, Dense, Flatten, \
    GlobalAvgPool2d, GlobalMaxPool, MaxPool1d, MaxPool2d, Network, Scores
from .graph import GRAPH_KINDS, INPUT, Graph, Node
from .schemes import ACTIVATION_QUANTIZERS, WEIGHT_SCHEMES
from .validate import NetworkError, check_float_array

__all__ = ["FORMAT", "FORMAT_VERSION", "save_network", "load_network", "load_graph",
           "network_to_json", "numpy_load_error", "DAMAGED_ARCHIVE"]

DAMAGED_ARCHIVE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)
"""What reading a damaged or truncated ``.npz``/``.npy`` can raise: NumPy reads an
archive's members lazily, so any read can fail."""

FORMAT = "popcorn.network"
#: The newest version read (and written, for graphs); sequential networks are version 1.
FORMAT_VERSION = 2
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_META = "popcorn.json"


def network_to_json(network):
    """The JSON metadata of ``network`` (a dict), as stored in the file: version 1 for a
    :class:`Network`, 2 for a :class:`~popcorn.network.graph.Graph`."""
    top = {"format": FORMAT, "version": 1,
           "input": {"shape": list(network.input_shape),
                     "activation": network.input_quantizer.to_json()}}
    if isinstance(network, Graph):
        return top | {"version": 2, "nodes": [
            {"name": node.name, "inputs": list(node.inputs)} | node.layer.to_json()
            for node in network.nodes]}
    return top | {"layers": [layer.to_json() for layer in network.layers]}


def save_network(network, path):
    """Write ``network`` (a Network or a Graph) to ``path`` (an ``.npz`` file, see the
    module docstring)."""
    arrays = {f"input.{name}": getattr(network.input_quantizer, name)
              for name in network.input_quantizer.arrays}
    if isinstance(network, Graph):
        for node in network.nodes:
            if not _NAME.fullmatch(node.name):
                raise NetworkError(f"{node.where}: a name in a file is letters, digits and "
                                   f"'_.:-' only")
            arrays.update({f"nodes.{node.name}.{name}": value
                           for name, value in node.layer.arrays().items()})
    else:
        for index, layer in enumerate(network.layers):
            arrays.update({f"layers.{index}.{name}": value
                           for name, value in layer.arrays().items()})
    meta = json.dumps(network_to_json(network), indent=1).encode()
    arrays[_META] = np.frombuffer(meta, dtype=np.uint8)
    with atomic_open(path) as file:
        np.savez(file, **arrays)


class _Fields:
    """Reads one JSON object, refusing unknown keys, for error messages naming ``where``."""

    def __init__(self, obj, where):
        if not isinstance(obj, dict):
            raise NetworkError(f"{where}: expected a JSON object, not {obj!r}")
        self.obj, self.where, self.used = obj, where, set()

    def get(self, key, default=KeyError):
        self.used.add(key)
        if key not in self.obj:
            if default is KeyError:
                raise NetworkError(f"{self.where}: missing field {key!r}")
            return default
        return self.obj[key]

    def done(self):
        extra = sorted(set(self.obj) - self.used)
        if extra:
            raise NetworkError(f"{self.where}: unknown field(s) {', '.join(map(repr, extra))}; "
                               f"the file may come from a newer popcorn")


class _Arrays:
    def __init__(self, archive):
        self.archive, self.used = archive, set()

    def take(self, prefix, name, where):
        key = f"{prefix}.{name}"
        if key not in self.archive.files:
            raise NetworkError(f"{where}: missing array {key!r}")
        self.used.add(key)
        try:
            return check_float_array(self.archive[key], f"array {key!r}")
        except (TypeError, ValueError) as error:
            raise NetworkError(f"{where}: {error}") from None


def _weights(fields):
    scheme = fields.get("scheme")
    if scheme not in WEIGHT_SCHEMES:
        raise NetworkError(f"{fields.where}: unknown weight scheme {scheme!r}; known schemes are "
                           f"{', '.join(WEIGHT_SCHEMES)}")
    cls = WEIGHT_SCHEMES[scheme]
    if scheme == "binaryconnect":
        return cls(stochastic=fields.get("stochastic"), seed=fields.get("seed"))
    if scheme in ("abc", "pa"):
        vector = "shifts" if scheme == "abc" else "endpoints"
        bases, values = fields.get("bases"), fields.get(vector)
        if not isinstance(values, list) or bases != len(values):
            raise NetworkError(f"{fields.where}: declares {bases!r} weight bases but has "
                               f"{len(values) if isinstance(values, list) else values!r} {vector}")
        return cls(tuple(values))
    if scheme == "ternary":
        return cls(per_channel=fields.get("per_channel"), threshold=fields.get("threshold"))
    if scheme == "fixedpoint":
        return cls(bits=fields.get("bits"), per_channel=fields.get("per_channel"))
    return cls()


def _activation(fields, arrays, prefix):
    name = fields.get("quantizer")
    if name not in ACTIVATION_QUANTIZERS:
        raise NetworkError(f"{fields.where}: unknown activation quantizer {name!r}; known "
                           f"quantizers are {', '.join(ACTIVATION_QUANTIZERS)}")
    cls = ACTIVATION_QUANTIZERS[name]
    if name == "sign":
        return cls(mean_scaling=fields.get("mean_scaling"))
    if name == "fixedpoint":
        return cls(bits=fields.get("bits"), scale=fields.get("scale"))
    bases = fields.get("bases")
    vectors = {}
    for array in cls.arrays:
        value = arrays.take(prefix, array, fields.where)
        if value.ndim != 1 or value.shape[0] != bases:
            raise NetworkError(f"{fields.where}: declares {bases!r} activation bases but array "
                               f"'{prefix}.{array}' has shape {value.shape}")
        vectors[array] = value
    return cls(**vectors)


def _layer(fields, arrays, prefix):
    kind = fields.get("kind")
    if kind in ("dense", "conv2d", "conv1d"):
        sub = _Fields(fields.get("weights"), fields.where + " weights")
        quantizer = _weights(sub)
        sub.done()
        weight = arrays.take(prefix, "weight", fields.where)
        bias = arrays.take(prefix, "bias", fields.where) if fields.get("bias") else None
        if kind == "dense":
            return Dense(weight, quantizer, bias)
        geometry = dict(stride=fields.get("stride"), padding=fields.get("padding"),
                        padding_fill=fields.get("padding_fill", "lowest"))
        if kind == "conv1d":
            return Conv1d(weight, quantizer, bias, **geometry)
        return Conv2d(weight, quantizer, bias, groups=fields.get("groups", 1), **geometry)
    if kind == "batchnorm":
        return BatchNorm(*(arrays.take(prefix, n, fields.where) for n in ("gamma", "beta", "mean", "var")),
                         eps=fields.get("eps"))
    if kind == "activation":
        sub = _Fields(fields.get("activation"), fields.where)
        quantizer = _activation(sub, arrays, prefix)
        sub.done()
        return Activation(quantizer)
    if kind in ("maxpool2d", "maxpool1d"):
        pool = MaxPool1d if kind == "maxpool1d" else MaxPool2d
        return pool(fields.get("kernel"), fields.get("stride"), fields.get("minimum", ()))
    if kind == "globalmaxpool":
        return GlobalMaxPool(fields.get("minimum", ()))
    if kind == "flatten":
        return Flatten()
    if kind == "globalavgpool":
        return GlobalAvgPool2d()
    return Scores()


def load_network(path):
    """Read and validate a sequential network written by :func:`save_network`: a version 1
    file, or a version 2 graph whose nodes form a chain
    (:meth:`~popcorn.network.graph.Graph.sequential`).

    Raises
    ------
    NetworkError
        for a file that is not a popcorn network, a newer format version, an unknown layer
        kind or scheme, a missing or extra array, a wrong dtype, NaN or infinity, a base count
        that does not match the arrays, or layers that do not chain; the message names the
        layer (``"layer i (kind)"``) or node. A graph with branches or joins is refused,
        naming the first such node (:func:`load_graph` reads it).
    """
    network = load_graph(path)
    return network if isinstance(network, Network) else network.sequential()


def load_graph(path):
    """Read a network file of either version: a :class:`Network` (version 1) or a
    :class:`~popcorn.network.graph.Graph` (version 2); errors as :func:`load_network`."""
    try:
        return _load_network(path)
    except NetworkError:
        raise
    except DAMAGED_ARCHIVE as error:
        raise NetworkError(f"{path}: not a readable popcorn network file (damaged or "
                           f"truncated: {type(error).__name__}: {error})") from None
    except (TypeError, KeyError, AttributeError, IndexError) as error:
        # a description whose values have the wrong JSON types where no check names them
        raise NetworkError(f"{path}: malformed network description ({type(error).__name__}: "
                           f"{error})") from None


def numpy_load_error(error):
    """Why ``np.load(..., allow_pickle=False)`` failed, without NumPy's advice to load the
    file with pickle allowed: popcorn never loads pickled data."""
    if "pickled" in str(error):
        return "neither an .npz archive nor an array; popcorn never loads pickled data"
    return f"NumPy cannot read it: {error}"


def _load_network(path):
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        hint = (f"; an ONNX model: convert it first with `popcorn import {path} -o NET.npz`"
                if Path(path).suffix.lower() == ".onnx" else "")
        raise NetworkError(f"{path}: not a popcorn network file "
                           f"({numpy_load_error(error)}){hint}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise NetworkError(f"{path}: not a popcorn network file (a single array, not an .npz)")
    with archive:
        if _META not in archive.files:
            raise NetworkError(f"{path}: not a popcorn network file (no {_META!r} entry)")
        raw = archive[_META]
        if not isinstance(raw, np.ndarray):
            raise NetworkError(f"{path}: not a readable popcorn network file (its {_META!r} "
                               f"entry is not a NumPy array)")
        try:
            meta = json.loads(raw.tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise NetworkError(f"{path}: {_META!r} is not valid JSON: {error}") from None
        top = _Fields(meta, str(path))
        if top.get("format", None) != FORMAT:
            raise NetworkError(f"{path}: not a popcorn network file (format "
                               f"{meta.get('format')!r}, expected {FORMAT!r})")
        version = top.get("version")
        if not isinstance(version, int) or version < 1:
            raise NetworkError(f"{path}: format version must be a positive integer, not {version!r}")
        if version > FORMAT_VERSION:
            raise NetworkError(f"{path}: format version {version} is newer than this popcorn "
                               f"reads ({FORMAT_VERSION}); upgrade popcorn")
        arrays = _Arrays(archive)
        inp = _Fields(top.get("input"), "input")
        act = _Fields(inp.get("activation"), "input")
        try:
            input_quantizer = _activation(act, arrays, "input")
        except (TypeError, ValueError) as error:
            if isinstance(error, NetworkError):
                raise
            raise NetworkError(f"input: {error}") from None
        act.done()
        shape = inp.get("shape")
        inp.done()
        if version == 2:
            nodes = _nodes(top.get("nodes"), arrays, path)
            top.done()
            _no_extra_arrays(archive, arrays, path)
            return Graph(tuple(shape) if isinstance(shape, list) else shape, input_quantizer,
                         nodes)
        layers = []
        entries = top.get("layers")
        top.done()
        if not isinstance(entries, list):
            raise NetworkError(f"{path}: 'layers' must be a JSON list, not {entries!r}")
        for index, entry in enumerate(entries):
            kind = entry.get("kind") if isinstance(entry, dict) else None
            if kind not in LAYER_KINDS:
                raise NetworkError(f"layer {index}: unknown layer kind {kind!r}; known kinds are "
                                   f"{', '.join(LAYER_KINDS)}")
            fields = _Fields(entry, f"layer {index} ({kind})")
            try:
                layers.append(_layer(fields, arrays, f"layers.{index}"))
            except NetworkError:
                raise
            except (TypeError, ValueError) as error:
                raise NetworkError(f"layer {index} ({kind}): {error}") from None
            fields.done()
        _no_extra_arrays(archive, arrays, path)
    return Network(tuple(shape) if isinstance(shape, list) else shape, input_quantizer, tuple(layers))


def _no_extra_arrays(archive, arrays, path):
    extra = sorted(set(archive.files) - arrays.used - {_META})
    if extra:
        raise NetworkError(f"{path}: unexpected array(s) {', '.join(map(repr, extra))} not "
                           f"declared by the metadata; remove them or fix the metadata")


def _nodes(entries, arrays, path):
    """The :class:`~popcorn.network.graph.Node` s of a version 2 file's ``"nodes"``."""
    if not isinstance(entries, list):
        raise NetworkError(f"{path}: 'nodes' must be a JSON list, not {entries!r}")
    nodes = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        kind = entry.get("kind") if isinstance(entry, dict) else None
        label = f"node {name!r}" if isinstance(name, str) else f"node {index}"
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name == INPUT:
            raise NetworkError(f"{label}: 'name' must be letters, digits and '_.:-' (not "
                               f"{INPUT!r}), not {name!r}")
        if kind not in GRAPH_KINDS:
            raise NetworkError(f"{label}: unknown node kind {kind!r}; known kinds are "
                               f"{', '.join(GRAPH_KINDS)}")
        where = f"{label} ({kind})"
        fields = _Fields(entry, where)
        fields.get("name"), fields.get("kind")
        inputs = fields.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise NetworkError(f"{where}: 'inputs' must be a list of tensor names, not "
                               f"{inputs!r}")
        try:
            layer = GRAPH_KINDS[kind]() if kind in ("add", "concat") else \
                _layer(fields, arrays, f"nodes.{name}")
        except NetworkError:
            raise
        except (TypeError, ValueError) as error:
            raise NetworkError(f"{where}: {error}") from None
        fields.done()
        nodes.append(Node(name, layer, tuple(inputs)))
    return tuple(nodes)
