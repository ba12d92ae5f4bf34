"""The network description: typed layer specs, quantizer schemes, validation, file format.

A :class:`Network` is an input shape, an input quantizer and a sequence of layers ending in
:class:`Scores`; a :class:`Graph` has named nodes that may branch and join (Add, Concat).
:func:`save_network` / :func:`load_network` (:func:`load_graph`) round-trip them through
one ``.npz`` file (arrays plus JSON metadata, see :mod:`popcorn.network.fileformat`).
"""

from .validate import NetworkError
from .schemes import (BnnWeights, BinaryConnectWeights, XnorWeights, AbcWeights, PaWeights,
                      TernaryWeights, FixedPointWeights, SignActivation, AbcActivation, PaActivation, FixedPointActivation,
                      abc_default_shifts, pa_default_endpoints)
from .layers import (Dense, Conv2d, MaxPool2d, Flatten, GlobalAvgPool2d, Conv1d, MaxPool1d,
                     GlobalMaxPool, BatchNorm, Activation, Scores, Network)
from .graph import INPUT, Add, Concat, Graph, Node
from .fileformat import FORMAT_VERSION, save_network, load_network, load_graph, network_to_json

__all__ = [
    "NetworkError",
    "BnnWeights", "BinaryConnectWeights", "XnorWeights", "AbcWeights", "PaWeights",
    "TernaryWeights", "FixedPointWeights", "SignActivation", "AbcActivation", "PaActivation", "FixedPointActivation",
    "abc_default_shifts", "pa_default_endpoints",
    "Dense", "Conv2d", "MaxPool2d", "Flatten", "GlobalAvgPool2d", "Conv1d", "MaxPool1d",
    "GlobalMaxPool", "BatchNorm", "Activation",
    "Scores", "Network", "Graph", "Node", "Add", "Concat", "INPUT",
    "FORMAT_VERSION", "save_network", "load_network", "load_graph", "network_to_json",
]
