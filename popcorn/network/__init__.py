"""The network description: typed layer specs, quantizer schemes, validation, file format.

A :class:`Network` is an input shape, an input quantizer and a sequence of layers ending in
:class:`Scores`; :func:`save_network` / :func:`load_network` round-trip it through one
``.npz`` file (arrays plus JSON metadata, see :mod:`popcorn.network.fileformat`).
"""

from .validate import NetworkError
from .schemes import (BnnWeights, BinaryConnectWeights, XnorWeights, AbcWeights, PaWeights,
                      TernaryWeights, SignActivation, AbcActivation, PaActivation, FixedPointActivation,
                      abc_default_shifts, pa_default_endpoints)
from .layers import (Dense, Conv2d, MaxPool2d, Flatten, GlobalAvgPool2d, BatchNorm, Activation,
                     Scores, Network)
from .fileformat import FORMAT_VERSION, save_network, load_network, network_to_json

__all__ = [
    "NetworkError",
    "BnnWeights", "BinaryConnectWeights", "XnorWeights", "AbcWeights", "PaWeights",
    "TernaryWeights", "SignActivation", "AbcActivation", "PaActivation", "FixedPointActivation",
    "abc_default_shifts", "pa_default_endpoints",
    "Dense", "Conv2d", "MaxPool2d", "Flatten", "BatchNorm", "Activation", "Scores", "Network",
    "FORMAT_VERSION", "save_network", "load_network", "network_to_json",
]
